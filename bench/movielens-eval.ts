/**
 * Recommendation quality on real viewing data: MovieLens ml-latest-small, ratings mapped to views
 * (4 stars or more finished, 2 or less abandoned, else stopped partway; time = the rating's).
 * Each user's last 5 films rated 4 or more are held out; every parameter is chosen on a
 * validation split cut the same way from the training part; every film the user has not rated is
 * ranked. Popularity, item-kNN (cosine, liked films) and EASE (Steck 2019, liked films) are the
 * peers; ours is the served pipeline (shared model from a decoded snapshot + the user's recent
 * history + content profile, diversified) and each of its parts. Ratios are paired-bootstrap
 * intervals over users. Then the shared model's build cost and how it grows, and the per-request
 * scoring time.
 */

import { CholeskyDecomposition, inverse, Matrix } from "ml-matrix";
import {
  loadMovieLens,
  type MovieLens,
  movieLensCatalog,
  movieLensContentId,
  viewOfRating,
} from "../scripts/movielens";
import { trainAdapter, trainingExamples } from "../src/domain/adapter";
import type { CatalogItem } from "../src/domain/catalog";
import { FeatureSpace } from "../src/domain/features";
import { columnCounts, type SparseRows, signalMatrix } from "../src/domain/interactions";
import {
  accumulateScores,
  cosineNeighbours,
  easeItems,
  easeNeighbours,
  gramWithRidge,
  type NeighbourModel,
  restrictColumns,
} from "../src/domain/item-neighbours";
import { invertSpd } from "../src/domain/linear-algebra";
import { alignModel, type BlendWeights, CollaborativeScorer, SERVED_BLEND } from "../src/domain/personal-ranking";
import { buildProfile, type PreferenceProfile, type View } from "../src/domain/profile";
import {
  holdOutLastLiked,
  mean,
  metricsAtK,
  pairedBootstrapRatio,
  type RatedEvent,
  type Split,
  topItems,
} from "../src/domain/ranking-eval";
import { DIVERSITY_WINDOW, recommend, Scorer } from "../src/domain/recommend";
import {
  buildSharedModel,
  DEFAULT_PERSONAL,
  DEFAULT_SHARED_MODEL,
  type SharedModel,
  SharedModelBuilder,
  type SharedModelOptions,
  titleStats,
  type UserView,
  userSignals,
  viewWeight,
} from "../src/domain/shared-model";
import { decodeModelSnapshot, encodeModelSnapshot } from "../src/domain/shared-model-snapshot";
import { table, timeEach } from "./lib";

export const K = 10;
const HELD_OUT = 5;
const LIKED = 4;
export const MAX_PER_GENRE = 4;
/** A cap of 10 in any 10 consecutive items: no diversity rule. */
const NO_DIVERSITY = DIVERSITY_WINDOW;
const PROFILE_HALF_LIFE_DAYS = 30;

const started = performance.now();
const progress = (line: string) => console.log(`  [${((performance.now() - started) / 1000).toFixed(0)} s] ${line}`);

function time<T>(work: () => T): { value: T; ms: number } {
  const t = performance.now();
  const value = work();
  return { value, ms: performance.now() - t };
}

/** One split's training data in every shape the recommenders need. */
export class Fold {
  readonly likes: SparseRows;
  /** Every view, weighed as the shared model weighs it. */
  readonly weighted: SparseRows;
  readonly likedCounts: Uint32Array;
  readonly space: FeatureSpace;
  readonly views: UserView[];
  readonly users: {
    heldOut: Set<number>;
    seen: Set<number>;
    seenIds: Set<string>;
    liked: { item: number; weight: number }[];
    history: UserView[];
    profile: PreferenceProfile;
    profileViews: View[];
  }[];

  constructor(
    readonly split: Split,
    data: MovieLens,
    readonly ids: string[],
    userCount: number,
  ) {
    const items = ids.length;
    this.likes = signalMatrix(
      split.training.map((e) => ({ user: e.user, item: e.item, value: e.rating, at: e.at })),
      userCount,
      items,
      (s) => (s.value >= LIKED ? 1 : 0),
    );
    this.likedCounts = columnCounts(this.likes);
    this.weighted = signalMatrix(
      split.training.map((e) => ({ user: e.user, item: e.item, value: viewWeight(viewOfRating(e.rating)), at: e.at })),
      userCount,
      items,
      (s) => s.value,
    );
    // The catalog's popularity feature: how often each film was rated in training.
    const votes = new Map<number, number>();
    for (const e of split.training) {
      const movieId = data.films[e.item]!.movieId;
      votes.set(movieId, (votes.get(movieId) ?? 0) + 1);
    }
    const catalog: CatalogItem[] = movieLensCatalog(data.films, votes);
    this.space = FeatureSpace.fromCatalog(catalog);
    const asView = (e: RatedEvent): UserView => ({
      user: String(e.user),
      content_id: ids[e.item]!,
      at: e.at,
      ...viewOfRating(e.rating),
    });
    this.views = split.training.map(asView);
    this.users = split.users.map((u) => {
      const history = u.training.map(asView);
      const profileViews: View[] = history.map((v, i) => ({
        ...v,
        title: catalog[u.training[i]!.item]!.title,
        features: catalog[u.training[i]!.item]!,
      }));
      return {
        heldOut: new Set(u.heldOut),
        seen: new Set(u.training.map((e) => e.item)),
        seenIds: new Set(history.map((v) => v.content_id)),
        liked: u.training.filter((e) => e.rating >= LIKED).map((e) => ({ item: e.item, weight: 1 })),
        history,
        profile: buildProfile(profileViews, { halfLifeDays: PROFILE_HALF_LIFE_DAYS }),
        profileViews,
      };
    });
  }
}

export interface Measured {
  name: string;
  hit: Float64Array;
  recall: Float64Array;
  ndcg: Float64Array;
}

export function measure(fold: Fold, name: string, rank: (u: number) => ArrayLike<number>): Measured {
  const n = fold.users.length;
  const out: Measured = { name, hit: new Float64Array(n), recall: new Float64Array(n), ndcg: new Float64Array(n) };
  for (let u = 0; u < n; u++) {
    const m = metricsAtK(rank(u), fold.users[u]!.heldOut, K);
    out.hit[u] = m.hit;
    out.recall[u] = m.recall;
    out.ndcg[u] = m.ndcg;
  }
  return out;
}

/** Ranks by item scores: every unseen film, ties by liked count. */
export function scoredRanking(fold: Fold, score: (u: number, scores: Float64Array) => void) {
  const scores = new Float64Array(fold.ids.length);
  return (u: number) => {
    scores.fill(0);
    score(u, scores);
    const seen = fold.users[u]!.seen;
    return topItems(scores, K, (i) => seen.has(i), fold.likedCounts);
  };
}

/** Ranks through the serving code: `recommend` with a scorer, diversified or not. */
function servedRanking(fold: Fold, scorerOf: (u: number) => Scorer, maxPerGenre: number) {
  return (u: number) => {
    const { items } = recommend(fold.space, scorerOf(u), {
      seen: fold.users[u]!.seenIds,
      kinds: ["movie"],
      offset: 0,
      limit: K,
      maxPerGenre,
    });
    return items.map((r) => r.item.index);
  };
}

function neighbourRanking(fold: Fold, model: NeighbourModel) {
  return scoredRanking(fold, (u, scores) => accumulateScores(model, fold.users[u]!.liked, scores));
}

export interface OursParams {
  model: SharedModelOptions;
  halfLifeViews: number;
  blend: BlendWeights;
}

export function oursRanking(fold: Fold, model: SharedModel, params: Omit<OursParams, "model">, maxPerGenre: number) {
  const aligned = alignModel(model, fold.space);
  const adapters = params.blend.adapter > 0 ? fold.users.map((u) => adapterOf(u.profileViews)) : null;
  return servedRanking(
    fold,
    (u) => {
      const user = fold.users[u]!;
      const personalization = {
        profile: params.blend.profile > 0 ? user.profile : null,
        adapter: adapters?.[u] ?? null,
      };
      return new CollaborativeScorer(fold.space, personalization, aligned, user.history, {
        halfLifeViews: params.halfLifeViews,
        blend: params.blend,
      });
    },
    maxPerGenre,
  );
}

const adapterOf = (views: View[]) => trainAdapter(trainingExamples(views, PROFILE_HALF_LIFE_DAYS));

/** Picks the value whose NDCG@10 on the validation fold is best, printing every candidate. */
function tune<T>(
  label: string,
  candidates: T[],
  show: (value: T) => string,
  score: (value: T) => number,
  log: string[],
): T {
  let best = candidates[0] as T;
  let bestScore = Number.NEGATIVE_INFINITY;
  const tried: string[] = [];
  for (const value of candidates) {
    const s = score(value);
    tried.push(`${show(value)}: ${s.toFixed(4)}`);
    if (s > bestScore) {
      best = value;
      bestScore = s;
    }
  }
  log.push(`${label} → ${show(best)}  (validation NDCG@10 ${tried.join(", ")})`);
  progress(`tuned ${label}: ${show(best)}`);
  return best;
}

const fmt = (x: number, digits = 4) => x.toFixed(digits);
const interval = (r: { ratio: number; low: number; high: number }) =>
  `${r.ratio.toFixed(2)}× [${r.low.toFixed(2)}, ${r.high.toFixed(2)}]`;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** MovieLens and its test split: each user's last 5 liked films held out. */
export function movieLensSplit() {
  progress("loading MovieLens ml-latest-small (r-cran-dslabs) ...");
  const data = loadMovieLens({ log: progress });
  const itemOf = new Map(data.films.map((f, i) => [f.movieId, i]));
  const userIds = [...new Set(data.ratings.map((r) => r.userId))].sort((a, b) => a - b);
  const userOf = new Map(userIds.map((u, i) => [u, i]));
  const ids = data.films.map((f) => movieLensContentId(f.movieId));
  const events: RatedEvent[] = data.ratings.map((r) => ({
    user: userOf.get(r.userId)!,
    item: itemOf.get(r.movieId)!,
    rating: r.rating,
    at: r.timestamp * 1000,
  }));
  const testSplit = holdOutLastLiked(events, HELD_OUT, LIKED);
  return { data, ids, userIds, testSplit, test: new Fold(testSplit, data, ids, userIds.length) };
}

/** The served defaults, as the benchmark's tuning starts from them. */
export const servedParams = (): OursParams => ({
  model: { ...DEFAULT_SHARED_MODEL },
  halfLifeViews: DEFAULT_PERSONAL.halfLifeViews,
  blend: { ...SERVED_BLEND },
});

export async function movieLensBenchmark(): Promise<void> {
  const { data, ids, userIds, testSplit, test } = movieLensSplit();
  const validSplit = holdOutLastLiked(testSplit.training, HELD_OUT, LIKED);
  const valid = new Fold(validSplit, data, ids, userIds.length);
  progress(
    `${data.ratings.length} ratings, ${userIds.length} users, ${ids.length} films; ` +
      `${test.users.length} users evaluated (test), ${valid.users.length} (validation)`,
  );

  // --- Tuning, on the validation fold only.
  const tuning: string[] = [];
  const ndcgOf = (fold: Fold, rank: (u: number) => ArrayLike<number>) => mean(measure(fold, "", rank).ndcg);
  const knnK = tune(
    "item-kNN neighbours",
    [50, 200, Number.POSITIVE_INFINITY],
    String,
    (k) => ndcgOf(valid, neighbourRanking(valid, cosineNeighbours(valid.likes, { k }))),
    tuning,
  );
  const easeLambda = tune(
    "EASE λ",
    [100, 200, 400, 800],
    String,
    (lambda) =>
      ndcgOf(
        valid,
        neighbourRanking(
          valid,
          easeNeighbours(valid.likes, { lambda, k: Number.POSITIVE_INFINITY, keepNegative: true }),
        ),
      ),
    tuning,
  );
  // Tuning starts from what the code serves by default, and says when validation disagrees with it.
  const base = servedParams();
  const defaults = JSON.stringify(base);
  const validModels = new Map<string, SharedModel>();
  const validModel = (options: SharedModelOptions) => {
    const key = JSON.stringify(options);
    let model = validModels.get(key);
    if (!model) {
      model = decodeModelSnapshot(encodeModelSnapshot(buildSharedModel(valid.views, options)));
      validModels.set(key, model);
    }
    return model;
  };
  const oursValid = (p: OursParams) => ndcgOf(valid, oursRanking(valid, validModel(p.model), p, NO_DIVERSITY));
  base.model.lambda = tune(
    "ours: shared model λ",
    [200, 400, 800],
    String,
    (lambda) => oursValid({ ...base, model: { ...base.model, lambda } }),
    tuning,
  );
  // What bounding one user's cost (views² in the Gram) costs in quality.
  base.model.viewsPerUser = tune(
    "ours: views per user the model learns from",
    [250, 500, 1000, 2500],
    String,
    (viewsPerUser) => oursValid({ ...base, model: { ...base.model, viewsPerUser } }),
    tuning,
  );
  base.halfLifeViews = tune(
    "ours: history half-life (views)",
    [5, 10, 20],
    String,
    (h) => oursValid({ ...base, halfLifeViews: h }),
    tuning,
  );
  base.blend.profile = tune(
    "ours: profile weight",
    [0, 0.05, 0.1, 0.2],
    String,
    (profile) => oursValid({ ...base, blend: { ...base.blend, profile } }),
    tuning,
  );
  base.blend.adapter = tune(
    "ours: adapter weight",
    [0, 0.1, 0.3],
    String,
    (adapter) => oursValid({ ...base, blend: { ...base.blend, adapter } }),
    tuning,
  );
  console.log("\nChosen on the validation split (each user's last 5 liked films of the training part):");
  for (const line of tuning) console.log(`  ${line}`);
  console.log(
    JSON.stringify(base) === defaults
      ? "  (the same as the served defaults in src/domain/shared-model.ts and personal-ranking.ts)"
      : `  the served defaults differ: ${defaults}; measured below with the tuned ${JSON.stringify(base)}`,
  );

  // --- The test fold: every recommender trained on the whole training part.
  progress("building the peers and the shared model on the training part ...");
  const knn = time(() => cosineNeighbours(test.likes, { k: knnK }));
  const ease = time(() =>
    easeNeighbours(test.likes, { lambda: easeLambda, k: Number.POSITIVE_INFINITY, keepNegative: true }),
  );
  const shared = time(() => buildSharedModel(test.views, base.model));
  const encoded = time(() => encodeModelSnapshot(shared.value));
  const decoded = time(() => decodeModelSnapshot(encoded.value));
  const model = decoded.value;
  progress(`shared model built in ${(shared.ms / 1000).toFixed(1)} s; snapshot ${mib(encoded.value.length)}`);

  const adapters = test.users.map((u) => adapterOf(u.profileViews));
  const rows: Measured[] = [];
  const add = (name: string, rank: (u: number) => ArrayLike<number>) => {
    rows.push(measure(test, name, rank));
    progress(`measured ${name}`);
  };
  add(
    "popularity (liked count)",
    scoredRanking(test, (_u, scores) => scores.set(test.likedCounts)),
  );
  add(`item-kNN (cosine, liked films, k ${knnK})`, neighbourRanking(test, knn.value));
  add(`EASE (liked films, λ ${easeLambda}, dense)`, neighbourRanking(test, ease.value));
  add(
    "before: profile + adapter + popularity, diversified",
    servedRanking(
      test,
      (u) => new Scorer(test.space, { profile: test.users[u]!.profile, adapter: adapters[u]! }),
      MAX_PER_GENRE,
    ),
  );
  add(
    "ours, part: content profile alone",
    servedRanking(
      test,
      (u) =>
        new Scorer(
          test.space,
          { profile: test.users[u]!.profile, adapter: null },
          { profile: 1, adapter: 0, popularity: 0 },
        ),
      NO_DIVERSITY,
    ),
  );
  add(
    "ours, part: shared model, whole history alike",
    oursRanking(
      test,
      model,
      { halfLifeViews: Number.POSITIVE_INFINITY, blend: { profile: 0, adapter: 0 } },
      NO_DIVERSITY,
    ),
  );
  add(
    `ours, part: + recent history (half-life ${base.halfLifeViews} views)`,
    oursRanking(test, model, { halfLifeViews: base.halfLifeViews, blend: { profile: 0, adapter: 0 } }, NO_DIVERSITY),
  );
  add(
    `ours, part: + profile ${base.blend.profile}, adapter ${base.blend.adapter} (not diversified)`,
    oursRanking(test, model, base, NO_DIVERSITY),
  );
  add(`ours: served pipeline (≤ ${MAX_PER_GENRE} per genre in 10)`, oursRanking(test, model, base, MAX_PER_GENRE));
  const unquantized = measure(test, "", oursRanking(test, shared.value, base, MAX_PER_GENRE));

  const popularity = rows[0]!;
  const easeRow = rows[2]!;
  table(
    `MovieLens ml-latest-small: ${test.users.length} users, their last ${HELD_OUT} films rated ≥ ${LIKED} held out, ` +
      `all ${ids.length} films ranked (unseen ones); ratios: paired bootstrap over users, 95 % interval`,
    rows.map((r) => ({
      recommender: r.name,
      "HR@10": fmt(mean(r.hit), 3),
      "Recall@10": fmt(mean(r.recall)),
      "NDCG@10": fmt(mean(r.ndcg)),
      "NDCG vs popularity": interval(pairedBootstrapRatio(r.ndcg, popularity.ndcg)),
      "NDCG vs EASE": interval(pairedBootstrapRatio(r.ndcg, easeRow.ndcg)),
    })),
  );
  const served = rows[rows.length - 1]!;
  const undiversified = rows[rows.length - 2]!;
  console.log(
    `diversity rule (≤ ${MAX_PER_GENRE} of a genre in any 10) costs NDCG@10 ${interval(pairedBootstrapRatio(served.ndcg, undiversified.ndcg))}` +
      ` of the undiversified ranking; the snapshot's 8-bit weights against float weights: ${interval(pairedBootstrapRatio(served.ndcg, unquantized.ndcg))}`,
  );

  // --- Cost of the shared model.
  const inMemory =
    model.popularity.byteLength +
    model.neighbours.offsets.byteLength +
    model.neighbours.neighbours.byteLength +
    model.neighbours.weights.byteLength +
    model.ids.reduce((sum, id) => sum + 2 * id.length + 16, 0);
  table("Shared models on the training part (this machine, one core)", [
    {
      model: `item-kNN, k ${knnK}`,
      "build s": fmt(knn.ms / 1000, 1),
      neighbours: knn.value.neighbours.length,
      "in memory": mib(knn.value.neighbours.length * 8),
    },
    {
      model: `EASE dense, λ ${easeLambda}`,
      "build s": fmt(ease.ms / 1000, 1),
      neighbours: ease.value.neighbours.length,
      "in memory": mib(ease.value.neighbours.length * 8),
    },
    {
      model: `ours: EASE on the ${base.model.head} most-viewed, λ ${base.model.lambda}, ${base.model.neighbours} neighbours`,
      "build s": fmt(shared.ms / 1000, 1),
      neighbours: model.neighbours.neighbours.length,
      "in memory": mib(inMemory),
    },
  ]);
  console.log(
    `snapshot: ${mib(encoded.value.length)} (${(encoded.value.length / model.ids.length).toFixed(0)} B per title), ` +
      `encoded in ${encoded.ms.toFixed(0)} ms, decoded and checked in ${decoded.ms.toFixed(0)} ms`,
  );

  scaling(test, base.model);

  // --- Per-request scoring: one user's recommendations, as a request would compute them.
  const aligned = alignModel(model, test.space);
  const count = Math.min(2000, test.users.length * 3);
  const oursTiming = timeEach(count, (i) => {
    const user = test.users[i % test.users.length]!;
    const scorer = new CollaborativeScorer(
      test.space,
      { profile: user.profile, adapter: null },
      aligned,
      user.history,
      {
        halfLifeViews: base.halfLifeViews,
        blend: base.blend,
      },
    );
    recommend(test.space, scorer, {
      seen: user.seenIds,
      kinds: ["movie"],
      offset: 0,
      limit: 20,
      maxPerGenre: MAX_PER_GENRE,
    });
  });
  const easeRank = neighbourRanking(test, ease.value);
  const easeTiming = timeEach(count, (i) => easeRank(i % test.users.length));
  const popRank = scoredRanking(test, (_u, scores) => scores.set(test.likedCounts));
  const popTiming = timeEach(count, (i) => popRank(i % test.users.length));
  table(`Per-request scoring in process (Node ${process.version}), one user, ${count} requests`, [
    {
      path: "popularity: score and rank 9,066 films",
      "p50 ms": popTiming.p50,
      "p99 ms": popTiming.p99,
      "p50 CPU ms": popTiming.cpuP50,
    },
    {
      path: "EASE dense: score and rank",
      "p50 ms": easeTiming.p50,
      "p99 ms": easeTiming.p99,
      "p50 CPU ms": easeTiming.cpuP50,
    },
    {
      path: "ours: history × neighbours + profile, rank, diversify, explain 20",
      "p50 ms": oursTiming.p50,
      "p99 ms": oursTiming.p99,
      "p50 CPU ms": oursTiming.cpuP50,
    },
  ]);
}

/**
 * How the shared model's build grows. Its two costs: the Gram matrix over the head titles (one
 * multiply-add per pair of a user's views: linear in users) and its inverse (head³/2, whatever the
 * users), measured here at several sizes and extrapolated.
 */
function scaling(fold: Fold, options: SharedModelOptions): void {
  progress("measuring how the build grows ...");
  const weighted = fold.weighted;
  const x = restrictColumns(weighted, easeItems(weighted, options.head));
  let pairs = 0;
  for (let u = 0; u < x.rows; u++) pairs += (x.offsets[u + 1]! - x.offsets[u]!) ** 2;
  const replicate = (times: number): SparseRows => {
    const length = x.offsets[x.rows]!;
    const offsets = new Uint32Array(x.rows * times + 1);
    for (let t = 0; t < times; t++)
      for (let u = 0; u < x.rows; u++) offsets[t * x.rows + u + 1] = t * length + x.offsets[u + 1]!;
    const index = new Uint32Array(length * times);
    const values = new Float32Array(length * times);
    for (let t = 0; t < times; t++) {
      index.set(x.index, t * length);
      values.set(x.values, t * length);
    }
    return { rows: x.rows * times, columns: x.columns, offsets, index, values };
  };
  gramWithRidge(replicate(1), options.lambda); // warm the JIT
  const gram1 = time(() => gramWithRidge(x, options.lambda)).ms;
  const four = replicate(4);
  const gram4 = time(() => gramWithRidge(four, options.lambda)).ms;
  const nsPerPair = (gram4 * 1e6) / (4 * pairs);
  const pairsPerUser = pairs / x.rows;
  const inversions: { n: number; ms: number }[] = [];
  for (const n of [500, 1000, 2000]) {
    const sub = restrictColumns(weighted, easeItems(weighted, n));
    const gram = gramWithRidge(sub, options.lambda);
    inversions.push({ n: sub.columns, ms: time(() => invertSpd(gram, sub.columns)).ms });
  }
  // The same inverse by a well-kept general-purpose package, interleaved with ours after a warm-up.
  const small = restrictColumns(weighted, easeItems(weighted, 500));
  const smallGram = gramWithRidge(small, options.lambda);
  const n = small.columns;
  invertSpd(smallGram.slice(), n);
  const oursSmall = time(() => invertSpd(smallGram.slice(), n)).ms;
  const asMatrix = new Matrix(Array.from({ length: n }, (_, i) => Array.from(smallGram.subarray(i * n, i * n + n))));
  const mlCholesky = time(() => new CholeskyDecomposition(asMatrix).solve(Matrix.eye(n))).ms;
  const mlLu = time(() => inverse(asMatrix)).ms;
  const oursAgain = time(() => invertSpd(smallGram.slice(), n)).ms;
  const oursBest = Math.min(oursSmall, oursAgain);
  const last = inversions[inversions.length - 1]!;
  const previous = inversions[inversions.length - 2]!;
  const exponent = Math.log(last.ms / previous.ms) / Math.log(last.n / previous.n);
  // Extrapolate with the measured rate at the largest size, at the n³ the algorithm does.
  const inversionSeconds = (n: number) => (last.ms / 1000) * (n / last.n) ** 3;
  const neighbourBytes = (head: number, items: number) =>
    head * options.neighbours * ((items <= 0x10000 ? 2 : 4) + 1) + items * (4 + 4 + 4 + 16);
  table("How the shared model's build grows (measured, then extrapolated at the measured rates)", [
    {
      part: `Gram over the head: ${x.rows} users, ${pairs.toExponential(2)} view pairs`,
      measured: `${fmt(gram1, 0)} ms; users × 4: ${fmt(gram4, 0)} ms (${fmt(gram4 / gram1, 2)}×)`,
      "per million users": `${fmt((nsPerPair * pairsPerUser * 1e6) / 1e9, 0)} s at ${fmt(pairsPerUser, 0)} pairs per user (MovieLens' heavy raters); memory ${mib(x.columns ** 2 * 8)} whatever the users`,
    },
    {
      part: "inverse of the head's Gram",
      measured: `${inversions.map((r) => `${r.n}: ${fmt(r.ms / 1000, 2)} s`).join(", ")} (grows as n^${fmt(exponent, 2)})`,
      "per million users": `unchanged: head ${options.head} → ${fmt(inversionSeconds(options.head), 0)} s, ${mib(options.head ** 2 * 8)}`,
    },
    {
      part: `inverse, ${n} titles: ours against ml-matrix`,
      measured: `ours ${fmt(oursBest, 0)} ms; ml-matrix Cholesky + solve ${fmt(mlCholesky, 0)} ms (${fmt(mlCholesky / oursBest, 1)}×), LU inverse ${fmt(mlLu, 0)} ms (${fmt(mlLu / oursBest, 1)}×)`,
      "per million users": "",
    },
    streamingBuild(fold, options),
    {
      part: "per 100,000 titles",
      measured: `head ${options.head}: snapshot ≈ ${mib(neighbourBytes(options.head, 100_000))}`,
      "per million users": `head 10,000 → inverse ≈ ${fmt(inversionSeconds(10_000) / 60, 0)} min, ${mib(10_000 ** 2 * 8)}; snapshot ≈ ${mib(neighbourBytes(10_000, 100_000))}`,
    },
  ]);
}

/**
 * The build as the Worker runs it (SharedModelBuilder, one user at a time), on MovieLens' users
 * taken 8 times under new names: more users than head titles, so it keeps only the head's Gram.
 */
function streamingBuild(fold: Fold, options: SharedModelOptions): Record<string, string> {
  const byUser = new Map<string, UserView[]>();
  for (const view of fold.views) {
    const list = byUser.get(view.user);
    if (list) list.push(view);
    else byUser.set(view.user, [view]);
  }
  const histories = [...byUser.values()];
  const times = 8;
  const stats = titleStats(histories.map((h) => userSignals(h, options.viewsPerUser)));
  const scaled = stats.map((t) => ({ ...t, users: t.users * times, weight: t.weight * times }));
  const t = performance.now();
  const builder = new SharedModelBuilder(scaled, options);
  for (let r = 0; r < times; r++) for (const history of histories) builder.addUser(history);
  const gramMs = performance.now() - t;
  const model = builder.finish();
  const totalMs = performance.now() - t;
  const users = histories.length * times;
  const head = Math.min(options.head, model.ids.length);
  return {
    part: `streaming build as the Worker runs it: ${users} users (MovieLens × ${times}), ${model.ids.length} titles`,
    measured: `${fmt(totalMs / 1000, 1)} s: users ${fmt(gramMs / 1000, 1)} s (${fmt((gramMs * 1000) / users, 0)} µs a user), inverse and neighbours ${fmt((totalMs - gramMs) / 1000, 1)} s`,
    "per million users": `${fmt((gramMs / users) * 1e3, 0)} s of users + ${fmt((totalMs - gramMs) / 1000, 0)} s inverse; memory: the head's Gram ${mib(head * head * 8)} + one page of 500 histories, whatever the users`,
  };
}
