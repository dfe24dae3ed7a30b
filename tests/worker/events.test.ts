import { env } from "cloudflare:workers";
import { Validator } from "@cfworker/json-schema";
import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { decodeEvent, eventDataSchemas, makeEvent } from "../../src/contracts/events";
import { deadLetters, watchHistory } from "../../src/db/schema";
import { encodeHlc } from "../../src/domain/hlc";
import { applyEventBatch } from "../../src/events/consumer";
import { client, db, eventually, newUser, testConfig, tokenFor, userStub } from "./helpers";
import { drainOutbox, recordQueue } from "./queue-recorder";

const schemaDocument = async () => (await client(null).get("/events/schema.json")).json;

describe("event contract", () => {
  it("publishes one JSON Schema per event type with its version, without a token", async () => {
    const res = await client(null).get("/events/schema.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/schema+json");
    const doc = res.json;
    expect(doc.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    for (const [type, { version }] of Object.entries(eventDataSchemas)) {
      expect(doc.$defs[type].properties.type.const).toBe(type);
      expect(doc.$defs[type].properties.version.const).toBe(version);
      expect(doc.$defs[type].required).toEqual(
        expect.arrayContaining(["event_id", "type", "version", "user_id", "occurred_at", "hlc", "data"]),
      );
      expect(doc["x-versions"][type]).toBe(version);
    }
    expect(doc.oneOf).toHaveLength(Object.keys(eventDataSchemas).length);
    const openapi = await client(null).get("/openapi.json");
    expect(Object.keys(openapi.json.paths)).toContain("/events/schema.json");
  });

  it("every event a user's actions put on the queue validates against the published schema", async () => {
    const { id, api } = await newUser();
    const stub = userStub(id);
    await api.get("/api/v1/history"); // binds the object to its user before the recorder goes in
    const queue = await recordQueue(stub);
    const s = await api.post("/api/v1/sessions", {
      content_id: "film-alien-1979",
      device_id: "tv",
      duration_seconds: 3600,
    });
    await api.patch(`/api/v1/sessions/${s.json.id}/position`, { position_seconds: 1200, playback_state: "paused" });
    await api.delete(`/api/v1/sessions/${s.json.id}`);
    await api.put("/api/v1/history/film-amadeus-1984/watched");
    await api.put("/api/v1/history/series-last-garden-s01e02/watched");
    await api.put("/api/v1/ratings/film-the-matrix-1999", { rating: 9 });
    await api.delete("/api/v1/ratings/film-the-matrix-1999");
    await api.delete("/api/v1/history/film-alien-1979/watched");
    await api.delete("/api/v1/history");
    await drainOutbox(stub);

    const events = queue.sent.flatMap((b) => b.events);
    const types = new Set(events.map((e) => e.type));
    expect([...types].sort()).toEqual(
      [
        "history-cleared",
        "play-completed",
        "position-updated",
        "progress-changed",
        "rating-changed",
        "session-created",
        "session-ended",
      ].sort(),
    );
    // An episode's events name its series and its place in it.
    const episode = events.find(
      (e) => e.type === "play-completed" && (e.data as { content_id: string }).content_id.startsWith("series-"),
    );
    expect(episode?.data).toMatchObject({ series_id: "series-last-garden", season_number: 1, episode_number: 2 });
    const validator = new Validator(await schemaDocument(), "2020-12", false);
    for (const event of events) {
      const result = validator.validate(event);
      expect(result.errors, `${event.type}: ${JSON.stringify(result.errors.slice(0, 3))}`).toEqual([]);
      expect(decodeEvent(event).kind).toBe("event");
      expect(event.user_id).toBe(id);
    }
    // Per user, hlc order is the order of the changes, and event ids are unique.
    const hlcs = events.map((e) => e.hlc);
    expect([...hlcs].sort()).toEqual(hlcs);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
  });

  it("the published schema refuses what the consumer refuses", async () => {
    const validator = new Validator(await schemaDocument(), "2020-12", false);
    const good = makeEvent("progress-changed", "u1", encodeHlc({ ms: 1000, counter: 0, node: "server" }), {
      content_id: "film-alien-1979",
      position_seconds: 10,
      duration_seconds: 100,
      completion_percentage: 10,
      watched: false,
      state: "paused",
      device_id: null,
      last_watched_at: new Date(1000).toISOString(),
      deleted: false,
    });
    expect(validator.validate(good).valid).toBe(true);
    for (const bad of [
      { ...good, hlc: "yesterday" },
      { ...good, occurred_at: "not a time" },
      { ...good, data: { ...good.data, position_seconds: -1 } },
      { ...good, data: { ...good.data, last_watched_at: "soon" } },
      { ...good, data: { ...good.data, content_id: "a\u0000b" } },
      { ...good, version: 2 },
    ]) {
      expect(validator.validate(bad).valid).toBe(false);
      expect(decodeEvent(bad).kind).not.toBe("event");
    }
  });

  it("a message Postgres could not store is dead-lettered, not retried forever", async () => {
    const user = `c-${crypto.randomUUID()}`;
    const hlc = encodeHlc({ ms: 1000, counter: 0, node: "server" });
    const base = makeEvent("progress-changed", user, hlc, {
      content_id: "film-alien-1979",
      position_seconds: 10,
      duration_seconds: 100,
      completion_percentage: 10,
      watched: false,
      state: "paused",
      device_id: null,
      last_watched_at: new Date(1000).toISOString(),
      deleted: false,
    });
    const poison = [
      { ...base, data: { ...base.data, last_watched_at: "not a timestamp" } },
      { ...base, data: { ...base.data, content_id: "nul\u0000inside" } },
      { ...base, user_id: "nul\u0000user" },
    ].map((body, i) => ({ id: `poison-${user}-${i}`, body }));
    const report = await applyEventBatch(testConfig(), "media-gateway-events", [
      ...poison,
      { id: `ok-${user}`, body: base },
    ]);
    expect(report).toMatchObject({ deadLettered: 3, historyRows: 1 });
    const kept = await db((d) => d.select().from(deadLetters).where(eq(deadLetters.messageId, poison[1]!.id)));
    expect((kept[0] as any).body.data.content_id).toBe("nul\\u0000inside");
  });
});

describe("a message Postgres refuses", () => {
  it("is dead-lettered with Postgres' reason and does not hold back the rest of its batch", async () => {
    const user = `refused-${crypto.randomUUID()}`;
    const stamp = (ms: number) => encodeHlc({ ms, counter: 0, node: "server" });
    const good = makeEvent("progress-changed", user, stamp(Date.now()), {
      content_id: "film-clueless-1995",
      position_seconds: 900,
      duration_seconds: 3600,
      completion_percentage: 25,
      watched: false,
      state: "paused",
      device_id: "tv",
      last_watched_at: new Date().toISOString(),
      deleted: false,
    });
    // Decodes (capabilities are free JSON) but jsonb refuses an unpaired surrogate.
    const refused = makeEvent("device-changed", user, stamp(Date.now()), {
      device_id: "tv",
      device_type: "TV",
      platform: "tvOS",
      capabilities: { "\ud800": true },
      app_version: "1.0",
      device_name: "TV",
      last_seen: new Date().toISOString(),
      is_online: true,
      deleted: false,
    });
    expect(decodeEvent(refused).kind).toBe("event");
    await env.EVENTS.sendBatch([
      { body: good },
      { body: refused },
      { body: { ...good, event_id: crypto.randomUUID() } },
    ]);
    await eventually(
      () => db((d) => d.select().from(watchHistory).where(eq(watchHistory.userId, user))),
      (rows) => rows.length === 1 && rows[0]?.positionSeconds === 900,
    );
    const kept = await eventually(
      () => db((d) => d.select().from(deadLetters).where(sql`${deadLetters.body}->>'user_id' = ${user}`)),
      (rows) => rows.length === 1,
    );
    expect(kept[0]?.reason).toMatch(/^postgres refused it \(22/);
    expect((kept[0] as any).body.data.capabilities).toEqual({ "\\ud800": true });
  });
});

describe("events the API emits for any accepted input", () => {
  it("free text with NUL or a lone surrogate never becomes an event Postgres refuses", async () => {
    const { id, api } = await newUser();
    const stub = userStub(id);
    await api.get("/api/v1/history");
    const queue = await recordQueue(stub);
    const texts = ["a\u0000b", "\ud800", "caf\u00e9 \u{1F3AC}"];
    for (const [i, text] of texts.entries()) {
      const res = await api.put(`/api/v1/devices/dev-${i}`, {
        device_type: "TV",
        platform: text,
        capabilities: { [text]: text, nested: { deep: [text] } },
        app_version: "1.0",
        device_name: text,
      });
      expect([200, 201, 400]).toContain(res.status);
      if (res.status === 400) expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    await drainOutbox(stub);
    const events = queue.sent.flatMap((b) => b.events);
    expect(events.some((e) => e.type === "device-changed")).toBe(true);
    for (const event of events) expect(decodeEvent(event).kind).toBe("event");
    const report = await applyEventBatch(
      testConfig(),
      "media-gateway-events",
      events.map((body) => ({ id: `t-${body.event_id}`, body })),
    );
    expect(report.deadLettered).toBe(0);
  });
});

describe("dead-letter replay", () => {
  const admin = async () => client(await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" }));

  it("is for admins only", async () => {
    const { api } = await newUser();
    expect((await api.get("/api/v1/admin/dead-letters")).status).toBe(403);
    expect((await api.post("/api/v1/admin/dead-letters/replay", {})).status).toBe(403);
    expect((await client(null).get("/api/v1/admin/dead-letters")).status).toBe(401);
  });

  it("sends a dead-lettered event back to the queue, applies it and marks it replayed; a malformed one stays", async () => {
    const user = `dlq-${crypto.randomUUID()}`;
    const event = makeEvent("progress-changed", user, encodeHlc({ ms: Date.now(), counter: 0, node: "server" }), {
      content_id: "film-casablanca-1941",
      position_seconds: 777,
      duration_seconds: 3600,
      completion_percentage: (777 / 3600) * 100,
      watched: false,
      state: "paused",
      device_id: "tv",
      last_watched_at: new Date().toISOString(),
      deleted: false,
    });
    const kept = await db((d) =>
      d
        .insert(deadLetters)
        .values([
          {
            queue: "media-gateway-events-dlq",
            messageId: `m-${user}-1`,
            reason: "delivery retries exhausted",
            body: event,
          },
          { queue: "media-gateway-events", messageId: `m-${user}-2`, reason: "broken", body: { user_id: user } },
        ])
        .returning({ id: deadLetters.id }),
    );
    const ids = kept.map((k) => k.id);
    const api = await admin();

    const listed = await api.get("/api/v1/admin/dead-letters?limit=100");
    expect(listed.status).toBe(200);
    const dry = await api.post("/api/v1/admin/dead-letters/replay", { ids, dry_run: true });
    expect(dry.json).toMatchObject({ dry_run: true, replayed: [{ id: ids[0], event_id: event.event_id }] });
    expect(dry.json.still_malformed.map((m: any) => m.id)).toEqual([ids[1]]);

    const replay = await api.post("/api/v1/admin/dead-letters/replay", { ids });
    expect(replay.status).toBe(200);
    expect(replay.json.replayed.map((r: any) => r.id)).toEqual([ids[0]]);
    const rows = await eventually(
      () => db((d) => d.select().from(watchHistory).where(eq(watchHistory.userId, user))),
      (r) => r.length === 1,
    );
    expect(rows[0]?.positionSeconds).toBe(777);
    const after = await db((d) =>
      d
        .select()
        .from(deadLetters)
        .where(eq(deadLetters.messageId, `m-${user}-1`)),
    );
    expect(after[0]?.replayedAt).toBeInstanceOf(Date);
    // Replaying again sends nothing: it is no longer pending.
    const again = await api.post("/api/v1/admin/dead-letters/replay", { ids });
    expect(again.json.replayed).toEqual([]);
  });
});

describe("re-emitting a user's state", () => {
  it("brings back Postgres rows whose events were lost, changes nothing where Postgres is current, admins only", async () => {
    const { id, api } = await newUser();
    const s = await api.post("/api/v1/sessions", {
      content_id: "film-alien-1979",
      device_id: "tv",
      duration_seconds: 3600,
    });
    await api.patch(`/api/v1/sessions/${s.json.id}/position`, { position_seconds: 1500, playback_state: "paused" });
    await api.put("/api/v1/sync/watchlist/film-chicago-2002");
    const rows = () => db((d) => d.select().from(watchHistory).where(eq(watchHistory.userId, id)));
    const [row] = await eventually(rows, (r) => r.length === 1);
    // As if the event had never reached Postgres (a restored backup, a lost local queue).
    await db((d) => d.delete(watchHistory).where(eq(watchHistory.userId, id)));

    expect((await api.post(`/api/v1/admin/users/${id}/reemit`)).status).toBe(403);
    const admin = client(await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" }));
    const res = await admin.post(`/api/v1/admin/users/${id}/reemit`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ user_id: id, progress: 1, watchlist: 1 });
    const [back] = await eventually(rows, (r) => r.length === 1);
    expect({ ...back, createdAt: null, updatedAt: null }).toEqual({ ...row, createdAt: null, updatedAt: null });
    // A second time: the consumer keeps the row as it is.
    await admin.post(`/api/v1/admin/users/${id}/reemit`);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await rows())[0]?.hlc).toBe(row?.hlc);
  });
});
