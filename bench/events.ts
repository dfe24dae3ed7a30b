/**
 * Event delivery, two tables.
 *
 * 1. Inside one user's Durable Object: events per second through the outbox to the mirror's queue
 *    alone, and to the mirror plus the two subscriber queues of the local stack (EVENT_SUBSCRIBERS:
 *    one takes every type, one only progress, plays and the watchlist), on the local stack's real
 *    queues (wrangler dev): append N events, then drain until every target has them. The
 *    consumer and webhooks run downstream of both alike and are not timed there.
 * 2. End to end, through the public API: users mark films watched (PUT /history/{id}/watched,
 *    two events each: progress-changed and play-completed, both of which every target takes)
 *    until the consumer has applied every event to Postgres (rows in `event_log`, read from the
 *    bench process), on three local stacks side by side: (A) the mirror alone (no subscribers,
 *    no webhook), (C) the mirror and the two subscriber queues, and (B) those plus one admin
 *    webhook (scope "all", every type) pointing at a recording server on 127.0.0.1, where a round
 *    ends when the mirror has every event AND the webhook server has received every one. B
 *    against A is the issue's target; C tells the subscribers' share from the webhook's. The
 *    subscriber queues have no consumer under wrangler dev and a user's per-target cursors are
 *    not readable over HTTP, so their delivery is not observed from outside: the outbox sends to
 *    every target in the same alarm run, in order, before an event leaves it.
 *    What B adds over C: the consumer tries the webhook deliveries in its invocation's
 *    waitUntil, and a queue consumer's batch is acknowledged only once waitUntil has settled
 *    (Cloudflare's default; the compatibility flag queue_consumer_no_wait_for_wait_until changes
 *    it), so under wrangler dev, one batch at a time, the next batch waits for those tries.
 *
 * Each table is measured in the same run, interleaved after a warm-up; ratios are taken per round.
 * The stacks use embedded PGlite; with BENCH_DATABASE_URL (a PostgreSQL server, e.g.
 * postgres://postgres@127.0.0.1:5432/test) each gets a throwaway database of its own there.
 * Run alone: npx tsx bench/events.ts (about three minutes).
 */
import pg from "pg";
import type { Stack } from "../scripts/stack";
import { startWebhookRecorder, type WebhookRecorder } from "../scripts/webhook-recorder";
import {
  api,
  drive,
  interleaved,
  percentile,
  ratioCell,
  ratioSpread,
  requestRetrying,
  table,
  token,
  withBenchStack,
} from "./lib";

/** Events per measured call: about three minutes of one playing session's reports and checkpoints. */
const EVENTS = 200;
const ROUNDS = 12;
const PER_ROUND = 3;
const WARMUP = 3;

interface OutboxRun {
  events: number;
  targets: string[];
  sent: number;
  ms: number;
}

async function measureInObject(baseUrl: string): Promise<void> {
  const jwt = await token(`events-${crypto.randomUUID()}`);
  const inside: Record<string, number[]> = { mirror: [], fanout: [] };
  const targets: Record<string, string[]> = {};
  const call = (kind: "mirror" | "fanout") => async () => {
    const res = await requestRetrying(
      baseUrl,
      jwt,
      "POST",
      `/api/v1/_bench/outbox?events=${EVENTS}&fanout=${kind === "fanout" ? 1 : 0}`,
    );
    if (res.status !== 200) throw new Error(`${kind}: ${res.status} ${res.text}`);
    const run = JSON.parse(res.text) as OutboxRun;
    inside[kind]?.push(run.ms);
    targets[kind] = run.targets;
  };
  const results = await interleaved(
    [
      { name: "mirror alone (EVENTS)", call: call("mirror") },
      { name: "mirror + 2 subscriber queues", call: call("fanout") },
      // Webhooks: when their delivery exists, a third measure goes here (mirror + 2 subscribers + 1 webhook).
    ],
    { rounds: ROUNDS, perRound: PER_ROUND, concurrency: 1, warmup: WARMUP },
  );
  const median = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  const kinds = ["mirror", "fanout"] as const;
  table(
    `Events through one user's outbox, ${EVENTS} per call (half position reports, half progress checkpoints), ${ROUNDS} rounds × ${PER_ROUND} calls after ${WARMUP} of warm-up, interleaved (${baseUrl})`,
    results.map((r, i) => {
      const kind = kinds[i] as (typeof kinds)[number];
      const insideMs = median(inside[kind] ?? []);
      return {
        measure: r.name,
        targets: (targets[kind] ?? []).join(" "),
        n: r.count,
        "call p50 ms": r.p50,
        "call p99 ms": r.p99,
        "events/s (call p50)": Math.round((EVENTS / r.p50) * 1000),
        "in object ms (median)": insideMs,
        "events/s in object": insideMs > 0 ? Math.round((EVENTS / insideMs) * 1000) : "-",
        "/ mirror alone, per round": ratioCell(r.ratio),
      };
    }),
  );
  const fanout = results[1];
  if (fanout) {
    const verdict = fanout.ratio.median <= 1.5 ? "within" : "ABOVE";
    console.log(`fan-out / mirror alone: ${fanout.ratio.median.toFixed(2)}× (${verdict} the 1.5× target)`);
  }
}

// ---- end to end: writes through the API → outbox → queue → consumer → Postgres (and webhook) ----

/** Users writing at once in a round, each marking WRITES films watched one after the other. */
const E2E_USERS = 16;
const E2E_WRITES = 16;
/** progress-changed and play-completed: a film marked watched for the first time. */
const EVENTS_PER_WRITE = 2;
const E2E_ROUNDS = 10;
const E2E_WARMUP = 1;
/** Postgres is read this often for the round's event count (the same for both stacks). */
const E2E_POLL_MS = 25;
const E2E_ROUND_TIMEOUT_MS = 60_000;

interface Config {
  /** What the table prints. */
  name: string;
  stack: Stack;
  db: pg.Client;
  webhook: boolean;
  /** The round's times: events/s, whole-round ms and the writes' share. */
  rates: number[];
  roundMs: number[];
  writeMs: number[];
  /** From the first write to the mirror having every event, and (B) to the webhook server having every one. */
  mirrorMs: number[];
  webhookMs: number[];
}

interface Arrivals {
  /** Users of the round being waited for → event ids received, and when the last one came. */
  users: Set<string>;
  ids: Set<string>;
  lastAt: number;
  /** Write acknowledged (per user/content) → the webhook's progress-changed received, ms. */
  acked: Map<string, number>;
  latencies: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function e2eRound(cfg: Config, films: string[], arrivals: Arrivals, label: string, keep: boolean) {
  const tag = `${label}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  const users = await Promise.all(
    Array.from({ length: E2E_USERS }, async (_, u) => {
      const id = `bench-e2e-${cfg.webhook ? "b" : "a"}-${tag}-${u}`;
      return { id, jwt: await token(id) };
    }),
  );
  const expected = E2E_USERS * E2E_WRITES * EVENTS_PER_WRITE;
  if (cfg.webhook) {
    arrivals.users = new Set(users.map((u) => u.id));
    arrivals.ids = new Set();
    arrivals.lastAt = 0;
    arrivals.acked.clear();
  }
  const started = performance.now();
  // One client per user, its writes one after the other; the users at once.
  await drive(users.length, users.length, async (u) => {
    const user = users[u] as { id: string; jwt: string };
    for (let w = 0; w < E2E_WRITES; w++) {
      const film = films[w] as string;
      const res = await requestRetrying(cfg.stack.baseUrl, user.jwt, "PUT", `/api/v1/history/${film}/watched`);
      if (res.status !== 200) throw new Error(`${cfg.name}: PUT watched → ${res.status} ${res.text.slice(0, 200)}`);
      if (cfg.webhook && keep) arrivals.acked.set(`${user.id}/${film}`, performance.now());
    }
  });
  const written = performance.now();
  const ids = users.map((u) => u.id);
  let mirroredAt = 0;
  let logged = 0;
  for (;;) {
    if (!mirroredAt) {
      const { rows } = await cfg.db.query<{ n: string }>(
        "select count(*) as n from event_log where user_id = any($1::text[])",
        [ids],
      );
      logged = Number(rows[0]?.n ?? 0);
      if (logged >= expected) mirroredAt = performance.now();
    }
    const hooked = !cfg.webhook || arrivals.ids.size >= expected;
    if (mirroredAt && hooked) break;
    if (performance.now() - started > E2E_ROUND_TIMEOUT_MS) {
      throw new Error(
        `${cfg.name}: after ${E2E_ROUND_TIMEOUT_MS / 1000} s the mirror has ${logged} of ${expected} events` +
          (cfg.webhook ? `, the webhook server ${arrivals.ids.size}` : ""),
      );
    }
    await sleep(E2E_POLL_MS);
  }
  if (logged !== expected) throw new Error(`${cfg.name}: ${logged} events logged, expected ${expected}`);
  const ended = cfg.webhook ? Math.max(mirroredAt, arrivals.lastAt) : mirroredAt;
  if (keep) {
    cfg.rates.push((expected / (ended - started)) * 1000);
    cfg.roundMs.push(ended - started);
    cfg.writeMs.push(written - started);
    cfg.mirrorMs.push(mirroredAt - started);
    if (cfg.webhook) cfg.webhookMs.push(arrivals.lastAt - started);
  }
  return ended - started;
}

const noFigures = () => ({ rates: [], roundMs: [], writeMs: [], mirrorMs: [], webhookMs: [] });

async function measureEndToEnd(
  stacks: { mirror: Stack; subscribers: Stack; fanout: Stack },
  recorder: WebhookRecorder,
  postgres: string,
): Promise<void> {
  const connect = async (stack: Stack) => {
    const db = new pg.Client({ connectionString: stack.databaseUrl });
    await db.connect();
    return db;
  };
  const config = async (name: string, stack: Stack, webhook: boolean): Promise<Config> => ({
    name,
    stack,
    db: await connect(stack),
    webhook,
    ...noFigures(),
  });
  // The floor first; the issue's fan-out last; between them the subscriber queues without the webhook, to tell the two costs apart.
  const configs: Config[] = [
    await config("A: mirror alone", stacks.mirror, false),
    await config("C: mirror + 2 subscriber queues", stacks.subscribers, false),
    await config("B: mirror + 2 subscriber queues + 1 webhook", stacks.fanout, true),
  ];
  const b = stacks.fanout;
  const arrivals: Arrivals = { users: new Set(), ids: new Set(), lastAt: 0, acked: new Map(), latencies: [] };
  recorder.onDelivery = (_name, delivery) => {
    const event = JSON.parse(delivery.body) as {
      event_id: string;
      type: string;
      user_id: string;
      data: { content_id?: string };
    };
    if (!arrivals.users.has(event.user_id)) return;
    const at = performance.now();
    if (!arrivals.ids.has(event.event_id)) {
      arrivals.ids.add(event.event_id);
      arrivals.lastAt = at;
    }
    if (event.type === "progress-changed") {
      const key = `${event.user_id}/${event.data.content_id}`;
      const acked = arrivals.acked.get(key);
      if (acked !== undefined) {
        arrivals.latencies.push(at - acked);
        arrivals.acked.delete(key);
      }
    }
  };
  let webhookId = "";
  const admin = await token(`bench-admin-${Date.now()}`, "admin");
  try {
    const created = (await api(b.baseUrl, admin, "POST", "/api/v1/webhooks", {
      url: `http://${recorder.address}/hook/events-e2e`,
      events: ["*"],
      scope: "all",
    })) as { id: string };
    webhookId = created.id;
    const { rows } = await configs[0]!.db.query<{ id: string }>(
      "select id from content where kind = 'movie' order by id limit $1",
      [E2E_WRITES],
    );
    const films = rows.map((r) => r.id);
    if (films.length < E2E_WRITES) throw new Error(`only ${films.length} films in the catalog`);

    const perRound = E2E_USERS * E2E_WRITES * EVENTS_PER_WRITE;
    const t0 = Date.now();
    for (let i = 0; i < E2E_WARMUP; i++) {
      for (const cfg of configs) await e2eRound(cfg, films, arrivals, `w${i}`, false);
    }
    console.log(`end to end: warm-up done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const ratios = configs.map(() => [] as number[]);
    for (let round = 0; round < E2E_ROUNDS; round++) {
      const ms = configs.map(() => 0);
      // The order rotates every round, so no configuration always follows the same one.
      for (let k = 0; k < configs.length; k++) {
        const i = (k + round) % configs.length;
        ms[i] = await e2eRound(configs[i] as Config, films, arrivals, `r${round}`, true);
      }
      const floor = ms[0] as number;
      for (const [i, m] of ms.entries()) ratios[i]?.push(m / floor);
      console.log(
        `end to end: round ${round + 1}/${E2E_ROUNDS} (${perRound} events each): ${configs
          .map((c, i) => `${c.name.slice(0, 1)} ${((ms[i] as number) / 1000).toFixed(2)} s`)
          .join(", ")}; B/A ${((ms[2] as number) / floor).toFixed(2)}×`,
      );
    }
    const median = (xs: number[]) =>
      percentile(
        [...xs].sort((x, y) => x - y),
        50,
      );
    const spreads = ratios.map((r) => ratioSpread(r));
    const spread = spreads[2] as ReturnType<typeof ratioSpread>;
    const latencies = [...arrivals.latencies].sort((x, y) => x - y);
    table(
      `Events end to end: ${E2E_USERS} users at once × ${E2E_WRITES} films marked watched each (PUT /history/{id}/watched, ${EVENTS_PER_WRITE} events per write: ${perRound} per round) until every event is in Postgres (event_log, polled every ${E2E_POLL_MS} ms) and, in B, at the webhook server; ${E2E_ROUNDS} rounds per stack after ${E2E_WARMUP} of warm-up, order rotating; three wrangler dev stacks side by side, each with its own ${postgres}; OUTBOX_LINGER_MS default (250), queue max_batch_timeout 1 s; times are medians from the first write`,
      configs.map((cfg, i) => ({
        measure: cfg.name,
        rounds: cfg.rates.length,
        "events/s (median)": Math.round(median(cfg.rates)),
        "events/s min–max": `${Math.round(Math.min(...cfg.rates))}–${Math.round(Math.max(...cfg.rates))}`,
        "round s": median(cfg.roundMs) / 1000,
        "writes acked s": median(cfg.writeMs) / 1000,
        "mirror has all s": median(cfg.mirrorMs) / 1000,
        "webhook has all s": cfg.webhook ? median(cfg.webhookMs) / 1000 : "-",
        "round time / A, per round": i === 0 ? "1" : ratioCell(spreads[i] as ReturnType<typeof ratioSpread>),
      })),
    );
    const verdict = spread.median <= 1.5 ? "within" : "ABOVE";
    console.log(
      `end to end, fan-out / mirror alone: ${spread.median.toFixed(2)}× (IQR ${spread.q1.toFixed(2)}–${spread.q3.toFixed(2)}; ${verdict} the 1.5× target)`,
    );
    if (latencies.length > 0) {
      console.log(
        `webhook under this load, write acknowledged → progress-changed received: p50 ${Math.round(percentile(latencies, 50))} ms, p99 ${Math.round(percentile(latencies, 99))} ms (n ${latencies.length}; one write at a time with no load: npm run bench -- webhooks)`,
      );
    }
  } finally {
    recorder.onDelivery = null;
    if (webhookId) {
      await requestRetrying(b.baseUrl, admin, "DELETE", `/api/v1/webhooks/${webhookId}`).catch(() => {});
    }
    for (const cfg of configs) await cfg.db.end();
  }
}

/** Empty databases on a PostgreSQL server (BENCH_DATABASE_URL), one per stack, dropped afterwards. */
async function throwawayDatabases(serverUrl: string, suffixes: string[]) {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const version = (await admin.query<{ server_version: string }>("show server_version")).rows[0]?.server_version;
  const names = suffixes.map((s) => `bench_events_${process.pid}_${s}`);
  for (const name of names) await admin.query(`create database "${name}"`);
  return {
    where: `PostgreSQL ${version} server (${new URL(serverUrl).host})`,
    urls: names.map((name) => {
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      return url.toString();
    }),
    drop: async () => {
      for (const name of names) await admin.query(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}

export async function run(): Promise<void> {
  const external = process.env.BENCH_BASE_URL;
  if (external) {
    await measureInObject(external);
    console.log("(end to end: skipped with BENCH_BASE_URL; it starts its own two stacks)");
    return;
  }
  const server = process.env.BENCH_DATABASE_URL;
  const databases = server ? await throwawayDatabases(server, ["a", "c", "b"]) : null;
  const postgres = databases ? `database on ${databases.where}` : "embedded PGlite";
  const recorder = await startWebhookRecorder();
  try {
    // A: the mirror alone. B: as the local stack runs (the two subscriber queues), plus the webhook.
    await withBenchStack({ vars: { EVENT_SUBSCRIBERS: "[]" }, databaseUrl: databases?.urls[0] }, (a) =>
      withBenchStack({ databaseUrl: databases?.urls[1] }, (c) =>
        withBenchStack({ databaseUrl: databases?.urls[2] }, async (b) => {
          console.log(
            `end to end: stacks up (A ${a.baseUrl}, C ${c.baseUrl}, B ${b.baseUrl}, ${postgres}), webhook server ${recorder.address}`,
          );
          await measureEndToEnd({ mirror: a, subscribers: c, fanout: b }, recorder, postgres);
          await measureInObject(b.baseUrl);
        }),
      ),
    );
  } finally {
    await recorder.stop();
    await databases?.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
