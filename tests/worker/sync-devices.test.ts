import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { devices as devicesTable } from "../../src/db/schema";
import { encodeHlc } from "../../src/domain/hlc";
import type { UserState } from "../../src/durable/user-state";
import { workerFetch } from "./contract-harness";
import { type Client, db, eventually, newUser, testConfig, userStub } from "./helpers";

const device = (type = "TV", extra: Record<string, unknown> = {}) => ({
  device_type: type,
  platform: "tvOS",
  capabilities: { hdr: true, codecs: ["hevc", "av1"], max_resolution: "2160p" },
  app_version: "4.2.0",
  device_name: "Living room",
  ...extra,
});

/**
 * Moves stored times back, as if `ms` had passed since they were written. Waits for the outbox
 * to drain first, so that no alarm run already under way sees the change before the test runs one.
 */
async function age(userId: string, table: "devices" | "watchlist", column: string, ms: number, where = "1 = 1") {
  await eventually(
    () => userStub(userId).status(),
    (s) => s.outbox === 0,
  );
  await runInDurableObject(userStub(userId), (_instance: UserState, state) => {
    state.storage.sql.exec(`UPDATE ${table} SET ${column} = ${column} - ? WHERE ${where}`, ms);
  });
}

/** Runs the object's alarm now; if it is already running (an outbox drain), waits for the next one. */
async function runAlarm(userId: string) {
  for (let i = 0; i < 40; i++) {
    if (await runDurableObjectAlarm(userStub(userId))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("no alarm was scheduled");
}

const stats = async (userId: string) => (await userStub(userId).status()).sync;

async function listDevices(api: Client) {
  const res = await api.get("/api/v1/devices");
  expect(res.status).toBe(200);
  return Object.fromEntries(res.json.items.map((d: any) => [d.device_id, d]));
}

describe("device registry", () => {
  it("registers, updates, lists with presence, heartbeats and deletes a device", async () => {
    const { api } = await newUser();
    const created = await api.put("/api/v1/devices/tv-1", device());
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      device_id: "tv-1",
      device_type: "TV",
      is_online: true,
      capabilities: device().capabilities,
    });
    const updated = await api.put("/api/v1/devices/tv-1", device("TV", { app_version: "4.3.0", device_name: "Den" }));
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({
      app_version: "4.3.0",
      device_name: "Den",
      registered_at: created.json.registered_at,
    });
    const beat = await api.post("/api/v1/devices/tv-1/heartbeat");
    expect(beat.status).toBe(200);
    expect(beat.json.last_seen >= created.json.last_seen).toBe(true);
    expect((await api.post("/api/v1/devices/nope/heartbeat")).status).toBe(404);

    for (const id of ["a", "b", "c"]) await api.put(`/api/v1/devices/${id}`, device("Phone"));
    const page1 = await api.get("/api/v1/devices?limit=2");
    const page2 = await api.get(`/api/v1/devices?limit=2&cursor=${page1.json.next_cursor}`);
    const page3 = await api.get(`/api/v1/devices?limit=2&cursor=${page2.json.next_cursor}`);
    expect([...page1.json.items, ...page2.json.items].map((d: any) => d.device_id)).toEqual(["a", "b", "c", "tv-1"]);
    expect(page2.json.next_cursor).toBeNull();
    expect(page3.status).toBe(400);

    expect((await api.delete("/api/v1/devices/tv-1")).status).toBe(204);
    expect((await api.delete("/api/v1/devices/tv-1")).status).toBe(404);
    expect(Object.keys(await listDevices(api))).toEqual(["a", "b", "c"]);
  });

  it("refuses bad registrations with problem+json and stores nothing", async () => {
    const { api } = await newUser();
    for (const body of [
      device("Fridge"),
      device("TV", { capabilities: "fast" }),
      device("TV", { capabilities: [1, 2] }),
      device("TV", { capabilities: { blob: "x".repeat(5000) } }),
      device("TV", { device_name: "" }),
      { device_type: "TV" },
    ]) {
      const res = await api.put("/api/v1/devices/tv-1", body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    expect((await api.put("/api/v1/devices/bad%20id", device())).status).toBe(400);
    expect(await listDevices(api)).toEqual({});
  });

  it("caps the number of devices per user", async () => {
    const { api } = await newUser();
    const max = testConfig().SYNC_MAX_DEVICES;
    for (let i = 0; i < max; i++) expect((await api.put(`/api/v1/devices/d-${i}`, device("Web"))).status).toBe(201);
    const over = await api.put("/api/v1/devices/one-too-many", device("Web"));
    expect(over.status).toBe(409);
    // Updating a known device is still fine.
    expect((await api.put("/api/v1/devices/d-0", device("Desktop"))).status).toBe(200);
  });
});

describe("presence through the alarm", () => {
  it("marks a device offline after the window without heartbeat or socket, and tells the other devices", async () => {
    const { id, token, api } = await newUser();
    const offlineMs = testConfig().DEVICE_OFFLINE_SECONDS * 1000;
    await api.put("/api/v1/devices/tv", device());
    await api.put("/api/v1/devices/phone", device("Phone"));
    const res = await workerFetch(
      new Request("http://gateway.test/api/v1/sync/ws?device_id=phone", {
        headers: { upgrade: "websocket", authorization: `Bearer ${token}` },
      }),
    );
    const phoneSocket = res.webSocket as WebSocket;
    const pushed: any[] = [];
    phoneSocket.accept();
    phoneSocket.addEventListener("message", (e) => pushed.push(JSON.parse(e.data as string)));

    // Both went quiet longer than the window; the phone still has its socket open.
    await age(id, "devices", "last_seen", offlineMs + 1000);
    await runAlarm(id);
    const listed = await listDevices(api);
    expect(listed.tv.is_online).toBe(false);
    expect(listed.phone.is_online).toBe(true);
    await eventually(
      async () => pushed,
      (messages) =>
        messages.some(
          (m) => m.type === "change" && m.devices.items.some((d: any) => d.device_id === "tv" && !d.is_online),
        ),
    );
    const mirrored = await eventually(
      () => db((d) => d.select().from(devicesTable).where(eq(devicesTable.userId, id))),
      (rows) => rows.find((r) => r.deviceId === "tv")?.isOnline === false,
    );
    expect(mirrored.find((r) => r.deviceId === "phone")?.isOnline).toBe(true);

    // A heartbeat brings it back.
    expect((await api.post("/api/v1/devices/tv/heartbeat")).json.is_online).toBe(true);
    phoneSocket.close(1000);
  });

  it("does not mark a device offline before the window has passed", async () => {
    const { id, api } = await newUser();
    const offlineMs = testConfig().DEVICE_OFFLINE_SECONDS * 1000;
    await api.put("/api/v1/devices/tv", device());
    await age(id, "devices", "last_seen", offlineMs - 60_000);
    await runAlarm(id);
    expect((await listDevices(api)).tv.is_online).toBe(true);
  });
});

describe("tombstone garbage collection", () => {
  const h = (node: string, i: number) => encodeHlc({ ms: Date.now(), counter: i, node });

  it("drops a removed tag only once every registered device has synced past it", async () => {
    const { id, api } = await newUser();
    await api.put("/api/v1/devices/tv", device());
    await api.put("/api/v1/devices/phone", device("Phone"));
    const add = { op_id: "add-1", type: "watchlist.add", content_id: "film-the-matrix-1999", hlc: h("tv", 1) };
    await api.post("/api/v1/sync/ops", { device_id: "tv", ops: [add] });
    const before = (await api.get("/api/v1/sync?device_id=tv")).json.cursor;
    await api.get("/api/v1/sync?device_id=phone");
    expect((await api.delete("/api/v1/sync/watchlist/film-the-matrix-1999")).status).toBe(204);
    expect(await stats(id)).toMatchObject({ tombstones: 1 });

    await runAlarm(id);
    expect(await stats(id)).toMatchObject({ tombstones: 1 });
    await api.get("/api/v1/sync?device_id=tv");
    await runAlarm(id);
    expect(await stats(id)).toMatchObject({ tombstones: 1 });
    await api.get("/api/v1/sync?device_id=phone");
    await runAlarm(id);
    expect(await stats(id)).toMatchObject({ tombstones: 0, entries: 0 });

    // A cursor from before the collection gets the full state, and is told why.
    const stale = await api.get(`/api/v1/sync?since=${before}`);
    expect(stale.json).toMatchObject({ full: true, reason: "gc" });
    expect(stale.json.watchlist.items).toEqual([]);
    // The original add delivered again (a retried offline batch) does not bring the item back.
    const again = await api.post("/api/v1/sync/ops", { device_id: "tv", ops: [add] });
    expect(again.json.results[0].status).toBe("duplicate");
    expect((await api.get("/api/v1/sync/watchlist")).json.items).toEqual([]);
  });

  it("an acknowledged push over the socket counts as synced", async () => {
    const { id, token, api } = await newUser();
    await api.put("/api/v1/devices/tv", device());
    await api.put("/api/v1/sync/watchlist/film-the-matrix-1999");
    const res = await workerFetch(
      new Request("http://gateway.test/api/v1/sync/ws?device_id=tv", {
        headers: { upgrade: "websocket", authorization: `Bearer ${token}` },
      }),
    );
    const ws = res.webSocket as WebSocket;
    const pushed: any[] = [];
    ws.accept();
    ws.addEventListener("message", (e) => pushed.push(JSON.parse(e.data as string)));
    await api.delete("/api/v1/sync/watchlist/film-the-matrix-1999");
    const change = await eventually(
      async () => pushed.find((m) => m.type === "change"),
      (m) => m !== undefined,
    );
    await runAlarm(id);
    expect(await stats(id)).toMatchObject({ tombstones: 1 });
    ws.send(JSON.stringify({ type: "ack", cursor: change.cursor }));
    await eventually(
      async () => {
        await runAlarm(id);
        return stats(id);
      },
      (s) => s?.tombstones === 0,
    );
    ws.close(1000);
  });

  it("drops tombstones older than the retention even if a device never syncs", async () => {
    const { id, api } = await newUser();
    await api.put("/api/v1/devices/forgotten-tablet", device("Tablet"));
    await api.put("/api/v1/sync/watchlist/film-the-matrix-1999");
    await api.delete("/api/v1/sync/watchlist/film-the-matrix-1999");
    await runAlarm(id);
    expect(await stats(id)).toMatchObject({ tombstones: 1 });
    await age(id, "watchlist", "removed_at", testConfig().TOMBSTONE_MAX_AGE_SECONDS * 1000 + 1000);
    await runAlarm(id);
    expect(await stats(id)).toMatchObject({ tombstones: 0 });
  });

  it("keeps a remove whose add has not arrived yet, so the late add is still removed", async () => {
    const { id, api } = await newUser();
    const tag = h("phone", 1);
    await api.post("/api/v1/sync/ops", {
      device_id: "phone",
      ops: [
        { op_id: "rm", type: "watchlist.remove", content_id: "film-the-matrix-1999", tags: [tag], hlc: h("phone", 2) },
      ],
    });
    // No device holds anything back, yet the tombstone waits for its add.
    await runAlarm(id);
    expect(await stats(id)).toMatchObject({ tombstones: 1 });
    await api.post("/api/v1/sync/ops", {
      device_id: "phone",
      ops: [{ op_id: "add", type: "watchlist.add", content_id: "film-the-matrix-1999", tag, hlc: tag }],
    });
    expect((await api.get("/api/v1/sync/watchlist")).json.items).toEqual([]);
  });
});
