/**
 * What the read rate limits cost per request: two local stacks side by side, one with the read
 * limits on (buckets too large to refuse anything, so every request pays the check and none is
 * refused) and one with them off, the same requests sent to each in interleaved rounds after a
 * warm-up. Per scenario: p50 off and on, the difference, and the per-round ratio with its spread.
 * Run alone: npx tsx bench/read-limits.ts
 */
import type { Stack } from "../scripts/stack";
import {
  BENCH_READ_LIMITS,
  drive,
  percentile,
  processTreeCpuMs,
  ratioCell,
  ratioSpread,
  requestRetrying,
  table,
  token,
  withBenchStack,
} from "./lib";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const PER_ROUND = Number(process.env.BENCH_PER_ROUND ?? 100);
const CONCURRENCY = 2;
const OFF = { RATE_LIMIT_READS_PER_MINUTE: "0", READ_IP_PER_MINUTE: "0" };

interface Side {
  base: string;
  /** The stack's wrangler dev, whose process tree's CPU time is counted. */
  pid: number;
  plain: string[];
  family: string[];
}

async function prepare(stack: Stack): Promise<Side> {
  const base = stack.baseUrl;
  const plain = await Promise.all(Array.from({ length: 8 }, (_, i) => token(`bench-reads-${i}`)));
  const family: string[] = [];
  for (let i = 0; i < 8; i++) {
    const email = `bench-reads-${i}-${crypto.randomUUID()}@example.com`;
    const credentials = { email, password: "bench password 1234" };
    await requestRetrying(base, null, "POST", "/api/v1/auth/register", credentials);
    const login = await requestRetrying(base, null, "POST", "/api/v1/auth/login", credentials);
    if (login.status !== 200) throw new Error(`login: ${login.status} ${login.text}`);
    family.push(JSON.parse(login.text).access_token);
  }
  return { base, pid: stack.wrangler.pid as number, plain, family };
}

const scenarios: { name: string; call: (side: Side, i: number) => Promise<{ status: number }> }[] = [
  {
    name: "anonymous GET /search (address bucket)",
    call: (s, i) => requestRetrying(s.base, null, "GET", `/api/v1/search?q=${["matrix", "alien", "titanic"][i % 3]}`),
  },
  {
    name: "anonymous GET /autocomplete (address bucket)",
    call: (s) => requestRetrying(s.base, null, "GET", "/api/v1/autocomplete?q=ma"),
  },
  {
    name: "GET /search, token without family (user bucket: one DO call)",
    call: (s, i) => requestRetrying(s.base, s.plain[i % 8] as string, "GET", "/api/v1/search?q=matrix"),
  },
  {
    name: "GET /resume, token without family (rides on the route's DO call)",
    call: (s, i) => requestRetrying(s.base, s.plain[i % 8] as string, "GET", "/api/v1/resume/film-the-matrix-1999"),
  },
  {
    name: "GET /resume, token with family (rides on the family check)",
    call: (s, i) => requestRetrying(s.base, s.family[i % 8] as string, "GET", "/api/v1/resume/film-the-matrix-1999"),
  },
];

async function measure(off: Side, on: Side): Promise<void> {
  const run = async (side: Side, scenario: (typeof scenarios)[number], count: number, samples?: number[]) =>
    drive(count, CONCURRENCY, async (i) => {
      const t = performance.now();
      const res = await scenario.call(side, i);
      samples?.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`${scenario.name}: ${res.status}`);
    });
  for (const scenario of scenarios) {
    await run(off, scenario, 200);
    await run(on, scenario, 200);
  }
  const results = scenarios.map(() => ({
    off: [] as number[],
    on: [] as number[],
    ratios: [] as number[],
    cpu: new Map<Side, number>([
      [off, 0],
      [on, 0],
    ]),
  }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [k, scenario] of scenarios.entries()) {
      const r = results[k] as (typeof results)[number];
      // Alternate which side goes first, so drift within a round falls on both alike.
      const order: [Side, number[]][] =
        round % 2 === 0
          ? [
              [off, r.off],
              [on, r.on],
            ]
          : [
              [on, r.on],
              [off, r.off],
            ];
      const p50 = new Map<Side, number>();
      for (const [side, samples] of order) {
        const cpuBefore = processTreeCpuMs(side.pid);
        p50.set(side, (await run(side, scenario, PER_ROUND, samples)).p50);
        r.cpu.set(side, (r.cpu.get(side) as number) + processTreeCpuMs(side.pid) - cpuBefore);
      }
      r.ratios.push((p50.get(on) as number) / (p50.get(off) as number));
    }
  }
  const perRequest = ROUNDS * PER_ROUND;
  table(
    `Read rate limits: what they cost per request (${ROUNDS} interleaved rounds of ${PER_ROUND} requests per side after a warm-up, ${CONCURRENCY} in flight; two local stacks, limits off and on; CPU of each stack's wrangler dev and workerd)`,
    scenarios.map((scenario, k) => {
      const r = results[k] as (typeof results)[number];
      const off50 = percentile(
        [...r.off].sort((a, b) => a - b),
        50,
      );
      const on50 = percentile(
        [...r.on].sort((a, b) => a - b),
        50,
      );
      const offCpu = (r.cpu.get(off) as number) / perRequest;
      const onCpu = (r.cpu.get(on) as number) / perRequest;
      return {
        scenario: scenario.name,
        "p50 off ms": off50,
        "p50 on ms": on50,
        "Δ p50 ms": on50 - off50,
        "p50 on / off, per round": ratioCell(ratioSpread(r.ratios)),
        "CPU ms/req off": offCpu,
        "CPU ms/req on": onCpu,
        "Δ CPU ms/req": onCpu - offCpu,
      };
    }),
  );
}

export async function run(): Promise<void> {
  // Writes and logins are only setup here: lift their budgets.
  const common = { AUTH_IP_BURST: "10000", AUTH_ACCOUNT_BURST: "10000" };
  await withBenchStack({ vars: { ...common, ...OFF } }, async (offStack) =>
    withBenchStack({ vars: { ...common, ...BENCH_READ_LIMITS } }, async (onStack) =>
      measure(await prepare(offStack), await prepare(onStack)),
    ),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
