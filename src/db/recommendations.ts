/**
 * Postgres side of the shared recommendation model and of trending: everyone's viewing, read as
 * the model's build takes it (titles first, then users page by page), and plays in a window.
 */
import { sql } from "drizzle-orm";
import type { ContentKind } from "../domain/catalog";
import { ABANDONED_BELOW } from "../domain/profile";
import { type HistoryView, type TitleStats, VIEW_WEIGHTS } from "../domain/shared-model";
import { type Queryable, run } from "./client";

const toMs = (value: unknown) => (value instanceof Date ? value : new Date(String(value))).getTime();

/** A view's weight in SQL, as `viewWeight` gives it. */
const weightOf = sql.raw(`CASE WHEN watched THEN ${VIEW_WEIGHTS.finished}
  WHEN completion_percentage < ${ABANDONED_BELOW * 100} THEN ${VIEW_WEIGHTS.abandoned}
  ELSE ${VIEW_WEIGHTS.partial} END`);

/** Ratings (1-10) at or above this count as a finished view, at or below LOW_RATING as abandoned. */
export const HIGH_RATING = 8;
export const LOW_RATING = 4;

/**
 * Each user's views with the viewing record folded in: a title with a play counts as finished
 * even when its register was reset for a rewatch; a high rating counts as finished and a low one
 * as abandoned, whatever the position says (a rating is the user's own word on the title).
 */
const signals = (users?: ReturnType<typeof sql>) => sql`
  SELECT h.user_id, h.content_id, h.last_watched_at,
    CASE WHEN r.rating <= ${LOW_RATING} THEN 0 ELSE h.completion_percentage END AS completion_percentage,
    CASE WHEN r.rating >= ${HIGH_RATING} THEN true
      WHEN r.rating <= ${LOW_RATING} THEN false
      ELSE h.watched OR EXISTS (
        SELECT 1 FROM plays p WHERE p.user_id = h.user_id AND p.content_id = h.content_id AND p.active
      ) END AS watched
  FROM watch_history h
  LEFT JOIN ratings r ON r.user_id = h.user_id AND r.content_id = h.content_id AND r.rating IS NOT NULL
  WHERE h.active ${users ? sql`AND h.user_id = ANY(${users})` : sql``}`;

/** Each user's `viewsPerUser` most recent active views, newest first (the order `userSignals` keeps). */
const recentViews = (viewsPerUser: number, users?: ReturnType<typeof sql>) => sql`
  SELECT user_id, content_id, completion_percentage, watched, last_watched_at, ${weightOf} AS weight FROM (
    SELECT s.*, row_number() OVER (
      PARTITION BY s.user_id ORDER BY s.last_watched_at DESC, s.content_id COLLATE "C" DESC
    ) AS recency
    FROM (${signals(users)}) s
  ) v
  WHERE recency <= ${viewsPerUser}`;

/** Every viewed title: how many users viewed it and their weights summed (each user's recent views only). */
export async function modelTitleStats(db: Queryable, viewsPerUser: number): Promise<TitleStats[]> {
  const { rows } = await run<{ content_id: string; users: string | number; weight: string | number }>(
    db,
    sql`SELECT content_id, count(*) AS users, sum(weight) AS weight
        FROM (${recentViews(viewsPerUser)}) r GROUP BY content_id`,
  );
  return rows.map((r) => ({ content_id: r.content_id, users: Number(r.users), weight: Number(r.weight) }));
}

/**
 * The next `users` users (by id, after `afterUser`) with their recent views. Paged so the build
 * holds one page of histories at a time, whatever the number of users.
 */
export async function modelUserViews(
  db: Queryable,
  opts: { afterUser: string | null; users: number; viewsPerUser: number },
): Promise<{ histories: Map<string, HistoryView[]>; last: string | null }> {
  const { rows: page } = await run<{ user_id: string }>(
    db,
    sql`SELECT user_id FROM watch_history
        WHERE active AND user_id COLLATE "C" > ${opts.afterUser ?? ""} COLLATE "C"
        GROUP BY user_id ORDER BY user_id COLLATE "C" LIMIT ${opts.users}`,
  );
  const ids = page.map((r) => r.user_id);
  const histories = new Map<string, HistoryView[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return { histories, last: null };
  const { rows } = await run<{
    user_id: string;
    content_id: string;
    completion_percentage: number;
    watched: boolean;
    last_watched_at: unknown;
  }>(db, recentViews(opts.viewsPerUser, sql`${sql.param(ids)}::text[]`));
  for (const r of rows) {
    histories.get(r.user_id)?.push({
      content_id: r.content_id,
      completion: Number(r.completion_percentage) / 100,
      watched: r.watched,
      at: toMs(r.last_watched_at),
    });
  }
  return { histories, last: ids[ids.length - 1] ?? null };
}

export interface TrendingRow {
  content_id: string;
  plays: number;
  /** Plays decayed by age: one from now counts 1, one a half-life ago 0.5. */
  score: number;
}

/**
 * Titles by plays in the last `windowSeconds`, each play decayed by its age. A play is a row of
 * `plays` (every finish counts, rewatches too); history from before plays were recorded counts
 * its finished views, one each. An episode's plays count for its series unless episodes are
 * asked for.
 */
export async function trendingPlays(
  db: Queryable,
  opts: { windowSeconds: number; halfLifeSeconds: number; kind: ContentKind | null; limit: number },
): Promise<TrendingRow[]> {
  const target =
    opts.kind === "episode"
      ? sql`e.id`
      : sql`CASE WHEN e.kind = 'episode' THEN coalesce(e.series_id, e.id) ELSE e.id END`;
  const kinds = opts.kind ? [opts.kind] : ["movie", "series"];
  const { rows } = await run<{ content_id: string; plays: string | number; score: string | number }>(
    db,
    sql`
    SELECT c.id AS content_id, count(*) AS plays,
      sum(exp(-ln(2) * greatest(extract(epoch FROM now() - p.at), 0) / ${opts.halfLifeSeconds})) AS score
    FROM (
      SELECT ${target} AS target, v.at
      FROM (
        SELECT pl.content_id, pl.watched_at AS at FROM plays pl
        WHERE pl.active AND pl.watched_at > now() - make_interval(secs => ${opts.windowSeconds})
        UNION ALL
        SELECT w.content_id, w.last_watched_at FROM watch_history w
        WHERE w.active AND w.watched AND w.last_watched_at > now() - make_interval(secs => ${opts.windowSeconds})
          AND NOT EXISTS (SELECT 1 FROM plays pl WHERE pl.user_id = w.user_id AND pl.content_id = w.content_id)
      ) v JOIN content e ON e.id = v.content_id
    ) p
    JOIN content c ON c.id = p.target
    WHERE c.kind = ANY(${sql.param(kinds)}::text[])
    GROUP BY c.id
    ORDER BY score DESC, plays DESC, c.id
    LIMIT ${opts.limit}
  `,
  );
  return rows.map((r) => ({ content_id: r.content_id, plays: Number(r.plays), score: Number(r.score) }));
}
