/** What the search index is built from, read from Postgres in three queries. */
import { desc, sql } from "drizzle-orm";
import type { AnyPg } from "../db/catalog";
import { content, spellCorrections } from "../db/schema";
import type { CatalogItem } from "../domain/catalog";

export interface SearchSource {
  items: CatalogItem[];
  /** content id → distinct users with an active history row. */
  plays: Map<string, number>;
  corrections: Record<string, string>;
}

/** Curated corrections beyond this many (by frequency) stay out of the snapshot. */
export const MAX_CORRECTIONS = 50_000;

export async function loadSearchSource(db: AnyPg): Promise<SearchSource> {
  const rows = await db.select().from(content);
  const items: CatalogItem[] = rows.map((r) => ({
    id: r.id,
    kind: r.kind,
    title: r.title,
    series_id: r.seriesId,
    season_number: r.seasonNumber,
    episode_number: r.episodeNumber,
    year: r.year,
    genres: r.genres,
    platforms: r.platforms,
    rating: r.rating,
    votes: r.votes,
    runtime_minutes: r.runtimeMinutes,
    maturity_rating: r.maturityRating,
    director: r.director,
    credits_start_seconds: r.creditsStartSeconds,
  }));
  const played = (await db.execute(sql`
    SELECT content_id, count(*) AS plays FROM watch_history WHERE active GROUP BY content_id
  `)) as unknown as { rows: { content_id: string; plays: string | number }[] };
  const plays = new Map<string, number>();
  for (const row of played.rows) plays.set(row.content_id, Number(row.plays));
  const curated = await db
    .select({ misspelled: spellCorrections.misspelled, corrected: spellCorrections.corrected })
    .from(spellCorrections)
    .orderBy(desc(spellCorrections.frequency), spellCorrections.misspelled)
    .limit(MAX_CORRECTIONS);
  const corrections: Record<string, string> = {};
  for (const row of curated) corrections[row.misspelled] = row.corrected;
  return { items, plays, corrections };
}
