import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeEvent } from "../../src/contracts/events";
import {
  deviceOnlineSummary,
  devices,
  progressCompleted,
  progressInProgress,
  watchlistEffective,
  watchlistEntries,
} from "../../src/db/schema";
import { encodeHlc } from "../../src/domain/hlc";
import { applyEventBatch } from "../../src/events/consumer";
import { db, eventually, newUser, testConfig } from "./helpers";

const tv = { device_type: "TV", platform: "tvOS", capabilities: { hdr: true, codecs: ["hevc"] }, app_version: "4.2.0" };
const h = (ms: number, node = "server") => encodeHlc({ ms, counter: 0, node });

describe("Postgres mirror of sync state", () => {
  it("mirrors watchlist tags with removal flags, and the effective watchlist view", async () => {
    const { id, api } = await newUser();
    const kept = await api.put("/api/v1/sync/watchlist/film-moon-2009");
    await api.put("/api/v1/sync/watchlist/film-memento-2001");
    await api.delete("/api/v1/sync/watchlist/film-memento-2001");
    const rows = await eventually(
      () => db((d) => d.select().from(watchlistEntries).where(eq(watchlistEntries.userId, id))),
      (r) => r.length === 2 && r.some((e) => e.removed),
    );
    const byContent = Object.fromEntries(rows.map((r) => [r.contentId, r]));
    expect(byContent["film-moon-2009"]).toMatchObject({ tag: kept.json.tags[0], removed: false, removedHlc: null });
    expect(byContent["film-memento-2001"]?.removed).toBe(true);
    expect(byContent["film-memento-2001"]?.removedHlc).toMatch(/:server$/);
    const effective = await db((d) => d.select().from(watchlistEffective).where(eq(watchlistEffective.userId, id)));
    expect(effective.map((e) => e.contentId)).toEqual(["film-moon-2009"]);
    expect(effective[0]?.liveTags).toBe(1);
  });

  it("mirrors devices (type, JSONB capabilities, last_seen, is_online) and the online summary", async () => {
    const { id, api } = await newUser();
    await api.put("/api/v1/devices/tv-1", { ...tv, device_name: "Living room" });
    await api.put("/api/v1/devices/phone-1", {
      device_type: "Phone",
      platform: "iOS",
      capabilities: {},
      app_version: "1.0",
      device_name: "Pocket",
    });
    await api.delete("/api/v1/devices/phone-1");
    const rows = await eventually(
      () => db((d) => d.select().from(devices).where(eq(devices.userId, id))),
      (r) => r.length === 2 && r.some((x) => !x.active),
    );
    const tvRow = rows.find((r) => r.deviceId === "tv-1");
    expect(tvRow).toMatchObject({ deviceType: "TV", isOnline: true, active: true, capabilities: tv.capabilities });
    expect(tvRow?.lastSeen).toBeInstanceOf(Date);
    expect(rows.find((r) => r.deviceId === "phone-1")?.active).toBe(false);
    const summary = await db((d) => d.select().from(deviceOnlineSummary).where(eq(deviceOnlineSummary.userId, id)));
    expect(summary).toEqual([expect.objectContaining({ onlineDevices: 1, devices: 1, onlineDeviceTypes: ["TV"] })]);
    // The database itself refuses a device type outside the list.
    await expect(
      db((d) =>
        d.execute(sql`INSERT INTO devices (user_id, device_id, device_type, platform, app_version, device_name,
          last_seen, hlc) VALUES (${id}, 'fridge', 'Fridge', 'x', '1', 'x', now(), ${h(1)})`),
      ),
    ).rejects.toThrow();
  });

  it("splits progress into in-progress (< 90 %) and completed (>= 90 %) views", async () => {
    const { id, api } = await newUser();
    await api.put("/api/v1/sync/progress/film-signs-2002", {
      position_seconds: 50,
      duration_seconds: 100,
      state: "paused",
    });
    await api.put("/api/v1/sync/progress/film-avatar-2009", {
      position_seconds: 95,
      duration_seconds: 100,
      state: "stopped",
    });
    await eventually(
      () => db((d) => d.select().from(progressCompleted).where(eq(progressCompleted.userId, id))),
      (r) => r.length === 1,
    );
    const inProgress = await eventually(
      () => db((d) => d.select().from(progressInProgress).where(eq(progressInProgress.userId, id))),
      (r) => r.length === 1,
    );
    expect(inProgress[0]?.contentId).toBe("film-signs-2002");
    const completed = await db((d) => d.select().from(progressCompleted).where(eq(progressCompleted.userId, id)));
    expect(completed[0]?.contentId).toBe("film-avatar-2009");
  });

  it("is idempotent and never goes back in time, whatever the delivery order", async () => {
    const config = testConfig();
    const user = `mirror-${crypto.randomUUID()}`;
    const base = Date.now();
    const added = makeEvent("watchlist-changed", user, h(base + 1), {
      content_id: "film-the-matrix-1999",
      present: true,
      entries: [{ tag: "t1", added_hlc: h(base + 1, "phone"), removed_hlc: null }],
    });
    const removed = makeEvent("watchlist-changed", user, h(base + 2), {
      content_id: "film-the-matrix-1999",
      present: false,
      entries: [{ tag: "t1", added_hlc: h(base + 1, "phone"), removed_hlc: h(base + 2, "tv") }],
    });
    const device = (ms: number, online: boolean, name: string) =>
      makeEvent("device-changed", user, h(ms), {
        device_id: "tv",
        device_type: "TV",
        platform: "webOS",
        capabilities: { uhd: true },
        app_version: "2.0",
        device_name: name,
        last_seen: new Date(ms).toISOString(),
        is_online: online,
        deleted: false,
      });
    const newer = device(base + 20, false, "renamed");
    const older = device(base + 10, true, "original");
    const messages = (events: unknown[]) => events.map((body, i) => ({ id: `m${i}`, body }));

    await applyEventBatch(config, "test", messages([removed, newer]));
    // The older events arrive late, then the whole lot again: nothing moves.
    const late = await applyEventBatch(config, "test", messages([added, older]));
    expect(late.syncRows).toBe(0);
    const replay = await applyEventBatch(config, "test", messages([added, removed, older, newer]));
    expect(replay.syncRows).toBe(0);

    const [entry] = await db((d) => d.select().from(watchlistEntries).where(eq(watchlistEntries.userId, user)));
    expect(entry).toMatchObject({
      tag: "t1",
      removed: true,
      addedHlc: h(base + 1, "phone"),
      removedHlc: h(base + 2, "tv"),
    });
    const [tvRow] = await db((d) => d.select().from(devices).where(eq(devices.userId, user)));
    expect(tvRow).toMatchObject({ deviceName: "renamed", isOnline: false, hlc: newer.hlc });
  });
});
