/**
 * Event delivery: events per second through one user's outbox to the mirror's queue alone, and
 * to the mirror plus the two subscriber queues of the local stack (EVENT_SUBSCRIBERS: one takes
 * every type, one only progress, plays and the watchlist). Inside the user's Durable Object, on
 * the local stack's real queues (wrangler dev): append N events, then drain until every target
 * has them. Both measured in the same run, interleaved after a warm-up; the ratio is taken per
 * round. The Postgres mirror's consumer runs downstream of both alike and is not timed here.
 * Run alone: npx tsx bench/events.ts
 */
import { interleaved, percentile, ratioCell, requestRetrying, table, token, withBenchStack } from "./lib";

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

async function measure(baseUrl: string): Promise<void> {
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

export async function run(): Promise<void> {
  const external = process.env.BENCH_BASE_URL;
  if (external) return measure(external);
  await withBenchStack({}, (stack) => measure(stack.baseUrl));
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
