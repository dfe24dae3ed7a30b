/** Catalog reads for the content API: one item, and keyset-paged listings. */
import { and, asc, desc, eq, type SQL, sql } from "drizzle-orm";
import type { ContentKind } from "../domain/catalog";
import type { Queryable } from "./client";
import { content } from "./schema";

export type ContentRow = typeof content.$inferSelect;

export async function contentById(db: Queryable, id: string): Promise<ContentRow | null> {
  const rows = await db.select().from(content).where(eq(content.id, id)).limit(1);
  return rows[0] ?? null;
}

/** Most popular first; `after` is the last row of the previous page. */
export async function listContent(
  db: Queryable,
  opts: { kind?: ContentKind; limit: number; after: { votes: number; id: string } | null },
): Promise<ContentRow[]> {
  const conditions: SQL[] = [];
  if (opts.kind) conditions.push(eq(content.kind, opts.kind));
  if (opts.after) {
    conditions.push(
      sql`(${content.votes} < ${opts.after.votes} OR (${content.votes} = ${opts.after.votes} AND ${content.id} > ${opts.after.id}))`,
    );
  }
  return db
    .select()
    .from(content)
    .where(and(...conditions))
    .orderBy(desc(content.votes), asc(content.id))
    .limit(opts.limit);
}

/** A series' episodes in season and episode order. */
export async function listEpisodes(
  db: Queryable,
  opts: { seriesId: string; limit: number; after: { season: number; episode: number; id: string } | null },
): Promise<ContentRow[]> {
  const season = sql`coalesce(${content.seasonNumber}, 0)`;
  const episode = sql`coalesce(${content.episodeNumber}, 0)`;
  const conditions: SQL[] = [eq(content.seriesId, opts.seriesId)];
  if (opts.after) {
    conditions.push(
      sql`(${season}, ${episode}, ${content.id}) > (${opts.after.season}, ${opts.after.episode}, ${opts.after.id})`,
    );
  }
  return db
    .select()
    .from(content)
    .where(and(...conditions))
    .orderBy(season, episode, asc(content.id))
    .limit(opts.limit);
}
