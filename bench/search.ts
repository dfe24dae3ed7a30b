/**
 * Search benchmark: the same queries, in one process, against this engine, MiniSearch, Orama and
 * Postgres full-text search + pg_trgm, on the 3,201 films and on a 100,000-title catalog.
 * Measures build time, snapshot size and load time, p50/p99 latency of a search with facets,
 * typo recovery (misspelled film in the top 3), autocomplete p99, and the edge-cache hit rate
 * of autocomplete for a Zipf-distributed stream of people typing titles.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { create, insertMultiple, load as oramaLoad, save as oramaSave, search as oramaSearch } from "@orama/orama";
import MiniSearch from "minisearch";
import pg from "pg";
import {
  type CatalogItem,
  filmsFromVega,
  generateLargeCatalog,
  seededRandom,
  type VegaMovie,
} from "../src/domain/catalog";
import { autocomplete } from "../src/search/autocomplete";
import { search } from "../src/search/query";
import { SearchIndex } from "../src/search/search-index";
import { decodeSnapshot, encodeSnapshot, gunzip, gzip } from "../src/search/snapshot";
import { tokenize } from "../src/search/text";
import { percentile, table } from "./lib";

interface Engine {
  name: string;
  build(items: readonly CatalogItem[]): Promise<void>;
  /** Compressed bytes as they would sit in KV, and the time to get a queryable index back. */
  snapshot(): Promise<{ bytes: number; loadMs: number } | null>;
  /** Top 20 ids, with facets over the whole match set computed as the API does. */
  search(q: string): Promise<string[]>;
  suggest(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function timeIt<T>(work: () => Promise<T> | T): Promise<[T, number]> {
  const started = performance.now();
  const value = await work();
  return [value, performance.now() - started];
}

/** Median of five timings, or the single timing when one already takes over a second. */
async function repeatWhileFast(work: () => Promise<unknown>): Promise<number> {
  const timings: number[] = [];
  for (let i = 0; i < 5; i++) {
    const [, ms] = await timeIt(work);
    timings.push(ms);
    if (ms > 1000) break;
  }
  return median(timings);
}

// ---------------------------------------------------------------- engines

function ourEngine(): Engine {
  let index: SearchIndex;
  return {
    name: "this engine",
    async build(items) {
      index = SearchIndex.build(items);
    },
    async snapshot() {
      const compressed = await gzip(encodeSnapshot(index.data));
      const loadMs = await repeatWhileFast(async () => new SearchIndex(decodeSnapshot(await gunzip(compressed))));
      return { bytes: compressed.length, loadMs };
    },
    async search(q) {
      return search(index, { q, offset: 0, limit: 20, facets: true }).hits.map((h) => index.data.ids[h.doc] as string);
    },
    async suggest(prefix) {
      return autocomplete(index, prefix, 10).map((s) => index.data.ids[s.doc] as string);
    },
    async close() {
      index = undefined as unknown as SearchIndex; // let the collector have it before the next engine
    },
  };
}

type Stored = {
  title: string;
  genres: string[];
  platforms: string[];
  year: number | null;
  rating: number | null;
  votes: number;
};

/** Facet counts over every match, for the engines that do not count them themselves. */
function facetsOf(matches: readonly Stored[]) {
  const genres = new Map<string, number>();
  const platforms = new Map<string, number>();
  let yearMin = Number.POSITIVE_INFINITY;
  let yearMax = Number.NEGATIVE_INFINITY;
  for (const m of matches) {
    for (const g of m.genres) genres.set(g, (genres.get(g) ?? 0) + 1);
    for (const p of m.platforms) platforms.set(p, (platforms.get(p) ?? 0) + 1);
    if (m.year !== null) {
      yearMin = Math.min(yearMin, m.year);
      yearMax = Math.max(yearMax, m.year);
    }
  }
  return [[...genres].sort((a, b) => b[1] - a[1]), [...platforms].sort((a, b) => b[1] - a[1]), yearMin, yearMax];
}

function miniSearchEngine(): Engine {
  // MiniSearch's documented typo-tolerant setup, with popularity as a document boost.
  const options = {
    fields: ["title"],
    storeFields: ["title", "genres", "platforms", "year", "rating", "votes"],
    searchOptions: {
      prefix: true,
      fuzzy: 0.2,
      boostDocument: (_id: unknown, _term: string, stored?: Record<string, unknown>) =>
        1 + Math.log10(1 + Number(stored?.votes ?? 0)) / 6,
    },
  };
  let engine: MiniSearch;
  return {
    name: "MiniSearch 7 (fuzzy 0.2, prefix)",
    async build(items) {
      engine = new MiniSearch(options);
      engine.addAll(items);
    },
    async snapshot() {
      const compressed = await gzip(new TextEncoder().encode(JSON.stringify(engine)));
      const loadMs = await repeatWhileFast(async () =>
        MiniSearch.loadJSON(new TextDecoder().decode(await gunzip(compressed)), options),
      );
      return { bytes: compressed.length, loadMs };
    },
    async search(q) {
      const results = engine.search(q);
      facetsOf(results as unknown as Stored[]);
      return results.slice(0, 20).map((r) => r.id as string);
    },
    async suggest(prefix) {
      return engine
        .search(prefix, { combineWith: "AND" })
        .slice(0, 10)
        .map((r) => r.id as string);
    },
    async close() {
      engine = undefined as unknown as MiniSearch;
    },
  };
}

const oramaSchema = {
  id: "string",
  title: "string",
  genres: "string[]",
  platforms: "string[]",
  year: "number",
  rating: "number",
  votes: "number",
} as const;

function oramaEngine(): Engine {
  let db = create({ schema: oramaSchema });
  const query = (term: string, limit: number, facets: boolean) =>
    oramaSearch(db, {
      term,
      properties: ["title"],
      tolerance: 1,
      limit,
      ...(facets ? { facets: { genres: { limit: 100 }, platforms: { limit: 100 } } } : {}),
    });
  return {
    name: "Orama 3 (tolerance 1)",
    async build(items) {
      db = create({ schema: oramaSchema });
      await insertMultiple(
        db,
        items.map((i) => ({
          id: i.id,
          title: i.title,
          genres: i.genres,
          platforms: i.platforms,
          year: i.year ?? 0,
          rating: i.rating ?? 0,
          votes: i.votes,
        })),
        1000,
      );
    },
    async snapshot() {
      const compressed = await gzip(new TextEncoder().encode(JSON.stringify(oramaSave(db))));
      const loadMs = await repeatWhileFast(async () => {
        const fresh = create({ schema: oramaSchema });
        oramaLoad(fresh, JSON.parse(new TextDecoder().decode(await gunzip(compressed))));
        return fresh;
      });
      return { bytes: compressed.length, loadMs };
    },
    async search(q) {
      const result = await query(q, 20, true);
      return result.hits.map((h) => h.document.id as string);
    },
    async suggest(prefix) {
      const result = await query(prefix, 10, false);
      return result.hits.map((h) => h.document.id as string);
    },
    async close() {
      db = create({ schema: oramaSchema });
    },
  };
}

interface Sql {
  query(text: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
  where: string;
}

/** The real PostgreSQL server when it answers and has pg_trgm, else PGlite in this process. */
async function openPostgres(): Promise<Sql> {
  const url = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("select 1");
    return {
      query: (text, params) => client.query(text, params as unknown[]),
      end: () => client.end(),
      where: `PostgreSQL server (${(await client.query("show server_version")).rows[0]?.server_version})`,
    };
  } catch {
    await client.end().catch(() => {});
    const lite = await PGlite.create({ extensions: { pg_trgm } });
    return {
      query: (text, params) => lite.query(text, params) as Promise<{ rows: Record<string, unknown>[] }>,
      end: () => lite.close(),
      where: "PGlite (in process)",
    };
  }
}

function postgresEngine(sql: Sql): Engine {
  const schema = `bench_search_${process.pid}`;
  const searchSql = `
    WITH q AS (SELECT websearch_to_tsquery('simple', $1) AS ts),
    m AS (
      SELECT i.id, i.genres, i.platforms, i.year, i.rating, i.votes,
        (i.tsv @@ q.ts) AS fts, word_similarity($1, i.title) AS sim
      FROM items i, q
      WHERE i.tsv @@ q.ts OR $1 <% i.title
    ),
    page AS (SELECT id FROM m ORDER BY fts DESC, sim DESC, votes DESC, id LIMIT 20)
    SELECT
      (SELECT json_agg(id) FROM page) AS ids,
      (SELECT count(*) FROM m) AS total,
      (SELECT json_agg(x) FROM (SELECT g, count(*) FROM m, unnest(m.genres) g GROUP BY g ORDER BY 2 DESC) x) AS genres,
      (SELECT json_agg(x) FROM (SELECT p, count(*) FROM m, unnest(m.platforms) p GROUP BY p ORDER BY 2 DESC) x) AS platforms,
      (SELECT json_build_array(min(year), max(year), min(rating), max(rating)) FROM m) AS ranges`;
  const suggestSql = `
    SELECT id FROM items WHERE tsv @@ to_tsquery('simple', $1) ORDER BY votes DESC, id LIMIT 10`;
  return {
    name: "Postgres FTS + pg_trgm",
    async build(items) {
      await sql.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await sql.query(`CREATE SCHEMA ${schema}`);
      await sql.query(`SET search_path TO ${schema}, public`);
      const has = await sql.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'");
      // Installed into our own schema when absent, so dropping the schema removes it again.
      if (has.rows.length === 0) await sql.query(`CREATE EXTENSION pg_trgm SCHEMA ${schema}`);
      await sql.query(`CREATE TABLE items (id text PRIMARY KEY, title text NOT NULL, genres text[] NOT NULL,
        platforms text[] NOT NULL, year int, rating float8, votes int NOT NULL,
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', title)) STORED)`);
      for (let i = 0; i < items.length; i += 5000) {
        const chunk = items.slice(i, i + 5000);
        await sql.query(
          `INSERT INTO items (id, title, genres, platforms, year, rating, votes)
           SELECT id, title, string_to_array(genres, '|'), string_to_array(platforms, '|'), year, rating, votes
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::float8[], $7::int[])
             AS t(id, title, genres, platforms, year, rating, votes)`,
          [
            chunk.map((c) => c.id),
            chunk.map((c) => c.title),
            chunk.map((c) => c.genres.join("|")),
            chunk.map((c) => c.platforms.join("|")),
            chunk.map((c) => c.year),
            chunk.map((c) => c.rating),
            chunk.map((c) => c.votes),
          ],
        );
      }
      await sql.query("CREATE INDEX items_tsv ON items USING gin (tsv)");
      await sql.query("CREATE INDEX items_trgm ON items USING gin (title gin_trgm_ops)");
      await sql.query("ANALYZE items");
    },
    async snapshot() {
      return null;
    },
    async search(q) {
      const { rows } = await sql.query(searchSql, [q]);
      return ((rows[0]?.ids as string[] | null) ?? []).slice(0, 20);
    },
    async suggest(prefix) {
      const words = tokenize(prefix);
      if (words.length === 0) return [];
      const ts = words.map((w, i) => (i === words.length - 1 ? `${w}:*` : w)).join(" & ");
      const { rows } = await sql.query(suggestSql, [ts]);
      return rows.map((r) => r.id as string);
    },
    async close() {
      await sql.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

// ---------------------------------------------------------------- queries

interface Query {
  q: string;
  /** For misspellings: the film's title, which must be in the top 3. */
  target?: string;
}

/** A one-edit misspelling of a word, keeping its first letter, as people's typos mostly do. */
function misspell(word: string, random: () => number): string {
  const at = 1 + Math.floor(random() * (word.length - 1));
  const letters = "abcdefghijklmnopqrstuvwxyz";
  switch (Math.floor(random() * 4)) {
    case 0: // swap two neighbours
      if (at + 1 < word.length && word[at] !== word[at + 1])
        return word.slice(0, at) + word[at + 1] + word[at] + word.slice(at + 2);
      return word.slice(0, at) + word.slice(at + 1);
    case 1: // drop a letter
      return word.slice(0, at) + word.slice(at + 1);
    case 2: // double a letter
      return word.slice(0, at) + word[at] + word.slice(at);
    default: {
      let other = word[at] as string;
      while (other === word[at]) other = letters[Math.floor(random() * letters.length)] as string;
      return word.slice(0, at) + other + word.slice(at + 1);
    }
  }
}

/** The queries: titles and title words of popular films, and misspellings of them. */
function querySet(films: readonly CatalogItem[]): { exact: Query[]; typos: Query[] } {
  const random = seededRandom(2024);
  const popular = [...films].sort((a, b) => b.votes - a.votes).slice(0, 200);
  const exact: Query[] = [];
  const typos: Query[] = [
    // Hand-picked misspellings of real titles (the same as the worker tests).
    ...[
      ["teh matrix", "The Matrix"],
      ["godfahter", "The Godfather"],
      ["shawshenk redemption", "The Shawshank Redemption"],
      ["jurasic park", "Jurassic Park"],
      ["gladiater", "Gladiator"],
      ["titanik", "Titanic"],
      ["pulp fictoin", "Pulp Fiction"],
      ["forest gump", "Forrest Gump"],
      ["lord of the rigns", "The Lord of the Rings: The Fellowship of the Ring"],
      ["harry poter", "Harry Potter and the Sorcerer's Stone"],
      ["the dark knigth", "The Dark Knight"],
      ["inceptoin", "Inception"],
      ["silense of the lambs", "The Silence of the Lambs"],
      ["teh lion kign", "The Lion King"],
      ["findng nemo", "Finding Nemo"],
    ].map(([q, target]) => ({ q: q as string, target })),
  ];
  for (const film of popular) {
    const words = tokenize(film.title);
    exact.push({ q: film.title.toLowerCase() });
    if (words.length > 1) exact.push({ q: words.slice(0, 2).join(" ") });
    // Misspell the longest word the length budget covers; short titles get a swapped "the".
    // Four words at most, as people type, unless those four fit another popular film too.
    let shown = words.slice(0, 4);
    const ambiguous = popular.some((other) => {
      const theirs = tokenize(other.title);
      return other !== film && shown.every((w) => theirs.includes(w));
    });
    if (ambiguous) shown = words;
    const longest = shown.reduce((a, b) => (b.length > a.length ? b : a), "");
    if (longest.length >= 5) {
      typos.push({ q: shown.map((w) => (w === longest ? misspell(w, random) : w)).join(" "), target: film.title });
    } else if (shown[0] === "the" && shown.length > 1) {
      typos.push({ q: ["teh", ...shown.slice(1)].join(" "), target: film.title });
    }
  }
  return { exact, typos };
}

function shuffled<T>(list: T[], random: () => number): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j] as T, list[i] as T];
  }
  return list;
}

/** People typing titles: a Zipf choice of film, one request per keystroke, 120 ms apart. */
function typingStream(films: readonly CatalogItem[], sessions: number, sessionsPerSecond: number) {
  const random = seededRandom(7);
  const ranked = [...films].sort((a, b) => b.votes - a.votes);
  const cumulative: number[] = [];
  let sum = 0;
  for (let r = 1; r <= ranked.length; r++) {
    sum += 1 / r;
    cumulative.push(sum);
  }
  const requests: { at: number; q: string }[] = [];
  let clock = 0;
  for (let s = 0; s < sessions; s++) {
    clock += (-Math.log(1 - random()) / sessionsPerSecond) * 1000;
    const u = random() * sum;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    const title = (ranked[lo] as CatalogItem).title.toLowerCase();
    const stop = Math.min(title.length, 3 + Math.floor(random() * 8));
    for (let k = 1; k <= stop; k++) requests.push({ at: clock + k * 120, q: title.slice(0, k) });
  }
  return requests.sort((a, b) => a.at - b.at);
}

/** The edge cache policy of the autocomplete route: key = normalized q, entries live `ttlMs`. */
function cacheHitRate(requests: readonly { at: number; q: string }[], ttlMs: number): number {
  const expires = new Map<string, number>();
  let hits = 0;
  for (const r of requests) {
    const key = r.q.replace(/\s+/g, " ").trimStart();
    const until = expires.get(key);
    if (until !== undefined && until > r.at) hits++;
    else expires.set(key, r.at + ttlMs);
  }
  return hits / requests.length;
}

// ---------------------------------------------------------------- run

interface Row {
  engine: string;
  build_ms: number;
  snapshot_kb: string;
  load_ms: string;
  p50_ms: number;
  p99_ms: number;
  typo_top3: string;
  p50_vs_ours: string;
  searches: number;
}

/** Each engine gets this long per catalog for its timed searches and suggestions. */
const SEARCH_BUDGET_MS = 10_000;
const SUGGEST_BUDGET_MS = 4_000;

async function measure(
  engine: Engine,
  items: readonly CatalogItem[],
  queries: readonly Query[],
  rounds: number,
  titleOf: Map<string, string>,
  prefixes: readonly string[],
) {
  const log = (step: string) => process.stderr.write(`  ${engine.name}: ${step}\n`);
  const [, buildMs] = await timeIt(() => engine.build(items));
  log(`built in ${buildMs.toFixed(0)} ms`);
  const snapshot = await engine.snapshot();
  for (const query of queries.slice(0, 20)) await engine.search(query.q); // warm up
  const samples: number[] = [];
  let recovered = 0;
  let typosRun = 0;
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    for (const query of queries) {
      // Every engine runs the same queries in the same order until its time is up.
      if (performance.now() - started > SEARCH_BUDGET_MS) break;
      const [ids, ms] = await timeIt(() => engine.search(query.q));
      samples.push(ms);
      if (round === 0 && query.target) {
        typosRun++;
        const top = ids.slice(0, 3).map((id) => titleOf.get(id)?.toLowerCase());
        if (top.includes(query.target.toLowerCase())) recovered++;
      }
    }
  }
  log(`${samples.length} searches in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const suggestSamples: number[] = [];
  for (const p of prefixes.slice(0, 20)) await engine.suggest(p);
  const suggestStarted = performance.now();
  for (let pass = 0; pass < 3; pass++) {
    for (const p of prefixes) {
      if (performance.now() - suggestStarted > SUGGEST_BUDGET_MS) break;
      const [, ms] = await timeIt(() => engine.suggest(p));
      suggestSamples.push(ms);
    }
  }
  samples.sort((a, b) => a - b);
  suggestSamples.sort((a, b) => a - b);
  return {
    buildMs,
    snapshot,
    searches: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    typo: recovered / Math.max(1, typosRun),
    typosRun,
    suggestions: suggestSamples.length,
    suggestP99: percentile(suggestSamples, 99),
  };
}

export async function run(): Promise<void> {
  const moviesPath = join(
    dirname(createRequire(import.meta.url).resolve("vega-datasets")),
    "..",
    "data",
    "movies.json",
  );
  const films = filmsFromVega(JSON.parse(readFileSync(moviesPath, "utf8")) as VegaMovie[]);
  const large = generateLargeCatalog(films, 100_000);
  const queries = querySet(films);
  const mixed = shuffled([...queries.typos, ...queries.exact], seededRandom(99));
  const typoCount = queries.typos.length;
  const sql = await openPostgres();
  console.log(
    `${films.length} films and a ${large.length}-title catalog; ${queries.exact.length} title queries, ` +
      `${queries.typos.length} misspelled; Postgres peer: ${sql.where}`,
  );

  const stream = typingStream(films, 20_000, 10);
  const uniquePrefixes = [...new Set(stream.slice(0, 4000).map((r) => r.q))].slice(0, 600);
  const autocompleteRows: Record<string, string | number>[] = [];

  for (const [label, items] of [
    [`${films.length} films`, films],
    [`${large.length} titles`, large],
  ] as const) {
    const titleOf = new Map(items.map((i) => [i.id, i.title]));
    const engines: [() => Engine, number][] = [
      [ourEngine, 3],
      [miniSearchEngine, 1],
      [oramaEngine, 1],
      [() => postgresEngine(sql), 1],
    ];
    const rows: Row[] = [];
    let ours = 0;
    process.stderr.write(`${label}\n`);
    for (const [make, rounds] of engines) {
      const engine = make();
      try {
        const m = await measure(engine, items, mixed, rounds, titleOf, uniquePrefixes);
        if (rows.length === 0) ours = m.p50;
        rows.push({
          engine: engine.name,
          build_ms: m.buildMs,
          snapshot_kb: m.snapshot ? (m.snapshot.bytes / 1024).toFixed(0) : "— (server)",
          load_ms: m.snapshot ? m.snapshot.loadMs.toFixed(1) : "—",
          p50_ms: m.p50,
          p99_ms: m.p99,
          typo_top3: `${(m.typo * 100).toFixed(0)} %${m.typosRun < typoCount ? ` (${m.typosRun} of ${typoCount})` : ""}`,
          p50_vs_ours: rows.length === 0 ? "1×" : `${(m.p50 / ours).toFixed(1)}×`,
          searches: m.searches,
        });
        autocompleteRows.push({
          catalog: label,
          engine: engine.name,
          autocomplete_p99_ms: m.suggestP99,
          suggestions_timed: m.suggestions,
        });
      } finally {
        await engine.close();
      }
    }
    table(
      `Search on ${label} (top 20 + exact total + facets; typo_top3 = misspelled film in the top 3)`,
      rows as never,
    );
  }
  await sql.end();

  table(
    `Autocomplete latency (${uniquePrefixes.length} distinct prefixes typed by the Zipf stream, no cache)`,
    autocompleteRows,
  );
  const cacheRows = [1, 10, 50].map((perSecond) => {
    const requests = typingStream(films, 20_000, perSecond);
    return {
      sessions_per_s: perSecond,
      requests: requests.length,
      requests_per_s: Math.round((requests.length / (requests[requests.length - 1]?.at ?? 1)) * 1000),
      hit_rate_ttl_60s: `${(cacheHitRate(requests, 60_000) * 100).toFixed(1)} %`,
      hit_rate_ttl_300s_default: `${(cacheHitRate(requests, 300_000) * 100).toFixed(1)} %`,
    };
  });
  table("Autocomplete edge cache (one location, Zipf s=1 over films by votes, one request per keystroke)", cacheRows);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
