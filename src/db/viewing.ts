/** Plays and ratings in Postgres: the consumer's writes (HLC-guarded, idempotent) and reads across users. */
import { sql } from "drizzle-orm";
import { type Queryable, run } from "./client";

export interface PlayRecord {
  userId: string;
  playId: string;
  contentId: string;
  seriesId: string | null;
  watchedAt: string;
  deviceId: string | null;
  hlc: string;
}

/**
 * Inserts plays; one already there (a redelivered event, the same play twice) is left as it is.
 * A play older than the user's last clear, or than a removal of its content's progress, stays out.
 * Returns the rows written.
 */
export async function insertPlays(db: Queryable, records: readonly PlayRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  const col = <T>(pick: (r: PlayRecord) => T) => sql.param(records.map(pick));
  const { rowCount } = await run(
    db,
    sql`
    INSERT INTO plays (user_id, play_id, content_id, series_id, watched_at, device_id, active, hlc)
    SELECT v.user_id, v.play_id, v.content_id, v.series_id, v.watched_at, v.device_id, true, v.hlc
    FROM unnest(
      ${col((r) => r.userId)}::text[], ${col((r) => r.playId)}::text[], ${col((r) => r.contentId)}::text[],
      ${col((r) => r.seriesId)}::text[], ${col((r) => r.watchedAt)}::timestamptz[], ${col((r) => r.deviceId)}::text[],
      ${col((r) => r.hlc)}::text[]
    ) AS v(user_id, play_id, content_id, series_id, watched_at, device_id, hlc)
    WHERE NOT EXISTS (
      SELECT 1 FROM history_clears c WHERE c.user_id = v.user_id AND c.before_hlc COLLATE "C" >= v.hlc COLLATE "C"
    ) AND NOT EXISTS (
      SELECT 1 FROM watch_history w WHERE w.user_id = v.user_id AND w.content_id = v.content_id
        AND NOT w.active AND w.hlc COLLATE "C" > v.hlc COLLATE "C"
    )
    ON CONFLICT (user_id, play_id) DO NOTHING
  `,
  );
  return rowCount;
}

/** The plays of one (user, content) recorded before `beforeHlc` go inactive (unwatched, cleared). */
export async function deactivatePlays(
  db: Queryable,
  removals: readonly { userId: string; contentId: string; beforeHlc: string }[],
): Promise<number> {
  if (removals.length === 0) return 0;
  const { rowCount } = await run(
    db,
    sql`
    UPDATE plays p SET active = false
    FROM unnest(
      ${sql.param(removals.map((r) => r.userId))}::text[], ${sql.param(removals.map((r) => r.contentId))}::text[],
      ${sql.param(removals.map((r) => r.beforeHlc))}::text[]
    ) AS v(user_id, content_id, before_hlc)
    WHERE p.user_id = v.user_id AND p.content_id = v.content_id AND p.active
      AND p.hlc COLLATE "C" < v.before_hlc COLLATE "C"
  `,
  );
  return rowCount;
}

/** Every play of the user up to `beforeHlc` goes inactive (history cleared). */
export async function clearPlays(db: Queryable, userId: string, beforeHlc: string): Promise<void> {
  await db.execute(sql`
    UPDATE plays SET active = false
    WHERE user_id = ${userId} AND active AND hlc COLLATE "C" <= ${beforeHlc} COLLATE "C"
  `);
}

export interface RatingRecord {
  userId: string;
  contentId: string;
  /** null once removed. */
  rating: number | null;
  ratedAt: string;
  hlc: string;
}

/** One upsert per batch; a row changes only for a newer HLC. Returns the rows written. */
export async function upsertRatings(db: Queryable, records: readonly RatingRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  const col = <T>(pick: (r: RatingRecord) => T) => sql.param(records.map(pick));
  const { rowCount } = await run(
    db,
    sql`
    INSERT INTO ratings AS r (user_id, content_id, rating, rated_at, hlc, updated_at)
    SELECT v.user_id, v.content_id, v.rating, v.rated_at, v.hlc, now()
    FROM unnest(
      ${col((r) => r.userId)}::text[], ${col((r) => r.contentId)}::text[], ${col((r) => r.rating)}::int[],
      ${col((r) => r.ratedAt)}::timestamptz[], ${col((r) => r.hlc)}::text[]
    ) AS v(user_id, content_id, rating, rated_at, hlc)
    ON CONFLICT (user_id, content_id) DO UPDATE SET rating = excluded.rating, rated_at = excluded.rated_at,
      hlc = excluded.hlc, updated_at = now()
    WHERE r.hlc COLLATE "C" < excluded.hlc COLLATE "C"
  `,
  );
  return rowCount;
}
