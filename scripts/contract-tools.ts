/**
 * `npm run contract:tools`: outside tools that nobody here wrote, pointed at `/openapi.json` of a
 * throwaway local stack (own ports, own embedded database, removed afterwards):
 * - Prism (@stoplight/prism-cli) as a validating proxy in front of the stack while a client's
 *   journey runs through it; every request and answer that departs from the document is listed
 *   (Prism's `sl-violations`);
 * - Portman (@apideck/portman) turns the document into a Postman collection with contract tests
 *   for every operation, which Newman runs against the stack.
 * The tools come from the npm registry through npx at pinned versions; they are not dependencies
 * of the project. Newman's failures include operations whose example request is refused by the
 * service (an example session id names no session): those are listed apart from contract breaks.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { LOCAL_DEV_JWT_SECRET } from "../src/config";
import { freePort, portAnswers } from "./local-db";
import { startLocalStack } from "./stack";

const PRISM = "@stoplight/prism-cli@5.16.0";
const PORTMAN = "@apideck/portman@1.33.0";
// Portman's package leaves out tslib, which its build requires.
const PORTMAN_NPX = ["--yes", `--package=${PORTMAN}`, "--package=tslib@2", "--", "portman"];
const NEWMAN = "newman@6.2.2";
const MATRIX = "film-the-matrix-1999";

const dir = mkdtempSync(join(tmpdir(), "mg-contract-tools-"));
const children: ChildProcess[] = [];

function token(sub: string, admin = false) {
  return new SignJWT({ role: admin ? "admin" : "user" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(LOCAL_DEV_JWT_SECRET));
}

function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: dir, env: { ...process.env, NO_UPDATE_NOTIFIER: "1" } });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

interface Step {
  name: string;
  method: string;
  path: string;
  token?: string | null;
  body?: unknown;
  raw?: string;
  type?: string;
  /** Deliberately outside the document (a wrong method or media type): the request is expected to be flagged. */
  outside?: boolean;
}

/** A client's journey: anonymous search, playback and resume, sync, devices, admin catalog writes, and the edges. */
function journey(user: string, admin: string): Step[] {
  const older = `${String(Date.now() - 60_000).padStart(15, "0")}:000000:phone`;
  const progress = { position_seconds: 600, duration_seconds: 8160, state: "paused", hlc: older };
  return [
    { name: "health", method: "GET", path: "/health" },
    { name: "anonymous search", method: "GET", path: "/api/v1/search?q=teh%20matrix" },
    { name: "anonymous POST search", method: "POST", path: "/api/v1/search", body: { query: "matrix" } },
    { name: "anonymous autocomplete", method: "GET", path: "/api/v1/autocomplete?q=matr" },
    { name: "content", method: "GET", path: `/api/v1/content/${MATRIX}` },
    {
      name: "start a session",
      method: "POST",
      path: "/api/v1/sessions",
      token: user,
      body: { content_id: MATRIX, device_id: "tv", duration_seconds: 8160 },
    },
    { name: "resume", method: "GET", path: `/api/v1/resume/${MATRIX}`, token: user },
    { name: "continue watching", method: "GET", path: "/api/v1/continue-watching", token: user },
    { name: "progress write", method: "PUT", path: `/api/v1/sync/progress/${MATRIX}`, token: user, body: progress },
    { name: "clear the item", method: "DELETE", path: `/api/v1/history/${MATRIX}`, token: user },
    {
      name: "late progress write",
      method: "PUT",
      path: `/api/v1/sync/progress/${MATRIX}`,
      token: user,
      body: progress,
    },
    { name: "watchlist add", method: "PUT", path: `/api/v1/sync/watchlist/${MATRIX}`, token: user },
    { name: "sync state", method: "GET", path: "/api/v1/sync", token: user },
    {
      name: "device",
      method: "PUT",
      path: "/api/v1/devices/tv",
      token: user,
      body: { device_type: "TV", platform: "tvOS", capabilities: {}, app_version: "1", device_name: "TV" },
    },
    {
      name: "catalog import with a title",
      method: "POST",
      path: "/api/v1/admin/catalog",
      token: admin,
      body: {
        items: [{ id: `film-contract-tools-${Date.now()}`, kind: "movie", title: "Contract Tools", genres: ["Drama"] }],
        reindex: false,
      },
    },
    {
      name: "spelling correction",
      method: "PUT",
      path: "/api/v1/admin/spell-corrections",
      token: admin,
      body: { corrections: [{ misspelled: "matirx", corrected: "matrix" }] },
    },
    {
      name: "unknown content",
      method: "POST",
      path: "/api/v1/sessions",
      token: user,
      body: { content_id: "film-no-such-thing-2099", device_id: "tv", duration_seconds: 60 },
    },
    {
      name: "body too large",
      method: "PUT",
      path: `/api/v1/sync/progress/${MATRIX}`,
      token: user,
      raw: JSON.stringify({ ...progress, padding: "x".repeat(300 * 1024) }),
    },
    {
      name: "not JSON",
      method: "PUT",
      path: `/api/v1/sync/progress/${MATRIX}`,
      token: user,
      raw: "position=1",
      type: "text/plain",
      outside: true,
    },
    { name: "wrong method", method: "DELETE", path: "/api/v1/sessions", token: user, outside: true },
  ];
}

async function prism(docPath: string, target: string) {
  const port = await freePort();
  const child = spawn(
    "npx",
    ["--yes", PRISM, "proxy", docPath, target, "--host", "127.0.0.1", "--port", String(port)],
    { cwd: dir, env: { ...process.env, NO_UPDATE_NOTIFIER: "1" }, detached: true },
  );
  children.push(child);
  let log = "";
  child.stdout?.on("data", (d) => {
    log += d;
  });
  child.stderr?.on("data", (d) => {
    log += d;
  });
  const deadline = Date.now() + 180_000;
  while (!(await portAnswers(port))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`prism did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return `http://127.0.0.1:${port}`;
}

async function throughPrism(base: string, steps: Step[]) {
  const found: string[] = [];
  for (const step of steps) {
    const headers: Record<string, string> = {};
    if (step.token) headers.authorization = `Bearer ${step.token}`;
    const body = step.raw ?? (step.body === undefined ? undefined : JSON.stringify(step.body));
    if (body !== undefined) headers["content-type"] = step.type ?? "application/json";
    const res = await fetch(`${base}${step.path}`, { method: step.method, headers, body });
    await res.arrayBuffer();
    const violations = JSON.parse(res.headers.get("sl-violations") ?? "[]") as {
      location: string[];
      severity: string;
      message: string;
    }[];
    console.log(
      `  ${res.status} ${step.method} ${step.path.slice(0, 60)} (${step.name}): ${violations.length} violations`,
    );
    for (const v of violations) {
      const line = `${step.name} (${step.method} ${step.path.split("?")[0]} → ${res.status}): [${v.severity}] ${v.location.join(".")}: ${v.message}`;
      // A request made outside the document on purpose is expected to be flagged; its answer is not.
      const expected = step.outside && v.location[0] === "request";
      if (!expected) found.push(line);
      console.log(`      ${expected ? "(expected) " : ""}${line}`);
    }
  }
  return found;
}

async function portmanAndNewman(docPath: string, base: string, adminToken: string) {
  const config = join(dir, "portman-config.json");
  writeFileSync(
    config,
    JSON.stringify({
      version: 1.0,
      tests: {
        contractTests: [
          {
            openApiOperation: "*::/*",
            statusSuccess: { enabled: true },
            contentType: { enabled: true },
            jsonBody: { enabled: true },
            schemaValidation: { enabled: true },
            headersPresent: { enabled: true },
          },
        ],
      },
      // Every request signed in (an admin token reaches the admin operations too).
      overwrites: [{ openApiOperation: "*::/*", overwriteRequestSecurity: { bearer: { token: adminToken } } }],
    }),
  );
  const collection = join(dir, "collection.json");
  const converted = await run("npx", [
    ...PORTMAN_NPX,
    "-l",
    docPath,
    "-b",
    base,
    "-c",
    config,
    "-o",
    collection,
    "--includeTests",
  ]);
  if (converted.code !== 0) throw new Error(`portman failed:\n${converted.output.slice(-3000)}`);
  const report = join(dir, "newman.json");
  await run("npx", ["--yes", NEWMAN, "run", collection, "--reporters", "json", "--reporter-json-export", report]);
  const run_ = JSON.parse(readFileSync(report, "utf8")).run as {
    executions: {
      item: { name: string };
      request: { method: string; url: { path: string[] } };
      response?: { code: number; stream?: { data: number[] } };
      assertions?: { assertion: string; error?: { message: string } }[];
    }[];
  };
  const refused: string[] = [];
  const breaks: string[] = [];
  for (const execution of run_.executions) {
    const what = `${execution.request.method} /${execution.request.url.path.join("/")} → ${execution.response?.code}`;
    const code = execution.response?.code ?? 0;
    if (code < 200 || code >= 300) {
      // The example request was refused: the 2xx checks say nothing about the contract; show why.
      const body = Buffer.from(execution.response?.stream?.data ?? []).toString("utf8");
      let detail = body.slice(0, 160);
      try {
        detail = (JSON.parse(body) as { detail?: string }).detail ?? detail;
      } catch {}
      refused.push(`${what}: ${detail}`);
      continue;
    }
    for (const a of (execution.assertions ?? []).filter((x) => x.error))
      breaks.push(`${what}: ${a.assertion}: ${a.error?.message.slice(0, 300)}`);
  }
  return { operations: run_.executions.length, refused, breaks };
}

async function main() {
  const stack = await startLocalStack({
    port: await freePort(),
    dataDir: join(dir, "pglite"),
    persistTo: join(dir, "state"),
    databaseUrl: undefined,
    log: () => {},
    vars: { JWT_SECRET: LOCAL_DEV_JWT_SECRET },
  });
  try {
    const docPath = join(dir, "openapi.json");
    writeFileSync(docPath, await (await fetch(`${stack.baseUrl}/openapi.json`)).text());
    const user = await token(`contract-tools-${crypto.randomUUID()}`);
    const admin = await token(`contract-tools-admin-${crypto.randomUUID()}`, true);

    console.log(`Prism (${PRISM}) as a validating proxy in front of ${stack.baseUrl}:`);
    const violations = await throughPrism(await prism(docPath, stack.baseUrl), journey(user, admin));

    console.log(`\nPortman (${PORTMAN}) + Newman (${NEWMAN}) over every operation:`);
    const newman = await portmanAndNewman(docPath, stack.baseUrl, admin);
    console.log(`  ${newman.operations} requests`);
    console.log(`  refused example requests (not contract breaks): ${newman.refused.length}`);
    for (const line of newman.refused) console.log(`      ${line}`);
    console.log(`  contract breaks: ${newman.breaks.length}`);
    for (const line of newman.breaks) console.log(`      ${line}`);

    console.log(
      `\nsummary: Prism ${violations.length} violations over the journey; Newman ${newman.breaks.length} contract breaks, ${newman.refused.length} refused examples`,
    );
    process.exitCode = violations.length + newman.breaks.length > 0 ? 1 : 0;
  } finally {
    for (const child of children) {
      // Prism runs under npx in its own process group: end the group.
      if (child.pid) {
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {}
      }
    }
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
