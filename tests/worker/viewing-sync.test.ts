import { describe, expect, it } from "vitest";
import { encodeHlc } from "../../src/domain/hlc";
import { newUser } from "./helpers";
import { connect, isChange } from "./sockets";
import { addFilm, addSeries, finish, watch } from "./viewing-support";

const hlc = (ms: number, node: string, counter = 0) => encodeHlc({ ms, counter, node });

describe("the viewing record on the user's other devices", () => {
  it("ratings, hidden cards and plays are in the sync document and its deltas", async () => {
    const film = await addFilm({ runtimeMinutes: 136, credits: 7834 });
    const alien = await addFilm({ runtimeMinutes: 117, credits: null });
    const godfather = await addFilm({ runtimeMinutes: 175, credits: null });
    const { api } = await newUser();
    const { cursor } = (await api.get("/api/v1/sync")).json;
    await api.put(`/api/v1/ratings/${film}`, { rating: 7 });
    await watch(api, alien, 3000, 7020);
    await api.put(`/api/v1/continue-watching/${alien}/hidden`);
    await finish(api, godfather);

    const full = (await api.get("/api/v1/sync")).json;
    expect(full.ratings.items).toMatchObject([{ content_id: film, rating: 7, hlc: expect.any(String) }]);
    expect(full.hidden.items).toMatchObject([{ content_id: alien }]);
    expect(full.plays.items).toMatchObject([{ content_id: godfather, device_id: "tv" }]);

    const delta = (await api.get(`/api/v1/sync?since=${cursor}`)).json;
    expect(delta.full).toBe(false);
    expect(delta.ratings.items.map((r: { content_id: string }) => r.content_id)).toEqual([film]);
    expect(delta.plays.items).toHaveLength(1);

    // Removals travel as keys: the rating, the hide, the play.
    const after = full.cursor;
    await api.delete(`/api/v1/ratings/${film}`);
    await api.delete(`/api/v1/continue-watching/${alien}/hidden`);
    await api.delete(`/api/v1/history/${godfather}/watched`);
    const removed = (await api.get(`/api/v1/sync?since=${after}`)).json;
    expect(removed.ratings.removed).toEqual([film]);
    expect(removed.hidden.removed).toEqual([alien]);
    expect(removed.plays.removed).toEqual([full.plays.items[0].play_id]);
  });

  it("a rating, a hide and a finish on one device reach the other over the WebSocket", async () => {
    const film = await addFilm({ runtimeMinutes: 136, credits: 7834 });
    const { token, api } = await newUser();
    const show = await addSeries([2]);
    const tv = await connect(token, { device: "tv" });
    await tv.next();
    await api.raw("PUT", `/api/v1/ratings/${film}`, { rating: 10 }, { "x-device-id": "phone" });
    const rated = await tv.next((m) => isChange(m) && m.ratings.items.length > 0);
    expect(rated.ratings.items).toMatchObject([{ content_id: film, rating: 10 }]);

    await finish(api, show.ep(1, 1), "phone");
    const played = await tv.next((m) => isChange(m) && m.plays.items.length > 0);
    expect(played.plays.items).toMatchObject([{ content_id: show.ep(1, 1), series_id: show.id, device_id: "phone" }]);

    await api.raw("PUT", `/api/v1/continue-watching/${show.ep(1, 1)}/hidden`, undefined, { "x-device-id": "phone" });
    const hidden = await tv.next((m) => isChange(m) && m.hidden.items.length > 0);
    expect(hidden.hidden.items).toMatchObject([{ content_id: show.id }]);
    tv.close();
  });

  it("an offline client's ops carry ratings, hides and plays: applied once, last writer wins", async () => {
    const film = await addFilm({ runtimeMinutes: 136, credits: 7834 });
    const alien = await addFilm({ runtimeMinutes: 117, credits: null });
    const { api } = await newUser();
    const now = Date.now();
    const ops = [
      { op_id: "r1", type: "rating.set", content_id: film, rating: 6, hlc: hlc(now - 5000, "phone") },
      { op_id: "r2", type: "rating.set", content_id: film, rating: 8, hlc: hlc(now - 4000, "tablet") },
      {
        op_id: "p1",
        type: "play.add",
        content_id: alien,
        watched_at: "2025-11-02T21:00:00Z",
        hlc: hlc(now - 3000, "phone"),
      },
      { op_id: "h1", type: "hidden.set", content_id: alien, hidden: true, hlc: hlc(now - 2000, "phone") },
    ];
    const res = await api.post("/api/v1/sync/ops", { device_id: "phone", ops });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ applied: 4, duplicates: 0 });
    // The same batch again changes nothing; an older rating loses to the newer one.
    const again = await api.post("/api/v1/sync/ops", {
      device_id: "phone",
      ops: [
        ...ops,
        { op_id: "r0", type: "rating.set", content_id: film, rating: 2, hlc: hlc(now - 9000, "phone") },
        {
          op_id: "p2",
          type: "play.add",
          content_id: alien,
          watched_at: "2025-11-02T21:00:00Z",
          hlc: hlc(now - 1000, "tablet"),
        },
      ],
    });
    expect(again.json.results).toMatchObject([
      { op_id: "r1", status: "duplicate" },
      { op_id: "r2", status: "duplicate" },
      { op_id: "p1", status: "duplicate" },
      { op_id: "h1", status: "duplicate" },
      { op_id: "r0", status: "stale" },
      { op_id: "p2", status: "stale" },
    ]);
    expect((await api.get("/api/v1/ratings")).json.items).toMatchObject([{ content_id: film, rating: 8 }]);
    expect((await api.get("/api/v1/history/plays")).json.items).toMatchObject([
      { content_id: alien, watched_at: "2025-11-02T21:00:00.000Z", device_id: "phone" },
    ]);
    expect((await api.get("/api/v1/sync")).json.hidden.items).toMatchObject([{ content_id: alien }]);

    // Bad ops refuse the whole batch.
    for (const bad of [
      { op_id: "x", type: "rating.set", content_id: film, rating: 11, hlc: hlc(now, "phone") },
      { op_id: "x", type: "rating.set", content_id: film, rating: 4.5, hlc: hlc(now, "phone") },
      { op_id: "x", type: "hidden.set", content_id: film, hidden: "yes", hlc: hlc(now, "phone") },
      { op_id: "x", type: "play.add", content_id: film, watched_at: "last week", hlc: hlc(now, "phone") },
    ]) {
      const refused = await api.post("/api/v1/sync/ops", { ops: [bad] });
      expect(refused.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await api.get("/api/v1/ratings")).json.items).toMatchObject([{ rating: 8 }]);
  });
});
