/** What the search index is built from, read from Postgres in three queries. */
import { catalogItems, spellCorrectionMap } from "../db/catalog";
import type { Queryable } from "../db/client";
import { playsByContent } from "../db/history";
import type { CatalogItem } from "../domain/catalog";

export interface SearchSource {
  items: CatalogItem[];
  /** content id → distinct users with an active history row. */
  plays: Map<string, number>;
  corrections: Record<string, string>;
}

/** Curated corrections beyond this many (by frequency) stay out of the snapshot. */
export const MAX_CORRECTIONS = 50_000;

export async function loadSearchSource(db: Queryable): Promise<SearchSource> {
  const items = await catalogItems(db);
  const plays = await playsByContent(db);
  const corrections = await spellCorrectionMap(db, MAX_CORRECTIONS);
  return { items, plays, corrections };
}
