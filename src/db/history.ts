/** Watch history in Postgres: the consumer's progress upserts and clears, and reads across users. */
import { sql } from "drizzle-orm";
import { type Queryable, run } from "./client";

/** The latest state of one (user, content) progress register, as the consumer coalesced it. */
export interface ProgressRecord {
  userId: string;
  contentId: string;
  positionSeconds: number;
  durationSeconds: number;
  completionPercentage: number;
  watched: boolean;
  deviceId: string | null;
  /** The register was removed (unwatched, cleared): the row stays, inactive. */
  deleted: boolean;
  hlc: string;
  lastWatchedAt: string;
}

/**
 * One upsert for the whole batch (an array parameter per column). A row is written only when
 * the record's HLC is newer than the row's and than the user's last clear, so replays and late
 * arrivals change nothing. Returns the rows written.
 */
export async function upsertProgress(db: Queryable, records: readonly ProgressRecord[]): Promise<number> {
  // sql.param keeps Drizzle from spreading the array into a list of parameters.
  const col = <T>(pick: (r: ProgressRecord) => T) => sql.param(records.map(pick));
  const { rowCount } = await run(
    db,
    sql`
    INSERT INTO watch_history AS w (user_id, content_id, position_seconds, duration_seconds, completion_percentage,
      watched, device_id, active, hlc, last_watched_at, created_at, updated_at)
    SELECT v.user_id, v.content_id, v.position, v.duration, v.completion, v.watched, v.device_id, NOT v.deleted, v.hlc,
      v.last_watched_at, now(), now()
    FROM unnest(
      ${col((r) => r.userId)}::text[], ${col((r) => r.contentId)}::text[],
      ${col((r) => r.positionSeconds)}::float8[], ${col((r) => r.durationSeconds)}::float8[],
      ${col((r) => r.completionPercentage)}::float8[], ${col((r) => r.watched)}::bool[],
      ${col((r) => r.deviceId)}::text[], ${col((r) => r.deleted)}::bool[], ${col((r) => r.hlc)}::text[],
      ${col((r) => r.lastWatchedAt)}::timestamptz[]
    ) AS v(user_id, content_id, position, duration, completion, watched, device_id, deleted, hlc, last_watched_at)
    WHERE NOT EXISTS (
      SELECT 1 FROM history_clears c WHERE c.user_id = v.user_id AND c.before_hlc COLLATE "C" >= v.hlc COLLATE "C"
    )
    ON CONFLICT (user_id, content_id) DO UPDATE SET
      position_seconds = excluded.position_seconds, duration_seconds = excluded.duration_seconds,
      completion_percentage = excluded.completion_percentage, watched = excluded.watched,
      device_id = excluded.device_id, active = excluded.active, hlc = excluded.hlc,
      last_watched_at = excluded.last_watched_at, updated_at = now()
    WHERE w.hlc COLLATE "C" < excluded.hlc COLLATE "C"
  `,
  );
  return rowCount;
}

/** Everything of the user up to `beforeHlc` is cleared: the watermark moves up, the rows go inactive. */
export async function clearHistory(db: Queryable, userId: string, beforeHlc: string): Promise<void> {
  await db.execute(sql`
    INSERT INTO history_clears (user_id, before_hlc, cleared_at) VALUES (${userId}, ${beforeHlc}, now())
    ON CONFLICT (user_id) DO UPDATE SET before_hlc = excluded.before_hlc, cleared_at = now()
    WHERE history_clears.before_hlc COLLATE "C" < excluded.before_hlc COLLATE "C"
  `);
  await db.execute(sql`
    UPDATE watch_history SET active = false, updated_at = now()
    WHERE user_id = ${userId} AND active AND hlc COLLATE "C" <= ${beforeHlc} COLLATE "C"
  `);
}

/** content id → distinct users with an active history row. */
export async function playsByContent(db: Queryable): Promise<Map<string, number>> {
  const { rows } = await run<{ content_id: string; plays: string | number }>(
    db,
    sql`SELECT content_id, count(*) AS plays FROM watch_history WHERE active GROUP BY content_id`,
  );
  return new Map(rows.map((row) => [row.content_id, Number(row.plays)]));
}

/** The user's genres weighted by how much of each title they watched, strongest first. */
export async function historyGenreWeights(
  db: Queryable,
  userId: string,
  limit: number,
): Promise<{ genre: string; weight: number }[]> {
  const { rows } = await run<{ genre: string; weight: string | number }>(
    db,
    sql`
      SELECT g.genre, sum(least(greatest(w.completion_percentage, 0), 100) / 100.0) AS weight
      FROM watch_history w
      JOIN content c ON c.id = w.content_id
      CROSS JOIN LATERAL unnest(c.genres) AS g(genre)
      WHERE w.user_id = ${userId} AND w.active
      GROUP BY g.genre
      ORDER BY weight DESC, g.genre
      LIMIT ${limit}
    `,
  );
  return rows.map((r) => ({ genre: r.genre, weight: Number(r.weight) }));
}
