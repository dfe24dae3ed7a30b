/**
 * Costs of accounts and experiments, measured three ways in one run:
 * 1. in this Node process: variant assignment, HS256 verification, PBKDF2;
 * 2. inside workerd (bench/workerd-probe.ts under `wrangler dev`): the same operations, each run
 *    n times per request, minus a bare request;
 * 3. through the real Worker (the local stack): a bare request and a bare Durable Object round
 *    trip, next to the same with a token whose family is checked in the user's Durable Object
 *    (alongside a handler that makes no DO call, or pipelined on the handler's DO call).
 * Run alone: `npx tsx bench/auth.ts` (about a minute).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jwtVerify, SignJWT } from "jose";
import { freePort } from "../scripts/local-db";
import { ROOT } from "../scripts/stack";
import { LOCAL_DEV_JWT_SECRET } from "../src/config";
import { allocate, assignVariant, bucketOf, compileAllocation } from "../src/domain/experiments";
import { PBKDF2_ITERATIONS } from "../src/domain/passwords";
import { percentile, request, table, token, withBenchStack } from "./lib";

interface Row {
  what: string;
  value: number;
  unit: "µs" | "ms";
  note?: string;
}

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

function print(title: string, rows: Row[], baseline?: number) {
  table(
    title,
    rows.map((r) => ({
      measure: r.what,
      value: r.value,
      unit: r.unit,
      ...(baseline ? { "× bare": r.value / baseline } : {}),
      note: r.note ?? "",
    })),
  );
}

// ---- 1. this process ----

async function inProcess(): Promise<Row[]> {
  const compiled = compileAllocation(
    allocate([
      { name: "control", weight: 50 },
      { name: "treatment", weight: 50 },
    ]),
  );
  const users = Array.from({ length: 100_000 }, (_, i) => `user-${i}-${i * 7919}`);
  const timeSync = (work: (i: number) => unknown, n: number) => {
    for (let i = 0; i < 10_000; i++) work(i);
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) work(i);
    return Number(process.hrtime.bigint() - started) / 1000 / n;
  };
  const timeAsync = async (work: () => Promise<unknown>, n: number) => {
    for (let i = 0; i < Math.min(50, n); i++) await work();
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await work();
    return Number(process.hrtime.bigint() - started) / 1000 / n;
  };
  const secret = new TextEncoder().encode(LOCAL_DEV_JWT_SECRET);
  const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
  const token = await new SignJWT({ fid: crypto.randomUUID(), role: "user" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("user-1")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(key);
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode("password"), "PBKDF2", false, [
    "deriveBits",
  ]);
  const pbkdf2 = () =>
    crypto.subtle.deriveBits(
      {
        name: "PBKDF2",
        hash: "SHA-256",
        salt: crypto.getRandomValues(new Uint8Array(16)),
        iterations: PBKDF2_ITERATIONS,
      },
      material,
      256,
    );
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < 20; i++) await pbkdf2();
  const cpuUsed = process.cpuUsage(cpuBefore);
  const pbkdf2Cpu = (cpuUsed.user + cpuUsed.system) / 1000 / 20;
  // What the user's Durable Object does for the family check: a Set lookup among its revoked families.
  const revoked = new Set<string>(Array.from({ length: 1000 }, () => crypto.randomUUID()));
  const presented = Array.from({ length: 1000 }, () => crypto.randomUUID());
  const familyLookup = timeSync((i) => revoked.has(presented[i % 1000] as string), 1_000_000);
  return [
    {
      what: "bucketOf (murmur3 of experiment+user)",
      value: timeSync((i) => bucketOf("home-row", users[i % 100_000] as string), 1_000_000),
      unit: "µs",
    },
    {
      what: "assignVariant (bucket + range lookup)",
      value: timeSync((i) => assignVariant(compiled, "home-row", users[i % 100_000] as string), 1_000_000),
      unit: "µs",
      note: "target < 5 µs",
    },
    {
      what: "jose HS256 verify, imported CryptoKey",
      value: await timeAsync(() => jwtVerify(token, key, { algorithms: ["HS256"] }), 20_000),
      unit: "µs",
    },
    {
      what: "jose HS256 verify, raw secret bytes",
      value: await timeAsync(() => jwtVerify(token, secret, { algorithms: ["HS256"] }), 20_000),
      unit: "µs",
      note: "re-imports the key every call",
    },
    {
      what: `PBKDF2-SHA-256 × ${PBKDF2_ITERATIONS}`,
      value: (await timeAsync(pbkdf2, 20)) / 1000,
      unit: "ms",
      note: `process CPU ${pbkdf2Cpu.toFixed(1)} ms`,
    },
    { what: "family check inside the DO (Set of 1,000 revoked)", value: familyLookup, unit: "µs" },
  ];
}

// ---- 2. inside workerd ----

async function waitFor(url: string, child: ChildProcess, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler exited (${child.exitCode})`);
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer in time`);
}

/** The workerd processes under a wrangler dev child, from /proc; empty elsewhere. */
function findWorkerd(root: number): number[] {
  const found: number[] = [];
  try {
    const parents = new Map<number, number>();
    const names = new Map<number, string>();
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const close = stat.lastIndexOf(")");
        names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, close));
        parents.set(Number(entry), Number(stat.slice(close + 2).split(" ")[1]));
      } catch {}
    }
    const descends = (pid: number): boolean => {
      for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) if (p === root) return true;
      return false;
    };
    for (const [pid, name] of names) if (name === "workerd" && descends(pid)) found.push(pid);
  } catch {}
  return found;
}

/** User + system CPU seconds of a process (clock ticks are 1/100 s on Linux). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function inWorkerd(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), "bench-probe-"));
  const config = join(dir, "wrangler.toml");
  writeFileSync(
    config,
    `name = "bench-probe"\nmain = "${join(ROOT, "bench", "workerd-probe.ts")}"\ncompatibility_date = "2026-04-01"\ncompatibility_flags = ["nodejs_compat"]\n`,
  );
  const port = await freePort();
  const child = spawn(
    join(ROOT, "node_modules", ".bin", "wrangler"),
    [
      "dev",
      "--config",
      config,
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(await freePort()),
      "--persist-to",
      dir,
      "--show-interactive-dev-session=false",
    ],
    { cwd: dir, env: { ...process.env, WRANGLER_SEND_METRICS: "false", FORCE_COLOR: "0" }, stdio: "ignore" },
  );
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}/bare`, child);
    const timeOne = async (path: string) => {
      const started = performance.now();
      const res = await fetch(`${base}${path}`);
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      await res.text();
      return performance.now() - started;
    };
    // CPU seconds of workerd itself (Linux): other load on the machine stretches wall time, not this.
    const workerd = findWorkerd(child.pid as number);
    const cpu = () => (workerd.length === 0 ? Number.NaN : workerd.reduce((sum, pid) => sum + cpuSeconds(pid), 0));
    /** Per operation: wall ms (median of `path` - median of bare) / n, and workerd CPU ms likewise. */
    const perOp = async (path: string, n: number, rounds: number) => {
      await timeOne(`${path}?n=${n}`);
      const bare: number[] = [];
      const work: number[] = [];
      let bareCpu = 0;
      let workCpu = 0;
      for (let i = 0; i < rounds; i++) {
        let before = cpu();
        bare.push(await timeOne("/bare"));
        bareCpu += cpu() - before;
        before = cpu();
        work.push(await timeOne(`${path}?n=${n}`));
        workCpu += cpu() - before;
      }
      return {
        wall: Math.max(0, median(work) - median(bare)) / n,
        cpu: (Math.max(0, workCpu - bareCpu) * 1000) / (rounds * n),
        bare: median(bare),
      };
    };
    const assign = await perOp("/assign", 200_000, 9);
    const verify = await perOp("/verify", 10_000, 9);
    const pbkdf2 = await perOp("/pbkdf2", 10, 9);
    const cpuNote = (ms: number, unit: "µs" | "ms") =>
      Number.isNaN(ms) ? "" : `workerd CPU ${(unit === "µs" ? ms * 1000 : ms).toFixed(unit === "µs" ? 3 : 1)} ${unit}`;
    return [
      { what: "bare request to the probe (HTTP round trip)", value: assign.bare, unit: "ms" },
      {
        what: "assignVariant",
        value: assign.wall * 1000,
        unit: "µs",
        note: `${cpuNote(assign.cpu, "µs")}; target < 5 µs`,
      },
      { what: "jose HS256 verify (CryptoKey)", value: verify.wall * 1000, unit: "µs", note: cpuNote(verify.cpu, "µs") },
      {
        what: `PBKDF2-SHA-256 × ${PBKDF2_ITERATIONS}`,
        value: pbkdf2.wall,
        unit: "ms",
        note: `${cpuNote(pbkdf2.cpu, "ms")}; Workers CPU limit: 10 ms Free, 30 s (default) Paid`,
      },
    ];
  } finally {
    child.kill("SIGINT");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- 3. the real Worker ----

async function throughTheWorker(): Promise<{ rows: Row[]; bare: number }> {
  // Read limits off: these rows measure tokens and the family check alone (`npm run bench -- read-limits`
  // measures what the read limits add).
  const vars = { AUTH_IP_BURST: "10000", AUTH_ACCOUNT_BURST: "10000", RATE_LIMIT_READS_PER_MINUTE: "0" };
  return withBenchStack({ vars }, async (stack) => {
    const base = `${stack.baseUrl}/api/v1`;
    const call = async (method: string, path: string, bearer: string | null = null, body?: unknown) => {
      const res = await request(base, bearer, method, path, body);
      return { status: res.status, json: res.text ? JSON.parse(res.text) : null };
    };
    const created = await call("POST", "/experiments", await token("bench-admin", "admin"), {
      id: "bench-home-row",
      name: "bench",
      variants: [
        { name: "control", weight: 50 },
        { name: "treatment", weight: 50 },
      ],
    });
    if (created.status !== 201 && created.status !== 409) throw new Error(`create experiment: ${created.status}`);
    const email = `bench-${crypto.randomUUID()}@example.com`;
    await call("POST", "/auth/register", null, { email, password: "bench password 1234" });
    const loginOnce = () => call("POST", "/auth/login", null, { email, password: "bench password 1234" });
    const signedIn = await loginOnce();
    if (signedIn.status !== 200) throw new Error(`login: ${signedIn.status}`);
    const withFamily = signedIn.json.access_token as string;
    const withoutFamily = await token(`bench-plain-${crypto.randomUUID()}`);

    const scenarios: { what: string; run: () => Promise<{ status: number }>; expect: number }[] = [
      { what: "bare request (404, no token)", run: () => call("GET", "/bench-nothing-here"), expect: 404 },
      {
        what: "assign: JWT verify, no family",
        run: () => call("GET", "/experiments/bench-home-row/assign", withoutFamily),
        expect: 200,
      },
      {
        what: "assign: JWT verify + family check in the DO",
        run: () => call("GET", "/experiments/bench-home-row/assign", withFamily),
        expect: 200,
      },
      {
        what: "bare DO round trip (_bench/ping), no family",
        run: () => call("GET", "/_bench/ping", withoutFamily),
        expect: 200,
      },
      {
        what: "bare DO round trip + family check pipelined",
        run: () => call("GET", "/_bench/ping", withFamily),
        expect: 200,
      },
    ];
    const samples = scenarios.map(() => [] as number[]);
    for (const s of scenarios) for (let i = 0; i < 20; i++) await s.run(); // warm isolates, DOs, exposure memo
    // Interleaved rounds: load from elsewhere on the machine falls on every scenario alike.
    for (let round = 0; round < 400; round++) {
      for (const [i, s] of scenarios.entries()) {
        const started = performance.now();
        const res = await s.run();
        (samples[i] as number[]).push(performance.now() - started);
        if (res.status !== s.expect) throw new Error(`${s.what}: ${res.status}`);
      }
    }
    const logins: number[] = [];
    for (let i = 0; i < 15; i++) {
      const started = performance.now();
      const res = await loginOnce();
      logins.push(performance.now() - started);
      if (res.status !== 200) throw new Error(`login: ${res.status}`);
    }
    const rows: Row[] = scenarios.map((s, i) => {
      const sorted = [...(samples[i] as number[])].sort((a, b) => a - b);
      return {
        what: s.what,
        value: percentile(sorted, 50),
        unit: "ms",
        note: `p99 ${percentile(sorted, 99).toFixed(2)} ms`,
      };
    });
    rows.push({ what: "login (2 rate-limit DOs + Postgres + PBKDF2)", value: median(logins), unit: "ms" });
    return { rows, bare: median(samples[0] as number[]) };
  });
}

export async function run(): Promise<void> {
  const started = Date.now();
  const node = await inProcess();
  print("Accounts and experiments: this Node process (per call)", node);
  const workerd = await inWorkerd();
  print("Inside workerd (per operation, net of a bare request)", workerd);
  const worker = await throughTheWorker();
  print("Through the Worker under wrangler dev (p50 per request, sequential, keep-alive)", worker.rows, worker.bare);
  const find = (rows: Row[], prefix: string) => rows.find((r) => r.what.startsWith(prefix))?.value ?? Number.NaN;
  const verifyOnly = find(worker.rows, "assign: JWT verify, no family") - worker.bare;
  const familyCheck =
    find(worker.rows, "assign: JWT verify + family") - find(worker.rows, "assign: JWT verify, no family");
  const pipelined =
    find(worker.rows, "bare DO round trip + family") - find(worker.rows, "bare DO round trip (_bench/ping)");
  const signed = (ms: number) => `${ms >= 0 ? "+" : "−"}${Math.abs(ms).toFixed(3)} ms`;
  console.log(`
  token verification + assignment over a bare request: ${signed(verifyOnly)}
  family check where no DO call happens anyway (one DO round trip, alongside the handler): ${signed(familyCheck)}
  family check pipelined on a route that calls the DO anyway: ${signed(pipelined)}
  (${((Date.now() - started) / 1000).toFixed(0)} s)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
