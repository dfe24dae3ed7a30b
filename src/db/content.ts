/** Catalog reads for the content API: one item, and keyset-paged listings. */
import { and, asc, desc, eq, type SQL, sql } from "drizzle-orm";
import type { ContentKind } from "../domain/catalog";
import type { Queryable } from "./client";
import { content } from "./schema";

export type ContentRow = typeof content.$inferSelect;

/** What a maturity filter lets through, in the catalog's own labels (see src/domain/maturity.ts). */
export interface MaturityFilter {
  /** `ratingKey`s of the allowed labels. */
  allowed: readonly string[];
  /** Every `ratingKey` on the scale: a label outside it is unrated. */
  rated: readonly string[];
  allowUnrated: boolean;
}

/** An item's rating, an episode without one taking its series'; compared by letters and digits only. */
const ratingKeyOf = sql`upper(regexp_replace(coalesce(${content.maturityRating}, (select s.maturity_rating from content s where s.id = ${content.seriesId}), ''), '[^A-Za-z0-9]', '', 'g'))`;

/** The filter as a SQL condition on `content` (for any query over the catalog table). */
export function maturityCondition(filter: MaturityFilter): SQL {
  const allowed = filter.allowed.length > 0 ? sql`${ratingKeyOf} in ${filter.allowed}` : sql`false`;
  return filter.allowUnrated ? sql`(${allowed} or ${ratingKeyOf} not in ${filter.rated})` : allowed;
}

/** Each id's rating (an episode without one has its series'), for ids the catalog holds. */
export async function contentRatings(db: Queryable, ids: readonly string[]): Promise<Map<string, string | null>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({
      id: content.id,
      rating: sql<
        string | null
      >`coalesce(${content.maturityRating}, (select s.maturity_rating from content s where s.id = ${content.seriesId}))`,
    })
    .from(content)
    .where(sql`${content.id} in ${[...ids]}`);
  return new Map(rows.map((r) => [r.id, r.rating]));
}

export async function contentById(db: Queryable, id: string): Promise<ContentRow | null> {
  const rows = await db.select().from(content).where(eq(content.id, id)).limit(1);
  return rows[0] ?? null;
}

/** Most popular first; `after` is the last row of the previous page. */
export async function listContent(
  db: Queryable,
  opts: {
    kind?: ContentKind;
    limit: number;
    after: { votes: number; id: string } | null;
    maturity?: MaturityFilter | null;
  },
): Promise<ContentRow[]> {
  const conditions: SQL[] = [];
  if (opts.kind) conditions.push(eq(content.kind, opts.kind));
  if (opts.maturity) conditions.push(maturityCondition(opts.maturity));
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
  opts: {
    seriesId: string;
    limit: number;
    after: { season: number; episode: number; id: string } | null;
    maturity?: MaturityFilter | null;
  },
): Promise<ContentRow[]> {
  const season = sql`coalesce(${content.seasonNumber}, 0)`;
  const episode = sql`coalesce(${content.episodeNumber}, 0)`;
  const conditions: SQL[] = [eq(content.seriesId, opts.seriesId)];
  if (opts.maturity) conditions.push(maturityCondition(opts.maturity));
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
