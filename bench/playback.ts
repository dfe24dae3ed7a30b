/**
 * Playback benchmark on the local stack (wrangler dev + embedded Postgres):
 *  1. resume reads and position updates next to a bare Durable Object round trip (the floor);
 *  2. Postgres write amplification: rows written per position update when 100 devices report
 *     every 10 s for 10 minutes, with time compressed by TIME_SCALE (timers scaled alike).
 */
import pg from "pg";
import { api, floorTable, interleaved, table, token, withBenchStack } from "./lib";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const CONCURRENCY = 8;
const ROUNDS = 20;
const DEVICES = 100;
const REPORT_EVERY_S = 10;
const SIMULATED_MINUTES = 10;
const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 10);
const FLUSH_SECONDS = 300;

async function latency(base: string) {
  const users = await Promise.all(Array.from({ length: 16 }, (_, i) => token(`bench-latency-${i}`)));
  const films = (await api(base, users[0] as string, "GET", "/api/v1/content?limit=16")).items.map(
    (item: { id: string }) => item.id,
  ) as string[];
  const sessions: string[] = [];
  for (const [i, t] of users.entries()) {
    const s = await api(base, t, "POST", "/api/v1/sessions", {
      content_id: films[i % films.length],
      device_id: "tv",
      duration_seconds: 7200,
    });
    await api(base, t, "PATCH", `/api/v1/sessions/${s.id}/position`, { position_seconds: 1800 });
    sessions.push(s.id);
  }
  const pick = (i: number) => i % users.length;
  const user = (i: number) => users[pick(i)] as string;
  const results = await interleaved(
    [
      { name: "bare DO round trip (floor)", call: (i) => api(base, user(i), "GET", "/api/v1/_bench/ping") },
      {
        name: "GET /resume/{id}",
        call: (i) => api(base, user(i), "GET", `/api/v1/resume/${films[pick(i) % films.length]}`),
      },
      {
        name: "PATCH /sessions/{id}/position",
        call: (i) =>
          api(base, user(i), "PATCH", `/api/v1/sessions/${sessions[pick(i)]}/position`, { position_seconds: 1800 + i }),
      },
    ],
    { rounds: ROUNDS, perRound: Math.ceil(REQUESTS / ROUNDS), concurrency: CONCURRENCY, warmup: 200 },
  );
  floorTable(
    `Playback latency on the local stack (${REQUESTS} requests each in ${ROUNDS} interleaved rounds after a warm-up, ${CONCURRENCY} in flight)`,
    results,
  );
  const resume = results[1] as (typeof results)[number];
  console.log(`target: resume p50 within 1.5x of the floor → ${resume.ratio.median.toFixed(2)}x`);
}

async function rowsWritten(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query("select pg_stat_force_next_flush()").catch(() => {});
    const { rows } = await client.query(
      "select coalesce(n_tup_ins + n_tup_upd, 0)::int as n from pg_stat_user_tables where relname = 'watch_history'",
    );
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

async function amplification(base: string, databaseUrl: string) {
  const intervalMs = (REPORT_EVERY_S * 1000) / TIME_SCALE;
  const reportsPerDevice = (SIMULATED_MINUTES * 60) / REPORT_EVERY_S;
  const catalog = (
    await api(base, await token("bench-amp-catalog"), "GET", `/api/v1/content?limit=${DEVICES}`)
  ).items.map((item: { id: string }) => item.id) as string[];
  const devices = await Promise.all(
    Array.from({ length: DEVICES }, async (_, i) => {
      const t = await token(`bench-amp-${i % 25}`);
      const s = await api(base, t, "POST", "/api/v1/sessions", {
        content_id: catalog[i % catalog.length],
        device_id: `device-${i}`,
        duration_seconds: 7200,
      });
      return { t, id: s.id as string };
    }),
  );
  const before = await rowsWritten(databaseUrl);
  let updates = 0;
  const started = Date.now();
  await Promise.all(
    devices.map(async (device, d) => {
      await new Promise((r) => setTimeout(r, (d / DEVICES) * intervalMs));
      for (let n = 1; n <= reportsPerDevice; n++) {
        const due = started + (d / DEVICES) * intervalMs + n * intervalMs;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
        await api(base, device.t, "PATCH", `/api/v1/sessions/${device.id}/position`, {
          position_seconds: n * REPORT_EVERY_S,
        });
        updates++;
      }
      // The player closes after its last report: the session's final write-through.
      await api(base, device.t, "DELETE", `/api/v1/sessions/${device.id}`);
    }),
  );
  await new Promise((r) => setTimeout(r, 5000));
  const written = (await rowsWritten(databaseUrl)) - before;
  table(
    `Postgres write amplification: ${DEVICES} devices, a report every ${REPORT_EVERY_S} s for ${SIMULATED_MINUTES} min (time x${TIME_SCALE})`,
    [
      { design: "one row write per report (the seeds' design)", updates, "rows written": updates, "rows/update": 1 },
      { design: "this service", updates, "rows written": written, "rows/update": written / updates },
    ],
  );
  const wall = (Date.now() - started) / 1000;
  const nominal = (SIMULATED_MINUTES * 60) / TIME_SCALE;
  console.log(`target ≤ 0.05 rows per update → ${(written / updates).toFixed(4)}`);
  console.log(
    `wall ${wall.toFixed(0)} s for a nominal ${nominal} s: ${wall > nominal * 1.1 ? "the machine could not keep the pace, so devices reported less often than every 10 s of simulated time (this raises the ratio)" : "on pace"}`,
  );
}

export async function run(): Promise<void> {
  const part = process.env.BENCH_PART;
  if (part !== "amplification") await withBenchStack({}, async (stack) => latency(stack.baseUrl));
  if (part === "latency") return;
  await withBenchStack(
    { vars: { HISTORY_FLUSH_SECONDS: String(Math.round(FLUSH_SECONDS / TIME_SCALE)), SESSION_IDLE_SECONDS: "3600" } },
    async (stack) => amplification(stack.baseUrl, stack.databaseUrl),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
