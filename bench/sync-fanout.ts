/**
 * Fan-out latency: one device of a user writes (a progress update over HTTP); how long until the
 * change arrives on each of the user's 10 other connected sockets. On the local stack (wrangler
 * dev, local Durable Objects, embedded Postgres), or on BENCH_BASE_URL when set. Next to it, in
 * the same run: the write's own HTTP round trip and a bare Durable Object round trip.
 * Run alone: npx tsx bench/sync-fanout.ts
 */
import WebSocket from "ws";
import { percentile, ratioCell, ratioSpread, requestRetrying, table, token, withBenchStack } from "./lib";

const RECEIVERS = 10;
const WRITES = 100;
const WARMUP = 20;

const summary = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
};

interface Receiver {
  /** Resolves with the arrival time of the change carrying `position`. */
  arrival(position: number): Promise<number>;
  close(): void;
}

async function receiver(baseUrl: string, jwt: string, device: string): Promise<Receiver> {
  const url = `${baseUrl.replace(/^http/, "ws")}/api/v1/sync/ws?device_id=${device}`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${jwt}` } });
  const waiting = new Map<number, (t: number) => void>();
  const arrived = new Map<number, number>();
  ws.on("message", (data) => {
    const now = performance.now();
    const message = JSON.parse(String(data)) as { type: string; progress?: { items: { position_seconds: number }[] } };
    if (message.type !== "change") return;
    for (const item of message.progress?.items ?? []) {
      const resolve = waiting.get(item.position_seconds);
      if (resolve) resolve(now);
      else arrived.set(item.position_seconds, now);
    }
  });
  // A socket the dev server resets later fails the waits on it, not the process.
  ws.on("error", (error) => console.error(`${device}: socket error: ${error.message}`));
  await new Promise<void>((resolve, reject) => {
    ws.once("message", () => resolve()); // the hello
    ws.once("error", reject);
  });
  return {
    arrival: (position) =>
      new Promise((resolve, reject) => {
        const early = arrived.get(position);
        if (early !== undefined) return resolve(early);
        const timer = setTimeout(() => reject(new Error(`${device}: no change for ${position} in 10 s`)), 10_000);
        waiting.set(position, (t) => {
          clearTimeout(timer);
          resolve(t);
        });
      }),
    close: () => ws.close(1000),
  };
}

async function measure(baseUrl: string): Promise<void> {
  const user = `fanout-${crypto.randomUUID()}`;
  const jwt = await token(user);
  const receivers = await Promise.all(
    Array.from({ length: RECEIVERS }, (_, i) => receiver(baseUrl, jwt, `screen-${i}`)),
  );
  const writer = await receiver(baseUrl, jwt, "writer");
  const film = (await requestRetrying(baseUrl, jwt, "GET", "/api/v1/content?limit=1")).text;
  const content = (JSON.parse(film) as { items: { id: string }[] }).items[0]?.id ?? "film-the-matrix-1999";
  /** Per measured write: each socket's arrival, the last one, the write's round trip, the floor. */
  const perSocket: { ms: number; floor: number }[] = [];
  const lastOfAll: { ms: number; floor: number }[] = [];
  const writeRoundTrip: { ms: number; floor: number }[] = [];
  const ping: { ms: number; floor: number }[] = [];
  // The floor: a bare Durable Object round trip through the Worker (BENCH_ROUTES), of this user.
  const floor = async () => {
    const t = performance.now();
    const res = await requestRetrying(baseUrl, jwt, "GET", "/api/v1/_bench/ping");
    if (res.status !== 200) throw new Error(`ping: ${res.status} ${res.text}`);
    return performance.now() - t;
  };
  const write = async (position: number) => {
    const arrivals = receivers.map((r) => r.arrival(position));
    const started = performance.now();
    const res = await requestRetrying(baseUrl, jwt, "PUT", `/api/v1/sync/progress/${content}`, {
      position_seconds: position,
      duration_seconds: 7200,
      state: "playing",
      device_id: "writer",
    });
    const http = performance.now() - started;
    if (res.status !== 200) throw new Error(`write ${position}: ${res.status} ${res.text}`);
    return { http, times: (await Promise.all(arrivals)).map((t) => t - started) };
  };
  // Warm-up (discarded), then each write next to a floor measurement, in alternating order.
  for (let i = 0; i < WARMUP; i++) {
    await write(500 + i);
    await floor();
  }
  for (let i = 0; i < WRITES; i++) {
    const position = 1000 + i;
    let bare: number;
    let written: Awaited<ReturnType<typeof write>>;
    if (i % 2 === 0) {
      bare = await floor();
      written = await write(position);
    } else {
      written = await write(position);
      bare = await floor();
    }
    ping.push({ ms: bare, floor: bare });
    writeRoundTrip.push({ ms: written.http, floor: bare });
    perSocket.push(...written.times.map((ms) => ({ ms, floor: bare })));
    lastOfAll.push({ ms: Math.max(...written.times), floor: bare });
  }
  for (const r of [...receivers, writer]) r.close();

  const rows: [string, { ms: number; floor: number }[]][] = [
    ["floor: bare DO round trip (_bench/ping)", ping],
    ["the write's own HTTP round trip", writeRoundTrip],
    [`write → each of ${RECEIVERS} sockets`, perSocket],
    [`write → last of the ${RECEIVERS} sockets`, lastOfAll],
  ];
  table(
    `Fan-out latency: 1 writer + ${RECEIVERS} sockets of one user, ${WRITES} progress writes after ${WARMUP} of warm-up, each next to a floor measurement (${baseUrl})`,
    rows.map(([measure, samples]) => {
      const s = summary(samples.map((x) => x.ms));
      return {
        measure,
        n: s.n,
        "p50 ms": s.p50,
        "p99 ms": s.p99,
        "mean ms": s.mean,
        "/ floor of the same write": ratioCell(ratioSpread(samples.map((x) => x.ms / x.floor))),
      };
    }),
  );
}

export async function run(): Promise<void> {
  const external = process.env.BENCH_BASE_URL;
  if (external) return measure(external);
  // Writes well above a real client's rate: lift the per-user budget for the measurement.
  await withBenchStack({ vars: { RATE_LIMIT_WRITES_PER_MINUTE: "100000", RATE_LIMIT_BURST: "10000" } }, (stack) =>
    measure(stack.baseUrl),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
