/**
 * Series benchmark on the local stack (wrangler dev + embedded Postgres):
 *  1. Next Up, series progress and grouped continue watching for a user with 200 series and
 *     5,000 plays, next to the bare Durable Object round trip (the floor), measured in the same
 *     run, interleaved request by request, after a warm-up;
 *  2. how soon Next Up offers an episode the admin import just added;
 *  3. Postgres rows written per completed play (episodes finished through playback sessions).
 */
import pg from "pg";
import { generateSeries } from "../src/domain/catalog";
import { api, percentile, table, token, withBenchStack } from "./lib";

const SERIES = 200;
const PLAYS = 5000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 500);
const WARMUP_ROUNDS = 100;
/** One request at a time: a request never waits behind another at the user's object, so the floor is a floor. */
const CONCURRENCY = 1;
const FINISHES = Number(process.env.BENCH_FINISHES ?? 60);

type Item = ReturnType<typeof generateSeries>[number];

/** 200 series of the generator's shapes, under ids of their own. */
function benchCatalog(): { items: Item[]; series: { id: string; episodes: Item[] }[] } {
  const items = generateSeries(SERIES, 2026).map((item, i) => {
    const rename = (id: string | null) => (id ? `bench-${id}` : id);
    return { ...item, id: `bench-${item.id}`, series_id: rename(item.series_id), votes: 1 + (i % 50) };
  });
  const series = items
    .filter((i) => i.kind === "series")
    .map((s) => ({ id: s.id, episodes: items.filter((e) => e.series_id === s.id) }));
  return { items, series };
}

const hlc = (ms: number, counter: number) =>
  `${String(ms).padStart(15, "0")}:${String(counter).padStart(6, "0")}:bench`;

/**
 * The user's history as an offline client would upload it, exactly PLAYS plays over the past
 * year: every series started and watched a good way in, every fourth one to its end, the rest of
 * the plays rewatches of whole series; an episode in progress in every fourth series.
 */
function history(series: { id: string; episodes: Item[] }[]) {
  const firstPass = series.map((s, i) => Math.max(1, Math.round(s.episodes.length * (0.4 + ((i * 37) % 50) / 100))));
  const order: string[] = [];
  series.forEach((s, i) => {
    for (const e of s.episodes.slice(0, firstPass[i])) order.push(e.id);
  });
  series.forEach((s, i) => {
    if (i % 4 === 0) for (const e of s.episodes.slice(firstPass[i])) order.push(e.id);
  });
  for (let i = 0; order.length < PLAYS; i = (i + 3) % series.length) {
    for (const e of (series[i] as (typeof series)[number]).episodes) order.push(e.id);
  }
  const start = Date.now() - 365 * 86_400_000;
  const ops: object[] = order.slice(0, PLAYS).map((contentId, n) => ({
    op_id: `play-${n}`,
    type: "play.add",
    content_id: contentId,
    watched_at: new Date(start + n * 60_000).toISOString(),
    hlc: hlc(start + n * 60_000, n),
  }));
  series.forEach((s, i) => {
    if (i % 4 !== 1) return;
    const episode = s.episodes[Math.min(s.episodes.length - 1, firstPass[i] as number)] as Item;
    const at = start + (PLAYS + i) * 60_000;
    ops.push({
      op_id: `progress-${i}`,
      type: "progress.set",
      content_id: episode.id,
      position_seconds: 600,
      duration_seconds: 2400,
      state: "paused",
      hlc: hlc(at, PLAYS + i),
    });
  });
  return { ops, plays: Math.min(PLAYS, order.length) };
}

async function load(base: string) {
  const admin = await token("bench-admin", "admin");
  const catalog = benchCatalog();
  for (let i = 0; i < catalog.items.length; i += 500) {
    await api(base, admin, "POST", "/api/v1/admin/catalog", { items: catalog.items.slice(i, i + 500) });
  }
  const user = await token("bench-binge");
  const { ops, plays } = history(catalog.series);
  for (let i = 0; i < ops.length; i += 500) {
    await api(base, user, "POST", "/api/v1/sync/ops", { device_id: "bench-tv", ops: ops.slice(i, i + 500) });
  }
  const recorded = await api(base, user, "GET", "/api/v1/history/plays?limit=1");
  if (!recorded.items.length) throw new Error("no plays recorded");
  return { admin, user, catalog, plays, episodes: catalog.items.filter((i) => i.kind === "episode").length };
}

async function latency(base: string, user: string, seriesIds: string[]) {
  const calls: Record<string, (i: number) => Promise<unknown>> = {
    // The floor is the same user's object: both pay the same hop, auth and object queue.
    "bare DO round trip (floor)": () => api(base, user, "GET", "/api/v1/_bench/ping"),
    "GET /next-up (20 series)": () => api(base, user, "GET", "/api/v1/next-up?limit=20"),
    "GET /series/{id}/progress": (i) =>
      api(base, user, "GET", `/api/v1/series/${seriesIds[i % seriesIds.length]}/progress`),
    "GET /continue-watching (grouped)": () => api(base, user, "GET", "/api/v1/continue-watching?limit=20"),
  };
  const names = Object.keys(calls);
  const samples = new Map<string, number[]>(names.map((n) => [n, []]));
  let round = 0;
  const run = async (record: boolean, rounds: number) => {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, worker) => {
        while (round < rounds) {
          const r = round++;
          // Each round calls every endpoint once, in an order that rotates, so none always goes first.
          for (let k = 0; k < names.length; k++) {
            const name = names[(r + worker + k) % names.length] as string;
            const started = performance.now();
            await (calls[name] as (i: number) => Promise<unknown>)(r);
            if (record) samples.get(name)?.push(performance.now() - started);
          }
        }
      }),
    );
  };
  await run(false, WARMUP_ROUNDS);
  round = 0;
  await run(true, ROUNDS);
  const stats = names.map((name) => {
    const sorted = [...(samples.get(name) as number[])].sort((a, b) => a - b);
    return { name, p50: percentile(sorted, 50), p99: percentile(sorted, 99), n: sorted.length };
  });
  const floor = stats[0] as (typeof stats)[number];
  table(
    `Series reads for a user with ${SERIES} series and ${PLAYS} plays (${ROUNDS} interleaved rounds, ${CONCURRENCY} in flight, after ${WARMUP_ROUNDS} warm-up rounds)`,
    stats.map((s) => ({
      endpoint: s.name,
      requests: s.n,
      "p50 ms": s.p50,
      "p99 ms": s.p99,
      "p50 vs floor": s.p50 / floor.p50,
      "p99 vs floor": s.p99 / floor.p99,
    })),
  );
  for (const s of stats.slice(1, 3)) {
    console.log(`target: ${s.name} p50 within 1.5x of the floor → ${(s.p50 / floor.p50).toFixed(2)}x`);
  }
}

/** Finishes the last episode of a series, adds one to the catalog, and times until Next Up offers it. */
async function newEpisodeDelay(base: string, admin: string, catalog: ReturnType<typeof benchCatalog>) {
  const user = await token("bench-new-episode");
  const series = catalog.series[7] as (typeof catalog.series)[number];
  const last = series.episodes.at(-1) as Item;
  await api(base, user, "PUT", `/api/v1/history/${series.id}/watched`);
  const before = await api(base, user, "GET", `/api/v1/next-up?series_id=${series.id}`);
  if (before.items.length !== 0) throw new Error("a finished series is still in Next Up");
  const episode = {
    ...last,
    id: `${series.id}-s${String((last.season_number ?? 1) + 1).padStart(2, "0")}e01`,
    title: `${last.title} (new season)`,
    season_number: (last.season_number ?? 1) + 1,
    episode_number: 1,
  };
  const started = Date.now();
  await api(base, admin, "POST", "/api/v1/admin/catalog", { items: [episode] });
  for (;;) {
    const now = await api(base, user, "GET", `/api/v1/next-up?series_id=${series.id}`);
    if (now.items[0]?.content_id === episode.id) break;
    if (Date.now() - started > 60_000) throw new Error("the new episode never reached Next Up");
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log(
    `a new episode reaches a finished series' Next Up ${((Date.now() - started) / 1000).toFixed(2)} s after the admin import answered (CATALOG_FACTS_CHECK_SECONDS=5)`,
  );
}

const ROW_TABLES = ["watch_history", "plays", "preference_profiles", "ratings"];

async function rowsWritten(databaseUrl: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("select pg_stat_force_next_flush()").catch(() => {});
    const { rows } = await client.query(
      "select relname, coalesce(n_tup_ins + n_tup_upd, 0)::int as n from pg_stat_user_tables where relname = any($1)",
      [ROW_TABLES],
    );
    return Object.fromEntries(ROW_TABLES.map((t) => [t, rows.find((r) => r.relname === t)?.n ?? 0]));
  } finally {
    await client.end();
  }
}

/** Waits until the consumer has nothing left to write (two readings a second apart agree). */
async function settled(databaseUrl: string): Promise<Record<string, number>> {
  let last = await rowsWritten(databaseUrl);
  for (let i = 0; i < 60; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await rowsWritten(databaseUrl);
    if (ROW_TABLES.every((t) => now[t] === last[t])) return now;
    last = now;
  }
  return last;
}

async function playCount(databaseUrl: string, userId: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query("select count(*)::int as n from plays where user_id = $1 and active", [userId]);
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

/** Episodes finished through real sessions (start, report the end, close), one after the other. */
async function rowsPerPlay(base: string, databaseUrl: string, catalog: ReturnType<typeof benchCatalog>) {
  const userId = "bench-rows";
  const user = await token(userId);
  const episodes = catalog.series.flatMap((s) => s.episodes.slice(0, 3)).slice(0, FINISHES);
  const before = await settled(databaseUrl);
  for (const episode of episodes) {
    const session = await api(base, user, "POST", "/api/v1/sessions", {
      content_id: episode.id,
      device_id: "bench-tv",
      duration_seconds: 2400,
    });
    await api(base, user, "PATCH", `/api/v1/sessions/${session.id}/position`, { position_seconds: 1200 });
    await api(base, user, "PATCH", `/api/v1/sessions/${session.id}/position`, { position_seconds: 2400 });
    await api(base, user, "DELETE", `/api/v1/sessions/${session.id}`);
  }
  const deadline = Date.now() + 60_000;
  while ((await playCount(databaseUrl, userId)) < episodes.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
  }
  const after = await settled(databaseUrl);
  const rows = ROW_TABLES.map((t) => ({ table: t, "rows written": (after[t] ?? 0) - (before[t] ?? 0) }));
  const total = rows.reduce((sum, r) => sum + r["rows written"], 0);
  table(`Postgres rows written per play: ${episodes.length} episodes finished through sessions (4 requests each)`, [
    ...rows.map((r) => ({ ...r, "per play": r["rows written"] / episodes.length })),
    { table: "all", "rows written": total, "per play": total / episodes.length },
  ]);
}

export async function run(): Promise<void> {
  await withBenchStack(
    {
      vars: {
        // The history is uploaded in bulk: the per-user write budget would only slow the setup.
        RATE_LIMIT_WRITES_PER_MINUTE: "1000000",
        RATE_LIMIT_BURST: "1000000",
      },
    },
    async (stack) => {
      const started = Date.now();
      const { admin, user, catalog, plays, episodes } = await load(stack.baseUrl);
      console.log(
        `loaded ${SERIES} series (${episodes} episodes) and a history of ${plays} plays in ${((Date.now() - started) / 1000).toFixed(0)} s`,
      );
      await latency(
        stack.baseUrl,
        user,
        catalog.series.map((s) => s.id),
      );
      await newEpisodeDelay(stack.baseUrl, admin, catalog);
      await rowsPerPlay(stack.baseUrl, stack.databaseUrl, catalog);
    },
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
