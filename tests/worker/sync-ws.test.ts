import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { workerFetch } from "./contract-harness";
import { newUser, tokenFor, userStub } from "./helpers";
import { connect, isChange, open } from "./sockets";

describe("WebSocket push", () => {
  it("a write from one device reaches the user's other device, not the writer's own socket", async () => {
    const { token, api } = await newUser();
    const tv = await connect(token, { device: "tv" });
    const phone = await connect(token, { device: "phone" });
    expect((await tv.next()).type).toBe("hello");
    expect((await phone.next()).type).toBe("hello");

    const added = await api.raw("PUT", "/api/v1/sync/watchlist/film-the-matrix-1999", undefined, {
      "x-device-id": "tv",
    });
    expect(added.status).toBe(201);
    const change = await phone.next(isChange);
    expect(change.watchlist.items).toEqual([
      expect.objectContaining({ content_id: "film-the-matrix-1999", tags: added.json.tags }),
    ]);
    expect(typeof change.cursor).toBe("string");
    await tv.silentFor(300);

    // A playback position from a session on the phone reaches the TV, with its cursor.
    const session = await api.post("/api/v1/sessions", {
      content_id: "film-the-matrix-1999",
      device_id: "phone",
      duration_seconds: 3600,
    });
    await api.patch(`/api/v1/sessions/${session.json.id}/position`, {
      position_seconds: 1800,
      playback_state: "paused",
    });
    const position = await tv.next(
      (m) => isChange(m) && m.progress.items.some((p: any) => p.position_seconds === 1800),
    );
    expect(position.progress.items[0]).toMatchObject({ content_id: "film-the-matrix-1999", position_seconds: 1800 });
    const cursor = (await api.get("/api/v1/sync")).json.cursor;
    expect(position.cursor).toBe(cursor);
    tv.close();
    phone.close();
  });

  it("another user's socket receives nothing", async () => {
    const alice = await newUser("alice");
    const bob = await newUser("bob");
    const aliceTv = await connect(alice.token, { device: "tv" });
    const bobTv = await connect(bob.token, { device: "tv" });
    await aliceTv.next();
    await bobTv.next();
    await alice.api.put("/api/v1/sync/watchlist/film-zodiac-2007");
    await alice.api.put("/api/v1/sync/progress/film-zodiac-2007", {
      position_seconds: 9,
      duration_seconds: 99,
      state: "paused",
    });
    await aliceTv.next((m) => isChange(m) && m.progress.items.length > 0);
    await bobTv.silentFor(400);
    expect(JSON.stringify(bobTv.messages)).not.toContain("film-zodiac-2007");
    aliceTv.close();
    bobTv.close();
  });

  it("a reconnecting client resumes from its last cursor and gets only what it missed", async () => {
    const { token, api } = await newUser();
    await api.put("/api/v1/sync/watchlist/film-speed-1994");
    const phone = await connect(token, { device: "phone" });
    const { cursor } = await phone.next();
    phone.close();
    // Offline: the TV changes things.
    await api.put("/api/v1/sync/watchlist/film-rocky-1976");
    await api.delete("/api/v1/sync/watchlist/film-speed-1994");
    const again = await connect(token, { device: "phone", since: cursor });
    const catchUp = await again.next();
    expect(catchUp).toMatchObject({ type: "sync", full: false });
    expect(catchUp.watchlist.items.map((i: any) => i.content_id)).toEqual(["film-rocky-1976"]);
    expect(catchUp.watchlist.removed).toEqual(["film-speed-1994"]);
    // Asking again over the socket gives the same catch-up.
    again.ws.send(JSON.stringify({ type: "resume", cursor }));
    expect((await again.next()).watchlist.removed).toEqual(["film-speed-1994"]);
    again.ws.send("{not json");
    expect((await again.next()).type).toBe("error");
    again.close();
  });

  it("answers ping with pong, and keeps pushing after the object hibernates", async () => {
    const { id, token, api } = await newUser();
    const tv = await connect(token, { device: "tv" });
    const phone = await connect(token, { device: "phone" });
    await tv.next();
    await phone.next();
    tv.ws.send("ping");
    expect((await tv.next()).type).toBe("pong");
    // Evicted with its sockets hibernated: the attachments (device ids) survive.
    await evictDurableObject(userStub(id));
    tv.ws.send("ping");
    expect((await tv.next()).type).toBe("pong");
    await api.raw("PUT", "/api/v1/sync/watchlist/film-up-2009", undefined, { "x-device-id": "phone" });
    const change = await tv.next(isChange);
    expect(change.watchlist.items[0].content_id).toBe("film-up-2009");
    await phone.silentFor(300);
    tv.close();
    phone.close();
  });

  it("pushes presence: a registered device connecting shows online on the other devices", async () => {
    const { token, api } = await newUser();
    const registration = { platform: "web", capabilities: {}, app_version: "1", device_name: "x" };
    await api.put("/api/v1/devices/laptop", { ...registration, device_type: "Desktop" });
    await api.put("/api/v1/devices/tablet", { ...registration, device_type: "Tablet" });
    await api.delete("/api/v1/devices/tablet");
    const laptop = await connect(token, { device: "laptop" });
    await laptop.next();
    await api.put("/api/v1/devices/tablet", { ...registration, device_type: "Tablet" });
    const presence = await laptop.next((m) => isChange(m) && m.devices.items.length > 0);
    expect(presence.devices.items).toEqual([expect.objectContaining({ device_id: "tablet", is_online: true })]);
    laptop.close();
  });
});

describe("WebSocket authentication", () => {
  it("accepts the token in the Authorization header, ?access_token= or the bearer subprotocol", async () => {
    const { token } = await newUser();
    for (const via of ["header", "query", "protocol"] as const) {
      const res = await open(token, { via });
      expect(res instanceof Response ? res.status : 101, via).toBe(101);
      if (!(res instanceof Response)) {
        expect((await res.next()).type).toBe("hello");
        res.close();
      }
    }
    const raw = await workerFetch(
      new Request("http://gateway.test/api/v1/sync/ws", {
        headers: { upgrade: "websocket", "sec-websocket-protocol": `bearer, ${token}` },
      }),
    );
    expect(raw.status).toBe(101);
    expect(raw.headers.get("sec-websocket-protocol")).toBe("bearer");
    raw.webSocket?.accept();
    raw.webSocket?.close(1000);
  });

  it("refuses an upgrade without a valid token, and plain HTTP, with problem+json", async () => {
    const stranger = await tokenFor("someone", { key: new TextEncoder().encode("x".repeat(48)) });
    const expired = await tokenFor("someone", { expiresIn: "-1m" });
    for (const token of [null, stranger, expired, "not-a-jwt"]) {
      for (const via of ["header", "query", "protocol"] as const) {
        const res = await open(token, { via });
        expect(res instanceof Response && res.status, `${via} ${token?.slice(0, 10)}`).toBe(401);
        if (res instanceof Response) expect(res.headers.get("content-type")).toBe("application/problem+json");
      }
    }
    const { token } = await newUser();
    const plain = await workerFetch(
      new Request("http://gateway.test/api/v1/sync/ws", { headers: { authorization: `Bearer ${token}` } }),
    );
    expect(plain.status).toBe(426);
    const badCursor = await open(token, { since: "garbage!" });
    expect(badCursor instanceof Response && badCursor.status).toBe(400);
  });
});
