/**
 * Offline evaluation of the recommender on a simulated population: users with hidden genre
 * tastes pick films of the real catalog (popular films and liked genres more often), finish what
 * they like and abandon what they do not. Each user's last finished films are held out; a scorer
 * is good when it ranks them in the user's top ten. The tastes depend on genre alone, so this
 * checks the plumbing of the content scorer; it is no evidence of quality (see
 * bench/movielens-eval.ts for that, on real viewing data).
 */
import { trainAdapter, trainingExamples } from "./adapter";
import { type CatalogItem, seededRandom } from "./catalog";
import { FeatureSpace, type ItemVector } from "./features";
import { buildProfile, type View } from "./profile";
import { recommend, Scorer, type ScoringWeights } from "./recommend";

export interface SimulationOptions {
  users: number;
  seed: number;
  viewsPerUser: number;
  /** Finished films held out per user, the most recent ones. */
  heldOut: number;
  /** Days between a user's views, on average. */
  daysBetweenViews: number;
}

export const DEFAULT_SIMULATION: SimulationOptions = {
  users: 600,
  seed: 20_240_601,
  viewsPerUser: 40,
  heldOut: 2,
  daysBetweenViews: 3,
};

export interface SimulatedUser {
  id: string;
  /** Genre → probability of finishing a film of that genre: the hidden taste. */
  tastes: Record<string, number>;
  /** What the scorers may learn from, oldest first. */
  training: View[];
  heldOut: string[];
}

const LOVED = 0.85;
const LIKED = 0.5;
const DISLIKED = 0.1;
/** A film's audience grows with its IMDB votes (votes count viewers); EXPLORATION is how often users stray from their tastes. */
const EXPOSURE_EXPONENT = 1;
const EXPLORATION = 0.25;
const DAY_MS = 86_400_000;
const START = Date.UTC(2025, 0, 1);

/** A deterministic population for a seed. */
export function simulatePopulation(films: readonly CatalogItem[], options: SimulationOptions): SimulatedUser[] {
  const random = seededRandom(options.seed);
  const movies = films.filter((f) => f.kind === "movie");
  const genres = [...new Set(movies.flatMap((f) => f.genres))].sort();
  // People start popular films more often: exposure grows with votes, sublinearly.
  const exposure = movies.map((f) => Math.max(1, f.votes) ** EXPOSURE_EXPONENT);
  const users: SimulatedUser[] = [];
  for (let u = 0; u < options.users; u++) {
    const shuffled = [...genres].sort(() => random() - 0.5);
    const tastes: Record<string, number> = {};
    for (const [i, genre] of shuffled.entries()) tastes[genre] = i < 2 ? LOVED : i < 3 ? LIKED : DISLIKED;
    const taste = (film: CatalogItem) =>
      film.genres.length === 0 ? DISLIKED : Math.max(...film.genres.map((g) => tastes[g] ?? DISLIKED));
    // Users browse toward what they like, but not only there.
    const cumulative = new Float64Array(movies.length);
    let total = 0;
    for (let i = 0; i < movies.length; i++) {
      total += (exposure[i] as number) * (EXPLORATION + taste(movies[i] as CatalogItem));
      cumulative[i] = total;
    }
    const watched = new Set<number>();
    const views: (View & { finished: boolean })[] = [];
    let at = START + random() * 30 * DAY_MS;
    let finishedCount = 0;
    // Every user needs finished films to hold out and a few more to learn from.
    while (
      (views.length < options.viewsPerUser || finishedCount < options.heldOut + 2) &&
      watched.size < movies.length
    ) {
      const index = pickIndex(cumulative, random() * total);
      if (watched.has(index)) continue;
      watched.add(index);
      const film = movies[index] as CatalogItem;
      const finished = random() < taste(film);
      if (finished) finishedCount++;
      const completion = finished ? 0.92 + random() * 0.08 : 0.03 + random() * 0.35;
      at += (0.2 + random() * 1.6) * options.daysBetweenViews * DAY_MS;
      views.push({
        content_id: film.id,
        title: film.title,
        completion,
        watched: finished,
        at,
        features: film,
        finished,
      });
    }
    const finishedViews = views.filter((v) => v.finished);
    const heldOut = finishedViews.slice(-options.heldOut);
    const cutoff = (heldOut[0] as View).at;
    users.push({
      id: `sim-${u}`,
      tastes,
      training: views.filter((v) => v.at < cutoff).map(({ finished: _f, ...view }) => view),
      heldOut: heldOut.map((v) => v.content_id),
    });
  }
  return users;
}

function pickIndex(cumulative: Float64Array, target: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((cumulative[mid] as number) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface ScorerVariant {
  name: string;
  weights: ScoringWeights;
  useProfile: boolean;
  useAdapter: boolean;
  /** Scores with the user's hidden tastes instead: the ceiling the others are measured against. */
  oracle?: boolean;
}

export interface EvaluationRow {
  name: string;
  hitRate: number;
  ndcg: number;
}

/** hit-rate@k (users with a held-out film in their top k) and NDCG@k, per scorer variant. */
export function evaluate(
  films: readonly CatalogItem[],
  users: readonly SimulatedUser[],
  variants: readonly ScorerVariant[],
  options: { k: number; halfLifeDays: number; maxPerGenre: number },
): EvaluationRow[] {
  const space = FeatureSpace.fromCatalog(films.filter((f) => f.kind === "movie"));
  const prepared = users.map((user) => {
    const profile = buildProfile(user.training, { halfLifeDays: options.halfLifeDays });
    const adapter = trainAdapter(trainingExamples(user.training, options.halfLifeDays));
    return { user, profile, adapter, seen: new Set(user.training.map((v) => v.content_id)) };
  });
  return variants.map((variant) => {
    let hits = 0;
    let ndcgSum = 0;
    for (const { user, profile, adapter, seen } of prepared) {
      const scorer = variant.oracle
        ? new OracleScorer(space, user.tastes)
        : new Scorer(
            space,
            { profile: variant.useProfile ? profile : null, adapter: variant.useAdapter ? adapter : null },
            variant.weights,
          );
      const { items } = recommend(space, scorer, {
        seen,
        kinds: ["movie"],
        offset: 0,
        limit: options.k,
        maxPerGenre: options.maxPerGenre,
      });
      const relevant = new Set(user.heldOut);
      let dcg = 0;
      let hit = false;
      items.forEach((r, rank) => {
        if (relevant.has(r.item.id)) {
          dcg += 1 / Math.log2(rank + 2);
          hit = true;
        }
      });
      let ideal = 0;
      for (let rank = 0; rank < Math.min(relevant.size, options.k); rank++) ideal += 1 / Math.log2(rank + 2);
      if (hit) hits++;
      ndcgSum += ideal > 0 ? dcg / ideal : 0;
    }
    return { name: variant.name, hitRate: hits / users.length, ndcg: ndcgSum / users.length };
  });
}

/** Knows the hidden tastes and the simulation's choice model: no real scorer can beat it. */
class OracleScorer extends Scorer {
  constructor(
    space: FeatureSpace,
    private readonly tastes: Record<string, number>,
  ) {
    super(space, { profile: null, adapter: null });
  }

  override score(item: ItemVector): number {
    const taste = item.genres.length === 0 ? DISLIKED : Math.max(...item.genres.map((g) => this.tastes[g] ?? DISLIKED));
    return EXPOSURE_EXPONENT * Math.log(Math.max(1, item.votes)) + Math.log((EXPLORATION + taste) * taste);
  }
}

/** The variants the issue asks for (each personalized one over the same popularity prior), and the ceiling. */
export function standardVariants(serving: ScoringWeights): ScorerVariant[] {
  const withoutAdapter = { ...serving, adapter: 0 };
  return [
    {
      name: "popularity only",
      weights: { profile: 0, adapter: 0, popularity: 1 },
      useProfile: false,
      useAdapter: false,
    },
    { name: "profile only", weights: withoutAdapter, useProfile: true, useAdapter: false },
    { name: "profile + adapter (served)", weights: serving, useProfile: true, useAdapter: true },
    { name: "oracle: hidden tastes", weights: serving, useProfile: false, useAdapter: false, oracle: true },
  ];
}
