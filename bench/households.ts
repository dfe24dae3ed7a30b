/**
 * Costs of households, measured in one run:
 * 1. the search index in this process: search p50/p99 (with facets) and autocomplete p99 for a
 *    profile limited to PG next to the same queries without a limit, interleaved query by query,
 *    on the development catalog and on a 100,000-title catalog (target: within 1.2×);
 * 2. through the real Worker (the local stack): search with a PG profile's token next to the
 *    owner's, and the TV's poll (RFC 8628) next to a bare Durable Object round trip, interleaved.
 * Run alone: `npm run bench -- households` (about two minutes).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { developmentCatalog } from "../scripts/seed";
import {
  type CatalogItem,
  filmsFromVega,
  generateLargeCatalog,
  seededRandom,
  type VegaMovie,
} from "../src/domain/catalog";
import { limitOf, type MaturityLimit } from "../src/domain/maturity";
import { autocomplete } from "../src/search/autocomplete";
import { search } from "../src/search/query";
import { SearchIndex } from "../src/search/search-index";
import { percentile, request, table, withBenchStack } from "./lib";

const PG = limitOf("PG", false) as MaturityLimit;

/** Real titles, real misspellings, prefixes, genre browsing, an empty query: the mix a search box sees. */
function queriesFor(items: readonly CatalogItem[], count: number, seed = 11): string[] {
  const random = seededRandom(seed);
  const films = items.filter((i) => i.kind === "movie" && i.votes > 1000);
  const typo = (word: string) => {
    if (word.length < 4) return word;
    const at = 1 + Math.floor(random() * (word.length - 2));
    return word.slice(0, at) + word[at + 1] + word[at] + word.slice(at + 2);
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const title = (films[Math.floor(random() * films.length)] as CatalogItem).title.toLowerCase();
    const kind = i % 5;
    if (kind === 0) out.push(title);
    else if (kind === 1) out.push(title.split(" ").map(typo).join(" "));
    else if (kind === 2) out.push(title.slice(0, 3 + Math.floor(random() * 4)));
    else if (kind === 3) out.push(title.split(" ").slice(-1)[0] as string);
    else out.push("");
  }
  return out;
}

interface Paired {
  without: number[];
  with: number[];
}

/** Each query without and with the limit, in alternating order, so noise falls on both alike. */
function pairedTimings(queries: readonly string[], run: (q: string, limit: MaturityLimit | null) => void): Paired {
  for (const q of queries.slice(0, 200)) {
    run(q, null);
    run(q, PG);
  }
  const out: Paired = { without: [], with: [] };
  for (let round = 0; round < 3; round++) {
    queries.forEach((q, i) => {
      const order: (MaturityLimit | null)[] = (i + round) % 2 === 0 ? [null, PG] : [PG, null];
      for (const limit of order) {
        const started = performance.now();
        run(q, limit);
        (limit ? out.with : out.without).push(performance.now() - started);
      }
    });
  }
  out.without.sort((a, b) => a - b);
  out.with.sort((a, b) => a - b);
  return out;
}

function inProcess(): Record<string, string | number>[] {
  const entry = createRequire(import.meta.url).resolve("vega-datasets");
  const movies = JSON.parse(readFileSync(join(dirname(entry), "..", "data", "movies.json"), "utf8")) as VegaMovie[];
  const catalogs = [
    { name: "development (3,201 films + 40 series)", items: developmentCatalog() },
    { name: "100,000 titles", items: generateLargeCatalog(filmsFromVega(movies), 100_000) },
  ];
  const rows: Record<string, string | number>[] = [];
  for (const { name, items } of catalogs) {
    const index = SearchIndex.build(items);
    const queries = queriesFor(items, 2000);
    const searches = pairedTimings(queries, (q, maturity) => {
      search(index, { q, offset: 0, limit: 20, facets: true, filters: { kinds: ["movie", "series"], maturity } });
    });
    const suggestions = pairedTimings(
      queries.map((q) => q.slice(0, 5)),
      (q, maturity) => void autocomplete(index, q, 10, maturity),
    );
    for (const [what, t] of [
      ["search + facets", searches],
      ["autocomplete", suggestions],
    ] as const) {
      const p50 = [percentile(t.without, 50), percentile(t.with, 50)];
      const p99 = [percentile(t.without, 99), percentile(t.with, 99)];
      rows.push({
        catalog: name,
        what,
        "p50 no limit ms": p50[0] as number,
        "p50 PG ms": p50[1] as number,
        "p50 ×": (p50[1] as number) / (p50[0] as number),
        "p99 no limit ms": p99[0] as number,
        "p99 PG ms": p99[1] as number,
        "p99 ×": (p99[1] as number) / (p99[0] as number),
      });
    }
    const allowed = search(index, { q: "", offset: 0, limit: 1, facets: false, filters: { maturity: PG } }).total;
    console.log(`${name}: ${index.size} documents, ${allowed} allowed under PG`);
  }
  return rows;
}

// ---- 2. through the Worker ----

async function throughTheWorker(): Promise<Record<string, string | number>[]> {
  const vars = {
    AUTH_IP_BURST: "10000",
    AUTH_ACCOUNT_BURST: "10000",
    DEVICE_CODE_BURST: "100000",
    DEVICE_APPROVE_BURST: "100000",
    // A 1 s interval lets one code be polled again every round-robin pass without slow_down.
    DEVICE_CODE_INTERVAL_SECONDS: "1",
  };
  return withBenchStack({ vars }, async (stack) => {
    const base = `${stack.baseUrl}/api/v1`;
    const call = async (method: string, path: string, bearer: string | null = null, body?: unknown) => {
      const res = await request(base, bearer, method, path, body);
      return { status: res.status, json: res.text ? JSON.parse(res.text) : null };
    };
    const email = `bench-${crypto.randomUUID()}@example.com`;
    await call("POST", "/auth/register", null, { email, password: "bench password 1234" });
    const owner = (await call("POST", "/auth/login", null, { email, password: "bench password 1234" })).json;
    const kidProfile = await call("POST", "/profiles", owner.access_token, { name: "Kid", maturity_limit: "PG" });
    if (kidProfile.status !== 201) throw new Error(`create profile: ${kidProfile.status}`);
    const kid = (await call("POST", `/profiles/${kidProfile.json.id}/select`, owner.access_token, {})).json;

    const queries = queriesFor(developmentCatalog(), 200).map((q) => `/search?q=${encodeURIComponent(q)}`);
    const newCode = async () => (await call("POST", "/auth/device/code", null, {})).json.device_code as string;
    // A TV polls its own code again and again: 40 TVs in turn, each polled every 40 rounds (> 1 s).
    const tvs: string[] = [];
    for (let i = 0; i < 40; i++) tvs.push(await newCode());
    // And a new code's first poll, on an object that was just made.
    const fresh: string[] = [];
    for (let i = 0; i < 520; i++) fresh.push(await newCode());
    const answers = new Map<string, number>();
    const poll = async (deviceCode: string) => {
      const res = await call("POST", "/auth/device/token", null, { device_code: deviceCode });
      answers.set(res.json.error, (answers.get(res.json.error) ?? 0) + 1);
      return res;
    };
    const scenarios: { what: string; run: (i: number) => Promise<{ status: number }>; expect: number }[] = [
      {
        what: "bare DO round trip (_bench/ping + family check)",
        run: () => call("GET", "/_bench/ping", owner.access_token),
        expect: 200,
      },
      {
        what: "search, owner (no limit)",
        run: (i) => call("GET", queries[i % queries.length] as string, owner.access_token),
        expect: 200,
      },
      {
        what: "search, profile limited to PG",
        run: (i) => call("GET", queries[i % queries.length] as string, kid.access_token),
        expect: 200,
      },
      {
        what: "TV poll, its own code again (warm object)",
        run: (i) => poll(tvs[i % tvs.length] as string),
        expect: 400,
      },
      { what: "TV poll, a new code's first", run: (i) => poll(fresh[i] as string), expect: 400 },
    ];
    const samples = scenarios.map(() => [] as number[]);
    for (const s of scenarios.slice(0, 3)) for (let i = 0; i < 20; i++) await s.run(i);
    for (const tv of tvs) await poll(tv);
    await new Promise((r) => setTimeout(r, 1100));
    answers.clear();
    for (let round = 0; round < 500; round++) {
      for (const [i, s] of scenarios.entries()) {
        const started = performance.now();
        const res = await s.run(i === 4 ? round + 20 : round);
        (samples[i] as number[]).push(performance.now() - started);
        if (res.status !== s.expect) throw new Error(`${s.what}: ${res.status}`);
      }
    }
    // The poll that signs the TV in (Postgres: the profile, the token family, a refresh token).
    const signIns: number[] = [];
    for (let i = 0; i < 40; i++) {
      const code = (await call("POST", "/auth/device/code", null, {})).json;
      await call("POST", "/auth/device/approve", owner.access_token, {
        user_code: code.user_code,
        profile_id: kidProfile.json.id,
        approve: true,
      });
      const started = performance.now();
      const res = await call("POST", "/auth/device/token", null, { device_code: code.device_code });
      signIns.push(performance.now() - started);
      if (res.status !== 200) throw new Error(`sign-in poll: ${res.status}`);
    }
    const floor = percentile(
      [...(samples[0] as number[])].sort((a, b) => a - b),
      50,
    );
    const summary = (what: string, xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return {
        what,
        "p50 ms": percentile(sorted, 50),
        "p99 ms": percentile(sorted, 99),
        "p50 × DO round trip": percentile(sorted, 50) / floor,
      };
    };
    const rows = scenarios.map((s, i) => summary(s.what, samples[i] as number[]));
    rows.push(summary("TV poll that signs in (Postgres + token issue)", signIns));
    console.log(`poll answers in the timed rounds: ${JSON.stringify(Object.fromEntries(answers))}`);
    return rows;
  });
}

export async function run(): Promise<void> {
  table("Search index with a maturity limit (PG) next to none, same queries interleaved, this process", inProcess());
  table("Through the Worker (local stack), interleaved rounds", await throughTheWorker());
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
