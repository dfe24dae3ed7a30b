/**
 * Scoring and ranking: each catalog item is scored by how well it matches the user's profile,
 * how likely the user's adapter says they are to finish it, and its popularity. Recommendations
 * leave out what the user has already seen, are diversified (one entry per series, a cap per
 * genre in any ten consecutive items) and carry a human-readable reason.
 */
import type { AdapterModel } from "./adapter";
import type { ContentKind } from "./catalog";
import { type FeatureSpace, GROUP_WEIGHTS, type ItemVector } from "./features";
import { type PreferenceProfile, type ProfileAnchor, profileKeyWeights } from "./profile";

export interface ScoringWeights {
  profile: number;
  adapter: number;
  popularity: number;
}

/** The blend served to users; chosen on the simulated population (see recommend-eval.ts). */
export const SERVING_WEIGHTS: Readonly<ScoringWeights> = { profile: 0.3, adapter: 0.1, popularity: 0.6 };

export interface Personalization {
  profile: PreferenceProfile | null;
  adapter: AdapterModel | null;
}

export const POPULAR_REASON = "Popular on Media Gateway";

/** Scores items of one feature space for one user. Cheap to build per request. */
export class Scorer {
  private readonly profileVector: Float64Array | null;
  private readonly adapterVector: Float64Array | null;
  private readonly adapterBias: number;
  private readonly confidence: number;
  private readonly anchors: { anchor: ProfileAnchor; keys: Set<number> }[];

  constructor(
    private readonly space: FeatureSpace,
    personalization: Personalization,
    private readonly weights: Readonly<ScoringWeights> = SERVING_WEIGHTS,
  ) {
    const { profile, adapter } = personalization;
    const hasProfile = profile !== null && profile.views > 0 && profile.confidence > 0;
    this.profileVector = hasProfile ? space.dense(profileKeyWeights(profile)) : null;
    this.confidence = hasProfile ? profile.confidence : 0;
    this.adapterVector = adapter ? space.dense(adapter.weights) : null;
    this.adapterBias = adapter?.bias ?? 0;
    this.anchors = (profile?.anchors ?? []).map((anchor) => ({
      anchor,
      keys: new Set(anchor.keys.map((k) => space.indexOf.get(k)).filter((i): i is number => i !== undefined)),
    }));
  }

  /** Whether anything about the user shapes the scores; false for a new user. */
  get personalized(): boolean {
    return this.profileVector !== null || this.adapterVector !== null;
  }

  /** How much evidence stands behind the profile, in [0, 1); 0 without one. */
  get profileConfidence(): number {
    return this.confidence;
  }

  /** Profile match in [-1, 1]: per group, the mean weight of the item's values, blended by group weight. */
  affinity(item: ItemVector): number {
    const vector = this.profileVector;
    if (!vector) return 0;
    const { features, matchWeights } = item;
    let total = 0;
    for (let i = 0; i < features.length; i++)
      total += (matchWeights[i] as number) * (vector[features[i] as number] as number);
    return total;
  }

  /** The adapter's probability that the user finishes the item, or null without an adapter. */
  finishProbability(item: ItemVector): number | null {
    const vector = this.adapterVector;
    if (!vector) return null;
    const { features } = item;
    let z = this.adapterBias;
    for (let i = 0; i < features.length; i++) z += vector[features[i] as number] as number;
    return 1 / (1 + Math.exp(-z));
  }

  /** A score in [0, 1]: a weighted mean of the parts the user has; popularity alone for a new user. */
  score(item: ItemVector): number {
    const w = this.weights;
    let sum = w.popularity * item.popularity;
    let weight = w.popularity;
    if (this.profileVector && w.profile > 0) {
      sum += (w.profile * (this.affinity(item) * this.confidence + 1)) / 2;
      weight += w.profile;
    }
    if (this.adapterVector && w.adapter > 0) {
      sum += w.adapter * (this.finishProbability(item) as number);
      weight += w.adapter;
    }
    return weight > 0 ? sum / weight : item.popularity;
  }

  /** Why the item is shown: the liked view it shares the most with, else a liked genre, else popularity. */
  explain(item: ItemVector): { reason: string; because: string | null } {
    let best: ProfileAnchor | null = null;
    let bestStrength = 0;
    let sharesDirector = false;
    for (const { anchor, keys } of this.anchors) {
      if (anchor.content_id === item.id) continue;
      let strength = 0;
      let meaningful = false;
      let director = false;
      for (const f of item.features) {
        if (!keys.has(f)) continue;
        const group = this.space.groupName(f);
        strength += GROUP_WEIGHTS[group];
        if (group === "genre" || group === "director") meaningful = true;
        if (group === "director") director = true;
      }
      strength *= anchor.weight;
      if (meaningful && strength > bestStrength) {
        best = anchor;
        bestStrength = strength;
        sharesDirector = director;
      }
    }
    if (best) {
      const suffix = sharesDirector && item.director ? `, also directed by ${item.director}` : "";
      return { reason: `Because you watched ${best.title}${suffix}`, because: best.content_id };
    }
    const liked = this.likedGenre(item);
    if (liked) return { reason: `Matches your interest in ${liked}`, because: null };
    return { reason: POPULAR_REASON, because: null };
  }

  private likedGenre(item: ItemVector): string | null {
    const vector = this.profileVector;
    if (!vector) return null;
    let best: string | null = null;
    let bestWeight = 0;
    for (const f of item.features) {
      const weight = vector[f] as number;
      if (this.space.groupName(f) === "genre" && weight > bestWeight) {
        best = (this.space.vocabulary[f] as string).slice("genre:".length);
        bestWeight = weight;
      }
    }
    return best;
  }
}

export interface Recommendation {
  item: ItemVector;
  score: number;
  reason: string;
  /** The content the reason points at, when it is one. */
  because: string | null;
}

export interface RecommendOptions {
  /** Content the user has in their history (finished, in progress or abandoned). */
  seen: ReadonlySet<string>;
  exclude?: ReadonlySet<string>;
  /** Only items this allows (the caller's maturity limit); everything when absent. */
  allow?: (item: ItemVector) => boolean;
  genres?: readonly string[];
  kinds?: readonly ContentKind[];
  offset: number;
  limit: number;
  /** At most this many items of one genre in any `window` consecutive items. */
  maxPerGenre: number;
  window?: number;
}

/** Series and films by default: episodes are reached through their series. */
export const DEFAULT_KINDS: readonly ContentKind[] = ["movie", "series"];
export const DIVERSITY_WINDOW = 10;

type Ranked = { item: ItemVector; score: number };

/** Best first; ties broken by popularity, then id, so a ranking is the same on every edge. */
function better(a: Ranked, b: Ranked): boolean {
  if (a.score !== b.score) return a.score > b.score;
  if (a.item.popularity !== b.item.popularity) return a.item.popularity > b.item.popularity;
  return a.item.id < b.item.id;
}

/** Every candidate with its score, unordered: the items a recommendation may show. */
export function scoreCandidates(
  space: FeatureSpace,
  scorer: Scorer,
  options: Pick<RecommendOptions, "seen" | "exclude" | "allow" | "genres" | "kinds">,
): Ranked[] {
  const kinds = new Set(options.kinds ?? DEFAULT_KINDS);
  const genres = options.genres && options.genres.length > 0 ? new Set(options.genres) : null;
  // A series the user is watching is continue-watching's business, not a recommendation.
  const seenSeries = new Set<string>();
  for (const id of options.seen) {
    const seriesId = space.byId.get(id)?.seriesId;
    if (seriesId) seenSeries.add(seriesId);
  }
  const scored: Ranked[] = [];
  for (const item of space.items) {
    if (!kinds.has(item.kind)) continue;
    if (options.seen.has(item.id) || options.exclude?.has(item.id)) continue;
    if (item.kind === "series" && seenSeries.has(item.id)) continue;
    if (genres && !item.genres.some((g) => genres.has(g))) continue;
    if (options.allow && !options.allow(item)) continue;
    scored.push({ item, score: scorer.score(item) });
  }
  return scored;
}

/**
 * The best `top` of the scored candidates, in rank order. A bounded heap keeps a request from
 * sorting the whole catalog to show twenty items.
 */
export function topRanked(scored: readonly Ranked[], top: number): Ranked[] {
  // Min-heap on rank: the root is the worst of the best `top` so far.
  const heap: Ranked[] = [];
  for (const entry of scored) {
    if (heap.length < top) {
      heap.push(entry);
      siftUp(heap, heap.length - 1);
    } else if (better(entry, heap[0] as Ranked)) {
      heap[0] = entry;
      siftDown(heap, 0);
    }
  }
  return heap.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
}

function siftUp(heap: Ranked[], i: number): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!better(heap[parent] as Ranked, heap[i] as Ranked)) break;
    [heap[parent], heap[i]] = [heap[i] as Ranked, heap[parent] as Ranked];
    i = parent;
  }
}

function siftDown(heap: Ranked[], i: number): void {
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let worst = i;
    if (left < heap.length && better(heap[worst] as Ranked, heap[left] as Ranked)) worst = left;
    if (right < heap.length && better(heap[worst] as Ranked, heap[right] as Ranked)) worst = right;
    if (worst === i) return;
    [heap[worst], heap[i]] = [heap[i] as Ranked, heap[worst] as Ranked];
    i = worst;
  }
}

/**
 * Re-ranks greedily: the best item that keeps the page diverse comes next. An item whose series
 * is already listed never comes; one whose genre is at its cap waits until the cap allows it, or
 * until nothing else is left (`relaxed` then says so).
 */
export function diversify<T>(
  ranked: readonly T[],
  count: number,
  attributes: (item: T) => { group: string; genres: readonly string[] },
  options: { maxPerGenre: number; window: number },
): { items: T[]; relaxed: boolean } {
  const out: T[] = [];
  const outGenres: (readonly string[])[] = [];
  const usedGroups = new Set<string>();
  // Genre counts over the last `window - 1` items: the ones the next item shares a window with.
  const recent = new Map<string, number>();
  const deferred: T[] = [];
  let relaxed = false;
  let next = 0;
  const genreFits = (genres: readonly string[]) => genres.every((g) => (recent.get(g) ?? 0) < options.maxPerGenre);
  while (out.length < count) {
    let chosen: T | undefined;
    for (let i = 0; i < deferred.length; i++) {
      const { group, genres } = attributes(deferred[i] as T);
      if (usedGroups.has(group)) {
        deferred.splice(i--, 1);
      } else if (genreFits(genres)) {
        chosen = deferred.splice(i, 1)[0];
        break;
      }
    }
    while (chosen === undefined && next < ranked.length) {
      const candidate = ranked[next++] as T;
      const { group, genres } = attributes(candidate);
      if (usedGroups.has(group)) continue;
      if (genreFits(genres)) chosen = candidate;
      else deferred.push(candidate);
    }
    if (chosen === undefined) {
      // Nothing diverse is left: the best remaining item beats a short page.
      while (deferred.length > 0 && usedGroups.has(attributes(deferred[0] as T).group)) deferred.shift();
      chosen = deferred.shift();
      if (chosen === undefined) break;
      relaxed = true;
    }
    const { group, genres } = attributes(chosen);
    out.push(chosen);
    outGenres.push(genres);
    usedGroups.add(group);
    for (const g of genres) recent.set(g, (recent.get(g) ?? 0) + 1);
    const leaving = outGenres[out.length - options.window];
    if (options.window > 1 && leaving) for (const g of leaving) recent.set(g, (recent.get(g) ?? 1) - 1);
  }
  return { items: out, relaxed };
}

/** Candidates ranked before diversifying, per item wanted: enough that the pool rarely needs widening. */
const POOL_PER_ITEM = 8;
const MIN_POOL = 200;

/** One page of recommendations, and whether another page follows. */
export function recommend(
  space: FeatureSpace,
  scorer: Scorer,
  options: RecommendOptions,
): { items: Recommendation[]; hasMore: boolean } {
  const wanted = options.offset + options.limit + 1;
  const attributes = ({ item }: Ranked) => ({ group: item.seriesId ?? item.id, genres: item.genres });
  const diversity = { maxPerGenre: options.maxPerGenre, window: options.window ?? DIVERSITY_WINDOW };
  const scored = scoreCandidates(space, scorer, options);
  let pool = Math.max(MIN_POOL, wanted * POOL_PER_ITEM);
  let diverse = diversify(topRanked(scored, pool), wanted, attributes, diversity);
  // The pool ran dry before the page was diverse or full: widen it until it does not, or holds all.
  while (pool < scored.length && (diverse.relaxed || diverse.items.length < wanted)) {
    pool *= 4;
    diverse = diversify(topRanked(scored, pool), wanted, attributes, diversity);
  }
  const page = diverse.items.slice(options.offset, options.offset + options.limit);
  return {
    items: page.map(({ item, score }) => ({ item, score, ...scorer.explain(item) })),
    hasMore: diverse.items.length > options.offset + options.limit,
  };
}

/** A score per requested id, in request order without duplicates; ids not in the catalog are listed apart. */
export function scoreContent(
  space: FeatureSpace,
  scorer: Scorer,
  ids: readonly string[],
): { scores: Recommendation[]; unknown: string[] } {
  const scores: Recommendation[] = [];
  const unknown: string[] = [];
  for (const id of new Set(ids)) {
    const item = space.byId.get(id);
    if (!item) unknown.push(id);
    else scores.push({ item, score: scorer.score(item), ...scorer.explain(item) });
  }
  return { scores, unknown };
}
