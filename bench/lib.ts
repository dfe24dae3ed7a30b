/** Shared measuring helpers for the benchmarks. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { freePort } from "../scripts/local-db";
import { type Stack, type StackOptions, startLocalStack } from "../scripts/stack";
import { LOCAL_DEV_JWT_SECRET } from "../src/config";

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/** Wall and CPU time of one call, p50 and p99 in ms. */
export interface Timing {
  p50: number;
  p99: number;
  /** CPU time (what Workers bill and limit), unaffected by other processes on a shared machine. */
  cpuP50: number;
  cpuP99: number;
}

export function timeEach(count: number, work: (i: number) => void): Timing {
  for (let i = 0; i < Math.min(50, count); i++) work(i); // warm the JIT
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < count; i++) {
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    work(i);
    wall.push(performance.now() - started);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / 1000);
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return {
    p50: percentile(wall, 50),
    p99: percentile(wall, 99),
    cpuP50: percentile(cpu, 50),
    cpuP99: percentile(cpu, 99),
  };
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  mean: number;
  perSecond: number;
}

export function summarize(samplesMs: number[], wallMs: number): LatencySummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean,
    perSecond: (sorted.length / wallMs) * 1000,
  };
}

/** Runs `count` calls of `call` with `concurrency` in flight; returns per-call latencies in ms. */
export async function drive(
  count: number,
  concurrency: number,
  call: (i: number) => Promise<void>,
): Promise<LatencySummary> {
  const samples: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        await call(i);
        samples.push(performance.now() - t);
      }
    }),
  );
  return summarize(samples, performance.now() - started);
}

export function table(title: string, rows: Record<string, string | number>[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0] as object);
  const cells = rows.map((r) => columns.map((c) => format(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => (row[i] as string).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i] as number)).join("  ");
  console.log(line(columns));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of cells) console.log(line(row));
}

function format(value: string | number | undefined): string {
  if (typeof value !== "number") return String(value ?? "");
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 100 ? value.toFixed(0) : Math.abs(value) >= 1 ? value.toFixed(2) : value.toPrecision(3);
}

export async function token(sub: string, role: "user" | "admin" = "user"): Promise<string> {
  return new SignJWT({ role })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("2h")
    .sign(new TextEncoder().encode(LOCAL_DEV_JWT_SECRET));
}

export const BENCH_READ_LIMITS = {
  RATE_LIMIT_READS_PER_MINUTE: "6000000",
  RATE_LIMIT_READ_BURST: "1000000",
  READ_IP_PER_MINUTE: "6000000",
  READ_IP_BURST: "1000000",
};

/** A throwaway local stack (own ports, own data directories), removed when `work` ends. */
export async function withBenchStack<T>(options: StackOptions, work: (stack: Stack) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "mg-bench-"));
  const stack = await startLocalStack({
    port: await freePort(),
    dataDir: join(dir, "pglite"),
    persistTo: join(dir, "state"),
    log: () => {},
    verbose: process.env.BENCH_VERBOSE === "1",
    ...options,
    // Benchmarks send far above one client's rate: read buckets too large to refuse, still checked on every read.
    vars: { BENCH_ROUTES: "true", ...BENCH_READ_LIMITS, ...options.vars },
  });
  try {
    return await work(stack);
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * CPU time (ms) used so far by a process and everything under it (wrangler dev: its node proxy
 * and workerd, which runs the Worker and the Durable Objects). Linux /proc; CLK_TCK is 100.
 */
export function processTreeCpuMs(rootPid: number): number {
  const children = (pid: number): number[] => {
    try {
      return execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
        .split("\n")
        .map((line) => Number(line.trim()))
        .filter((n) => n > 0);
    } catch {
      return []; // no children
    }
  };
  let ticks = 0;
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    pending.push(...children(pid));
    try {
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks * 10;
}

/** A bounded pool of keep-alive connections, as a client SDK or a load balancer would use. */
const agent = new Agent({ keepAlive: true, maxSockets: 16 });

export function request(
  base: string,
  bearer: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      {
        method,
        agent,
        headers: {
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
          ...(payload === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

/**
 * What wrangler dev's local proxy does under load, retried and counted (and printed with each
 * suite): 503 "worker restarted mid-request", and connections it resets (ECONNRESET, "socket
 * hang up"). Neither is an answer of the Worker.
 */
export const devServerRestarts = { count: 0 };
export const connectionResets = { count: 0 };

const RETRIES = 5;

function isConnectionReset(error: unknown): boolean {
  const { code, message } = error as { code?: string; message?: string };
  return code === "ECONNRESET" || code === "EPIPE" || /socket hang up/i.test(message ?? "");
}

/** `request`, retrying what the dev server's proxy resets or refuses mid-restart (counted). */
export async function requestRetrying(...args: Parameters<typeof request>): Promise<{ status: number; text: string }> {
  for (let attempt = 0; ; attempt++) {
    let res: { status: number; text: string };
    try {
      res = await request(...args);
    } catch (error) {
      if (!isConnectionReset(error) || attempt >= RETRIES) throw error;
      connectionResets.count++;
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
      continue;
    }
    if (res.status === 503 && res.text.includes("restarted mid-request") && attempt < RETRIES) {
      devServerRestarts.count++;
      continue;
    }
    return res;
  }
}

export async function api(base: string, bearer: string, method: string, path: string, body?: unknown) {
  const { status, text } = await requestRetrying(base, bearer, method, path, body);
  if (status >= 400) throw new Error(`${method} ${path} → ${status} ${text.slice(0, 200)}`);
  return text ? JSON.parse(text) : null;
}

/** The dev server's retried noise since the last call, as a line to print (empty when none). */
export function takeDevServerNoise(): string {
  const parts = [];
  if (devServerRestarts.count > 0) parts.push(`${devServerRestarts.count} "worker restarted mid-request" 503s`);
  if (connectionResets.count > 0) parts.push(`${connectionResets.count} reset connections`);
  devServerRestarts.count = 0;
  connectionResets.count = 0;
  return parts.length === 0 ? "" : `wrangler dev's proxy: ${parts.join(", ")} (retried, not counted as answers)`;
}

// ---- interleaved measurements against a floor ----

export interface Measure {
  name: string;
  call: (i: number) => Promise<unknown>;
}

export interface InterleavedResult {
  name: string;
  count: number;
  p50: number;
  p99: number;
  /** Per-round p50 over the floor's p50 of the same round: median and interquartile range. */
  ratio: { median: number; q1: number; q3: number };
}

/**
 * Measures calls against a floor (the first measure) so that whatever else the machine does
 * falls on all of them alike: a warm-up of every measure first (discarded), then `rounds`
 * rounds in which each measure runs `perRound` calls at `concurrency`, in an order that rotates
 * every round. A ratio is taken per round, so its spread shows how steady the comparison is.
 */
export async function interleaved(
  measures: readonly Measure[],
  opts: { rounds: number; perRound: number; concurrency: number; warmup: number },
): Promise<InterleavedResult[]> {
  for (const m of measures) await drive(opts.warmup, opts.concurrency, async (i) => void (await m.call(i)));
  const samples = measures.map(() => [] as number[]);
  const roundP50 = measures.map(() => [] as number[]);
  let offset = 0;
  for (let round = 0; round < opts.rounds; round++) {
    for (let k = 0; k < measures.length; k++) {
      const index = (k + round) % measures.length;
      const m = measures[index] as Measure;
      const start = offset;
      offset += opts.perRound;
      const run = await drive(opts.perRound, opts.concurrency, async (i) => {
        const t = performance.now();
        await m.call(start + i);
        (samples[index] as number[]).push(performance.now() - t);
      });
      (roundP50[index] as number[]).push(run.p50);
    }
  }
  const floor = roundP50[0] as number[];
  return measures.map((m, index) => {
    const sorted = [...(samples[index] as number[])].sort((a, b) => a - b);
    const ratios = (roundP50[index] as number[]).map((p, round) => p / (floor[round] as number)).sort((a, b) => a - b);
    return {
      name: m.name,
      count: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      ratio: { median: percentile(ratios, 50), q1: percentile(ratios, 25), q3: percentile(ratios, 75) },
    };
  });
}

/** The table of an `interleaved` run: each measure's p50, p99 and its per-round ratio to the floor. */
export function floorTable(title: string, results: readonly InterleavedResult[]): void {
  table(
    title,
    results.map((r) => ({
      endpoint: r.name,
      n: r.count,
      "p50 ms": r.p50,
      "p99 ms": r.p99,
      "p50 / floor, per round": ratioCell(r.ratio),
    })),
  );
}

/** A ratio with its spread, for a table cell: "1.42× (IQR 1.31–1.55)". */
export function ratioCell(r: { median: number; q1: number; q3: number }): string {
  return `${r.median.toFixed(2)}× (IQR ${r.q1.toFixed(2)}–${r.q3.toFixed(2)})`;
}

/** The median and quartiles of a list of ratios. */
export function ratioSpread(values: readonly number[]): { median: number; q1: number; q3: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), q1: percentile(sorted, 25), q3: percentile(sorted, 75) };
}
