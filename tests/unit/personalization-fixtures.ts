import type { CatalogItem } from "../../src/domain/catalog";
import type { View } from "../../src/domain/profile";

export const DAY = 86_400_000;
export const NOW = Date.UTC(2026, 0, 31);

/** A catalog item with sensible defaults. */
export function film(id: string, over: Partial<CatalogItem> = {}): CatalogItem {
  return {
    id,
    kind: "movie",
    title: id.replace(/^film-/, "").replace(/-/g, " "),
    series_id: null,
    season_number: null,
    episode_number: null,
    year: 1999,
    genres: ["Drama"],
    platforms: ["Universal"],
    rating: 7,
    votes: 10_000,
    runtime_minutes: 100,
    maturity_rating: "PG-13",
    director: null,
    credits_start_seconds: null,
    ...over,
  };
}

/** A view of a catalog item `daysAgo` days before NOW. */
export function view(item: CatalogItem, completion: number, daysAgo = 0, watched = completion >= 0.9): View {
  return {
    content_id: item.id,
    title: item.title,
    completion,
    watched,
    at: NOW - daysAgo * DAY,
    features: item,
  };
}
