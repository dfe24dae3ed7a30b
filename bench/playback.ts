/**
 * Playback benchmark on the local stack (wrangler dev + embedded Postgres):
 *  1. resume reads and position updates next to a bare Durable Object round trip (the floor);
 *  2. Postgres write amplification: rows written per position update when 100 devices report
 *     every 10 s for 10 minutes, with time compressed by TIME_SCALE (timers scaled alike).
 */
import pg from "pg";
import { api, devServerRestarts, drive, table, token, withBenchStack } from "./lib";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 2000);
const CONCURRENCY = 8;
const DEVICES = 100;
const REPORT_EVERY_S = 10;
const SIMULATED_MINUTES = 10;
const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 10);
const FLUSH_SECONDS = 300;

async function latency(base: string) {
  const users = await Promise.all(Array.from({ length: 16 }, (_, i) => token(`bench-latency-${i}`)));
  const sessions: string[] = [];
  for (const [i, t] of users.entries()) {
    const s = await api(base, t, "POST", "/api/v1/sessions", {
      content_id: `film-${i}`,
      device_id: "tv",
      duration_seconds: 7200,
    });
    await api(base, t, "PATCH", `/api/v1/sessions/${s.id}/position`, { position_seconds: 1800 });
    sessions.push(s.id);
  }
  const pick = (i: number) => i % users.length;
  // Warm every isolate and object first.
  await drive(
    200,
    CONCURRENCY,
    async (i) => void (await api(base, users[pick(i)] as string, "GET", "/api/v1/_bench/ping")),
  );
  const ping = await drive(
    REQUESTS,
    CONCURRENCY,
    async (i) => void (await api(base, users[pick(i)] as string, "GET", "/api/v1/_bench/ping")),
  );
  const resume = await drive(REQUESTS, CONCURRENCY, async (i) => {
    await api(base, users[pick(i)] as string, "GET", `/api/v1/resume/film-${pick(i)}`);
  });
  const update = await drive(REQUESTS, CONCURRENCY, async (i) => {
    await api(base, users[pick(i)] as string, "PATCH", `/api/v1/sessions/${sessions[pick(i)]}/position`, {
      position_seconds: 1800 + i,
    });
  });
  table(`Playback latency on the local stack (${REQUESTS} requests each, ${CONCURRENCY} in flight)`, [
    {
      endpoint: "bare DO round trip (floor)",
      "p50 ms": ping.p50,
      "p99 ms": ping.p99,
      "req/s": ping.perSecond,
      "p50 vs floor": 1,
    },
    {
      endpoint: "GET /resume/{id}",
      "p50 ms": resume.p50,
      "p99 ms": resume.p99,
      "req/s": resume.perSecond,
      "p50 vs floor": resume.p50 / ping.p50,
    },
    {
      endpoint: "PATCH /sessions/{id}/position",
      "p50 ms": update.p50,
      "p99 ms": update.p99,
      "req/s": update.perSecond,
      "p50 vs floor": update.p50 / ping.p50,
    },
  ]);
  console.log(`target: resume p50 within 1.5x of the floor → ${(resume.p50 / ping.p50).toFixed(2)}x`);
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
  const devices = await Promise.all(
    Array.from({ length: DEVICES }, async (_, i) => {
      const t = await token(`bench-amp-${i % 25}`);
      const s = await api(base, t, "POST", "/api/v1/sessions", {
        content_id: `amp-${i}`,
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
  if (devServerRestarts.count > 0) {
    console.log(
      `wrangler dev's proxy answered "worker restarted mid-request" ${devServerRestarts.count} times (retried)`,
    );
  }
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
