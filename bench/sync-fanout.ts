/**
 * Fan-out latency: one device of a user writes (a progress update over HTTP); how long until the
 * change arrives on each of the user's 10 other connected sockets. On the local stack (wrangler
 * dev, local Durable Objects, embedded Postgres), or on BENCH_BASE_URL when set. Next to it, in
 * the same run: the write's own HTTP round trip and a bare Durable Object round trip.
 * Run alone: npx tsx bench/sync-fanout.ts
 */
import WebSocket from "ws";
import { percentile, request, table, token, withBenchStack } from "./lib";

const RECEIVERS = 10;
const WRITES = 100;

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
  const perSocket: number[] = [];
  const lastOfAll: number[] = [];
  const writeRoundTrip: number[] = [];
  const ping: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    const position = 1000 + i;
    const arrivals = receivers.map((r) => r.arrival(position));
    const started = performance.now();
    const res = await request(baseUrl, jwt, "PUT", "/api/v1/sync/progress/movie-1", {
      position_seconds: position,
      duration_seconds: 7200,
      state: "playing",
      device_id: "writer",
    });
    writeRoundTrip.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`write ${i}: ${res.status} ${res.text}`);
    const times = (await Promise.all(arrivals)).map((t) => t - started);
    perSocket.push(...times);
    lastOfAll.push(Math.max(...times));
    // The floor: a bare Durable Object round trip through the Worker (only with BENCH_ROUTES).
    const t = performance.now();
    if ((await request(baseUrl, jwt, "GET", "/api/v1/_bench/ping")).status === 200) ping.push(performance.now() - t);
  }
  for (const r of [...receivers, writer]) r.close();

  const http = summary(writeRoundTrip);
  const rows: [string, number[]][] = [
    [`write → each of ${RECEIVERS} sockets`, perSocket],
    [`write → last of the ${RECEIVERS} sockets`, lastOfAll],
    ["peer: the write's own HTTP round trip", writeRoundTrip],
    ["peer: bare DO round trip (_bench/ping)", ping],
  ];
  table(
    `Fan-out latency: 1 writer + ${RECEIVERS} sockets of one user, ${WRITES} progress writes (${baseUrl})`,
    rows
      .filter(([, samples]) => samples.length > 0)
      .map(([measure, samples]) => {
        const s = summary(samples);
        return {
          measure,
          n: s.n,
          "p50 ms": s.p50,
          "p99 ms": s.p99,
          "mean ms": s.mean,
          "p50 / HTTP write p50": `${(s.p50 / http.p50).toFixed(2)}×`,
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
