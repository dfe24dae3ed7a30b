/**
 * `npm run load`: many users, each with several devices, write positions and watchlist changes
 * while reading their resume points (and searching, when the service has search), against a
 * throwaway local stack on loopback. Bounded by LOAD_REQUESTS and LOAD_SECONDS. Prints
 * throughput and p50/p99 per endpoint, then checks every acknowledged write against the final
 * state in the Durable Objects (through the API) and in Postgres (once the queue has drained).
 *
 * Each user is one sequential client (its devices take turns), so the order of its acknowledged
 * writes is known: the final state must be the last acknowledged write of every item. Users run
 * in parallel over a bounded keep-alive pool.
 */
import pg from "pg";
import { developmentCatalog } from "../scripts/seed";
import { percentile, request, table, token, withBenchStack } from "./lib";

const MAX_REQUESTS = Number(process.env.LOAD_REQUESTS ?? 6000);
const MAX_SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const USERS = Number(process.env.LOAD_USERS ?? 48);
const DEVICES = 3;
/** Users whose requests are in flight at once (the pool has 16 sockets). */
const CONCURRENCY = 16;
/** Films of the seeded catalog: writes name real content (unknown content is a 404). */
const FILMS = developmentCatalog()
  .filter((item) => item.kind === "movie")
  .map((item) => item.id)
  .sort();
const CONTENTS = FILMS.slice(0, 4);
const WATCHLIST = FILMS.slice(10, 16);
const QUERIES = ["matrix", "star", "love", "the", "night", "war", "mtrix", "lov"];

interface User {
  id: string;
  token: string;
  sessions: { id: string; content: string }[];
  /** Expected state: the last acknowledged position per content, the acknowledged watchlist. */
  positions: Map<string, number>;
  watchlist: Set<string>;
}

interface Sample {
  ms: number;
  status: number;
}

export async function run(): Promise<void> {
  // Playing reports reach Postgres at the next flush: 2 s here instead of 5 minutes, to verify at the end.
  await withBenchStack({ vars: { HISTORY_FLUSH_SECONDS: "2" } }, async (stack) => {
    const base = stack.baseUrl;
    const doc = JSON.parse((await request(base, null, "GET", "/openapi.json")).text) as {
      paths: Record<string, unknown>;
    };
    const hasSearch = "/api/v1/search" in doc.paths;
    const samples = new Map<string, Sample[]>();
    let networkErrors = 0;
    let readYourWritesViolations = 0;
    let acknowledgedWrites = 0;
    let sent = 0;

    const call = async (label: string, bearer: string, method: string, path: string, body?: unknown) => {
      sent++;
      const started = performance.now();
      try {
        const res = await request(base, bearer, method, path, body);
        const list = samples.get(label) ?? [];
        list.push({ ms: performance.now() - started, status: res.status });
        samples.set(label, list);
        return res;
      } catch {
        networkErrors++;
        return null;
      }
    };

    // Users and their devices' sessions (not counted in the load).
    const users: User[] = [];
    const run = crypto.randomUUID().slice(0, 8);
    for (let u = 0; u < USERS; u++) {
      const id = `load-${run}-${u}`;
      const bearer = await token(id);
      const sessions = [];
      for (let d = 0; d < DEVICES; d++) {
        // Two devices share a content: the same progress register written from both.
        const content = CONTENTS[(u + Math.min(d, 1)) % CONTENTS.length] as string;
        const res = await request(base, bearer, "POST", "/api/v1/sessions", {
          content_id: content,
          device_id: `device-${d}`,
          duration_seconds: 7200,
        });
        sessions.push({ id: JSON.parse(res.text).id as string, content });
      }
      users.push({ id, token: bearer, sessions, positions: new Map(), watchlist: new Set() });
    }

    const deadline = Date.now() + MAX_SECONDS * 1000;
    const started = performance.now();
    let nextUser = 0;
    const step = async (user: User, i: number) => {
      const roll = (i * 7919 + user.id.length * 31) % 100;
      if (roll < 50) {
        const session = user.sessions[i % user.sessions.length] as { id: string; content: string };
        const position = 30 + ((i * 37) % 7000);
        const res = await call(
          "PATCH /sessions/{id}/position",
          user.token,
          "PATCH",
          `/api/v1/sessions/${session.id}/position`,
          {
            position_seconds: position,
            playback_state: i % 3 === 0 ? "playing" : "paused",
          },
        );
        if (res?.status === 200) {
          user.positions.set(session.content, position);
          acknowledgedWrites++;
        }
      } else if (roll < 70) {
        const content = WATCHLIST[i % WATCHLIST.length] as string;
        const add = i % 4 !== 0;
        const res = add
          ? await call("PUT /sync/watchlist/{id}", user.token, "PUT", `/api/v1/sync/watchlist/${content}`)
          : await call("DELETE /sync/watchlist/{id}", user.token, "DELETE", `/api/v1/sync/watchlist/${content}`);
        if (res && (res.status === 200 || res.status === 201)) {
          user.watchlist.add(content);
          acknowledgedWrites++;
        } else if (res && (res.status === 204 || res.status === 404)) {
          user.watchlist.delete(content);
          if (res.status === 204) acknowledgedWrites++;
        }
      } else if (roll < 90 || !hasSearch) {
        // Read-your-writes: the resume point is the last acknowledged position.
        const content = user.sessions[i % user.sessions.length]?.content as string;
        const res = await call("GET /resume/{id}", user.token, "GET", `/api/v1/resume/${content}`);
        if (res?.status === 200 && user.positions.has(content)) {
          if (JSON.parse(res.text).position_seconds !== user.positions.get(content)) readYourWritesViolations++;
        }
      } else {
        const q = QUERIES[i % QUERIES.length] as string;
        await call("GET /search", user.token, "GET", `/api/v1/search?q=${q}&page_size=10`);
      }
    };
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        // Each worker takes whole users, so one user's requests never overlap.
        while (sent < MAX_REQUESTS && Date.now() < deadline) {
          const user = users[nextUser++ % users.length] as User;
          if ((user as { busy?: boolean }).busy) continue;
          (user as { busy?: boolean }).busy = true;
          for (let i = 0; i < 10 && sent < MAX_REQUESTS && Date.now() < deadline; i++) await step(user, sent + i);
          (user as { busy?: boolean }).busy = false;
        }
      }),
    );
    const wallMs = performance.now() - started;

    const rows = [...samples].map(([endpoint, list]) => {
      const sorted = list.map((s) => s.ms).sort((a, b) => a - b);
      const count = (from: number, to: number) => list.filter((s) => s.status >= from && s.status < to).length;
      return {
        endpoint,
        requests: list.length,
        "req/s": (list.length / wallMs) * 1000,
        "p50 ms": percentile(sorted, 50),
        "p99 ms": percentile(sorted, 99),
        "2xx": count(200, 300),
        "4xx": count(400, 500),
        "of which 429": count(429, 430),
        "5xx": count(500, 600),
      };
    });
    const total = rows.reduce((n, r) => n + r.requests, 0);
    const fiveHundreds = rows.reduce((n, r) => n + r["5xx"], 0);
    table(
      `Load: ${USERS} users × ${DEVICES} devices, ${CONCURRENCY} in flight, ${total} requests in ${(wallMs / 1000).toFixed(1)} s ` +
        `(${((total / wallMs) * 1000).toFixed(0)} req/s)`,
      rows,
    );

    // The Durable Objects hold exactly the last acknowledged write of every item.
    let lostInObjects = 0;
    for (const user of users) {
      for (const [content, position] of user.positions) {
        const res = await request(base, user.token, "GET", `/api/v1/resume/${content}`);
        if (JSON.parse(res.text).position_seconds !== position) lostInObjects++;
      }
      const present = new Set<string>();
      let cursor: string | null = null;
      do {
        const res = await request(
          base,
          user.token,
          "GET",
          `/api/v1/sync/watchlist?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
        );
        const page = JSON.parse(res.text) as { items: { content_id: string }[]; next_cursor: string | null };
        for (const item of page.items) present.add(item.content_id);
        cursor = page.next_cursor;
      } while (cursor);
      for (const content of WATCHLIST) if (present.has(content) !== user.watchlist.has(content)) lostInObjects++;
    }

    // Postgres, once the outboxes and the queue have drained. Playing reports reach it at the
    // next checkpoint or flush; the final state of a register is what it must show.
    const drainStarted = Date.now();
    let behind = { positions: -1, watchlist: -1 };
    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    try {
      for (const until = Date.now() + 120_000; Date.now() < until; ) {
        behind = await postgresBehind(client, users);
        if (behind.positions === 0 && behind.watchlist === 0) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
    } finally {
      await client.end();
    }

    const positionsAcked = users.reduce((n, u) => n + u.positions.size, 0);
    table("Load: acknowledged writes against the final state", [
      { check: "acknowledged writes", value: acknowledgedWrites },
      { check: "items checked (last write of each)", value: positionsAcked + users.length * WATCHLIST.length },
      { check: "lost or reordered in the Durable Objects", value: lostInObjects },
      { check: "read-your-writes violations during the run", value: readYourWritesViolations },
      { check: "progress rows behind in Postgres", value: behind.positions },
      { check: "watchlist items wrong in Postgres", value: behind.watchlist },
      { check: "5xx answers", value: fiveHundreds },
      { check: "network errors", value: networkErrors },
      { check: "seconds for Postgres to catch up", value: (Date.now() - drainStarted) / 1000 },
    ]);
    const failed = lostInObjects + readYourWritesViolations + behind.positions + behind.watchlist + fiveHundreds;
    if (failed > 0) {
      process.exitCode = 1;
      console.log("LOAD FAILED: an acknowledged write is missing or a request failed with a 5xx");
    } else console.log("load: zero lost or reordered acknowledged writes, zero 5xx");
  });
}

/** Items whose Postgres state is not the last acknowledged write. */
async function postgresBehind(client: pg.Client, users: User[]) {
  const ids = users.map((u) => u.id);
  const history = await client.query<{ user_id: string; content_id: string; position_seconds: number }>(
    "select user_id, content_id, position_seconds from watch_history where user_id = any($1) and active",
    [ids],
  );
  const watchlist = await client.query<{ user_id: string; content_id: string }>(
    "select user_id, content_id from watchlist_effective where user_id = any($1)",
    [ids],
  );
  const position = new Map(history.rows.map((r) => [`${r.user_id} ${r.content_id}`, r.position_seconds]));
  const listed = new Set(watchlist.rows.map((r) => `${r.user_id} ${r.content_id}`));
  let positions = 0;
  let items = 0;
  for (const user of users) {
    for (const [content, expected] of user.positions)
      if (position.get(`${user.id} ${content}`) !== expected) positions++;
    for (const content of WATCHLIST) if (listed.has(`${user.id} ${content}`) !== user.watchlist.has(content)) items++;
  }
  return { positions, watchlist: items };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
