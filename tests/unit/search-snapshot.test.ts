import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { filmsFromVega, generateLargeCatalog, generateSeries, type VegaMovie } from "../../src/domain/catalog";
import { callerTag, decodeAffinity, encodeAffinity, queryFingerprint } from "../../src/search/paging";
import { affinityFromPreferences, affinityFromWeights } from "../../src/search/personalize";
import { search } from "../../src/search/query";
import { SearchIndex } from "../../src/search/search-index";
import {
  decodeSnapshot,
  encodeSnapshot,
  gunzip,
  gzip,
  SnapshotError,
  snapshotVersion,
} from "../../src/search/snapshot";

const moviesPath = join(dirname(createRequire(import.meta.url).resolve("vega-datasets")), "..", "data", "movies.json");
const films = filmsFromVega(JSON.parse(readFileSync(moviesPath, "utf8")) as VegaMovie[]);
const catalog = [...films, ...generateSeries(40)];
const index = SearchIndex.build(catalog, {
  plays: new Map([["film-the-matrix-1999", 3]]),
  corrections: { lotr: "lord of the rings" },
});

describe("snapshots", () => {
  it("round-trip every column, gzipped, and answer queries the same", async () => {
    const raw = encodeSnapshot(index.data);
    const back = decodeSnapshot(await gunzip(await gzip(raw)));
    expect(back).toEqual(index.data);
    const loaded = new SearchIndex(back, "v1");
    for (const q of ["teh matrix", "godfahter", "lotr", "", "the"]) {
      const request = { q, offset: 0, limit: 20 };
      expect(search(loaded, request)).toEqual(search(index, request));
    }
  });

  it("are compact and load fast for the development catalog", async () => {
    const raw = encodeSnapshot(index.data);
    const compressed = await gzip(raw);
    expect(compressed.length).toBeLessThan(250_000);
    const started = performance.now();
    new SearchIndex(decodeSnapshot(await gunzip(compressed)));
    expect(performance.now() - started).toBeLessThan(200);
  });

  it("are named by their content: the same catalog gives the same version, a change a new one", async () => {
    const same = SearchIndex.build([...catalog].reverse(), {
      plays: new Map([["film-the-matrix-1999", 3]]),
      corrections: { lotr: "lord of the rings" },
    });
    expect(await snapshotVersion(encodeSnapshot(same.data))).toBe(await snapshotVersion(encodeSnapshot(index.data)));
    const changed = SearchIndex.build(catalog, { plays: new Map([["film-the-matrix-1999", 4]]) });
    expect(await snapshotVersion(encodeSnapshot(changed.data))).not.toBe(
      await snapshotVersion(encodeSnapshot(index.data)),
    );
  });

  it("refuse bytes that are not a snapshot", () => {
    expect(() => decodeSnapshot(new TextEncoder().encode("hello world, not a snapshot"))).toThrow(SnapshotError);
    const raw = encodeSnapshot(index.data);
    expect(() => decodeSnapshot(raw.subarray(0, 1000))).toThrow(SnapshotError);
  });
});

describe("cursor contents", () => {
  it("fingerprint the query and filters, not the order filters were given in", () => {
    const a = queryFingerprint({ words: ["the"], genres: ["Drama", "Comedy"], platforms: [], kinds: ["movie"] });
    const b = queryFingerprint({ words: ["the"], genres: ["Comedy", "Drama"], platforms: [], kinds: ["movie"] });
    const c = queryFingerprint({ words: ["the"], genres: ["Comedy"], platforms: [], kinds: ["movie"] });
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(callerTag("alice")).not.toBe(callerTag("bob"));
    expect(callerTag(undefined)).toBe("-");
  });

  it("carry the affinity by genre number, and refuse a tampered one", () => {
    const affinity = new Map([
      ["Horror", 1],
      ["Comedy", 0.25],
    ]);
    const text = encodeAffinity(index, affinity);
    expect(text.length).toBeLessThan(20);
    expect(decodeAffinity(index, text)).toEqual(affinity);
    expect(decodeAffinity(index, "")).toBeNull();
    expect(decodeAffinity(index, "9999:1")).toBeUndefined();
    expect(decodeAffinity(index, "0:7")).toBeUndefined();
    expect(decodeAffinity(index, "0:-0.5")?.get(index.data.genreNames[0]!)).toBe(-0.5);
  });

  it("normalize history weights: the favourite genre is 1, at most five genres", () => {
    const affinity = affinityFromWeights([
      { genre: "Drama", weight: 2 },
      { genre: "Horror", weight: 4 },
      { genre: "A", weight: 1 },
      { genre: "B", weight: 1 },
      { genre: "C", weight: 1 },
      { genre: "D", weight: 0.5 },
    ]);
    expect(affinity?.get("Horror")).toBe(1);
    expect(affinity?.get("Drama")).toBe(0.5);
    expect(affinity?.size).toBe(5);
    expect(affinity?.has("D")).toBe(false);
    expect(affinityFromWeights([])).toBeNull();
  });

  it("take the strongest profile preferences, liked or disliked", () => {
    const affinity = affinityFromPreferences({ Drama: 0.2, Horror: -0.9, Comedy: 0.5, A: 0.1, B: 0.05, C: 0.01, D: 0 });
    expect([...(affinity ?? new Map()).entries()]).toEqual([
      ["Horror", -0.9],
      ["Comedy", 0.5],
      ["Drama", 0.2],
      ["A", 0.1],
      ["B", 0.05],
    ]);
    expect(affinityFromPreferences({})).toBeNull();
    expect(affinityFromPreferences({ Drama: 0 })).toBeNull();
  });
});

describe("the scale catalog", () => {
  it("has the requested size, unique ids, the real films first, and is the same every time", () => {
    const large = generateLargeCatalog(films, 20_000);
    expect(large).toHaveLength(20_000);
    expect(new Set(large.map((i) => i.id)).size).toBe(20_000);
    expect(large.slice(0, films.length)).toEqual(films);
    expect(generateLargeCatalog(films, 20_000)).toEqual(large);
    expect(generateLargeCatalog(films, 20_000, 8)).not.toEqual(large);
  });
});
