/**
 * The consumer's share of the viewing record: plays and ratings of one batch, coalesced, written
 * in the batch's transaction after the progress rows (a play older than its item's removal is
 * kept out by that row) and before the clears.
 */
import type { Decoded, TypedEnvelope } from "../contracts/events";
import type { Queryable } from "../db/client";
import { clearPlays, deactivatePlays, insertPlays, upsertRatings } from "../db/viewing";

type AppliedEvent = Extract<Decoded, { kind: "event" }>["event"];
type Progress = TypedEnvelope<"progress-changed">;
type Played = TypedEnvelope<"play-completed">;
type Rated = TypedEnvelope<"rating-changed">;

export class ViewingWork {
  private readonly plays = new Map<string, Played>();
  /** Per (user, content), the latest removal of its progress: plays before it go inactive. */
  private readonly removals = new Map<string, Progress>();
  private readonly ratings = new Map<string, Rated>();

  note(event: AppliedEvent): void {
    if (event.type === "play-completed") {
      this.plays.set(`${event.user_id}\u0000${event.data.play_id}`, event);
    } else if (event.type === "rating-changed") {
      const key = `${event.user_id}\u0000${event.data.content_id}`;
      const seen = this.ratings.get(key);
      if (!seen || seen.hlc < event.hlc) this.ratings.set(key, event);
    } else if (event.type === "progress-changed" && event.data.deleted) {
      const key = `${event.user_id}\u0000${event.data.content_id}`;
      const seen = this.removals.get(key);
      if (!seen || seen.hlc < event.hlc) this.removals.set(key, event);
    }
  }

  get size(): number {
    return this.plays.size + this.ratings.size + this.removals.size;
  }

  /** Returns the play and rating rows written. */
  async apply(tx: Queryable): Promise<number> {
    let rows = await insertPlays(
      tx,
      [...this.plays.values()].map((e) => ({
        userId: e.user_id,
        playId: e.data.play_id,
        contentId: e.data.content_id,
        seriesId: e.data.series_id,
        watchedAt: e.data.watched_at,
        deviceId: e.data.device_id,
        hlc: e.hlc,
      })),
    );
    await deactivatePlays(
      tx,
      [...this.removals.values()].map((e) => ({ userId: e.user_id, contentId: e.data.content_id, beforeHlc: e.hlc })),
    );
    rows += await upsertRatings(
      tx,
      [...this.ratings.values()].map((e) => ({
        userId: e.user_id,
        contentId: e.data.content_id,
        rating: e.data.rating,
        ratedAt: e.data.rated_at,
        hlc: e.hlc,
      })),
    );
    return rows;
  }

  /** Everything of the user up to `beforeHlc` was cleared: their plays go too. */
  static clear(tx: Queryable, userId: string, beforeHlc: string): Promise<void> {
    return clearPlays(tx, userId, beforeHlc);
  }
}
