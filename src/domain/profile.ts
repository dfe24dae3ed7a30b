/**
 * A user's preference profile: per feature group (genre, director, decade, maturity, platform), a
 * weight in [-1, 1] per value, built from the user's views. Each view counts by how much of it was
 * watched (finished counts fully, stopping early counts against) and by how recent it is (weight
 * halves every `halfLifeDays`). A rating is an explicit signal and outweighs any viewing of the
 * same item.
 */
import { decadeOf, FEATURE_GROUPS, type FeatureGroup, type FeatureSource, featureKey, featureKeys } from "./features";

/** One row of a user's watch history, with the catalog fields of its content. */
export interface View {
  content_id: string;
  title: string | null;
  /** How much was watched, in [0, 1]. */
  completion: number;
  watched: boolean;
  /** When it was last watched, epoch ms. */
  at: number;
  /** null when the content is not in the catalog: such a view teaches nothing. */
  features: FeatureSource | null;
  /** The user's rating, 1-10, when they gave one. */
  rating?: number | null;
  /** false for an item the user rated without playing it. */
  viewed?: boolean;
}

export type ProfileWeights = Record<FeatureGroup, Record<string, number>>;

/** A view the user liked, kept to explain recommendations ("because you watched ..."). */
export interface ProfileAnchor {
  content_id: string;
  title: string;
  weight: number;
  keys: string[];
}

export interface PreferenceProfile {
  weights: ProfileWeights;
  anchors: ProfileAnchor[];
  views: number;
  finished: number;
  abandoned: number;
  /** How much evidence stands behind the weights, in [0, 1): about 0.5 after one finished view. */
  confidence: number;
  last_view_at: string | null;
}

/** Below this completion, a view that is not finished counts as abandoned. */
export const ABANDONED_BELOW = 0.5;
/** Completion at which a view counts neither for nor against its features. */
const NEUTRAL_COMPLETION = 0.35;
/** Evidence (in finished, fresh views) at which confidence reaches one half. */
const CONFIDENCE_HALF = 1;
const MAX_ANCHORS = 12;
/** Values kept per group: enough to explain and score, small enough to read per request. */
const KEEP_PER_GROUP: Readonly<Record<FeatureGroup, number>> = {
  genre: 24,
  director: 40,
  decade: 16,
  maturity: 10,
  platform: 30,
};
const DAY_MS = 86_400_000;

/** How much more a rating says than any viewing: a 10 counts as two finished views, a 1 as two against. */
export const EXPLICIT_WEIGHT = 2;

/** A rating 1-10 as a signal in [-EXPLICIT_WEIGHT, EXPLICIT_WEIGHT]; 5.5 is neutral. */
export const ratingSignal = (rating: number) => ((Math.min(10, Math.max(1, rating)) - 5.5) / 4.5) * EXPLICIT_WEIGHT;

/**
 * How much a view says the user likes its content: with a rating, the rating's signal (explicit,
 * in [-2, 2]); otherwise in [-0.5, 1]: 1 when finished, falling with completion, negative when
 * stopped early (35 % is neutral).
 */
export function engagement(view: Pick<View, "completion" | "watched" | "rating">): number {
  if (view.rating !== undefined && view.rating !== null) return ratingSignal(view.rating);
  if (view.watched) return 1;
  const c = Number.isFinite(view.completion) ? view.completion : 0;
  return Math.max(-0.5, Math.min(1, (c - NEUTRAL_COMPLETION) / (0.9 - NEUTRAL_COMPLETION)));
}

/** 1 for a view at `newest`, 0.5 one half-life earlier, and so on. */
export function recencyWeight(at: number, newest: number, halfLifeDays: number): number {
  const ageDays = Math.max(0, newest - at) / DAY_MS;
  return 0.5 ** (ageDays / halfLifeDays);
}

export const isFinished = (view: Pick<View, "watched">) => view.watched;
export const isAbandoned = (view: Pick<View, "completion" | "watched" | "viewed">) =>
  view.viewed !== false && !view.watched && view.completion < ABANDONED_BELOW;

export function emptyProfile(): PreferenceProfile {
  return {
    weights: { genre: {}, director: {}, decade: {}, maturity: {}, platform: {} },
    anchors: [],
    views: 0,
    finished: 0,
    abandoned: 0,
    confidence: 0,
    last_view_at: null,
  };
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

/**
 * Builds the profile from a user's views. Recency is measured from the newest view, so the
 * result depends on the history alone: rebuilding the same history gives the same profile
 * (weights are normalized per group, and a uniform decay cancels out).
 */
export function buildProfile(views: readonly View[], opts: { halfLifeDays: number }): PreferenceProfile {
  const profile = emptyProfile();
  const known = views.filter((v) => v.features !== null);
  profile.views = known.length;
  if (known.length === 0) return profile;
  const newest = Math.max(...known.map((v) => v.at));
  profile.last_view_at = new Date(newest).toISOString();

  const raw = new Map<FeatureGroup, Map<string, number>>(FEATURE_GROUPS.map((g) => [g, new Map()]));
  let evidence = 0;
  const anchors: (ProfileAnchor & { at: number })[] = [];
  for (const view of known) {
    if (isFinished(view)) profile.finished++;
    else if (isAbandoned(view)) profile.abandoned++;
    const signal = engagement(view) * recencyWeight(view.at, newest, opts.halfLifeDays);
    if (signal === 0) continue;
    evidence += Math.abs(signal);
    const features = view.features as FeatureSource;
    const perGroup = groupValues(features);
    for (const [group, values] of perGroup) {
      const bucket = raw.get(group) as Map<string, number>;
      // A two-genre film says half as much about each genre as a one-genre film.
      for (const value of values) bucket.set(value, (bucket.get(value) ?? 0) + signal / values.length);
    }
    if (signal > 0) {
      anchors.push({
        content_id: view.content_id,
        title: view.title ?? view.content_id,
        weight: round(signal),
        keys: featureKeys(features),
        at: view.at,
      });
    }
  }

  for (const group of FEATURE_GROUPS) {
    const bucket = raw.get(group) as Map<string, number>;
    const max = Math.max(0, ...[...bucket.values()].map(Math.abs));
    if (max === 0) continue;
    const kept = [...bucket]
      .map(([value, w]) => [value, round(w / max)] as const)
      .filter(([, w]) => w !== 0)
      .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]) || (a[0] < b[0] ? -1 : 1))
      .slice(0, KEEP_PER_GROUP[group])
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    profile.weights[group] = Object.fromEntries(kept);
  }
  profile.confidence = round(evidence / (evidence + CONFIDENCE_HALF));
  profile.anchors = anchors
    .sort((a, b) => b.weight - a.weight || b.at - a.at || (a.content_id < b.content_id ? -1 : 1))
    .slice(0, MAX_ANCHORS)
    .map(({ at: _at, ...anchor }) => anchor);
  return profile;
}

function groupValues(item: FeatureSource): [FeatureGroup, string[]][] {
  const single = (value: string | null): string[] => (value ? [value] : []);
  return (
    [
      ["genre", [...new Set(item.genres)]],
      ["director", single(item.director)],
      ["decade", single(decadeOf(item.year))],
      ["maturity", single(item.maturity_rating)],
      ["platform", [...new Set(item.platforms)]],
    ] as [FeatureGroup, string[]][]
  ).filter(([, values]) => values.length > 0);
}

/** The profile as weights keyed by feature key ("genre:Drama"), as the scorer consumes them. */
export function profileKeyWeights(profile: PreferenceProfile): Record<string, number> {
  const out: Record<string, number> = {};
  for (const group of FEATURE_GROUPS) {
    for (const [value, weight] of Object.entries(profile.weights[group] ?? {})) out[featureKey(group, value)] = weight;
  }
  return out;
}

/**
 * Genre → preference in [-1, 1], scaled by the profile's confidence: the boost search ranking
 * applies for a signed-in user. An empty profile gives {}.
 */
export function genrePreferences(profile: PreferenceProfile | null): Record<string, number> {
  if (!profile) return {};
  const out: Record<string, number> = {};
  for (const [genre, weight] of Object.entries(profile.weights.genre ?? {})) {
    out[genre] = round(weight * profile.confidence);
  }
  return out;
}
