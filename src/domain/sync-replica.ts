import { LwwMap, type LwwRegister } from "./lww";
import { OrSet, type OrSetElement, type OrSetEntry } from "./or-set";
import type { ProgressState } from "./progress-register";

export type { ProgressState };

export interface ProgressValue {
  position_seconds: number;
  duration_seconds: number;
  state: ProgressState;
}

/**
 * One operation a device made, as it travels in `POST /sync/ops`. `op_id` makes delivery
 * idempotent; `hlc` is the device's clock when it made the change.
 */
export type SyncOp =
  | { op_id: string; type: "watchlist.add"; content_id: string; tag: string; hlc: string }
  | { op_id: string; type: "watchlist.remove"; content_id: string; tags: string[]; hlc: string }
  | ({ op_id: string; type: "progress.set"; content_id: string; hlc: string } & ProgressValue)
  /** A rating 1-10, or null to remove it: a last-writer-wins register per content. */
  | { op_id: string; type: "rating.set"; content_id: string; rating: number | null; hlc: string }
  /** Hide a card from continue watching (or unhide it): a last-writer-wins flag per card. */
  | { op_id: string; type: "hidden.set"; content_id: string; hidden: boolean; hlc: string }
  /** The item was finished at `watched_at` (ISO-8601): one play, named by the content and that time. */
  | { op_id: string; type: "play.add"; content_id: string; watched_at: string; hlc: string };

export type OpResult = "applied" | "duplicate" | "stale";

export interface ReplicaState {
  watchlist: OrSetElement[];
  progress: [string, LwwRegister<ProgressValue>][];
  ratings: [string, LwwRegister<number | null>][];
  hidden: [string, LwwRegister<boolean>][];
  plays: string[];
}

/** A play's id: the content and the time it was finished, so the same play reported twice is one. */
export const playId = (contentId: string, watchedAtMs: number) => `${contentId}@${watchedAtMs}`;

/**
 * A replica of one user's sync state: watchlist OR-Set, a progress LWW register per content, and
 * the op ids it has applied. Devices keep one; the server's store applies the same rules in SQLite.
 */
export class SyncReplica {
  readonly watchlist = new OrSet();
  readonly progress = new LwwMap<ProgressValue>();
  readonly ratings = new LwwMap<number | null>();
  readonly hidden = new LwwMap<boolean>();
  readonly plays = new Set<string>();
  private readonly applied = new Set<string>();

  apply(op: SyncOp): OpResult {
    if (this.applied.has(op.op_id)) return "duplicate";
    let changed: boolean;
    if (op.type === "watchlist.add") changed = this.watchlist.add(op.content_id, op.tag, op.hlc);
    else if (op.type === "watchlist.remove") changed = this.watchlist.remove(op.content_id, op.tags, op.hlc);
    else if (op.type === "rating.set") changed = this.ratings.set(op.content_id, { hlc: op.hlc, value: op.rating });
    else if (op.type === "hidden.set") changed = this.hidden.set(op.content_id, { hlc: op.hlc, value: op.hidden });
    else if (op.type === "play.add") {
      const id = playId(op.content_id, Date.parse(op.watched_at));
      changed = !this.plays.has(id);
      this.plays.add(id);
    } else
      changed = this.progress.set(op.content_id, {
        hlc: op.hlc,
        value: { position_seconds: op.position_seconds, duration_seconds: op.duration_seconds, state: op.state },
      });
    this.applied.add(op.op_id);
    return changed ? "applied" : "stale";
  }

  /** State-based merge with another replica (what a full sync amounts to). */
  merge(other: SyncReplica): void {
    this.watchlist.merge(other.watchlist);
    for (const [key, register] of other.progress.snapshot()) this.progress.set(key, register);
    for (const [key, register] of other.ratings.snapshot()) this.ratings.set(key, register);
    for (const [key, register] of other.hidden.snapshot()) this.hidden.set(key, register);
    for (const id of other.plays) this.plays.add(id);
    for (const id of other.applied) this.applied.add(id);
  }

  state(): ReplicaState {
    return {
      watchlist: this.watchlist.elements(),
      progress: this.progress.snapshot(),
      ratings: this.ratings.snapshot(),
      hidden: this.hidden.snapshot(),
      plays: [...this.plays].sort(),
    };
  }

  entries(): OrSetEntry[] {
    return this.watchlist.snapshot();
  }
}
