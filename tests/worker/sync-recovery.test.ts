import {
  createScheduledController,
  evictDurableObject,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeEvent } from "../../src/contracts/events";
import { devices, watchlistEntries } from "../../src/db/schema";
import { userStateMigrations } from "../../src/durable/migrations/user-state";
import { applyEventBatch } from "../../src/events/consumer";
import worker from "../../src/index";
import { ledger, reseed, tableSql } from "./durable-storage";
import { client, db, eventually, newUser, testConfig, tokenFor, userStub } from "./helpers";
import { recordQueue } from "./queue-recorder";

const DAY = 86_400_000;
const tv = {
  device_type: "TV",
  platform: "tvOS",
  capabilities: { hdr: true },
  app_version: "4.2.0",
  device_name: "Living room",
};
const admin = async () => client(await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" }));
const mirroredDevice = (userId: string, deviceId: string) =>
  db((d) =>
    d
      .select()
      .from(devices)
      .where(and(eq(devices.userId, userId), eq(devices.deviceId, deviceId))),
  ).then((rows) => rows[0]);
const tombstones = async (userId: string) => (await userStub(userId).status()).sync?.device_tombstones;

/** Deletes a device while the queue refuses, then drops the pending events: the deletion's event is lost. */
async function deleteLosingTheEvent(userId: string, api: ReturnType<typeof client>, deviceId: string) {
  const stub = userStub(userId);
  const recorder = await recordQueue(stub);
  recorder.down = true;
  expect((await api.delete(`/api/v1/devices/${deviceId}`)).status).toBe(204);
  await runInDurableObject(stub, (_instance, state) => {
    state.storage.sql.exec("DELETE FROM outbox");
  });
  recorder.down = false;
}

describe("device deletions survive a lost event", () => {
  it("a re-emit repeats a deletion whose event was lost, and the Postgres mirror loses the device", async () => {
    const { id, api } = await newUser("tomb");
    expect((await api.put("/api/v1/devices/tv-1", tv)).status).toBe(201);
    expect((await api.put("/api/v1/devices/phone-1", { ...tv, device_type: "Phone" })).status).toBe(201);
    await eventually(
      () => mirroredDevice(id, "tv-1"),
      (row) => row?.active === true,
    );
    await deleteLosingTheEvent(id, api, "tv-1");
    expect(await tombstones(id)).toBe(1);
    // The mirror still shows the device: its deletion never arrived.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await mirroredDevice(id, "tv-1"))?.active).toBe(true);

    const res = await (await admin()).post(`/api/v1/admin/users/${id}/reemit`);
    expect(res.status).toBe(200);
    expect(res.json.devices).toBe(2); // the live phone and the tv's deletion
    const row = await eventually(
      () => mirroredDevice(id, "tv-1"),
      (r) => r?.active === false,
    );
    expect(row?.isOnline).toBe(false);
    expect((await mirroredDevice(id, "phone-1"))?.active).toBe(true);
  });

  it("a device registered again is live again: its tombstone goes and a re-emit keeps it", async () => {
    const { id, api } = await newUser("tomb-back");
    await api.put("/api/v1/devices/tv-1", tv);
    await api.delete("/api/v1/devices/tv-1");
    expect(await tombstones(id)).toBe(1);
    expect((await api.put("/api/v1/devices/tv-1", tv)).status).toBe(201);
    expect(await tombstones(id)).toBe(0);
    await (await admin()).post(`/api/v1/admin/users/${id}/reemit`);
    await eventually(
      () => mirroredDevice(id, "tv-1"),
      (r) => r?.active === true,
    );
    expect((await api.get("/api/v1/devices")).json.items.map((d: any) => d.device_id)).toEqual(["tv-1"]);
  });

  it("tombstones are dropped after the tombstone window", async () => {
    const { id, api } = await newUser("tomb-gc");
    await api.put("/api/v1/devices/old", tv);
    await api.put("/api/v1/devices/recent", tv);
    await api.delete("/api/v1/devices/old");
    await api.delete("/api/v1/devices/recent");
    const stub = userStub(id);
    const windowMs = testConfig().TOMBSTONE_MAX_AGE_SECONDS * 1000;
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec(
        "UPDATE device_tombstones SET deleted_at = ? WHERE device_id = 'old'",
        Date.now() - windowMs - 1000,
      );
    });
    await runDurableObjectAlarm(stub);
    expect(await tombstones(id)).toBe(1);
    const res = await (await admin()).post(`/api/v1/admin/users/${id}/reemit`);
    expect(res.json.devices).toBe(1);
  });
});

describe("the mirror purges removed watchlist rows after the tombstone window", () => {
  it("the hourly cron deletes removed rows older than the window, and a late older event does not bring them back", async () => {
    const { id, api } = await newUser("purge");
    const kept = await api.put("/api/v1/sync/watchlist/film-the-matrix-1999");
    const gone = await api.put("/api/v1/sync/watchlist/film-titanic-1997");
    await api.delete("/api/v1/sync/watchlist/film-titanic-1997");
    await api.put("/api/v1/sync/watchlist/film-memento-2001");
    await api.delete("/api/v1/sync/watchlist/film-memento-2001"); // removed, but recently
    const rows = () => db((d) => d.select().from(watchlistEntries).where(eq(watchlistEntries.userId, id)));
    await eventually(rows, (r) => r.length === 3 && r.filter((e) => e.removed).length === 2);
    const windowMs = testConfig().TOMBSTONE_MAX_AGE_SECONDS * 1000;
    const longAgo = new Date(Date.now() - windowMs - DAY);
    await db((d) =>
      d
        .update(watchlistEntries)
        .set({ updatedAt: longAgo })
        .where(and(eq(watchlistEntries.userId, id), eq(watchlistEntries.contentId, "film-titanic-1997"))),
    );

    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env);
    const left = await rows();
    expect(left.map((r) => r.contentId).sort()).toEqual(["film-memento-2001", "film-the-matrix-1999"]);
    expect(left.find((r) => r.contentId === "film-the-matrix-1999")?.tag).toBe(kept.json.tags[0]);

    // A late event from before the removal (a replayed dead letter, say) carries the purged tag as live.
    const tag = gone.json.tags[0] as string;
    const addedHlc = (await api.get("/api/v1/sync")).json.hlc as string;
    const late = makeEvent(
      "watchlist-changed",
      id,
      addedHlc,
      { content_id: "film-titanic-1997", present: true, entries: [{ tag, added_hlc: addedHlc, removed_hlc: null }] },
      longAgo,
    );
    // And a fresh one for a tag the mirror has never seen: it is inserted as always.
    const fresh = makeEvent(
      "watchlist-changed",
      id,
      addedHlc,
      {
        content_id: "film-alien-1979",
        present: true,
        entries: [{ tag: `fresh-${crypto.randomUUID()}`, added_hlc: addedHlc, removed_hlc: null }],
      },
      new Date(),
    );
    await applyEventBatch(testConfig(), "media-gateway-events", [
      { id: "late", body: late },
      { id: "fresh", body: fresh },
    ]);
    const after = await rows();
    expect(after.map((r) => r.contentId).sort()).toEqual([
      "film-alien-1979",
      "film-memento-2001",
      "film-the-matrix-1999",
    ]);
    const watermark = await db((d) =>
      d.execute(sql`SELECT purged_before FROM sync_mirror_purges WHERE mirror = 'watchlist'`),
    );
    expect(watermark.rows).toHaveLength(1);
  });
});

describe("storage version: device tombstones", () => {
  it("an object on the version before adopts the tombstone table, keeps its devices, and records deletions", async () => {
    const { id, api } = await newUser("tomb-migrate");
    const stub = userStub(id);
    const version = userStateMigrations.findIndex((m) => m.name === "device tombstones") + 1;
    const before = userStateMigrations.slice(0, version - 1);
    const t = Date.now() - 60_000;
    await reseed(stub, (sql) => {
      for (const m of before) m.up(sql);
      sql.exec(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
      );
      for (const m of before) sql.exec("INSERT INTO schema_migrations VALUES (?, ?, 1)", m.version, m.name);
      sql.exec("INSERT INTO meta (key, value) VALUES ('user_id', ?)", id);
      sql.exec(
        `INSERT INTO devices (device_id, device_type, platform, capabilities, app_version, device_name, registered_at,
           updated_at, last_seen, online, mirrored_at, synced_seq)
         VALUES ('tv', 'TV', 'tizen', '{}', '4.2.0', 'Living room', ?, ?, ?, 0, ?, 0)`,
        t,
        t,
        t,
        t,
      );
    });
    expect((await api.get("/api/v1/devices")).json.items.map((d: any) => d.device_id)).toEqual(["tv"]);
    const applied = await ledger(stub);
    expect(applied.filter((m) => m.name === "device tombstones")).toHaveLength(1);
    expect(applied.map((m) => m.version)).toEqual(userStateMigrations.map((m) => m.version));
    expect(await tableSql(stub, "device_tombstones")).toContain("hlc");
    expect((await api.delete("/api/v1/devices/tv")).status).toBe(204);
    expect(await tombstones(id)).toBe(1);
    await evictDurableObject(stub);
    expect(await ledger(stub)).toEqual(applied);
    expect(await tombstones(id)).toBe(1);
  });
});
