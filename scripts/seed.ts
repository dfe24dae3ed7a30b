/** Loads the development catalog (vega-datasets films + series, generated and shaped like real ones) into Postgres. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { upsertCatalog } from "../src/db/catalog";
import { withNodeDatabase } from "../src/db/node";
import { type CatalogItem, developmentSeries, filmsFromVega, type VegaMovie } from "../src/domain/catalog";

/** Number of generated series in the development catalog (beside the few shaped like real ones). */
export const SERIES_COUNT = 40;

export function developmentCatalog(): CatalogItem[] {
  // The package exports only its URL helper; the data file sits beside it.
  const entry = createRequire(import.meta.url).resolve("vega-datasets");
  const path = join(dirname(entry), "..", "data", "movies.json");
  const movies = JSON.parse(readFileSync(path, "utf8")) as VegaMovie[];
  return [...filmsFromVega(movies), ...developmentSeries(SERIES_COUNT)];
}

/** Idempotent: upserts every item by id. */
export async function seedCatalog(databaseUrl: string): Promise<{ items: number }> {
  const items = developmentCatalog();
  await withNodeDatabase(databaseUrl, (db) => upsertCatalog(db, items));
  return { items: items.length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("set DATABASE_URL");
  console.log(await seedCatalog(url));
}
