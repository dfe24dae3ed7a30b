import { beforeAll, describe, expect, it } from "vitest";
import { content } from "../../src/db/schema";
import { client, db } from "./helpers";
import { reindex, titleWords } from "./search-support";

type Row = typeof content.$inferSelect;
interface Filters {
  q?: string;
  genre?: string[];
  platform?: string[];
  kind?: string[];
  year_min?: number;
  year_max?: number;
  rating_min?: number;
}

const anonymous = client(null);
let catalog: Row[] = [];

beforeAll(async () => {
  await reindex();
  catalog = await db((d) => d.select().from(content));
});

function queryString(f: Filters): string {
  const params = new URLSearchParams();
  if (f.q !== undefined) params.set("q", f.q);
  for (const g of f.genre ?? []) params.append("genre", g);
  for (const p of f.platform ?? []) params.append("platform", p);
  for (const k of f.kind ?? []) params.append("kind", k);
  for (const key of ["year_min", "year_max", "rating_min"] as const) {
    if (f[key] !== undefined) params.set(key, String(f[key]));
  }
  params.set("page_size", "5");
  return params.toString();
}

/** The facets, counted the slow way over every catalog row. */
function bruteForce(f: Filters) {
  const words = (f.q ?? "").toLowerCase().split(/\s+/).filter(Boolean);
  const kinds = f.kind && f.kind.length > 0 ? f.kind : ["movie", "series"];
  const rows = catalog.filter((r) => {
    if (!kinds.includes(r.kind)) return false;
    const mine = titleWords(r.title);
    if (!words.every((w) => mine.has(w))) return false;
    if (f.genre && !r.genres.some((g) => f.genre?.includes(g))) return false;
    if (f.platform && !r.platforms.some((p) => f.platform?.includes(p))) return false;
    if (f.year_min !== undefined && (r.year === null || r.year < f.year_min)) return false;
    if (f.year_max !== undefined && (r.year === null || r.year > f.year_max)) return false;
    if (f.rating_min !== undefined && (r.rating === null || r.rating < f.rating_min)) return false;
    return true;
  });
  const count = (pick: (r: Row) => string[]) => {
    const counts = new Map<string, number>();
    for (const r of rows) for (const v of new Set(pick(r))) counts.set(v, (counts.get(v) ?? 0) + 1);
    return [...counts]
      .map(([value, n]) => ({ value, count: n }))
      .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
      .slice(0, 100);
  };
  const range = (values: number[]) =>
    values.length === 0 ? { min: null, max: null } : { min: Math.min(...values), max: Math.max(...values) };
  return {
    total: rows.length,
    facets: {
      genres: count((r) => r.genres),
      platforms: count((r) => r.platforms),
      year_range: range(rows.flatMap((r) => (r.year === null ? [] : [r.year]))),
      rating_range: range(rows.flatMap((r) => (r.rating === null ? [] : [r.rating]))),
    },
  };
}

describe("facets over the whole match set equal a brute-force count", () => {
  // Every combination names a real word or a real genre/platform/year/rating, so items other
  // test files add (invented words, their own genre, no year or rating) never fall in.
  const combinations: [string, Filters][] = [
    ["one word, no filter", { q: "love" }],
    ["a common word", { q: "the" }],
    ["two words", { q: "of the" }],
    ["genre and a year range", { genre: ["Drama"], year_min: 1990, year_max: 1999 }],
    ["platform and a rating minimum", { platform: ["Warner Bros."], rating_min: 7 }],
    ["a word, two genres (either) and a rating minimum", { q: "the", genre: ["Comedy", "Drama"], rating_min: 6.5 }],
    ["episodes of one platform", { kind: ["episode"], platform: ["Universal"] }],
    ["a word and a year range", { q: "man", year_min: 2000, year_max: 2010 }],
    ["filters nothing matches", { q: "love", genre: ["Western"], year_min: 2009, year_max: 2009 }],
  ];

  it.each(combinations)("%s", async (name, filters) => {
    const res = await anonymous.get(`/api/v1/search?${queryString(filters)}`);
    expect(res.status).toBe(200);
    const expected = bruteForce(filters);
    expect(expected.total > 0).toBe(!name.startsWith("filters nothing"));
    expect(res.json.total).toBe(expected.total);
    expect(res.json.facets).toEqual(expected.facets);
    expect(res.json.results.length).toBe(Math.min(5, expected.total));
  });

  it("every result on a page passes the filters", async () => {
    const res = await anonymous.get(
      `/api/v1/search?${queryString({ q: "the", genre: ["Comedy"], year_min: 1995, rating_min: 6 })}`,
    );
    for (const r of res.json.results) {
      expect(r.genres).toContain("Comedy");
      expect(r.year).toBeGreaterThanOrEqual(1995);
      expect(r.rating).toBeGreaterThanOrEqual(6);
    }
  });
});
