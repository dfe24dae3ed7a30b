import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { encodeHlc } from "../../src/domain/hlc";
import type { UserState } from "../../src/durable/user-state";
import { type Client, newUser, userStub } from "./helpers";

const registration = {
  device_type: "Phone",
  platform: "Android",
  capabilities: { drm: "widevine-l1" },
  app_version: "9.1",
  device_name: "Pixel",
};

/** Writes one of everything the sync service keeps, and returns what a client would read back. */
async function writeEverything(api: Client) {
  await api.put("/api/v1/devices/phone", registration);
  await api.put("/api/v1/sync/watchlist/film-alien-1979");
  await api.put("/api/v1/sync/watchlist/film-amadeus-1984");
  await api.delete("/api/v1/sync/watchlist/film-amadeus-1984");
  const batch = {
    device_id: "phone",
    ops: [
      {
        op_id: "op-1",
        type: "watchlist.add",
        content_id: "film-annie-hall-1977",
        hlc: encodeHlc({ ms: Date.now(), counter: 0, node: "phone" }),
      },
      {
        op_id: "op-2",
        type: "progress.set",
        content_id: "film-annie-hall-1977",
        position_seconds: 1200,
        duration_seconds: 5400,
        state: "paused",
        hlc: encodeHlc({ ms: Date.now(), counter: 1, node: "phone" }),
      },
    ],
  };
  expect((await api.post("/api/v1/sync/ops", batch)).status).toBe(200);
  const session = await api.post("/api/v1/sessions", {
    content_id: "film-alien-1979",
    device_id: "phone",
    duration_seconds: 3600,
  });
  await api.patch(`/api/v1/sessions/${session.json.id}/position`, { position_seconds: 1800, playback_state: "paused" });
  return { batch, snapshot: await read(api) };
}

async function read(api: Client) {
  const [sync, watchlist, progress, devices, resume] = await Promise.all([
    api.get("/api/v1/sync"),
    api.get("/api/v1/sync/watchlist"),
    api.get("/api/v1/sync/progress"),
    api.get("/api/v1/devices"),
    api.get("/api/v1/resume/film-alien-1979"),
  ]);
  return {
    sync: sync.json,
    watchlist: watchlist.json,
    progress: progress.json,
    devices: devices.json,
    resume: resume.json,
  };
}

describe("service restart scenario", () => {
  for (const [name, restart] of [
    [
      "evicted (a deploy or an idle eviction)",
      (id: string) => evictDurableObject(userStub(id), { webSockets: "close" }),
    ],
    [
      "aborted (a crash)",
      (id: string) =>
        runInDurableObject(userStub(id), (_instance: UserState, state) => {
          state.abort("simulated crash");
        }).catch(() => {}),
    ],
  ] as const) {
    it(`reads back every piece of sync state intact after the object is ${name}`, async () => {
      const { id, api } = await newUser();
      const { batch, snapshot } = await writeEverything(api);
      expect(snapshot.watchlist.items.map((i: any) => i.content_id).sort()).toEqual([
        "film-alien-1979",
        "film-annie-hall-1977",
      ]);
      expect(snapshot.devices.items).toHaveLength(1);

      await restart(id);

      const after = await read(api);
      expect(after.watchlist).toEqual(snapshot.watchlist);
      expect(after.progress).toEqual(snapshot.progress);
      expect(after.resume).toEqual(snapshot.resume);
      expect(after.devices.items.map(({ is_online: _o, ...d }: any) => d)).toEqual(
        snapshot.devices.items.map(({ is_online: _o, ...d }: any) => d),
      );
      expect(after.sync.cursor).toBe(snapshot.sync.cursor);

      // The op log survived: the same batch is recognised, not applied again.
      const replay = await api.post("/api/v1/sync/ops", batch);
      expect(replay.json.duplicates).toBe(2);
      // The clock survived: a new write is stamped after everything written before the restart.
      const lastBefore = snapshot.progress.items
        .map((p: any) => p.hlc)
        .sort()
        .at(-1);
      const next = await api.put("/api/v1/sync/progress/film-inception-2010", {
        position_seconds: 1,
        duration_seconds: 10,
        state: "paused",
      });
      expect(next.json.progress.hlc > lastBefore).toBe(true);
      // The change log survived: a pre-restart cursor gets just the new change.
      const delta = await api.get(`/api/v1/sync?since=${snapshot.sync.cursor}`);
      expect(delta.json.full).toBe(false);
      expect(delta.json.progress.items.map((p: any) => p.content_id)).toEqual(["film-inception-2010"]);
    });
  }
});
