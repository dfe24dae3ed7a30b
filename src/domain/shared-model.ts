/**
 * The recommender's shared model, learned from everyone's viewing: EASE item neighbours over the
 * most-viewed titles (see item-neighbours.ts), kept to each title's strongest neighbours, plus
 * every title's weighted view count. It is rebuilt from all users' histories, published as a
 * snapshot (shared-model-snapshot.ts) and read, never changed, at request time.
 *
 * A view's weight says how much it tells about what a user picks: a finished film fully, a film
 * stopped halfway half, an abandoned one a quarter (choosing it still says something). Measured
 * on MovieLens, learning from every view this way beats learning from liked films alone.
 */
import { columnSums, type Signal, signalMatrix } from "./interactions";
import { easeNeighbours, type NeighbourModel } from "./item-neighbours";
import { isAbandoned, type View } from "./profile";

/** What the shared model and the per-user part need of a view. */
export type HistoryView = Pick<View, "content_id" | "completion" | "watched" | "at">;

/** One view of one user: a row of everyone's history. */
export interface UserView extends HistoryView {
  user: string;
}

export const VIEW_WEIGHTS = { finished: 1, partial: 0.5, abandoned: 0.25 } as const;

export function viewWeight(view: Pick<View, "completion" | "watched">): number {
  if (view.watched) return VIEW_WEIGHTS.finished;
  return isAbandoned(view) ? VIEW_WEIGHTS.abandoned : VIEW_WEIGHTS.partial;
}

export interface SharedModelOptions {
  /** EASE's ridge. */
  lambda: number;
  /** Neighbours kept per title. */
  neighbours: number;
  /** EASE learns over this many most-viewed titles: its build is O(head³), whatever the catalog. */
  head: number;
}

/** Chosen on MovieLens' validation split (see the recommendations benchmark). */
export const DEFAULT_SHARED_MODEL: Readonly<SharedModelOptions> = { lambda: 400, neighbours: 200, head: 3000 };

export interface SharedModelInfo extends SharedModelOptions {
  builtAt: string;
  users: number;
  views: number;
}

export interface SharedModel {
  /** The content id of each item index, in code-point order. */
  ids: string[];
  /** Weighted views of each item. */
  popularity: Float32Array;
  neighbours: NeighbourModel;
  info: SharedModelInfo;
}

/** Builds the shared model from everyone's views; a user's repeated views of a title count once, at their strongest. */
export function buildSharedModel(
  views: Iterable<UserView>,
  options: SharedModelOptions = DEFAULT_SHARED_MODEL,
  now: Date = new Date(),
): SharedModel {
  const users = new Map<string, number>();
  const items = new Map<string, number>();
  const rows: { user: number; id: string; weight: number; at: number }[] = [];
  for (const view of views) {
    let user = users.get(view.user);
    if (user === undefined) {
      user = users.size;
      users.set(view.user, user);
    }
    items.set(view.content_id, 0);
    rows.push({ user, id: view.content_id, weight: viewWeight(view), at: view.at });
  }
  const ids = [...items.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  ids.forEach((id, i) => {
    items.set(id, i);
  });
  const signals: Signal[] = rows.map((r) => ({ user: r.user, item: items.get(r.id)!, value: r.weight, at: r.at }));
  const matrix = signalMatrix(signals, users.size, ids.length, (s) => s.value);
  const neighbours = easeNeighbours(matrix, {
    lambda: options.lambda,
    k: options.neighbours,
    head: options.head,
    keepNegative: true,
  });
  return {
    ids,
    popularity: Float32Array.from(columnSums(matrix)),
    neighbours,
    info: { ...options, builtAt: now.toISOString(), users: users.size, views: matrix.index.length },
  };
}

/** The model's item index of every content id. */
export function modelIndex(model: Pick<SharedModel, "ids">): Map<string, number> {
  return new Map(model.ids.map((id, i) => [id, i]));
}

export interface PersonalOptions {
  /** A view counts half after this many newer views of the user. */
  halfLifeViews: number;
}

/** Chosen on MovieLens' validation split: what a user watched last says most about what comes next. */
export const DEFAULT_PERSONAL: Readonly<PersonalOptions> = { halfLifeViews: 10 };

/**
 * The user's history as weights over the model's items: each title once (at its latest view),
 * weighed by the view and halved every `halfLifeViews` newer titles. Titles the model does not
 * know drop out.
 */
export function historyWeights(
  index: ReadonlyMap<string, number>,
  history: readonly HistoryView[],
  options: PersonalOptions = DEFAULT_PERSONAL,
): { item: number; weight: number }[] {
  const latest = new Map<string, HistoryView>();
  for (const view of history) {
    const before = latest.get(view.content_id);
    if (!before || view.at > before.at || (view.at === before.at && viewWeight(view) > viewWeight(before))) {
      latest.set(view.content_id, view);
    }
  }
  const ordered = [...latest.values()].sort(
    (a, b) => a.at - b.at || (a.content_id < b.content_id ? -1 : a.content_id > b.content_id ? 1 : 0),
  );
  const out: { item: number; weight: number }[] = [];
  ordered.forEach((view, rank) => {
    const item = index.get(view.content_id);
    if (item === undefined) return;
    const newer = ordered.length - 1 - rank;
    out.push({ item, weight: viewWeight(view) * 0.5 ** (newer / options.halfLifeViews) });
  });
  return out;
}
