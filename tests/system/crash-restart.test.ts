/**
 * The whole local stack killed with SIGKILL in the middle of writes, then restarted on the same
 * files. What is killed, exactly:
 *  - wrangler dev and every process under it (workerd, which holds the Durable Objects' SQLite
 *    files and the local queue) get SIGKILL at once: no shutdown code runs;
 *  - the embedded Postgres runs in a child process (PGlite's own socket server, the same PGlite
 *    as in-process, data on disk) and gets SIGKILL at the same moment: its WAL is replayed on restart;
 *  - the WebSocket proxy (in this process) then drops its sockets.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { request as send, token } from "../../bench/lib";
import { freePort, portAnswers } from "../../scripts/local-db";
import { ROOT, type Stack, startLocalStack } from "../../scripts/stack";

const USERS = 6;
const DEVICES = 2;
const WRITE_SECONDS = 8;

const dir = mkdtempSync(join(tmpdir(), "mg-crash-"));
const pgPort = await freePort();
const databaseUrl = `postgres://postgres@127.0.0.1:${pgPort}/postgres`;
const started: { pglite?: ChildProcess; stack?: Stack } = {};

async function startPglite(): Promise<ChildProcess> {
  const server = join(ROOT, "node_modules", "@electric-sql", "pglite-socket", "dist", "scripts", "server.js");
  const child = spawn(
    process.execPath,
    [server, `--db=${join(dir, "pglite")}`, `--port=${pgPort}`, "--max-connections=64"],
    {
      stdio: "ignore",
    },
  );
  // Ready when it answers a query (after a crash it first replays its WAL).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error("PGlite did not start");
    if (await portAnswers(pgPort)) {
      const answered = await query("select 1").then(
        () => true,
        () => false,
      );
      if (answered) return child;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function startStack(): Promise<Stack> {
  return startLocalStack({
    port: await freePort(),
    databaseUrl,
    serializeDatabase: true,
    persistTo: join(dir, "state"),
    log: () => {},
    verbose: process.env.SYSTEM_VERBOSE === "1",
    vars: {
      RATE_LIMIT_WRITES_PER_MINUTE: "100000",
      RATE_LIMIT_BURST: "10000",
      RATE_LIMIT_READS_PER_MINUTE: "100000",
      RATE_LIMIT_READ_BURST: "10000",
    },
  });
}

/** The process and every process under it, children first. */
function processTree(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
      .split("\n")
      .map((line) => Number(line.trim()))
      .filter((n) => n > 0);
  } catch {}
  return [...children.flatMap(processTree), pid];
}

function sigkill(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

const request = (base: string, bearer: string, method: string, path: string, body?: unknown) =>
  send(base, bearer, method, path, body).catch((error) => {
    throw new Error(`${method} ${path}: ${error}`);
  });

const query = async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on("error", () => {}); // a server gone between queries is the caller's error, not the process's
  await client.connect().catch((error) => {
    throw new Error(`connect: ${error}`);
  });
  try {
    return (await client.query(sql, params)).rows as T[];
  } catch (error) {
    throw new Error(`query ${sql.slice(0, 60)}: ${error}`);
  } finally {
    await client.end();
  }
};

/** Every item of the user's watchlist, as their object answers it. */
async function objectWatchlist(user: { token: string }): Promise<Set<string>> {
  const present = new Set<string>();
  let cursor: string | null = null;
  do {
    const path = `/api/v1/sync/watchlist?limit=100${cursor ? `&cursor=${cursor}` : ""}`;
    const page: { items: { content_id: string }[]; next_cursor: string | null } = JSON.parse(
      (await request(stackBase(), user.token, "GET", path)).text,
    );
    for (const item of page.items) present.add(item.content_id);
    cursor = page.next_cursor;
  } while (cursor);
  return present;
}

/** Every device of the user, as their object answers it. */
async function objectDevices(user: { token: string }): Promise<Set<string>> {
  const page: { items: { device_id: string }[] } = JSON.parse(
    (await request(stackBase(), user.token, "GET", "/api/v1/devices?limit=100")).text,
  );
  return new Set(page.items.map((d) => d.device_id));
}

const sameSet = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((x) => b.has(x));
const stackBase = () => started.stack?.baseUrl as string;

afterAll(async () => {
  await started.stack?.stop();
  if (started.pglite?.exitCode === null) started.pglite.kill("SIGINT");
  rmSync(dir, { recursive: true, force: true });
});

describe("the local stack killed with SIGKILL during writes", () => {
  it("keeps every acknowledged write in the Durable Objects and every committed row in Postgres; a re-emit brings Postgres level", async () => {
    started.pglite = await startPglite();
    started.stack = await startStack();
    let base = started.stack.baseUrl;

    const users = await Promise.all(
      Array.from({ length: USERS }, async (_, i) => {
        const id = `crash-${i}-${crypto.randomUUID().slice(0, 8)}`;
        return { id, token: await token(id) };
      }),
    );
    // Real catalog ids (the seeded catalog), most popular first.
    const catalog: string[] = [];
    for (let cursor: string | null = null; catalog.length < 400; ) {
      const res = await request(
        base,
        users[0]?.token as string,
        "GET",
        `/api/v1/content?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
      );
      const page: { items: { id: string }[]; next_cursor: string | null } = JSON.parse(res.text);
      catalog.push(...page.items.map((i) => i.id));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    expect(catalog.length).toBeGreaterThan(DEVICES + 50);
    const films = catalog.slice(0, DEVICES);
    const listable = catalog.slice(DEVICES);

    /** Per (user, content): the positions sent, the last one acknowledged. */
    const attempted = new Map<string, Set<number>>();
    const acknowledged = new Map<string, number>();
    /** Per user: watchlist items whose add was acknowledged and never removed, and those removed. */
    const watchlistAcked = new Map<string, Set<string>>();
    const watchlistRemoved = new Map<string, Set<string>>();
    /** Per user: devices registered and never deleted, and devices whose deletion was acknowledged. */
    const devicesLive = new Map<string, Set<string>>();
    const devicesDeleted = new Map<string, Set<string>>();
    let killed = false;
    let writes = 0;
    let resets = 0;

    const positionWriter = async (user: (typeof users)[number], device: number) => {
      const content = films[device] as string;
      const key = `${user.id} ${content}`;
      attempted.set(key, new Set());
      const created = await request(base, user.token, "POST", "/api/v1/sessions", {
        content_id: content,
        device_id: `dev-${device}`,
        duration_seconds: 100_000,
      });
      const session = JSON.parse(created.text).id as string;
      for (let position = 10; !killed; position += 10) {
        attempted.get(key)?.add(position);
        const res = await attempt(user, "PATCH", `/api/v1/sessions/${session}/position`, {
          position_seconds: position,
          playback_state: "paused",
        });
        if (killed) return;
        if (res === null) continue;
        if (res.status !== 200) throw new Error(`PATCH answered ${res.status}: ${res.text}`);
        acknowledged.set(key, position);
        writes++;
      }
    };
    /** Resolves with the answer, or null for a reset connection (not acknowledged; a client would go on). */
    const attempt = async (user: (typeof users)[number], method: string, path: string, body?: unknown) => {
      const res = await request(base, user.token, method, path, body).catch(() => null);
      if (res === null && !killed) resets++;
      return res;
    };
    // Adds an item, and every third time removes the one before: the mirror holds removals too.
    const watchlistWriter = async (user: (typeof users)[number]) => {
      const acked = new Set<string>();
      const removed = new Set<string>();
      watchlistAcked.set(user.id, acked);
      watchlistRemoved.set(user.id, removed);
      for (let n = 0; !killed && n < listable.length; n++) {
        const content = listable[n] as string;
        const res = await attempt(user, "PUT", `/api/v1/sync/watchlist/${content}`);
        if (killed) return;
        if (res === null) continue;
        if (res.status !== 201 && res.status !== 200) throw new Error(`PUT answered ${res.status}: ${res.text}`);
        acked.add(content);
        writes++;
        const previous = listable[n - 1] as string;
        if (n % 3 !== 2 || !acked.has(previous)) continue;
        acked.delete(previous); // from here on its removal may or may not have landed
        const gone = await attempt(user, "DELETE", `/api/v1/sync/watchlist/${previous}`);
        if (killed) return;
        if (gone === null) continue;
        if (gone.status !== 204) throw new Error(`DELETE answered ${gone.status}: ${gone.text}`);
        removed.add(previous);
        writes++;
      }
    };
    // Registers a device, and every other time deletes the one before.
    const deviceWriter = async (user: (typeof users)[number]) => {
      const live = new Set<string>();
      const deleted = new Set<string>();
      devicesLive.set(user.id, live);
      devicesDeleted.set(user.id, deleted);
      for (let n = 0; !killed && n < 40; n++) {
        const device = `tab-${n}`;
        const res = await attempt(user, "PUT", `/api/v1/devices/${device}`, {
          device_type: "Web",
          platform: "firefox",
          capabilities: {},
          app_version: "1.0.0",
          device_name: `Tab ${n}`,
        });
        if (killed) return;
        if (res === null) continue;
        if (res.status !== 201) throw new Error(`PUT device answered ${res.status}: ${res.text}`);
        live.add(device);
        writes++;
        const previous = `tab-${n - 1}`;
        if (n % 2 !== 1 || !live.has(previous)) continue;
        live.delete(previous);
        const gone = await attempt(user, "DELETE", `/api/v1/devices/${previous}`);
        if (killed) return;
        if (gone === null) continue;
        if (gone.status !== 204) throw new Error(`DELETE device answered ${gone.status}: ${gone.text}`);
        deleted.add(previous);
        writes++;
      }
    };

    const writers = users.flatMap((user) => [
      ...Array.from({ length: DEVICES }, (_, d) => positionWriter(user, d)),
      watchlistWriter(user),
      deviceWriter(user),
    ]);
    await new Promise((r) => setTimeout(r, WRITE_SECONDS * 1000));

    // Postgres as it is just before the kill, once each table holds rows (the consumer runs
    // behind the writes on a busy machine); writes go on meanwhile.
    const ids = users.map((u) => u.id);
    const snapshot = async () => ({
      history: await query<{ user_id: string; content_id: string; position_seconds: number; hlc: string }>(
        "select user_id, content_id, position_seconds, hlc from watch_history where user_id = any($1)",
        [ids],
      ),
      tags: await query<{ user_id: string; tag: string; removed: boolean }>(
        "select user_id, tag, removed from watchlist_entries where user_id = any($1)",
        [ids],
      ),
      devices: await query<{ user_id: string; device_id: string; hlc: string }>(
        "select user_id, device_id, hlc from devices where user_id = any($1)",
        [ids],
      ),
    });
    let taken = await snapshot();
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; taken = await snapshot()) {
      if (taken.history.length > 0 && taken.tags.some((t) => t.removed) && taken.devices.length > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const { history: before, tags: mirrorBefore, devices: devicesBefore } = taken;
    const tree = processTree(started.stack.wrangler.pid as number);
    killed = true;
    sigkill([...tree, started.pglite.pid as number]);
    await Promise.all(writers);
    const ackedBeforeKill = writes;
    await started.stack.stop(); // only the proxy is left to stop
    expect(ackedBeforeKill).toBeGreaterThan(50);
    expect(before.length).toBeGreaterThan(0);
    expect(mirrorBefore.length).toBeGreaterThan(0);
    expect(devicesBefore.length).toBeGreaterThan(0);

    started.pglite = await startPglite();
    started.stack = await startStack();
    base = started.stack.baseUrl;

    // Every acknowledged write is in the user's Durable Object.
    let lostInObjects = 0;
    for (const user of users) {
      for (let d = 0; d < DEVICES; d++) {
        const key = `${user.id} ${films[d]}`;
        const res = await request(base, user.token, "GET", `/api/v1/resume/${films[d]}`);
        const position = JSON.parse(res.text).position_seconds as number;
        // The write in flight at the kill may or may not have landed; an acknowledged one must have.
        if (!(position >= (acknowledged.get(key) ?? 0) && attempted.get(key)?.has(position))) lostInObjects++;
      }
      const present = await objectWatchlist(user);
      for (const content of watchlistAcked.get(user.id) ?? []) if (!present.has(content)) lostInObjects++;
      for (const content of watchlistRemoved.get(user.id) ?? []) if (present.has(content)) lostInObjects++;
      const devices = await objectDevices(user);
      for (const device of devicesLive.get(user.id) ?? []) if (!devices.has(device)) lostInObjects++;
      for (const device of devicesDeleted.get(user.id) ?? []) if (devices.has(device)) lostInObjects++;
    }
    expect(lostInObjects).toBe(0);

    // Every row Postgres had committed is still there, never older.
    const after = await query<{ user_id: string; content_id: string; hlc: string }>(
      "select user_id, content_id, hlc from watch_history where user_id = any($1)",
      [ids],
    );
    const now = new Map(after.map((r) => [`${r.user_id} ${r.content_id}`, r.hlc]));
    const lostInPostgres = before.filter((r) => !((now.get(`${r.user_id} ${r.content_id}`) ?? "") >= r.hlc));
    expect(lostInPostgres).toEqual([]);
    // The same for the sync mirror: no committed tag lost or un-removed, no device row older.
    const mirrorAfter = new Map(
      (
        await query<{ user_id: string; tag: string; removed: boolean }>(
          "select user_id, tag, removed from watchlist_entries where user_id = any($1)",
          [ids],
        )
      ).map((r) => [`${r.user_id} ${r.tag}`, r.removed]),
    );
    const lostTags = mirrorBefore.filter((r) => {
      const removed = mirrorAfter.get(`${r.user_id} ${r.tag}`);
      return removed === undefined || (r.removed && !removed);
    });
    expect(lostTags).toEqual([]);
    const devicesAfter = new Map(
      (
        await query<{ user_id: string; device_id: string; hlc: string }>(
          "select user_id, device_id, hlc from devices where user_id = any($1)",
          [ids],
        )
      ).map((r) => [`${r.user_id} ${r.device_id}`, r.hlc]),
    );
    const lostDevices = devicesBefore.filter(
      (r) => !((devicesAfter.get(`${r.user_id} ${r.device_id}`) ?? "") >= r.hlc),
    );
    expect(lostDevices).toEqual([]);

    // Postgres catches up with what the objects hold: their outboxes survived the kill.
    const inObjects = new Map<string, number>();
    for (const user of users) {
      for (let d = 0; d < DEVICES; d++) {
        const res = await request(base, user.token, "GET", `/api/v1/resume/${films[d]}`);
        inObjects.set(`${user.id} ${films[d]}`, JSON.parse(res.text).position_seconds);
      }
    }
    const behindPostgres = async () => {
      const rows = await query<{ user_id: string; content_id: string; position_seconds: number }>(
        "select user_id, content_id, position_seconds from watch_history where user_id = any($1)",
        [ids],
      );
      const inPostgres = new Map(rows.map((r) => [`${r.user_id} ${r.content_id}`, r.position_seconds]));
      return [...inObjects].filter(([key, position]) => inPostgres.get(key) !== position).map(([key]) => key);
    };
    const settle = async (seconds: number) => {
      let behind = await behindPostgres();
      for (const deadline = Date.now() + seconds * 1000; behind.length > 0 && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 500));
        behind = await behindPostgres();
      }
      return behind;
    };
    // What the outboxes still held arrives by itself; the local queue's backlog died with workerd
    // (Cloudflare Queues keep theirs), so an operator re-emits the users' state.
    const behindAfterRestart = await settle(10);
    const admin = await token("crash-operator", "admin");
    for (const user of users) {
      const res = await request(base, admin, "POST", `/api/v1/admin/users/${user.id}/reemit`);
      expect(res.status).toBe(200);
    }
    expect(await settle(60)).toEqual([]);
    // The watchlist and device mirrors come level too: lost removals and deletions included.
    const mirrorsBehind = async () => {
      const behind: string[] = [];
      for (const user of users) {
        const listed = await objectWatchlist(user);
        const mirrored = await query<{ content_id: string }>(
          "select distinct content_id from watchlist_entries where user_id = $1 and not removed and added_hlc is not null",
          [user.id],
        );
        if (!sameSet(listed, new Set(mirrored.map((r) => r.content_id)))) behind.push(`${user.id} watchlist`);
        const devices = await objectDevices(user);
        const active = await query<{ device_id: string }>(
          "select device_id from devices where user_id = $1 and active",
          [user.id],
        );
        if (!sameSet(devices, new Set(active.map((r) => r.device_id)))) behind.push(`${user.id} devices`);
      }
      return behind;
    };
    let mirrors = await mirrorsBehind();
    for (const deadline = Date.now() + 30_000; mirrors.length > 0 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 500));
      mirrors = await mirrorsBehind();
    }
    expect(mirrors).toEqual([]);
    console.log(
      `crash: Postgres was behind the objects for ${behindAfterRestart.length} of ${inObjects.size} items after the restart ` +
        "(the local queue's backlog); none after re-emitting",
    );
    console.log(
      `crash: ${ackedBeforeKill} writes acknowledged (${resets} connection resets before the kill) before SIGKILL of ${tree.length} stack processes and Postgres; ` +
        `lost from the Durable Objects: ${lostInObjects}; committed Postgres rows lost: ${lostInPostgres.length} of ${before.length}`,
    );
    const count = (m: Map<string, Set<string>>) => [...m.values()].reduce((n, set) => n + set.size, 0);
    console.log(
      `crash: the mirrors: ${mirrorBefore.length} watchlist tags and ${devicesBefore.length} devices committed before the kill, none lost; ` +
        `${count(watchlistRemoved)} watchlist removals and ${count(devicesDeleted)} device deletions acknowledged, level after re-emitting`,
    );
  });
});
