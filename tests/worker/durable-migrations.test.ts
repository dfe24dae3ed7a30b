import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { makeEvent } from "../../src/contracts/events";
import { encodeHlc } from "../../src/domain/hlc";
import { checkMigrationList, type Migration } from "../../src/durable/migrate";
import { rateLimiterMigrations } from "../../src/durable/migrations/rate-limiter";
import { userStateMigrations } from "../../src/durable/migrations/user-state";
import { ledger, reseed, tableSql } from "./durable-storage";
import { eventually, newUser, userStub, withUserApi } from "./helpers";
import { PREVIOUS_RELEASE_SCHEMA } from "./previous-release-schema";
import { drainOutbox, recordQueue } from "./queue-recorder";

const hlc = (ms: number, counter = 0, node = "server") => encodeHlc({ ms, counter, node });

describe("Durable Object storage migrations", () => {
  it("each class keeps a list numbered 1, 2, 3… with names", () => {
    expect(() => checkMigrationList(userStateMigrations)).not.toThrow();
    expect(() => checkMigrationList(rateLimiterMigrations)).not.toThrow();
    expect(() =>
      checkMigrationList([
        { version: 1, name: "a", up: () => {} },
        { version: 3, name: "c", up: () => {} },
      ]),
    ).toThrow(/versions are 1, 2, 3/);
  });

  it("an object the previous release created keeps every row, adopts version 1 and runs the new migration once", async () => {
    const { id: userId, api } = await newUser("v1");
    const stub = userStub(userId);
    const t = Date.now() - 60_000;
    // A pending event with non-Latin text: its UTF-8 size is not its length.
    const pending = makeEvent(
      "watchlist-changed",
      userId,
      hlc(t, 2),
      { content_id: "映画-9", present: true, entries: [{ tag: "t-1", added_hlc: hlc(t, 2), removed_hlc: null }] },
      new Date(t),
    );
    const pendingBody = JSON.stringify(pending);
    await reseed(stub, (sql) => {
      for (const statement of PREVIOUS_RELEASE_SCHEMA) sql.exec(statement);
      sql.exec("INSERT INTO meta (key, value) VALUES ('user_id', ?), ('hlc', ?)", userId, hlc(t, 9));
      sql.exec(
        `INSERT INTO sessions (id, content_id, device_id, position, duration, state, quality, started_at, updated_at)
         VALUES ('s-old', 'film-alien-1979', 'tv', 1800, 3600, 'paused', '1080p', ?, ?)`,
        t - 1000,
        t,
      );
      sql.exec(
        `INSERT INTO progress (content_id, position, duration, state, watched, device_id, hlc, last_watched_at, deleted, dirty_since)
         VALUES ('film-alien-1979', 1800, 3600, 'paused', 0, 'tv', ?, ?, 0, NULL), ('film-amadeus-1984', 3500, 3600, 'stopped', 1, 'tv', ?, ?, 0, NULL)`,
        hlc(t, 1),
        t,
        hlc(t - 5000),
        t - 5000,
      );
      sql.exec(
        "INSERT INTO watchlist (tag, content_id, added_hlc, removed_hlc, removed_seq, removed_at) VALUES ('t-1', '映画-9', ?, NULL, NULL, NULL)",
        hlc(t, 2),
      );
      sql.exec(
        `INSERT INTO devices (device_id, device_type, platform, capabilities, app_version, device_name, registered_at,
           updated_at, last_seen, online, mirrored_at, synced_seq)
         VALUES ('tv', 'TV', 'tizen', '{"hdr":true}', '4.2.0', 'Living room', ?, ?, ?, 0, ?, 0)`,
        t,
        t,
        t,
        t,
      );
      sql.exec(
        "INSERT INTO changes (kind, key, hlc, at) VALUES ('progress', 'film-amadeus-1984', ?, ?), ('progress', 'film-alien-1979', ?, ?), ('watchlist', '映画-9', ?, ?), ('device', 'tv', ?, ?)",
        hlc(t - 5000),
        t,
        hlc(t, 1),
        t,
        hlc(t, 2),
        t,
        hlc(t, 3),
        t,
      );
      sql.exec("INSERT INTO applied_ops (op_id, at) VALUES ('op-applied-before', ?)", t);
      sql.exec("INSERT INTO outbox (body, at) VALUES (?, ?)", pendingBody, t);
      sql.exec(
        "INSERT INTO revoked_families (family_id, reason, revoked_at) VALUES ('fam-old', 'logout', ?)",
        Date.now(),
      );
      sql.exec(
        "INSERT INTO experiment_exposures (experiment_id, variant, bucket, first_at, at) VALUES ('exp-1', 'b', 42, ?, ?)",
        t,
        t,
      );
    });

    // Every send of the object's outbox is recorded from here on.
    const recorder = await recordQueue(stub);

    // Opened by this release: version 1 adopted as it was, version 2 applied once, and the
    // pending event got its byte size.
    const applied = await ledger(stub);
    expect(applied.map((m) => m.version)).toEqual(userStateMigrations.map((m) => m.version));
    expect(applied.map((m) => m.name)).toEqual(userStateMigrations.map((m) => m.name));
    const status = await stub.status();
    expect(status.storage_version).toBe(userStateMigrations.length);
    expect(status.outbox).toBe(1);
    expect(status.outbox_bytes).toBe(new TextEncoder().encode(pendingBody).length);
    expect(status.outbox_bytes).toBeGreaterThan(pendingBody.length);
    // Version 5: the mirror still has the pending event to send; the subscriber queues, new to
    // this object, start after it.
    expect(status.targets.map((t) => [t.target, t.pending])).toEqual([
      ["EVENTS", 1],
      ["EVENTS_ANALYTICS", 0],
      ["EVENTS_SCROBBLER", 0],
    ]);

    // Every row is there.
    const session = await api.get("/api/v1/sessions/s-old");
    expect(session.status).toBe(200);
    expect(session.json).toMatchObject({ user_id: userId, content_id: "film-alien-1979", position_seconds: 1800 });
    expect((await api.get("/api/v1/resume/film-alien-1979")).json.resume_position_seconds).toBe(1800);
    const history = await api.get("/api/v1/history");
    expect(history.json.items.map((i: any) => i.content_id)).toEqual(["film-alien-1979", "film-amadeus-1984"]);
    const sync = await api.get("/api/v1/sync");
    expect(sync.json.watchlist.items).toEqual([expect.objectContaining({ content_id: "映画-9", tags: ["t-1"] })]);
    expect(sync.json.devices.items).toEqual([
      expect.objectContaining({ device_id: "tv", capabilities: { hdr: true } }),
    ]);
    expect(await stub.familyRevoked("fam-old")).toBe(true);
    const replayed = await api.post("/api/v1/sync/ops", {
      ops: [
        {
          op_id: "op-applied-before",
          type: "watchlist.add",
          content_id: "film-babe-1995",
          hlc: hlc(Date.now(), 0, "phone"),
        },
      ],
    });
    expect(replayed.json.results).toEqual([{ op_id: "op-applied-before", status: "duplicate" }]);
    expect(
      await withUserApi(userId, (api) => api.recordExposure({ experiment_id: "exp-1", variant: "b", bucket: 42 })),
    ).toBe(false);

    // The event written by the old release drains as it was written.
    await drainOutbox(stub);
    expect(recorder.sent.flatMap((b) => b.events)).toContainEqual(pending);

    // Restarted again: nothing runs twice.
    await evictDurableObject(stub);
    expect((await api.get("/api/v1/sessions/s-old")).status).toBe(200);
    expect(await ledger(stub)).toEqual(applied);
  });

  it("an object already on version 1 runs only what came after", async () => {
    const { id: userId, api } = await newUser("v1-ledger");
    const stub = userStub(userId);
    const body = JSON.stringify(makeEvent("history-cleared", userId, hlc(1), { before_hlc: hlc(1) }, new Date(1)));
    await reseed(stub, (sql) => {
      userStateMigrations[0]?.up(sql);
      sql.exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
      );
      sql.exec("INSERT INTO schema_migrations VALUES (1, 'initial schema', 1)");
      sql.exec("INSERT INTO outbox (body, at) VALUES (?, 1)", body);
    });
    expect((await api.get("/api/v1/sync")).status).toBe(200);
    const applied = await ledger(stub);
    expect(applied[0]).toEqual({ version: 1, name: "initial schema", applied_at: 1 });
    expect(applied.slice(1).map((m) => m.version)).toEqual(userStateMigrations.slice(1).map((m) => m.version));
    expect(await tableSql(stub, "outbox")).toContain("bytes");
    expect((await stub.status()).outbox_bytes).toBe(new TextEncoder().encode(body).length);
  });

  it("a migration that throws leaves the object on its old version, answering 503, and loses nothing", async () => {
    const { id: userId, api } = await newUser("broken");
    const stub = userStub(userId);
    const session = await api.post("/api/v1/sessions", {
      content_id: "film-casablanca-1941",
      device_id: "tv",
      duration_seconds: 3600,
    });
    await api.patch(`/api/v1/sessions/${session.json.id}/position`, {
      position_seconds: 1200,
      playback_state: "paused",
    });
    expect((await api.put("/api/v1/sync/watchlist/film-chicago-2002")).status).toBe(201);
    // Let the alarm drain the events first: the object restarts below.
    await eventually(
      () => stub.status(),
      (s) => s.outbox === 0,
    );
    const before = await ledger(stub);

    // A release whose next migration alters a table, then fails.
    const broken: Migration = {
      version: userStateMigrations.length + 1,
      name: "fails halfway",
      up(sql) {
        sql.exec("ALTER TABLE progress ADD COLUMN doomed INTEGER NOT NULL DEFAULT 0");
        throw new Error("migration bug");
      },
    };
    const list = userStateMigrations as Migration[];
    list.push(broken);
    try {
      await evictDurableObject(stub);
      for (const res of [
        await api.get(`/api/v1/sessions/${session.json.id}`),
        await api.get("/api/v1/sync"),
        await api.patch(`/api/v1/sessions/${session.json.id}/position`, { position_seconds: 1300 }),
      ]) {
        expect(res.status).toBe(503);
        expect(res.headers.get("content-type")).toBe("application/problem+json");
        expect(res.json.type).toContain("storage-unavailable");
        expect(res.headers.get("retry-after")).not.toBeNull();
      }
      const upgrade = await api.raw("GET", "/api/v1/sync/ws", undefined, { upgrade: "websocket" });
      expect(upgrade.status).toBe(503);
      // Still on the old version, and the failed migration's ALTER rolled back with it.
      expect(await ledger(stub)).toEqual(before);
      expect(await tableSql(stub, "progress")).not.toContain("doomed");
    } finally {
      list.pop();
    }

    // The release after it (without the bug) opens the same storage: everything is there.
    await evictDurableObject(stub);
    const read = await api.get(`/api/v1/sessions/${session.json.id}`);
    expect(read.status).toBe(200);
    expect(read.json.position_seconds).toBe(1200);
    expect((await api.get("/api/v1/resume/film-casablanca-1941")).json.resume_position_seconds).toBe(1200);
    expect((await api.get("/api/v1/sync/watchlist")).json.items.map((i: any) => i.content_id)).toEqual([
      "film-chicago-2002",
    ]);
    expect(await ledger(stub)).toEqual(before);
  });
});
