import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { CatalogItem } from "../domain/catalog";
import { content } from "./schema";

/** Any Drizzle Postgres database: the Neon pool in the Worker, node-postgres in scripts. */
export type AnyPg = PgDatabase<PgQueryResultHKT, any>;

const CHUNK = 500;

/** Inserts or updates catalog items by id, in chunks; returns how many were written. */
export async function upsertCatalog(db: AnyPg, items: readonly CatalogItem[]): Promise<number> {
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
