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
import { addToGram, easeOver, type NeighbourModel } from "./item-neighbours";
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
  /** Each user's most recent titles the model learns from: one user costs at most this² in the Gram. */
  viewsPerUser: number;
}

/**
 * Chosen on MovieLens' validation split (see the recommendations benchmark). Views per user: the
 * more the better there (0.1368 NDCG@10 at 250, 0.1428 at 2,500, every view of its heaviest
 * rater); the cap only bounds what one extreme account (a bot, a shared TV) costs the build.
 */
export const DEFAULT_SHARED_MODEL: Readonly<SharedModelOptions> = {
  lambda: 400,
  neighbours: 200,
  head: 3000,
  viewsPerUser: 2500,
};

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

/** What the build needs to know of a title before it reads anyone's history. */
export interface TitleStats {
  content_id: string;
  /** Users who viewed it (among each one's most recent `viewsPerUser`). */
  users: number;
  /** Their views' weights, summed: the title's popularity. */
  weight: number;
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One user's signals: each title once (its latest view, at the strongest weight any view of it
 * had), the most recent `limit` titles, newest first.
 */
export function userSignals(
  views: readonly HistoryView[],
  limit: number,
): { content_id: string; weight: number; at: number }[] {
  const byTitle = new Map<string, { content_id: string; weight: number; at: number }>();
  for (const view of views) {
    const weight = viewWeight(view);
    const seen = byTitle.get(view.content_id);
    if (!seen) byTitle.set(view.content_id, { content_id: view.content_id, weight, at: view.at });
    else {
      seen.weight = Math.max(seen.weight, weight);
      seen.at = Math.max(seen.at, view.at);
    }
  }
  return [...byTitle.values()]
    .sort((a, b) => b.at - a.at || byCodePoint(b.content_id, a.content_id))
    .slice(0, Math.max(0, limit));
}

/**
 * Builds the shared model one user at a time, so everyone's history never has to be in memory
 * at once: the titles' statistics come first (they fix the head), then each user's views. While
 * the users are fewer than the head titles their signals are kept and EASE is solved from the
 * users' side; past that, only the head's Gram matrix is kept (head² floats, whatever the users).
 */
export class SharedModelBuilder {
  private readonly ids: string[];
  private readonly index: Map<string, number>;
  private readonly popularity: Float32Array;
  /** Head titles, as model indices in ascending order. */
  private readonly active: Uint32Array;
  /** Model index → head column, -1 outside the head. */
  private readonly column: Int32Array;
  private rows: { offsets: number[]; index: number[]; values: number[] } | null = {
    offsets: [0],
    index: [],
    values: [],
  };
  private gram: Float64Array | null = null;
  private users = 0;
  private views = 0;
  private readonly options: SharedModelOptions;

  /** Options left out take the served defaults. */
  constructor(
    titles: readonly TitleStats[],
    options: Partial<SharedModelOptions> = {},
    private readonly now: Date = new Date(),
  ) {
    this.options = { ...DEFAULT_SHARED_MODEL, ...options };
    const kept = titles.filter((t) => t.users > 0).sort((a, b) => byCodePoint(a.content_id, b.content_id));
    this.ids = kept.map((t) => t.content_id);
    this.index = new Map(this.ids.map((id, i) => [id, i]));
    if (this.index.size !== this.ids.length) throw new RangeError("a title is listed twice");
    this.popularity = Float32Array.from(kept, (t) => t.weight);
    const head = kept
      .map((t, i) => ({ i, users: t.users }))
      .sort((a, b) => b.users - a.users || a.i - b.i)
      .slice(0, Math.max(0, this.options.head))
      .map((t) => t.i);
    this.active = Uint32Array.from(head).sort();
    this.column = new Int32Array(this.ids.length).fill(-1);
    this.active.forEach((item, c) => {
      this.column[item] = c;
    });
  }

  /** One user's views (of any titles, in any order); titles the statistics did not list are left out. */
  addUser(views: readonly HistoryView[]): void {
    const signals = userSignals(views, this.options.viewsPerUser);
    const local: { c: number; w: number }[] = [];
    for (const s of signals) {
      const item = this.index.get(s.content_id);
      if (item === undefined) continue;
      this.views++;
      const c = this.column[item]!;
      if (c >= 0) local.push({ c, w: Math.fround(s.weight) });
    }
    this.users++;
    if (local.length === 0) return;
    local.sort((a, b) => a.c - b.c);
    const n = this.active.length;
    if (this.rows) {
      for (const { c, w } of local) {
        this.rows.index.push(c);
        this.rows.values.push(w);
      }
      this.rows.offsets.push(this.rows.index.length);
      // Once users outnumber the head titles, the item side's inverse is the smaller one.
      if (this.rows.offsets.length - 1 > n) {
        this.gram = new Float64Array(n * n);
        const { offsets, index, values } = this.rows;
        for (let u = 0; u + 1 < offsets.length; u++)
          addToGram(this.gram, n, index, values, offsets[u]!, offsets[u + 1]!);
        this.rows = null;
      }
      return;
    }
    addToGram(
      this.gram!,
      n,
      local.map((l) => l.c),
      local.map((l) => l.w),
    );
  }

  finish(): SharedModel {
    const { lambda, neighbours: k } = this.options;
    const ease = { lambda, k, keepNegative: true };
    const source = this.rows
      ? {
          rows: {
            rows: this.rows.offsets.length - 1,
            columns: this.active.length,
            offsets: Uint32Array.from(this.rows.offsets),
            index: Uint32Array.from(this.rows.index),
            values: Float32Array.from(this.rows.values),
          },
        }
      : { gram: this.gram! };
    const neighbours = easeOver(source, this.active, this.ids.length, ease);
    this.rows = null;
    this.gram = null;
    return {
      ids: this.ids,
      popularity: this.popularity,
      neighbours,
      info: { ...this.options, builtAt: this.now.toISOString(), users: this.users, views: this.views },
    };
  }
}

/** Each title's statistics over everyone's signals, as `SharedModelBuilder` takes them. */
export function titleStats(signalsByUser: Iterable<readonly { content_id: string; weight: number }[]>): TitleStats[] {
  const stats = new Map<string, TitleStats>();
  for (const signals of signalsByUser) {
    for (const s of signals) {
      const t = stats.get(s.content_id) ?? { content_id: s.content_id, users: 0, weight: 0 };
      t.users++;
      t.weight += s.weight;
      stats.set(s.content_id, t);
    }
  }
  return [...stats.values()];
}

/** Builds the shared model from everyone's views held in memory (the benchmark's and the tests' way). */
export function buildSharedModel(
  views: Iterable<UserView>,
  options: Partial<SharedModelOptions> = {},
  now: Date = new Date(),
): SharedModel {
  const viewsPerUser = options.viewsPerUser ?? DEFAULT_SHARED_MODEL.viewsPerUser;
  const byUser = new Map<string, UserView[]>();
  for (const view of views) {
    const list = byUser.get(view.user);
    if (list) list.push(view);
    else byUser.set(view.user, [view]);
  }
  const histories = [...byUser.values()];
  const builder = new SharedModelBuilder(titleStats(histories.map((h) => userSignals(h, viewsPerUser))), options, now);
  for (const history of histories) builder.addUser(history);
  return builder.finish();
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
