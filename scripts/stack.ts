/**
 * The whole service on one machine: embedded Postgres (or DATABASE_URL), the WebSocket proxy for
 * the Neon driver, migrations, the catalog seed, then `wrangler dev` with local Durable Objects,
 * KV and Queues persisted under `.wrangler/state`. Used by `npm start`, the load script, the
 * benchmarks and the end-to-end tests.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { configSchema, LOCAL_DEV_JWT_SECRET, LOCAL_EVENT_SUBSCRIBERS, parseConfig } from "../src/config";
import { type EmbeddedPostgres, freePort, migrateDatabase, startEmbeddedPostgres, startWsProxy } from "./local-db";
import { seedCatalog } from "./seed";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface StackOptions {
  /** Port of the API (wrangler dev). */
  port?: number;
  /** Port of embedded Postgres; never 5432, which a real server may own. */
  pglitePort?: number;
  proxyPort?: number;
  /** Where the embedded database keeps its files. */
  dataDir?: string;
  /** Where wrangler keeps Durable Object, KV and queue state. */
  persistTo?: string;
  /** Use this Postgres instead of the embedded one. */
  databaseUrl?: string;
  /** Let database sessions take turns in the proxy (needed for PGlite); by default only for the embedded one. */
  serializeDatabase?: boolean;
  /** Extra Worker variables (e.g. shorter timers for tests). */
  vars?: Record<string, string>;
  /** Print wrangler's output. */
  verbose?: boolean;
  /** Seed the development catalog (default true); a benchmark that imports its own catalog says false. */
  seed?: boolean;
  log?: (line: string) => void;
}

export interface Stack {
  baseUrl: string;
  databaseUrl: string;
  /** Stops wrangler, the proxy and the database, in that order, and waits for each. */
  stop(): Promise<void>;
  /** The wrangler child, for tests that kill it hard. */
  wrangler: ChildProcess;
  embedded: EmbeddedPostgres | null;
}

/** Copies the API docs' browser assets out of node_modules into the Worker's static assets. */
export function prepareAssets(): void {
  const require = createRequire(import.meta.url);
  const swagger = dirname(require.resolve("swagger-ui-dist/package.json"));
  const target = join(ROOT, "public", "vendor", "swagger-ui");
  mkdirSync(target, { recursive: true });
  for (const file of ["swagger-ui.css", "swagger-ui-bundle.js"]) {
    // Rewriting an unchanged file would make a running wrangler dev reload.
    const from = join(swagger, file);
    const to = join(target, file);
    if (!existsSync(to) || statSync(to).size !== statSync(from).size) cpSync(from, to);
  }
}

export async function startLocalStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? ((line: string) => console.log(line));
  const vars: Record<string, string> = {
    JWT_SECRET: process.env.JWT_SECRET ?? LOCAL_DEV_JWT_SECRET,
    // Webhooks may call a server on this machine (never anything else private).
    WEBHOOK_ALLOW_LOOPBACK: "true",
    EVENT_SUBSCRIBERS: LOCAL_EVENT_SUBSCRIBERS,
    ...pickEnv(),
    ...options.vars,
  };
  // Fail before starting anything when a setting is bad.
  parseConfig({ ...vars, DATABASE_URL: options.databaseUrl ?? process.env.DATABASE_URL });

  const databaseUrlFromEnv = options.databaseUrl ?? process.env.DATABASE_URL;
  let embedded: EmbeddedPostgres | null = null;
  let databaseUrl: string;
  if (databaseUrlFromEnv) {
    databaseUrl = databaseUrlFromEnv;
    log(`postgres  ${redact(databaseUrl)} (DATABASE_URL)`);
  } else {
    const dataDir = options.dataDir ?? join(ROOT, ".data", "pglite");
    mkdirSync(dataDir, { recursive: true });
    embedded = await startEmbeddedPostgres({ port: options.pglitePort ?? (await freePort()), dataDir });
    databaseUrl = embedded.url;
    log(`postgres  embedded PGlite on 127.0.0.1:${embedded.port}, data in ${dataDir}`);
  }
  const proxy = await startWsProxy({
    port: options.proxyPort ?? (await freePort()),
    serialize: options.serializeDatabase ?? embedded !== null,
  });
  try {
    await migrateDatabase(databaseUrl);
    if (options.seed ?? true) {
      const { items } = await seedCatalog(databaseUrl);
      log(`migrated and seeded ${items} catalog items`);
    }
    prepareAssets();
  } catch (error) {
    await proxy.stop();
    await embedded?.stop();
    throw error;
  }

  const port = options.port ?? 8787;
  const persistTo = options.persistTo ?? join(ROOT, ".wrangler", "state");
  if (!existsSync(persistTo)) mkdirSync(persistTo, { recursive: true });
  const workerVars = { ...vars, DATABASE_URL: databaseUrl, DB_WS_PROXY: proxy.address };
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(await freePort()),
    "--persist-to",
    persistTo,
    "--show-interactive-dev-session=false",
    ...Object.entries(workerVars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  const wrangler = spawn(join(ROOT, "node_modules", ".bin", "wrangler"), args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_UPDATE_NOTIFIER: "1", FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output.push(text);
    if (output.length > 200) output.shift();
    if (options.verbose) process.stdout.write(text);
  };
  wrangler.stdout?.on("data", collect);
  wrangler.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolveExit) => wrangler.once("exit", (code) => resolveExit(code)));

  const baseUrl = `http://127.0.0.1:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (wrangler.exitCode === null && wrangler.signalCode === null) {
      wrangler.kill("SIGINT");
      const timer = setTimeout(() => wrangler.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await proxy.stop();
    await embedded?.stop();
  };

  const ready = await waitForHealth(baseUrl, exited, 90_000);
  if (!ready) {
    await stop();
    throw new Error(`wrangler dev did not start:\n${output.join("").slice(-4000)}`);
  }
  return { baseUrl, databaseUrl, stop, wrangler, embedded };
}

async function waitForHealth(baseUrl: string, exited: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gone) {
    try {
      const res = await fetch(`${baseUrl}/health`);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 503) return true;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/** Variables of the config schema set in this process's environment are passed to the Worker. */
function pickEnv(): Record<string, string> {
  const handled = new Set(["JWT_SECRET", "DATABASE_URL", "DB_WS_PROXY"]);
  return Object.fromEntries(
    Object.keys(configSchema.shape).flatMap((name) => {
      const value = process.env[name];
      return value && !handled.has(name) ? [[name, value]] : [];
    }),
  );
}

const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
