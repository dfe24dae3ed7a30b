import { and, desc, inArray, isNotNull, ne, or, sql } from "drizzle-orm";
import type { CatalogItem } from "../domain/catalog";
import type { FactSource } from "../domain/catalog-facts";
import type { Queryable } from "./client";
import { content, spellCorrections } from "./schema";

const CHUNK = 500;

/** Inserts or updates catalog items by id, in chunks; returns how many were written. */
export async function upsertCatalog(db: Queryable, items: readonly CatalogItem[]): Promise<number> {
  for (let i = 0; i < items.length; i += CHUNK) {
    const rows = items.slice(i, i + CHUNK).map((item) => ({
      id: item.id,
      kind: item.kind,
      title: item.title,
      seriesId: item.series_id,
      seasonNumber: item.season_number,
      episodeNumber: item.episode_number,
      year: item.year,
      genres: item.genres,
      platforms: item.platforms,
      rating: item.rating,
      votes: item.votes,
      runtimeMinutes: item.runtime_minutes,
      maturityRating: item.maturity_rating,
      director: item.director,
      creditsStartSeconds: item.credits_start_seconds,
    }));
    await db
      .insert(content)
      .values(rows)
      .onConflictDoUpdate({
        target: content.id,
        set: Object.fromEntries(
          Object.keys(rows[0] as object)
            .filter((k) => k !== "id")
            .map((k) => {
              const column = content[k as keyof typeof content.$inferInsert];
              return [k, sql.raw(`excluded.${column.name}`)];
            }),
        ),
      });
  }
  return items.length;
}

/** Every catalog item, as the search index is built from it. */
export async function catalogItems(db: Queryable): Promise<CatalogItem[]> {
  const rows = await db.select().from(content);
  return rows.map((r) => ({
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
}

/** What the catalog facts are built from: series, episodes, and anything with a credits marker. */
export async function catalogFactSources(db: Queryable): Promise<FactSource[]> {
  const rows = await db
    .select({
      id: content.id,
      kind: content.kind,
      title: content.title,
      series_id: content.seriesId,
      season_number: content.seasonNumber,
      episode_number: content.episodeNumber,
      credits_start_seconds: content.creditsStartSeconds,
      added_at: content.addedAt,
    })
    .from(content)
    .where(or(ne(content.kind, "movie"), isNotNull(content.creditsStartSeconds)));
  return rows.map((r) => ({ ...r, added_at: r.added_at.getTime() }));
}

export interface SpellCorrection {
  misspelled: string;
  corrected: string;
  frequency: number;
}

/** Inserts or updates curated corrections by their misspelling. */
export async function upsertSpellCorrections(db: Queryable, rows: readonly SpellCorrection[]): Promise<void> {
  await db
    .insert(spellCorrections)
    .values([...rows])
    .onConflictDoUpdate({
      target: spellCorrections.misspelled,
      set: { corrected: sql`excluded.corrected`, frequency: sql`excluded.frequency`, updatedAt: sql`now()` },
    });
}

/** misspelled → corrected, the `limit` most frequent. */
export async function spellCorrectionMap(db: Queryable, limit: number): Promise<Record<string, string>> {
  const rows = await db
    .select({ misspelled: spellCorrections.misspelled, corrected: spellCorrections.corrected })
    .from(spellCorrections)
    .orderBy(desc(spellCorrections.frequency), spellCorrections.misspelled)
    .limit(limit);
  const corrections: Record<string, string> = {};
  for (const row of rows) corrections[row.misspelled] = row.corrected;
  return corrections;
}

/** Which of these ids are in the catalog. */
export async function existingContentIds(db: Queryable, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .select({ id: content.id })
    .from(content)
    .where(inArray(content.id, [...ids]));
  return new Set(rows.map((r) => r.id));
}

/** Films and series of the given years: what an imported title and year may match. */
export async function titlesOfYears(
  db: Queryable,
  years: readonly number[],
): Promise<{ id: string; title: string; year: number; votes: number }[]> {
  if (years.length === 0) return [];
  const rows = await db
    .select({ id: content.id, title: content.title, year: content.year, votes: content.votes })
    .from(content)
    .where(and(inArray(content.year, [...years]), inArray(content.kind, ["movie", "series"])));
  return rows.map((r) => ({ ...r, year: r.year as number }));
}
