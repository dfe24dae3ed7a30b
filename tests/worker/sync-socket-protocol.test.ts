import { runInDurableObject } from "cloudflare:test";
import { Validator } from "@cfworker/json-schema";
import { describe, expect, it } from "vitest";
import { SYNC_SOCKET_SCHEMA_PATH } from "../../src/contracts/sync-socket";
import { encodeCursor } from "../../src/domain/cursor";
import { encodeHlc } from "../../src/domain/hlc";
import { client, newUser, userStub } from "./helpers";
import { connect, isChange, type Message } from "./sockets";

const registration = { platform: "web", capabilities: { hdr: false }, app_version: "1", device_name: "x" };

/** A validator of one `$defs` entry of the published socket schema. */
async function validatorFor(def: "server-message" | "client-message") {
  const res = await client(null).get(SYNC_SOCKET_SCHEMA_PATH);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/schema+json");
  expect(res.json.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
  const validator = new Validator({ $defs: res.json.$defs, $ref: `#/$defs/${def}` }, "2020-12", false);
  return (message: unknown) => validator.validate(message);
}

const syncedSeq = (userId: string, deviceId: string) =>
  runInDurableObject(
    userStub(userId),
    (_instance, state) =>
      state.storage.sql
        .exec<{ synced_seq: number }>("SELECT synced_seq FROM devices WHERE device_id = ?", deviceId)
        .one().synced_seq,
  );

describe("the sync socket's protocol", () => {
  it("refuses a message that is not in the schema with a typed error, and changes nothing", async () => {
    const { id, token, api } = await newUser();
    await api.put("/api/v1/devices/phone", { ...registration, device_type: "Phone" });
    const phone = await connect(token, { device: "phone" });
    await phone.next();
    await api.raw("PUT", "/api/v1/sync/watchlist/film-alien-1979", undefined, { "x-device-id": "tv" });
    const change = await phone.next(isChange);
    const before = await syncedSeq(id, "phone");
    const validate = await validatorFor("server-message");

    const badMessages: [string | Uint8Array, string][] = [
      ["{not json", ""],
      ["[]", ""],
      ['{"type":"ack"}', "cursor"],
      ['{"type":"ack","cursor":42}', "cursor"],
      [JSON.stringify({ type: "subscribe", cursor: change.cursor }), "type"],
      [JSON.stringify({ type: "ack", cursor: "x".repeat(5000) }), ""],
      [new Uint8Array([1, 2, 3]), ""],
    ];
    for (const [frame, path] of badMessages) {
      phone.ws.send(frame);
      const refused = await phone.next();
      expect(refused, String(frame).slice(0, 40)).toMatchObject({ type: "error", code: "bad-message" });
      expect(refused.errors.map((e: { path: string }) => e.path)).toContain(path);
      expect(validate(refused).valid).toBe(true);
    }
    // Well formed, but a cursor this user's log never issued.
    for (const cursor of ["not-a-cursor", encodeCursor({ s: 1_000_000 }), encodeCursor({ x: 1 })]) {
      phone.ws.send(JSON.stringify({ type: "ack", cursor }));
      expect(await phone.next()).toMatchObject({ type: "error", code: "bad-cursor" });
    }
    expect(await syncedSeq(id, "phone")).toBe(before);

    // The same socket, a message of the schema: accepted and applied.
    phone.ws.send(JSON.stringify({ type: "ack", cursor: change.cursor }));
    await phone.silentFor(200);
    expect(await syncedSeq(id, "phone")).toBeGreaterThan(before);
    phone.close();
  });

  it("every message the server sends validates against the published schema", async () => {
    const { token, api } = await newUser();
    const validate = await validatorFor("server-message");
    await api.put("/api/v1/devices/tv", { ...registration, device_type: "TV" });
    const tv = await connect(token, { device: "tv" });
    const hello = await tv.next();
    const phone = await connect(token, { device: "phone", since: hello.cursor });

    // Every kind of change another device can make.
    const origin = { "x-device-id": "phone" };
    await api.raw("PUT", "/api/v1/sync/watchlist/film-alien-1979", undefined, origin);
    await api.raw("PUT", "/api/v1/sync/watchlist/film-amadeus-1984", undefined, origin);
    await api.raw("DELETE", "/api/v1/sync/watchlist/film-alien-1979", undefined, origin);
    await api.put("/api/v1/sync/progress/film-amadeus-1984", {
      position_seconds: 60,
      duration_seconds: 600,
      state: "paused",
    });
    const session = await api.post("/api/v1/sessions", {
      content_id: "film-annie-hall-1977",
      device_id: "phone",
      duration_seconds: 3600,
    });
    await api.patch(`/api/v1/sessions/${session.json.id}/position`, {
      position_seconds: 1800,
      playback_state: "paused",
    });
    await api.delete(`/api/v1/sessions/${session.json.id}`);
    await api.put("/api/v1/devices/laptop", { ...registration, device_type: "Desktop" });
    await api.post("/api/v1/devices/laptop/heartbeat");
    await api.delete("/api/v1/devices/laptop");
    await api.post("/api/v1/sync/ops", {
      device_id: "phone",
      ops: [
        {
          op_id: crypto.randomUUID(),
          type: "watchlist.add",
          content_id: "film-apollo-13-1995",
          hlc: encodeHlc({ ms: Date.now(), counter: 0, node: "phone" }),
        },
      ],
    });
    await api.delete("/api/v1/history/film-amadeus-1984");
    await api.delete("/api/v1/history");
    await tv.next((m) => isChange(m) && m.progress.removed.length > 0);
    tv.ws.send(JSON.stringify({ type: "resume", cursor: hello.cursor }));
    await tv.next((m) => m.type === "sync");
    tv.ws.send("{}");
    await tv.next((m) => m.type === "error");
    await phone.next((m) => m.type === "sync");

    const sent: Message[] = [...tv.messages, ...phone.messages].filter((m) => m.type !== "pong");
    expect(new Set(sent.map((m) => m.type))).toEqual(new Set(["hello", "sync", "change", "error"]));
    for (const message of sent) {
      const result = validate(message);
      expect(result.errors, JSON.stringify(message).slice(0, 200)).toEqual([]);
    }
    // The schema can refuse: a change without its sections is not a server message.
    expect(validate({ type: "change", cursor: hello.cursor }).valid).toBe(false);
    tv.close();
    phone.close();
  });

  it("client messages are the ones the published schema describes", async () => {
    const validate = await validatorFor("client-message");
    expect(validate({ type: "ack", cursor: "abc" }).valid).toBe(true);
    expect(validate({ type: "resume", cursor: "abc" }).valid).toBe(true);
    expect(validate({ type: "ack" }).valid).toBe(false);
    expect(validate({ type: "hello", cursor: "abc" }).valid).toBe(false);
    const openapi = await client(null).get("/openapi.json");
    expect(Object.keys(openapi.json.paths)).toContain(SYNC_SOCKET_SCHEMA_PATH);
  });
});
