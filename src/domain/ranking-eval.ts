/**
 * Offline evaluation of a recommender on real histories: each user's last liked films are held
 * out, the recommender sees everything else, and it is good when the held-out films come first in
 * its ranking of every film the user has not seen. Metrics per user (so that two recommenders can
 * be compared user by user), and a paired bootstrap for the ratio of two recommenders' means.
 */
import { seededRandom } from "./catalog";

/** One rating or view of one user, as the evaluation sees it. */
export interface RatedEvent {
  user: number;
  item: number;
  /** Stars, 0.5 to 5. */
  rating: number;
  /** Epoch ms. */
  at: number;
}

export interface HeldOutUser {
  user: number;
  /** What the recommender may learn from, oldest first. */
  training: RatedEvent[];
  /** The films to find, oldest first. */
  heldOut: number[];
}

export interface Split {
  /** Every event the recommenders may learn from: all users' training parts. */
  training: RatedEvent[];
  /** The users evaluated: those with enough liked films to hold some out. */
  users: HeldOutUser[];
}

/** Oldest first; events of the same second by item, so that a split is the same on every run. */
const chronological = (a: RatedEvent, b: RatedEvent) => a.at - b.at || a.item - b.item;

/**
 * Holds out each user's last `count` liked events (rating ≥ `likedFrom`). A user with fewer liked
 * events than that keeps them all for training and is not evaluated.
 */
export function holdOutLastLiked(events: readonly RatedEvent[], count: number, likedFrom: number): Split {
  const byUser = new Map<number, RatedEvent[]>();
  for (const e of events) {
    const list = byUser.get(e.user);
    if (list) list.push(e);
    else byUser.set(e.user, [e]);
  }
  const training: RatedEvent[] = [];
  const users: HeldOutUser[] = [];
  for (const user of [...byUser.keys()].sort((a, b) => a - b)) {
    const history = byUser.get(user)!.sort(chronological);
    const liked = history.filter((e) => e.rating >= likedFrom);
    if (liked.length < count) {
      training.push(...history);
      continue;
    }
    const held = new Set(liked.slice(-count));
    const kept = history.filter((e) => !held.has(e));
    training.push(...kept);
    users.push({ user, training: kept, heldOut: liked.slice(-count).map((e) => e.item) });
  }
  return { training, users };
}

export interface UserMetrics {
  /** 1 when any held-out film is in the top k. */
  hit: number;
  /** Held-out films in the top k over min(k, held out). */
  recall: number;
  ndcg: number;
}

/** HR@k, Recall@k and NDCG@k (binary relevance) of one ranked list. */
export function metricsAtK(ranked: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): UserMetrics {
  let dcg = 0;
  let found = 0;
  for (let rank = 0; rank < Math.min(k, ranked.length); rank++) {
    if (relevant.has(ranked[rank]!)) {
      dcg += 1 / Math.log2(rank + 2);
      found++;
    }
  }
  const best = Math.min(k, relevant.size);
  let ideal = 0;
  for (let rank = 0; rank < best; rank++) ideal += 1 / Math.log2(rank + 2);
  return { hit: found > 0 ? 1 : 0, recall: best > 0 ? found / best : 0, ndcg: ideal > 0 ? dcg / ideal : 0 };
}

export const mean = (values: ArrayLike<number>) => {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i]!;
  return values.length > 0 ? sum / values.length : Number.NaN;
};

export interface RatioInterval {
  ratio: number;
  low: number;
  high: number;
}

/**
 * mean(a) / mean(b) over the same users, with a 95 % interval from resampling users with
 * replacement (both recommenders on the same resampled users: a paired bootstrap).
 */
export function pairedBootstrapRatio(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: { samples?: number; seed?: number } = {},
): RatioInterval {
  if (a.length !== b.length) throw new RangeError("a paired bootstrap needs the same users on both sides");
  const n = a.length;
  const samples = options.samples ?? 2000;
  const random = seededRandom(options.seed ?? 13);
  const ratios = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    let sa = 0;
    let sb = 0;
    for (let t = 0; t < n; t++) {
      const u = Math.floor(random() * n);
      sa += a[u]!;
      sb += b[u]!;
    }
    ratios[s] = sb > 0 ? sa / sb : Number.POSITIVE_INFINITY;
  }
  ratios.sort();
  const at = (q: number) => ratios[Math.min(samples - 1, Math.max(0, Math.floor(q * samples)))]!;
  return { ratio: mean(a) / mean(b), low: at(0.025), high: at(0.975) };
}

/**
 * The `k` best items by score, leaving out the excluded: ties by `tieBreak` (larger first, e.g.
 * popularity), then by index. A bounded selection, not a sort of the whole catalog.
 */
export function topItems(
  scores: ArrayLike<number>,
  k: number,
  excluded: (item: number) => boolean,
  tieBreak: ArrayLike<number>,
): number[] {
  const better = (a: number, b: number) =>
    scores[a]! !== scores[b]!
      ? scores[a]! > scores[b]!
      : tieBreak[a]! !== tieBreak[b]!
        ? tieBreak[a]! > tieBreak[b]!
        : a < b;
  const best: number[] = [];
  for (let item = 0; item < scores.length; item++) {
    if (excluded(item)) continue;
    if (best.length === k && !better(item, best[k - 1]!)) continue;
    let at = best.length < k ? best.length : k - 1;
    if (best.length < k) best.push(item);
    while (at > 0 && better(item, best[at - 1]!)) {
      best[at] = best[at - 1]!;
      at--;
    }
    best[at] = item;
  }
  return best;
}
