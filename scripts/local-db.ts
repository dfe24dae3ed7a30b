/**
 * The database side of the local stack and the tests: embedded Postgres (PGlite over TCP), the
 * WebSocket-to-TCP proxy the Neon driver needs to reach it from workerd, and migrations.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { WebSocketServer } from "ws";
import { applyMigrations } from "../src/db/node";

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
  /** Drops every open connection (new ones are accepted). */
  dropConnections(): void;
  up(): void;
  stop(): Promise<void>;
}

/**
 * Hands the embedded database to one connection at a time. PGlite is a single session: its socket
 * server interleaves connections message by message, so two clients' extended-protocol exchanges
 * (Parse/Bind/Execute/Sync) or transactions would mix. A connection holds the turn from its first
 * message until the server reports ReadyForQuery "idle" with no request of it outstanding.
 */
class SessionTurns {
  private owner: object | null = null;
  private readonly waiting: { conn: object; go: () => void }[] = [];

  acquire(conn: object, go: () => void): void {
    if (this.owner === null || this.owner === conn) {
      this.owner = conn;
      go();
    } else if (!this.waiting.some((w) => w.conn === conn)) this.waiting.push({ conn, go });
  }

  release(conn: object): void {
    const index = this.waiting.findIndex((w) => w.conn === conn);
    if (index >= 0) this.waiting.splice(index, 1);
    if (this.owner !== conn) return;
    this.owner = null;
    const next = this.waiting.shift();
    if (next) {
      this.owner = next.conn;
      next.go();
    }
  }
}

/** Splits a stream of Postgres messages (type byte + int32 length) and reports each type byte. */
function messageScanner(onMessage: (type: number, body: Buffer) => void, startup: boolean) {
  let buffer: Buffer = Buffer.alloc(0);
  let expectStartup = startup;
  return (chunk: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    for (;;) {
      if (expectStartup) {
        if (buffer.length < 4) return;
        const length = buffer.readInt32BE(0);
        if (buffer.length < length) return;
        const code = buffer.readInt32BE(4);
        buffer = buffer.subarray(length);
        // An SSLRequest (80877103) is followed by the real startup message.
        if (code !== 80877103) {
          expectStartup = false;
          onMessage(0, Buffer.alloc(0));
        }
        continue;
      }
      if (buffer.length < 5) return;
      const length = 1 + buffer.readInt32BE(1);
      if (buffer.length < length) return;
      onMessage(buffer[0] as number, buffer.subarray(5, length));
      buffer = buffer.subarray(length);
    }
  };
}

/**
 * Neon's WebSocket protocol is raw Postgres bytes in binary frames; this relays them to TCP. Only
 * loopback targets are relayed. With `serialize` (for PGlite), connections take turns. With
 * `control`, POST /__control/down and /__control/up let tests inside workerd cut the database, and
 * POST /__control/cut-after/<n> drops every connection when the (n+1)-th request (a Query or a
 * Sync) arrives, without passing it on: a network failure in the middle of a transaction;
 * GET /__control/cut tells whether that cut is still armed.
 */
export async function startWsProxy(opts: { port: number; control?: boolean; serialize?: boolean }): Promise<WsProxy> {
  const sockets = new Set<Socket>();
  const turns = new SessionTurns();
  let isDown = false;
  /** Requests still let through before every connection is dropped; null when no cut is armed. */
  let cutAfter: number | null = null;
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (opts.control && req.method === "POST" && (req.url === "/__control/down" || req.url === "/__control/up")) {
      if (req.url.endsWith("down")) proxy.down();
      else proxy.up();
      res.writeHead(204).end();
      return;
    }
    if (opts.control && req.method === "GET" && req.url === "/__control/cut") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ armed: cutAfter !== null }));
      return;
    }
    const cut = /^\/__control\/cut-after\/(\d+)$/.exec(req.url ?? "");
    if (opts.control && req.method === "POST" && cut) {
      cutAfter = Number(cut[1]);
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
    const conn = {};
    sockets.add(tcp);
    tcp.setNoDelay(true);

    // Requests awaiting a ReadyForQuery, and frames held back while another connection has the turn.
    let outstanding = 0;
    let terminating = false;
    let holding = false;
    let pending: Buffer[] = [];
    const flush = () => {
      holding = true;
      const frames = pending;
      pending = [];
      if (frames.length) tcp.write(frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames));
    };
    let requestsInFrame = 0;
    const countRequests = messageScanner((type) => {
      if (type === 0 || type === 0x53 /* Sync */ || type === 0x51 /* Query */) outstanding++;
      if (type === 0x53 || type === 0x51) requestsInFrame++;
      if (type === 0x58 /* Terminate */) terminating = true;
    }, true);
    const watchReplies = messageScanner((type, body) => {
      if (type !== 0x5a /* ReadyForQuery */) return;
      outstanding = Math.max(0, outstanding - 1);
      if (outstanding === 0 && body[0] === 0x49 /* idle */ && pending.length === 0) {
        holding = false;
        turns.release(conn);
      }
    }, false);

    ws.on("message", (data: Buffer) => {
      requestsInFrame = 0;
      countRequests(data);
      if (cutAfter !== null && requestsInFrame > 0) {
        cutAfter -= requestsInFrame;
        if (cutAfter < 0) {
          cutAfter = null;
          proxy.dropConnections();
          return;
        }
      }
      if (!opts.serialize) {
        tcp.write(data);
        return;
      }
      if (terminating) {
        // PGlite's server keeps the socket open after Terminate; end it here and pass the turn on.
        close();
        return;
      }
      pending.push(data);
      if (holding) flush();
      else turns.acquire(conn, flush);
    });
    tcp.on("data", (chunk) => {
      if (opts.serialize) watchReplies(chunk);
      if (ws.readyState === ws.OPEN) ws.send(chunk);
    });
    const close = () => {
      sockets.delete(tcp);
      tcp.destroy();
      turns.release(conn);
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
      proxy.dropConnections();
    },
    dropConnections() {
      for (const s of sockets) s.destroy();
      for (const client of wss.clients) client.terminate();
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
export function migrateDatabase(url: string): Promise<void> {
  return applyMigrations(url, MIGRATIONS_DIR);
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
