import type { OpStatus } from "../../contracts/sync";
import { decodeHlc } from "../../domain/hlc";
import { type ProgressState, playId, type SyncOp } from "../../domain/sync-replica";
import type { ContinueWatching } from "./continue-watching";
import type { HiddenStore } from "./hidden";
import type { PlaybackStore } from "./playback";
import type { RatingStore } from "./ratings";
import type { Watchlist } from "./watchlist";

/** Applied op ids kept at most, whatever their age: duplicates older than this are rare and mostly harmless. */
const MAX_REMEMBERED_OPS = 20_000;

/**
 * Ops from offline clients, applied once each: the ids of the ops already applied (the batch's
 * idempotency), and the dispatch of each op to the store it changes.
 */
export class AppliedOps {
  constructor(
    private readonly sql: SqlStorage,
    private readonly stores: {
      watchlist: Watchlist;
      playback: PlaybackStore;
      ratings: RatingStore;
      hidden: HiddenStore;
      continueWatching: ContinueWatching;
    },
  ) {}

  /**
   * Applies one op. The caller has checked the batch (shape, clock drift) and runs the whole
   * batch in one transaction, so a refusal here undoes the ops before it too.
   */
  apply(op: SyncOp, now: number, deviceId: string | null): OpStatus {
    if (this.sql.exec("SELECT 1 FROM applied_ops WHERE op_id = ?", op.op_id).toArray().length > 0) return "duplicate";
    let changed: boolean;
    if (op.type === "watchlist.add") {
      changed = this.stores.watchlist.applyAdd(op.content_id, op.tag, op.hlc, now);
    } else if (op.type === "watchlist.remove") {
      changed = this.stores.watchlist.applyRemove(op.content_id, op.tags, op.hlc, now);
    } else if (op.type === "rating.set") {
      const hlc = decodeHlc(op.hlc);
      changed = this.stores.ratings.write(op.content_id, op.rating, hlc, Math.min(now, hlc.ms));
    } else if (op.type === "hidden.set") {
      const hlc = decodeHlc(op.hlc);
      const key = this.stores.continueWatching.cardKey(op.content_id);
      changed = this.stores.hidden.write(key, op.hidden, hlc, Math.min(now, hlc.ms));
    } else if (op.type === "play.add") {
      const hlc = decodeHlc(op.hlc);
      // A play cannot be in the future of the server's clock.
      const at = Math.min(now, Date.parse(op.watched_at));
      const current = this.stores.playback.historyItem(op.content_id);
      this.stores.playback.writeProgress(
        {
          content_id: op.content_id,
          position: current?.duration_seconds ?? 0,
          duration: current?.duration_seconds ?? 0,
          state: "stopped",
          device_id: deviceId,
          watched: true,
          at,
          hlc,
          play: { id: playId(op.content_id, at), at },
        },
        { flushNow: true },
      );
      changed = (this.stores.playback.historyItem(op.content_id)?.plays ?? 0) > (current?.plays ?? 0);
    } else {
      const hlc = decodeHlc(op.hlc);
      changed = this.stores.playback.writeProgress(
        {
          content_id: op.content_id,
          position: op.position_seconds,
          duration: op.duration_seconds,
          state: op.state as ProgressState,
          device_id: deviceId,
          // When the device watched, but never later than now (its clock may run ahead).
          at: Math.min(now, hlc.ms),
          hlc,
        },
        { flushNow: true },
      );
    }
    this.sql.exec("INSERT INTO applied_ops (op_id, at) VALUES (?, ?)", op.op_id, now);
    return changed ? "applied" : "stale";
  }

  /** Forgets op ids older than the retention, and beyond the newest MAX_REMEMBERED_OPS. */
  forget(now: number, maxAgeMs: number): void {
    this.sql.exec("DELETE FROM applied_ops WHERE at <= ?", now - maxAgeMs);
    this.sql.exec(
      "DELETE FROM applied_ops WHERE op_id IN (SELECT op_id FROM applied_ops ORDER BY at DESC LIMIT -1 OFFSET ?)",
      MAX_REMEMBERED_OPS,
    );
  }

  count(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM applied_ops").one().n;
  }
}
