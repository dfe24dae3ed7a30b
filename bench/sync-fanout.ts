/**
 * Fan-out latency: one device of a user writes (a progress update over HTTP); how long until the
 * change arrives on each of the user's 10 other connected sockets. On the local stack (wrangler
 * dev, local Durable Objects, embedded Postgres), or on BENCH_BASE_URL when set.
 * Run alone: npx tsx bench/sync-fanout.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import WebSocket from "ws";
import { freePort } from "../scripts/local-db";
import { type Stack, startLocalStack } from "../scripts/stack";
import { LOCAL_DEV_JWT_SECRET } from "../src/config";

const RECEIVERS = 10;
const WRITES = 100;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

const summary = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
};

async function token(sub: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(process.env.JWT_SECRET ?? LOCAL_DEV_JWT_SECRET));
}

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

export async function run(): Promise<void> {
  let stack: Stack | null = null;
  let scratch: string | null = null;
  let baseUrl = process.env.BENCH_BASE_URL;
  if (!baseUrl) {
    scratch = mkdtempSync(join(tmpdir(), "fanout-"));
    console.log("starting the local stack (wrangler dev, embedded Postgres)…");
    stack = await startLocalStack({
      port: await freePort(),
      dataDir: join(scratch, "pglite"),
      persistTo: join(scratch, "wrangler"),
      log: () => {},
    });
    baseUrl = stack.baseUrl;
  }
  try {
    const user = `fanout-${crypto.randomUUID()}`;
    const jwt = await token(user);
    const receivers = await Promise.all(
      Array.from({ length: RECEIVERS }, (_, i) => receiver(baseUrl as string, jwt, `screen-${i}`)),
    );
    const writer = await receiver(baseUrl, jwt, "writer");
    const perSocket: number[] = [];
    const lastOfAll: number[] = [];
    const writeRoundTrip: number[] = [];
    for (let i = 0; i < WRITES; i++) {
      const position = 1000 + i;
      const arrivals = receivers.map((r) => r.arrival(position));
      const started = performance.now();
      const res = await fetch(`${baseUrl}/api/v1/sync/progress/movie-1`, {
        method: "PUT",
        headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
        body: JSON.stringify({
          position_seconds: position,
          duration_seconds: 7200,
          state: "playing",
          device_id: "writer",
        }),
      });
      writeRoundTrip.push(performance.now() - started);
      if (res.status !== 200) throw new Error(`write ${i}: ${res.status} ${await res.text()}`);
      const times = (await Promise.all(arrivals)).map((t) => t - started);
      perSocket.push(...times);
      lastOfAll.push(Math.max(...times));
    }
    for (const r of [...receivers, writer]) r.close();

    const rows = [
      ["write → each of 10 sockets", summary(perSocket)],
      ["write → last of the 10 sockets", summary(lastOfAll)],
      ["the write's own HTTP round trip (peer)", summary(writeRoundTrip)],
    ] as const;
    const http = summary(writeRoundTrip);
    console.log(`\nFan-out latency, 1 writer + ${RECEIVERS} sockets of one user, ${WRITES} writes (${baseUrl})`);
    console.log("  measure                                    n     p50 ms   p99 ms   mean ms   p50 vs HTTP write");
    for (const [name, s] of rows) {
      console.log(
        `  ${name.padEnd(40)} ${String(s.n).padStart(5)} ${s.p50.toFixed(2).padStart(9)} ${s.p99.toFixed(2).padStart(8)} ${s.mean.toFixed(2).padStart(9)} ${`${(s.p50 / http.p50).toFixed(2)}×`.padStart(19)}`,
      );
    }
  } finally {
    await stack?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
