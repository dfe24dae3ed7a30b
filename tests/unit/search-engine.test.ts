import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CatalogItem } from "../../src/domain/catalog";
import { autocomplete } from "../../src/search/autocomplete";
import { search } from "../../src/search/query";
import { score, type TextMatch, topK, WEIGHTS } from "../../src/search/ranking";
import { SearchIndex } from "../../src/search/search-index";
import { tokenize } from "../../src/search/text";

function item(id: string, title: string, extra: Partial<CatalogItem> = {}): CatalogItem {
  return {
    id,
    kind: "movie",
    title,
    series_id: null,
    season_number: null,
    episode_number: null,
    year: 2000,
    genres: ["Drama"],
    platforms: ["Warner Bros."],
    rating: 7,
    votes: 1000,
    runtime_minutes: 100,
    maturity_rating: "PG",
    director: null,
    credits_start_seconds: null,
    ...extra,
  };
}

const catalog = [
  item("matrix", "The Matrix", { votes: 380_000, genres: ["Action"], year: 1999, rating: 8.7 }),
  item("reloaded", "The Matrix Reloaded", { votes: 150_000, genres: ["Action"], year: 2003, rating: 7.1 }),
  item("heat", "Heat", { votes: 200_000, genres: ["Action"], year: 1995 }),
  item("the-heat", "The Heat", { votes: 400_000, genres: ["Comedy"], year: 2013, rating: 6.6 }),
  item("godfather", "The Godfather", { votes: 411_000, genres: ["Drama"], year: 1972, rating: 9.2 }),
  item("gladiator", "Gladiator", { votes: 280_000, genres: ["Action", "Drama"], year: 2000, rating: 8.5 }),
  item("forrest", "Forrest Gump", { votes: 300_000, genres: ["Drama"], year: 1994, rating: 8.8 }),
  item("forest", "The Forest", { votes: 5_000, genres: ["Horror"], year: 2016, rating: 4.8 }),
  item("dead-poets", "Dead Poets Society", { votes: 200_000, genres: ["Drama"], year: 1989, rating: 8 }),
  item("evil-dead", "The Evil Dead", { votes: 150_000, genres: ["Horror"], year: 1981, rating: 7.5 }),
  item("unknown-year", "Dead Quiet", { votes: 10, genres: ["Horror"], year: null, rating: null, platforms: [] }),
  item("series", "Northern Harbor", { kind: "series", votes: 50_000 }),
  item("episode", "Northern Harbor S1E1", { kind: "episode", series_id: "series", votes: 20_000 }),
];
const index = SearchIndex.build(catalog);
const run = (q: string, extra: Partial<Parameters<typeof search>[1]> = {}) =>
  search(index, { q, offset: 0, limit: 20, ...extra });
const ids = (outcome: ReturnType<typeof run>) => outcome.hits.map((h) => index.data.ids[h.doc]);

describe("matching and typo correction", () => {
  it('corrects a transposed short word when the fix is in the vocabulary: "teh matrix"', () => {
    const outcome = run("teh matrix");
    expect(ids(outcome)).toEqual(["matrix", "reloaded"]);
    expect(outcome.corrected_query).toBe("the matrix");
  });

  it("corrects long words within their budget and reports null when nothing was corrected", () => {
    expect(run("godfahter").corrected_query).toBe("godfather");
    expect(ids(run("gladiater"))).toEqual(["gladiator"]);
    expect(run("the godfather").corrected_query).toBeNull();
    // Two edits are too many for a 7-letter word.
    expect(run("gldiatr").total).toBe(0);
  });

  it("needs every word: known words that match no title together are widened to their typo neighbours", () => {
    expect(ids(run("forest gump"))).toEqual(["forrest"]);
    expect(run("forest gump").corrected_query).toBe("forrest gump");
    expect(ids(run("forest"))).toEqual(["forest"]);
  });

  it("ranks an exact title above a more popular longer title", () => {
    expect(ids(run("heat"))).toEqual(["heat", "the-heat"]);
    expect(ids(run("the heat"))[0]).toBe("the-heat");
  });

  it("ranks fewer typos first, whatever the popularity", () => {
    const typos = SearchIndex.build([
      item("one-edit", "Gladiator", { votes: 10 }),
      item("two-edits", "Gladiators", { votes: 1_000_000 }),
    ]);
    // "gladiattor" is one edit from "gladiator" and two from "gladiators".
    const outcome = search(typos, { q: "gladiattor", offset: 0, limit: 5 });
    expect(outcome.hits.map((h) => typos.data.ids[h.doc])).toEqual(["one-edit", "two-edits"]);
    expect(outcome.corrected_query).toBe("gladiator");
  });

  it("counts plays from watch history in popularity", () => {
    const twins = [item("a", "Twin Peaks", { votes: 5000 }), item("b", "Twin Peaks", { votes: 5000 })];
    const first = (plays: Map<string, number>) => {
      const twin = SearchIndex.build(twins, { plays });
      return twin.data.ids[search(twin, { q: "twin peaks", offset: 0, limit: 1 }).hits[0]!.doc];
    };
    expect(first(new Map())).toBe("a");
    expect(first(new Map([["b", 2]]))).toBe("b");
  });

  it("gives a 4-letter word nothing else matches one edit, as a last resort", () => {
    const shrek = SearchIndex.build([item("shrek", "Shrek", { votes: 400_000 }), item("seek", "Hide and Seek")]);
    expect(search(shrek, { q: "shek", offset: 0, limit: 5 }).hits.map((h) => shrek.data.ids[h.doc])[0]).toBe("shrek");
    // A known 4-letter word is never second-guessed.
    expect(search(shrek, { q: "seek", offset: 0, limit: 5 }).hits.map((h) => shrek.data.ids[h.doc])).toEqual(["seek"]);
  });

  it("drops a word nothing matches, unless only common words would be left", () => {
    expect(ids(run("matrix xyzzy"))).toEqual(["matrix", "reloaded"]);
    const common = SearchIndex.build(Array.from({ length: 200 }, (_, i) => item(`t${i}`, `The Title ${i}`)));
    expect(search(common, { q: "the xyzzy", offset: 0, limit: 5 }).total).toBe(0);
    expect(search(common, { q: "the", offset: 0, limit: 5 }).total).toBe(200);
  });

  it("matches the last word as a prefix only when it is not a word of its own", () => {
    expect(ids(run("the matr"))).toEqual(["matrix", "reloaded"]);
    expect(run("heat").total).toBe(2);
  });

  it("applies curated corrections before anything else", () => {
    const curated = SearchIndex.build(catalog, { corrections: { lotr: "lord of the rings", gf: "godfather" } });
    const outcome = search(curated, { q: "GF", offset: 0, limit: 5 });
    expect(outcome.hits.map((h) => curated.data.ids[h.doc])).toEqual(["godfather"]);
    expect(outcome.corrected_query).toBe("godfather");
  });
});

describe("filters and facets", () => {
  it("filters by genre (any of), platform, kind, year range and rating minimum", () => {
    expect(ids(run("dead", { filters: { genres: ["Horror"] } }))).toEqual(["evil-dead", "unknown-year"]);
    expect(ids(run("dead", { filters: { genres: ["Horror"], yearMin: 1900 } }))).toEqual(["evil-dead"]);
    expect(ids(run("dead", { filters: { ratingMin: 7.6 } }))).toEqual(["dead-poets"]);
    expect(ids(run("northern", { filters: { kinds: ["episode"] } }))).toEqual(["episode"]);
    expect(run("dead", { filters: { platforms: ["Nobody"] } }).total).toBe(0);
  });

  it("counts facets over every match, not just the page", () => {
    const outcome = run("the", { limit: 1 });
    expect(outcome.hits).toHaveLength(1);
    expect(outcome.total).toBe(6);
    expect(outcome.facets).toEqual({
      genres: [
        { value: "Action", count: 2 },
        { value: "Comedy", count: 1 },
        { value: "Drama", count: 1 },
        { value: "Horror", count: 2 },
      ].sort((a, b) => b.count - a.count || a.value.localeCompare(b.value)),
      platforms: [{ value: "Warner Bros.", count: 6 }],
      year_range: { min: 1972, max: 2016 },
      rating_range: { min: 4.8, max: 9.2 },
    });
  });

  it("equal a brute-force count for random catalogs and filters", () => {
    const genre = fc.constantFrom("Drama", "Comedy", "Horror", "Action");
    const randomItem = fc.record({
      title: fc.array(fc.constantFrom("red", "blue", "night", "day", "the", "man"), { minLength: 1, maxLength: 4 }),
      genres: fc.uniqueArray(genre, { maxLength: 2 }),
      platforms: fc.uniqueArray(fc.constantFrom("A", "B", "C"), { maxLength: 2 }),
      year: fc.option(fc.integer({ min: 1950, max: 2020 })),
      rating: fc.option(fc.integer({ min: 10, max: 100 }).map((r) => r / 10)),
      votes: fc.nat(1_000_000),
    });
    fc.assert(
      fc.property(
        fc.array(randomItem, { minLength: 1, maxLength: 40 }),
        fc.constantFrom("", "red", "night", "the man", "blue day"),
        fc.record({
          genres: fc.option(fc.uniqueArray(genre, { minLength: 1, maxLength: 2 }), { nil: undefined }),
          yearMin: fc.option(fc.integer({ min: 1950, max: 2020 }), { nil: undefined }),
          ratingMin: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
        }),
        (rows, q, filters) => {
          const items = rows.map(({ title, ...r }, i) => item(`i${i}`, title.join(" "), r));
          const words = tokenize(q);
          // Words no title has are dropped or corrected: the brute force below knows exact words only.
          fc.pre(words.every((w) => items.some((it) => tokenize(it.title).includes(w))));
          const random = SearchIndex.build(items);
          const outcome = search(random, { q, offset: 0, limit: 5, filters });
          // All words; when no title has them all, the titles with the most of them.
          const wordsIn = (it: CatalogItem) => words.filter((w) => tokenize(it.title).includes(w)).length;
          let need = words.length;
          while (need > 1 && !items.some((it) => wordsIn(it) >= need)) need--;
          const matching = items.filter(
            (it) =>
              wordsIn(it) >= need &&
              (!filters.genres || it.genres.some((g) => (filters.genres as string[]).includes(g))) &&
              (filters.yearMin === undefined || (it.year !== null && it.year >= filters.yearMin)) &&
              (filters.ratingMin === undefined || (it.rating !== null && it.rating >= filters.ratingMin)),
          );
          expect(outcome.total).toBe(matching.length);
          const genreCounts = new Map<string, number>();
          for (const it of matching) for (const g of it.genres) genreCounts.set(g, (genreCounts.get(g) ?? 0) + 1);
          expect(Object.fromEntries(outcome.facets!.genres.map((f) => [f.value, f.count]))).toEqual(
            Object.fromEntries(genreCounts),
          );
          const years = matching.flatMap((it) => (it.year === null ? [] : [it.year]));
          expect(outcome.facets!.year_range).toEqual(
            years.length ? { min: Math.min(...years), max: Math.max(...years) } : { min: null, max: null },
          );
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("ranking", () => {
  const anyMatch = fc.record({
    matched: fc.integer({ min: 1, max: 12 }),
    typos: fc.integer({ min: 0, max: 24 }),
    prefixes: fc.integer({ min: 0, max: 1 }),
    exactTitle: fc.boolean(),
    coverage: fc.double({ min: 0.01, max: 1, noNaN: true }),
    startsWith: fc.boolean(),
  });
  const unit = fc.double({ min: 0, max: 1, noNaN: true });
  const affinity = fc.double({ min: -1, max: 1, noNaN: true });

  it("puts fewer typos above anything popularity, coverage or affinity can add", () => {
    fc.assert(
      fc.property(anyMatch, anyMatch, unit, unit, affinity, affinity, (a: TextMatch, b: TextMatch, pa, pb, fa, fb) => {
        const exact = { ...a, typos: 0 };
        const fuzzy = { ...b, matched: a.matched, typos: Math.max(1, b.typos) };
        expect(score(exact, pa, fa)).toBeGreaterThan(score(fuzzy, pb, fb));
      }),
    );
  });

  it("puts an exact title above any popularity or affinity difference at equal typos and prefixes", () => {
    fc.assert(
      fc.property(anyMatch, unit, unit, affinity, affinity, (m, pa, pb, fa, fb) => {
        const base = { ...m, typos: 0, prefixes: 0 };
        expect(score({ ...base, exactTitle: true }, pa, fa)).toBeGreaterThan(
          score({ ...base, exactTitle: false }, pb, fb),
        );
      }),
    );
    expect(WEIGHTS.exactTitle).toBeGreaterThan(
      WEIGHTS.coverage + WEIGHTS.startsWith + WEIGHTS.popularity + WEIGHTS.affinity,
    );
  });

  it("picks the same top k as a full sort, ties broken by document order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 200 }),
        fc.integer({ min: 0, max: 50 }),
        (raw, k) => {
          const scores = Float64Array.from(raw);
          const docs = raw.map((_, i) => i);
          const full = docs.slice().sort((a, b) => raw[b]! - raw[a]! || a - b);
          expect(topK(scores, docs, k)).toEqual(full.slice(0, k));
        },
      ),
    );
  });

  it("boosts the genres a user prefers without dropping any match", () => {
    const plain = run("dead");
    const horror = run("dead", { affinity: new Map([["Horror", 1]]) });
    expect(ids(plain)[0]).toBe("dead-poets");
    expect(ids(horror)[0]).toBe("evil-dead");
    expect(new Set(ids(horror))).toEqual(new Set(ids(plain)));
  });

  it("sinks a genre the user avoids", () => {
    const plain = ids(run("dead"));
    const noDrama = ids(run("dead", { affinity: new Map([["Drama", -1]]) }));
    expect(plain[0]).toBe("dead-poets");
    expect(noDrama.indexOf("dead-poets")).toBeGreaterThan(plain.indexOf("dead-poets"));
    expect(noDrama[0]).toBe("evil-dead");
  });
});

describe("pages", () => {
  it("concatenate to the full ranking, for every page size", () => {
    const many = SearchIndex.build(
      Array.from({ length: 137 }, (_, i) =>
        item(`m${i}`, `Night ${i % 7 === 0 ? "Day" : "Moon"} ${i}`, { votes: (i * 7919) % 500 }),
      ),
    );
    const all = search(many, { q: "night", offset: 0, limit: 137 }).hits.map((h) => h.doc);
    expect(new Set(all).size).toBe(137);
    for (const size of [1, 10, 20, 50, 100]) {
      const pages: number[] = [];
      for (let offset = 0; offset < 137; offset += size) {
        const outcome = search(many, { q: "night", offset, limit: size, facets: false });
        expect(outcome.total).toBe(137);
        pages.push(...outcome.hits.map((h) => h.doc));
      }
      expect(pages).toEqual(all);
    }
  });

  it("browse (no words) lists everything most popular first, and the page is a slice", () => {
    const outcome = run("", { limit: 3 });
    expect(outcome.total).toBe(catalog.length);
    expect(ids(outcome)).toEqual(["godfather", "the-heat", "matrix"]);
    expect(ids(run("", { offset: 3, limit: 2 }))).toEqual(["forrest", "gladiator"]);
  });
});

describe("autocomplete", () => {
  const suggest = (q: string, limit = 10) => autocomplete(index, q, limit).map((s) => index.data.ids[s.doc]);

  it("completes any word of a title, most popular first, without episodes", () => {
    expect(suggest("hea")).toEqual(["the-heat", "heat"]);
    expect(suggest("nor")).toEqual(["series"]);
    expect(suggest("poe")).toEqual(["dead-poets"]);
  });

  it("tolerates typos after the first two letters, below the exact prefixes", () => {
    expect(suggest("glaid")).toEqual(["gladiator"]);
    expect(suggest("mtarix")).toEqual([]);
    const scores = autocomplete(index, "the matrx", 5).map((s) => s.score);
    expect(scores.length).toBe(2);
    expect(scores[0]!).toBeLessThan(0.75);
  });

  it("treats a trailing space as a finished word", () => {
    expect(suggest("the ")).toEqual(
      suggest("the").filter((id) => tokenize(index.data.titles[index.data.ids.indexOf(id!)]!).includes("the")),
    );
  });

  it("gives the most popular titles for an empty query", () => {
    expect(suggest("", 3)).toEqual(["godfather", "the-heat", "matrix"]);
  });
});
