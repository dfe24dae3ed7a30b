/**
 * The database side of the local stack and the tests: embedded Postgres (PGlite over TCP), the
 * WebSocket-to-TCP proxy the Neon driver needs to reach it from workerd, and migrations.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { WebSocketServer } from "ws";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../drizzle", import.meta.url));

export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** PGlite served on 127.0.0.1:port; data on disk under `dataDir`, or in memory when omitted. */
export async function startEmbeddedPostgres(opts: { port: number; dataDir?: string }): Promise<EmbeddedPostgres> {
  const db = opts.dataDir ? new PGlite(opts.dataDir) : new PGlite();
  await db.waitReady;
  const server = new PGLiteSocketServer({ db, port: opts.port, host: "127.0.0.1", maxConnections: 64 });
  await server.start();
  return {
    url: `postgres://postgres@127.0.0.1:${opts.port}/postgres`,
    port: opts.port,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

export interface WsProxy {
  port: number;
  /** host:port, as DB_WS_PROXY takes it. */
  address: string;
  /** Simulates a database outage: drops every connection and refuses new ones until `up()`. */
  down(): void;
  up(): void;
  stop(): Promise<void>;
}

/**
 * Neon's WebSocket protocol is raw Postgres bytes in binary frames; this relays them to TCP. Only
 * loopback targets are relayed. With `control`, POST /__control/down and /__control/up let tests
 * running inside workerd cut and restore the database.
 */
export async function startWsProxy(opts: { port: number; control?: boolean }): Promise<WsProxy> {
  const sockets = new Set<Socket>();
  let isDown = false;
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (opts.control && req.method === "POST" && (req.url === "/__control/down" || req.url === "/__control/up")) {
      if (req.url.endsWith("down")) proxy.down();
      else proxy.up();
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server: http });
  wss.on("connection", (ws, req) => {
    const address = new URL(req.url ?? "/", "http://proxy").searchParams.get("address") ?? "";
    const match = /^(127\.0\.0\.1|localhost|\[::1\]):(\d+)$/.exec(address);
    if (isDown || !match) {
      ws.close(1008, isDown ? "database down" : "target not allowed");
      return;
    }
    const tcp = connect(Number(match[2]), match[1] === "[::1]" ? "::1" : (match[1] as string));
    sockets.add(tcp);
    tcp.setNoDelay(true);
    ws.on("message", (data: Buffer) => tcp.write(data));
    tcp.on("data", (chunk) => ws.readyState === ws.OPEN && ws.send(chunk));
    const close = () => {
      sockets.delete(tcp);
      tcp.destroy();
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close();
    };
    ws.on("close", close);
    ws.on("error", close);
    tcp.on("close", close);
    tcp.on("error", close);
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(opts.port, "127.0.0.1", () => resolve());
  });
  const port = (http.address() as { port: number }).port;
  const proxy: WsProxy = {
    port,
    address: `127.0.0.1:${port}`,
    down() {
      isDown = true;
      for (const s of sockets) s.destroy();
    },
    up() {
      isDown = false;
    },
    async stop() {
      for (const s of sockets) s.destroy();
      for (const client of wss.clients) client.terminate();
      wss.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return proxy;
}

/** Applies the committed Drizzle migrations under drizzle/ to any Postgres. */
export async function migrateDatabase(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
  } finally {
    await client.end();
  }
}

/** Resolves when something answers on host:port (used to see whether a server runs). */
export function portAnswers(port: number, host = "127.0.0.1", timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
