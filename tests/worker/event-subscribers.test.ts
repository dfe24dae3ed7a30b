import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { createTables } from "../../examples/reference-consumer/src/consume";
import { LOCAL_EVENT_SUBSCRIBERS } from "../../src/config";
import type { EventEnvelope } from "../../src/contracts/events";
import { inTransaction } from "../../src/db/client";
import { appendEventLog, readEventLog } from "../../src/db/event-log";
import { watchHistory, watchlistEffective } from "../../src/db/schema";
import { Outbox } from "../../src/durable/stores/outbox";
import { runScheduledJobs } from "../../src/scheduled";
import { client, db, eventually, newUser, testConfig, tokenFor, userStub } from "./helpers";
import { drainOutbox, recordQueue } from "./queue-recorder";

const subscribers = JSON.parse(LOCAL_EVENT_SUBSCRIBERS) as { binding: string; types: string[] }[];
const SCROBBLER = subscribers.find((s) => s.binding === "EVENTS_SCROBBLER") as { binding: string; types: string[] };
const referenceDb = () => (env as unknown as { REFERENCE_DB: D1Database }).REFERENCE_DB;
const admin = async () => client(await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" }));

type Api = Awaited<ReturnType<typeof newUser>>["api"];

/** A user's day: playback with checkpoints, a finish, watchlist adds and a removal, a rating, a device. */
async function writeSome(api: Api, round = 0) {
  const s = await api.post("/api/v1/sessions", {
    content_id: "film-alien-1979",
    device_id: "tv",
    duration_seconds: 7200,
  });
  expect(s.status).toBe(201);
  for (let i = 1; i <= 3; i++) {
    await api.patch(`/api/v1/sessions/${s.json.id}/position`, {
      position_seconds: (round * 3 + i) * 300,
      playback_state: "paused",
    });
  }
  await api.delete(`/api/v1/sessions/${s.json.id}`);
  await api.put("/api/v1/history/film-amadeus-1984/watched");
  await api.put("/api/v1/sync/watchlist/film-moon-2009");
  await api.put("/api/v1/sync/watchlist/film-memento-2001");
  await api.delete("/api/v1/sync/watchlist/film-memento-2001");
  await api.put("/api/v1/ratings/film-the-matrix-1999", { rating: 8 + (round % 2) });
}

const ids = (events: readonly EventEnvelope[]) => events.map((e) => e.event_id);
const matching = (events: readonly EventEnvelope[], types: readonly string[]) =>
  types.includes("*") ? [...events] : events.filter((e) => types.includes(e.type));

/** The reference consumer's state for a user, as the Postgres mirror would show it. */
async function referenceState(userId: string) {
  await createTables(referenceDb()); // before the consumer's first batch, its tables may not exist yet
  const progress = await referenceDb()
    .prepare("SELECT content_id, hlc, position_seconds, deleted FROM progress WHERE user_id = ? ORDER BY content_id")
    .bind(userId)
    .all<{ content_id: string; hlc: string; position_seconds: number; deleted: number }>();
  const watchlist = await referenceDb()
    .prepare("SELECT content_id FROM watchlist WHERE user_id = ? AND present = 1 ORDER BY content_id")
    .bind(userId)
    .all<{ content_id: string }>();
  return {
    progress: progress.results.map((r) => ({ ...r, deleted: r.deleted === 1 })),
    watchlist: watchlist.results.map((r) => r.content_id),
  };
}

async function mirrorState(userId: string) {
  const progress = await db((d) =>
    d
      .select({
        content_id: watchHistory.contentId,
        hlc: watchHistory.hlc,
        position_seconds: watchHistory.positionSeconds,
        active: watchHistory.active,
      })
      .from(watchHistory)
      .where(eq(watchHistory.userId, userId))
      .orderBy(watchHistory.contentId),
  );
  const watchlist = await db((d) =>
    d
      .select({ content_id: watchlistEffective.contentId })
      .from(watchlistEffective)
      .where(eq(watchlistEffective.userId, userId))
      .orderBy(watchlistEffective.contentId),
  );
  return {
    progress: progress.map(({ active, ...r }) => ({ ...r, deleted: !active })),
    watchlist: watchlist.map((r) => r.content_id),
  };
}

/** Waits until the reference consumer and the Postgres mirror agree on the user, and returns that state. */
async function converged(userId: string) {
  let mirror = await mirrorState(userId);
  await eventually(
    async () => {
      mirror = await mirrorState(userId);
      return { reference: await referenceState(userId), mirror };
    },
    (s) => s.mirror.progress.length > 0 && JSON.stringify(s.reference) === JSON.stringify(s.mirror),
    30_000,
  );
  return mirror;
}

/** The user's events in the log, read in pages of `limit`. */
async function readLog(adminApi: Api, userId: string, limit = 4, type?: string) {
  const items: EventEnvelope[] = [];
  let after: string | null = null;
  for (;;) {
    const query = new URLSearchParams({ user_id: userId, limit: String(limit) });
    if (after) query.set("after", after);
    if (type) query.set("type", type);
    const page = await adminApi.get(`/api/v1/admin/events?${query}`);
    expect(page.status).toBe(200);
    items.push(...page.json.items);
    if (page.json.items.length === 0) return { items, cursor: after };
    after = page.json.next_cursor;
  }
}

describe("subscriber queues", () => {
  it("each subscriber queue gets exactly the events of its types, in hlc order per user", async () => {
    const { id, api } = await newUser("subs");
    const stub = userStub(id);
    await api.get("/api/v1/history");
    const mirror = await recordQueue(stub);
    const analytics = await recordQueue(stub, "EVENTS_ANALYTICS");
    const scrobbler = await recordQueue(stub, "EVENTS_SCROBBLER");
    await writeSome(api);
    await drainOutbox(stub);

    const all = mirror.sent.flatMap((b) => b.events);
    expect(new Set(all.map((e) => e.type)).size).toBeGreaterThanOrEqual(6);
    const hlcs = all.map((e) => e.hlc);
    expect(hlcs).toEqual([...hlcs].sort());
    // "*" takes every event; the scrobbler only progress, plays and the watchlist, in the same order.
    expect(ids(analytics.sent.flatMap((b) => b.events))).toEqual(ids(all));
    const scrobbled = scrobbler.sent.flatMap((b) => b.events);
    expect(ids(scrobbled)).toEqual(ids(matching(all, SCROBBLER.types)));
    expect(scrobbled.length).toBeGreaterThan(0);
    expect(scrobbled.length).toBeLessThan(all.length);
    // Nothing is left behind for any target, and the outbox holds no row.
    const status = await stub.status();
    expect(status.outbox).toBe(0);
    expect(status.targets.map((t) => [t.target, t.pending])).toEqual([
      ["EVENTS", 0],
      ["EVENTS_ANALYTICS", 0],
      ["EVENTS_SCROBBLER", 0],
    ]);
  });

  it("a subscriber queue refusing for a while delays only itself, then catches up with nothing lost", async () => {
    const { id, api } = await newUser("subs-outage");
    const stub = userStub(id);
    await api.get("/api/v1/history");
    const mirror = await recordQueue(stub);
    const analytics = await recordQueue(stub, "EVENTS_ANALYTICS");
    const scrobbler = await recordQueue(stub, "EVENTS_SCROBBLER");
    scrobbler.down = true;
    for (let round = 0; round < 3; round++) await writeSome(api, round);
    await new Promise((r) => setTimeout(r, 300)); // past the linger
    for (let attempt = 0; attempt < 5; attempt++) {
      // As if the scrobbler's backoff had elapsed: its refusals, run after run.
      await runInDurableObject(stub, (_instance, state) => {
        state.storage.sql.exec("UPDATE outbox_targets SET next_at = 0 WHERE target = 'EVENTS_SCROBBLER'");
        return state.storage.setAlarm(Date.now());
      });
      await runDurableObjectAlarm(stub);
    }
    const all = mirror.sent.flatMap((b) => b.events);
    expect(scrobbler.refused).toBeGreaterThanOrEqual(5);
    expect(scrobbler.sent).toEqual([]);
    // The mirror and the other subscriber got everything meanwhile.
    expect(ids(analytics.sent.flatMap((b) => b.events))).toEqual(ids(all));
    const status = await stub.status();
    const behind = status.targets.find((t) => t.target === "EVENTS_SCROBBLER");
    expect(behind?.pending).toBe(matching(all, SCROBBLER.types).length);
    expect(behind?.attempts).toBeGreaterThanOrEqual(5);
    expect(status.targets.find((t) => t.target === "EVENTS")?.pending).toBe(0);
    // Held: what the scrobbler has not passed yet, not more.
    expect(status.outbox).toBeGreaterThanOrEqual(behind?.pending ?? 0);
    expect(status.outbox).toBeLessThanOrEqual(all.length);

    // Operators see it: the admin figures and /health.
    const adminApi = await admin();
    const figures = await adminApi.get("/api/v1/admin/subscribers");
    expect(figures.status).toBe(200);
    const scrobblerFigures = figures.json.items.find((t: { target: string }) => t.target === "EVENTS_SCROBBLER");
    expect(scrobblerFigures).toMatchObject({ kind: "queue", types: SCROBBLER.types });
    expect(scrobblerFigures.users_behind).toBeGreaterThanOrEqual(1);
    expect(scrobblerFigures.pending).toBeGreaterThanOrEqual(behind?.pending ?? 1);
    expect(scrobblerFigures.failures).toBeGreaterThanOrEqual(5);
    expect(scrobblerFigures.last_error).toContain("test outage");
    const health = await client(null).get("/health");
    expect(health.json.deliveries.find((d: { target: string }) => d.target === "EVENTS_SCROBBLER").pending).toBe(
      scrobblerFigures.pending,
    );

    // Back: it catches up, exactly its events, once, in order.
    scrobbler.down = false;
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE outbox_targets SET next_at = 0");
    });
    await drainOutbox(stub);
    expect(ids(scrobbler.sent.flatMap((b) => b.events))).toEqual(ids(matching(all, SCROBBLER.types)));
    expect((await stub.status()).targets.every((t) => t.pending === 0 && t.attempts === 0)).toBe(true);
    const after = await adminApi.get("/api/v1/admin/subscribers");
    const mine = await runInDurableObject(stub, (_i, state) =>
      state.storage.sql.exec<{ reported: number }>("SELECT reported FROM outbox_targets").toArray(),
    );
    expect(mine.every((r) => r.reported === 0)).toBe(true); // the monitor was told it caught up
    expect(after.status).toBe(200);

    // The reference consumer, reading the real scrobbler queue, ends where the Postgres mirror is.
    const state = await converged(id);
    expect(state.watchlist).toEqual(["film-moon-2009"]);
    expect(state.progress.find((p) => p.content_id === "film-alien-1979")?.position_seconds).toBe(2700);
  });

  it("a target added to the configuration starts at the tail; one removed holds no row", async () => {
    const { id, api } = await newUser("subs-config");
    const stub = userStub(id);
    await api.put("/api/v1/sync/watchlist/film-moon-2009");
    await drainOutbox(stub);
    const figures = await runInDurableObject(stub, async (_instance, state) => {
      const sql = state.storage.sql;
      const mirror = { name: "EVENTS", types: ["*"] };
      // Valid events (the mirror applies them): clears of nothing, before any of the user's changes.
      const event = (n: number) =>
        ({
          event_id: `e${n}-${crypto.randomUUID()}`,
          type: "history-cleared",
          version: 1,
          user_id: id,
          occurred_at: new Date().toISOString(),
          hlc: `${String(Date.now()).padStart(15, "0")}:${String(n).padStart(6, "0")}:server`,
          data: { before_hlc: "000000000000000:000000:server" },
        }) as EventEnvelope;
      const sent: Record<string, string[]> = { EVENTS: [], LATE: [] };
      const queueOf = (target: string) =>
        ({
          sendBatch: async (messages: Iterable<MessageSendRequest<EventEnvelope>>) => {
            const list = [...messages];
            await env.EVENTS.sendBatch(list);
            sent[target]?.push(...list.map((m) => m.body.event_id));
          },
        }) as unknown as Queue<EventEnvelope>;
      // Events written while only the mirror is configured, and still held (not yet drained).
      const before = new Outbox(sql, 0, [mirror]);
      const early = event(1);
      before.append(early);
      // LATE appears in the configuration: it starts at the tail, so it never gets `early`.
      const withLate = new Outbox(sql, 0, [mirror, { name: "LATE", types: ["*"] }]);
      const late = event(2);
      withLate.append(late);
      const lateBacklog = withLate.backlog().find((b) => b.target === "LATE")?.pending;
      // LATE refuses; the mirror drains; LATE's row is held for it.
      await withLate.drain((t) => (t === "LATE" ? undefined : queueOf(t)), Date.now(), 1);
      const heldForLate = withLate.size;
      // LATE leaves the configuration: nothing is held for it any more.
      const after = new Outbox(sql, 0, [mirror]);
      return { sent, early: early.event_id, late: late.event_id, lateBacklog, heldForLate, held: after.size };
    });
    expect(figures.sent.EVENTS).toEqual([figures.early, figures.late]);
    expect(figures.lateBacklog).toBe(1);
    expect(figures.heldForLate).toBe(1);
    expect(figures.held).toBe(0);
  });
});

describe("the event log", () => {
  it("a cursor read returns every applied event once, in order; filters by type and user", async () => {
    const { id, api } = await newUser("log");
    const stub = userStub(id);
    await api.get("/api/v1/history");
    const mirror = await recordQueue(stub);
    await writeSome(api);
    await drainOutbox(stub);
    const sent = mirror.sent.flatMap((b) => b.events);
    const adminApi = await admin();
    await eventually(
      async () => (await readLog(adminApi, id, 100)).items.length,
      (n) => n === sent.length,
    );
    // Pages of 4 from the oldest kept: each event once, in the order the user's changes happened.
    const { items, cursor } = await readLog(adminApi, id, 4);
    expect(ids(items)).toEqual(ids(sent));
    expect(items[0]).toEqual(sent[0]);
    // Read from the last cursor again: nothing new, and the cursor holds (a consumer polls with it).
    const again = await adminApi.get(`/api/v1/admin/events?user_id=${id}&after=${cursor}`);
    expect(again.json).toEqual({ items: [], next_cursor: cursor });
    const progress = await readLog(adminApi, id, 2, "progress-changed");
    expect(ids(progress.items)).toEqual(ids(sent.filter((e) => e.type === "progress-changed")));
  });

  it("a redelivered batch is logged once", async () => {
    const { id, api } = await newUser("log-redelivery");
    const stub = userStub(id);
    await api.get("/api/v1/history");
    const mirror = await recordQueue(stub);
    await api.put("/api/v1/sync/watchlist/film-moon-2009");
    await drainOutbox(stub);
    const adminApi = await admin();
    await eventually(
      async () => (await readLog(adminApi, id)).items.length,
      (n) => n === 1,
    );
    await env.EVENTS.sendBatch(mirror.sent.flatMap((b) => b.events).map((body) => ({ body, contentType: "json" })));
    await api.put("/api/v1/sync/watchlist/film-memento-2001");
    await drainOutbox(stub);
    const log = await eventually(
      async () => (await readLog(adminApi, id)).items,
      (items) => items.length >= 2,
    );
    expect(log.map((e) => e.data)).toMatchObject([
      { content_id: "film-moon-2009" },
      { content_id: "film-memento-2001" },
    ]);
  });

  it("the hourly job drops entries older than EVENT_LOG_RETENTION_DAYS", async () => {
    const { id, api } = await newUser("log-retention");
    await api.put("/api/v1/sync/watchlist/film-moon-2009");
    await api.put("/api/v1/sync/watchlist/film-memento-2001");
    await drainOutbox(userStub(id));
    const adminApi = await admin();
    const kept = await eventually(
      async () => (await readLog(adminApi, id)).items,
      (items) => items.length === 2,
    );
    const days = testConfig().EVENT_LOG_RETENTION_DAYS;
    // The first one was logged just past the window; the second just inside it.
    await db((d) =>
      d.execute(
        sql`update event_log set logged_at = now() - make_interval(days => ${days}, hours => 1) where event_id = ${kept[0]?.event_id}`,
      ),
    );
    await db((d) =>
      d.execute(
        sql`update event_log set logged_at = now() - make_interval(days => ${days}) + interval '1 hour' where event_id = ${kept[1]?.event_id}`,
      ),
    );
    const report = await runScheduledJobs(testConfig(), env as never).catch((error) => {
      throw new Error(`scheduled jobs: ${error}`);
    });
    expect(report["event log retention"]).toMatch(/^[1-9]\d* events older than/);
    expect(ids((await readLog(adminApi, id)).items)).toEqual([kept[1]?.event_id]);
  });

  it("a replay of a range reaches the subscriber again, and the reference consumer stays correct", async () => {
    const { id, api } = await newUser("log-replay");
    const stub = userStub(id);
    await api.get("/api/v1/history");
    await writeSome(api);
    await drainOutbox(stub);
    const before = await converged(id);
    const adminApi = await admin();
    const { items } = await eventually(
      () => readLog(adminApi, id, 100),
      (log) => log.items.length > 0 && log.items.some((e) => e.type === "rating-changed"),
    );
    const scrobbled = matching(items, SCROBBLER.types);

    const replay = await adminApi.post("/api/v1/admin/events/replay", { target: "EVENTS_SCROBBLER", user_id: id });
    expect(replay.status).toBe(200);
    expect(replay.json).toEqual({
      target: "EVENTS_SCROBBLER",
      sent: scrobbled.length,
      passed_over: items.length - scrobbled.length,
      next_cursor: null,
    });
    // Every replayed event it keeps reached the reference consumer a second time, and changed nothing.
    const kept = scrobbled.filter((e) => e.type === "progress-changed" || e.type === "watchlist-changed");
    const placeholders = kept.map(() => "?").join(", ");
    await eventually(
      async () =>
        (
          await referenceDb()
            .prepare(`SELECT count(*) AS n FROM seen WHERE deliveries >= 2 AND event_id IN (${placeholders})`)
            .bind(...ids(kept))
            .first<{ n: number }>()
        )?.n,
      (n) => n === kept.length,
      30_000,
    );
    expect(await referenceState(id)).toEqual(before);
    expect(await mirrorState(id)).toEqual(before);

    // A range: (first, third] is two events.
    const cursors: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 3; i++) {
      const page: { json: { next_cursor: string } } = await adminApi.get(
        `/api/v1/admin/events?user_id=${id}&limit=1${after ? `&after=${after}` : ""}`,
      );
      after = page.json.next_cursor;
      cursors.push(after);
    }
    const range = await adminApi.post("/api/v1/admin/events/replay", {
      target: "EVENTS_ANALYTICS",
      user_id: id,
      after: cursors[0],
      until: cursors[2],
    });
    expect(range.json).toMatchObject({ sent: 2, passed_over: 0, next_cursor: null });
  });
});

/** The embedded database serves one session at a time; transactions interleave only on a real server. */
const realServer = new URL(inject("databaseUrl")).pathname.startsWith("/mg_test_");

describe("the event log's commit order", () => {
  it.skipIf(!realServer)("a reader never sees a log position before an earlier one commits", async () => {
    const config = testConfig();
    const envelope = (n: number) =>
      ({
        event_id: `order-${n}-${crypto.randomUUID()}`,
        type: "watchlist-changed",
        version: 1,
        user_id: `order-${crypto.randomUUID()}`,
        occurred_at: new Date().toISOString(),
        hlc: `${String(Date.now()).padStart(15, "0")}:000000:server`,
        data: {},
      }) as EventEnvelope;
    const [first, second] = [envelope(1), envelope(2)];
    const start = await db(async (d) => (await readEventLog(d, { after: 0, limit: 1_000_000 })).at(-1)?.seq ?? 0);
    let releaseFirst = () => {};
    const firstHolds = new Promise<void>((resolve) => {
      releaseFirst = resolve;
    });
    let firstAppended = () => {};
    const appended = new Promise<void>((resolve) => {
      firstAppended = resolve;
    });
    const a = inTransaction(config, async (tx) => {
      await appendEventLog(tx, [first]);
      firstAppended();
      await firstHolds; // committed only when released
    });
    await appended;
    let secondDone = false;
    const b = inTransaction(config, async (tx) => {
      await appendEventLog(tx, [second]);
    }).then(() => {
      secondDone = true;
    });
    await new Promise((r) => setTimeout(r, 500));
    // The second transaction waits for the first's commit before it takes a position.
    expect(secondDone).toBe(false);
    const during = await db((d) => readEventLog(d, { after: start, limit: 1000 }));
    expect(during.map((e) => e.envelope.event_id)).not.toContain(first.event_id);
    releaseFirst();
    await Promise.all([a, b]);
    const log = await db((d) => readEventLog(d, { after: start, limit: 1000 }));
    const mine = log.filter((e) => e.envelope.event_id === first.event_id || e.envelope.event_id === second.event_id);
    expect(mine.map((e) => e.envelope.event_id)).toEqual([first.event_id, second.event_id]);
  });
});

describe("the event log's admin routes refuse what they cannot do", () => {
  it("answers 4xx problems to bad input and 403 to a user who is not an admin", async () => {
    const adminApi = await admin();
    for (const query of ["after=not-a-cursor", "limit=0", "limit=100000", "type=no-such-type", "user_id="]) {
      const res = await adminApi.get(`/api/v1/admin/events?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    const bad: [unknown, number][] = [
      [{}, 400],
      [{ target: "" }, 400],
      [{ target: "EVENTS_SCROBBLER", after: "!!" }, 400],
      [{ target: "EVENTS_SCROBBLER", surprise: 1 }, 400],
      [{ target: "EVENTS_SCROBBLER", limit: 0 }, 400],
      [{ target: "NOT_A_SUBSCRIBER" }, 404],
      [{ target: "EVENTS" }, 404], // the mirror is not a subscriber: its repairs are re-emit and dead letters
    ];
    for (const [body, status] of bad) {
      const res = await adminApi.post("/api/v1/admin/events/replay", body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    const unknown = await adminApi.post("/api/v1/admin/events/replay", { target: "NOT_A_SUBSCRIBER" });
    expect(unknown.json.detail).toContain("unknown target");
    // until before after
    const page = await adminApi.get("/api/v1/admin/events?limit=2");
    if (page.json.items.length === 2) {
      const first = await adminApi.get("/api/v1/admin/events?limit=1");
      const res = await adminApi.post("/api/v1/admin/events/replay", {
        target: "EVENTS_SCROBBLER",
        after: page.json.next_cursor,
        until: first.json.next_cursor,
      });
      expect(res.status).toBe(422);
    }

    const { api } = await newUser("not-admin");
    expect((await api.get("/api/v1/admin/events")).status).toBe(403);
    expect((await api.get("/api/v1/admin/subscribers")).status).toBe(403);
    const replay = await api.post("/api/v1/admin/events/replay", { target: "EVENTS_SCROBBLER" });
    expect(replay.status).toBe(403);
    expect(replay.headers.get("content-type")).toContain("application/problem+json");
  });
});
