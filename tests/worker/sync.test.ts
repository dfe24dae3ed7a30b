import { describe, expect, it } from "vitest";
import { encodeHlc } from "../../src/domain/hlc";
import { client, newUser } from "./helpers";

const HOUR = 3600_000;
const hlc = (ms: number, node = "phone", counter = 0) => encodeHlc({ ms, counter, node });

describe("watchlist (OR-Set) over HTTP", () => {
  it("adds an item once and lists the effective watchlist most recently added first", async () => {
    const { api } = await newUser();
    const first = await api.put("/api/v1/sync/watchlist/film-alien-1979");
    expect(first.status).toBe(201);
    expect(first.json.tags).toHaveLength(1);
    const again = await api.put("/api/v1/sync/watchlist/film-alien-1979");
    expect(again.status).toBe(200);
    expect(again.json.tags).toEqual(first.json.tags);
    await api.put("/api/v1/sync/watchlist/film-amadeus-1984");
    const list = await api.get("/api/v1/sync/watchlist");
    expect(list.status).toBe(200);
    expect(list.json.items.map((i: { content_id: string }) => i.content_id)).toEqual([
      "film-amadeus-1984",
      "film-alien-1979",
    ]);
    expect(list.json.next_cursor).toBeNull();
  });

  it("pages the watchlist with limit and an opaque cursor", async () => {
    const { api } = await newUser();
    const films = [
      "film-alien-1979",
      "film-amadeus-1984",
      "film-annie-hall-1977",
      "film-apollo-13-1995",
      "film-avatar-2009",
    ];
    for (const id of films) await api.put(`/api/v1/sync/watchlist/${id}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await api.get(`/api/v1/sync/watchlist?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(res.status).toBe(200);
      expect(res.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.json.items.map((i: { content_id: string }) => i.content_id));
      cursor = res.json.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...films].reverse());
    expect((await api.get("/api/v1/sync/watchlist?cursor=not-a-cursor")).status).toBe(400);
    expect((await api.get("/api/v1/sync/watchlist?limit=101")).status).toBe(400);
  });

  it("removes an item; removing what is not there is a 404", async () => {
    const { api } = await newUser();
    await api.put("/api/v1/sync/watchlist/film-alien-1979");
    expect((await api.delete("/api/v1/sync/watchlist/film-alien-1979")).status).toBe(204);
    expect((await api.get("/api/v1/sync/watchlist")).json.items).toEqual([]);
    const again = await api.delete("/api/v1/sync/watchlist/film-alien-1979");
    expect(again.status).toBe(404);
    expect(again.headers.get("content-type")).toBe("application/problem+json");
  });

  it("refuses a malformed content id with a problem and changes nothing", async () => {
    const { api } = await newUser();
    const res = await api.put("/api/v1/sync/watchlist/%20bad%20id");
    expect(res.status).toBe(400);
    expect(res.json.type).toMatch(/validation/);
    expect((await api.get("/api/v1/sync/watchlist")).json.items).toEqual([]);
  });
});

describe("progress: one LWW register shared by sync and playback sessions", () => {
  it("a sync write and a session position are the same register, ordered by HLC", async () => {
    const { api } = await newUser();
    const session = await api.post("/api/v1/sessions", {
      content_id: "film-alien-1979",
      device_id: "tv",
      duration_seconds: 3600,
    });
    await api.patch(`/api/v1/sessions/${session.json.id}/position`, {
      position_seconds: 1800,
      playback_state: "paused",
    });
    let progress = await api.get("/api/v1/sync/progress");
    expect(progress.json.items).toHaveLength(1);
    expect(progress.json.items[0]).toMatchObject({ content_id: "film-alien-1979", position_seconds: 1800 });
    const serverStamp: string = progress.json.items[0].hlc;

    // A phone write stamped later than the session's wins and is what resume answers.
    const later = await api.put("/api/v1/sync/progress/film-alien-1979", {
      position_seconds: 2400,
      duration_seconds: 3600,
      state: "paused",
      hlc: hlc(Date.now() + 1000),
      device_id: "phone",
    });
    expect(later.status).toBe(200);
    expect(later.json.applied).toBe(true);
    expect((await api.get("/api/v1/resume/film-alien-1979")).json.resume_position_seconds).toBe(2400);

    // A write stamped before the register's loses, and the answer shows the winner.
    const older = await api.put("/api/v1/sync/progress/film-alien-1979", {
      position_seconds: 60,
      duration_seconds: 3600,
      state: "paused",
      hlc: hlc(Number(serverStamp.slice(0, 15)) - 60_000, "tablet"),
    });
    expect(older.json.applied).toBe(false);
    expect(older.json.progress.position_seconds).toBe(2400);
    progress = await api.get("/api/v1/sync/progress");
    expect(progress.json.items[0].position_seconds).toBe(2400);
  });

  it("a client clock hours ahead does not reorder the server's own later writes", async () => {
    const { api } = await newUser();
    const ahead = hlc(Date.now() + 3 * HOUR, "fastclock");
    await api.put("/api/v1/sync/progress/film-alien-1979", {
      position_seconds: 100,
      duration_seconds: 3600,
      state: "paused",
      hlc: ahead,
    });
    // The session's write happens after, in real time: the server clock has merged the fast stamp.
    const session = await api.post("/api/v1/sessions", {
      content_id: "film-alien-1979",
      device_id: "tv",
      duration_seconds: 3600,
    });
    await api.patch(`/api/v1/sessions/${session.json.id}/position`, {
      position_seconds: 900,
      playback_state: "paused",
    });
    const register = (await api.get("/api/v1/sync/progress")).json.items[0];
    expect(register.position_seconds).toBe(900);
    expect(register.hlc > ahead).toBe(true);
  });

  it("without a client HLC the server stamps the write; the same write again is not re-applied", async () => {
    const { api } = await newUser();
    const body = { position_seconds: 300, duration_seconds: 3600, state: "paused", hlc: hlc(Date.now(), "tv") };
    expect((await api.put("/api/v1/sync/progress/series-distant-empire-s01e01", body)).json.applied).toBe(true);
    expect((await api.put("/api/v1/sync/progress/series-distant-empire-s01e01", body)).json.applied).toBe(false);
    // An older stamp loses whatever it says.
    const older = { ...body, hlc: hlc(Date.now() - HOUR, "tv"), position_seconds: 9000 };
    expect((await api.put("/api/v1/sync/progress/series-distant-empire-s01e01", older)).json.applied).toBe(false);
    const stamped = await api.put("/api/v1/sync/progress/series-distant-empire-s01e01", {
      ...body,
      hlc: undefined,
      position_seconds: 400,
    });
    expect(stamped.json.applied).toBe(true);
    expect(stamped.json.progress.hlc).toMatch(/:server$/);
  });

  it("refuses an HLC far in the future, a reserved node id, and bad numbers", async () => {
    const { api } = await newUser();
    const base = { position_seconds: 10, duration_seconds: 100, state: "paused" };
    for (const body of [
      { ...base, hlc: hlc(Date.now() + 48 * HOUR) },
      { ...base, hlc: hlc(Date.now(), "server") },
      { ...base, hlc: "yesterday" },
      { ...base, position_seconds: -1 },
      { ...base, state: "rewinding" },
    ]) {
      const res = await api.put("/api/v1/sync/progress/film-alien-1979", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    expect((await api.get("/api/v1/sync/progress")).json.items).toEqual([]);
  });
});

describe("delta sync", () => {
  it("returns only what changed after the cursor, and removals as removed keys", async () => {
    const { api } = await newUser();
    await api.put("/api/v1/sync/watchlist/film-alien-1979");
    await api.put("/api/v1/sync/watchlist/film-amadeus-1984");
    const full = await api.get("/api/v1/sync");
    expect(full.status).toBe(200);
    expect(full.json).toMatchObject({ full: true, reason: "initial" });
    expect(full.json.watchlist.items).toHaveLength(2);

    await api.delete("/api/v1/sync/watchlist/film-alien-1979");
    await api.put("/api/v1/sync/watchlist/film-annie-hall-1977");
    await api.put("/api/v1/sync/progress/film-inception-2010", {
      position_seconds: 50,
      duration_seconds: 100,
      state: "paused",
    });
    const delta = await api.get(`/api/v1/sync?since=${full.json.cursor}`);
    expect(delta.json.full).toBe(false);
    expect(delta.json.reason).toBeNull();
    expect(delta.json.watchlist.items.map((i: { content_id: string }) => i.content_id)).toEqual([
      "film-annie-hall-1977",
    ]);
    expect(delta.json.watchlist.removed).toEqual(["film-alien-1979"]);
    expect(delta.json.progress.items.map((p: { content_id: string }) => p.content_id)).toEqual(["film-inception-2010"]);

    const nothing = await api.get(`/api/v1/sync?since=${delta.json.cursor}`);
    expect(nothing.json).toMatchObject({
      full: false,
      cursor: delta.json.cursor,
      watchlist: { items: [], removed: [] },
      progress: { items: [], removed: [] },
      devices: { items: [], removed: [] },
    });
  });

  it("refuses a cursor it never issued; a cursor ahead of the log gets the full state", async () => {
    const { api } = await newUser();
    expect((await api.get("/api/v1/sync?since=%%%")).status).toBe(400);
    const ahead = btoa(JSON.stringify({ s: 999_999 })).replace(/=+$/, "");
    const res = await api.get(`/api/v1/sync?since=${ahead}`);
    expect(res.json).toMatchObject({ full: true, reason: "unknown-cursor" });
  });
});

describe("isolation over HTTP", () => {
  it("one user never reads or changes another user's watchlist, progress or devices", async () => {
    const alice = await newUser("alice");
    const bob = await newUser("bob");
    await alice.api.put("/api/v1/sync/watchlist/film-se7en-1995");
    await alice.api.put("/api/v1/sync/progress/film-se7en-1995", {
      position_seconds: 5,
      duration_seconds: 10,
      state: "paused",
    });
    await alice.api.put("/api/v1/devices/alice-tv", {
      device_type: "TV",
      platform: "tvOS",
      capabilities: {},
      app_version: "1.0",
      device_name: "Alice's TV",
    });
    expect((await bob.api.get("/api/v1/sync/watchlist")).json.items).toEqual([]);
    expect((await bob.api.get("/api/v1/sync/progress")).json.items).toEqual([]);
    expect((await bob.api.get("/api/v1/devices")).json.items).toEqual([]);
    const bobSync = await bob.api.get("/api/v1/sync");
    expect(bobSync.json.watchlist.items).toEqual([]);
    expect((await bob.api.delete("/api/v1/sync/watchlist/film-se7en-1995")).status).toBe(404);
    expect((await bob.api.delete("/api/v1/devices/alice-tv")).status).toBe(404);
    expect((await bob.api.post("/api/v1/devices/alice-tv/heartbeat")).status).toBe(404);
    // A cursor from Alice's log tells Bob nothing about Alice.
    const aliceCursor = (await alice.api.get("/api/v1/sync")).json.cursor;
    const bobDelta = await bob.api.get(`/api/v1/sync?since=${aliceCursor}`);
    expect(JSON.stringify(bobDelta.json)).not.toContain("film-se7en-1995");
    expect((await alice.api.get("/api/v1/sync/watchlist")).json.items).toHaveLength(1);
  });

  it("every sync and device route needs a valid token", async () => {
    const anonymous = client(null);
    for (const [method, path] of [
      ["GET", "/api/v1/sync"],
      ["POST", "/api/v1/sync/ops"],
      ["GET", "/api/v1/sync/watchlist"],
      ["PUT", "/api/v1/sync/watchlist/film-the-matrix-1999"],
      ["DELETE", "/api/v1/sync/watchlist/film-the-matrix-1999"],
      ["GET", "/api/v1/sync/progress"],
      ["PUT", "/api/v1/sync/progress/film-the-matrix-1999"],
      ["GET", "/api/v1/devices"],
      ["PUT", "/api/v1/devices/x"],
      ["POST", "/api/v1/devices/x/heartbeat"],
      ["DELETE", "/api/v1/devices/x"],
    ] as const) {
      const res = await anonymous.raw(method, path, method === "GET" || method === "DELETE" ? undefined : {});
      expect(res.status, `${method} ${path}`).toBe(401);
    }
  });

  it("publishes the sync and device routes in the OpenAPI document", async () => {
    const doc = await client(null).get("/openapi.json");
    expect(doc.status, doc.text).toBe(200);
    for (const path of [
      "/api/v1/sync",
      "/api/v1/sync/ops",
      "/api/v1/sync/watchlist/{content_id}",
      "/api/v1/sync/progress/{content_id}",
      "/api/v1/sync/ws",
      "/api/v1/devices/{device_id}",
      "/api/v1/devices/{device_id}/heartbeat",
    ]) {
      expect(Object.keys(doc.json.paths)).toContain(path);
    }
  });
});
