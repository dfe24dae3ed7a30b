import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { plays as playsTable, ratings as ratingsTable } from "../../src/db/schema";
import { type Client, client, db, eventually, newUser } from "./helpers";
import { filmsOfGenre, profileWithViews, watch as watchFraction } from "./recommendations-helpers";
import { addFilm, addSeries, finish, nextUp, watch } from "./viewing-support";

const history = async (api: Client, query = "") => (await api.get(`/api/v1/history${query}`)).json.items;
const playsOf = async (api: Client, query = "") => {
  const res = await api.get(`/api/v1/history/plays${query}`);
  expect(res.status).toBe(200);
  return res.json.items as { play_id: string; content_id: string; watched_at: string; device_id: string | null }[];
};

const pgPlays = (userId: string, contentId: string) =>
  db((d) =>
    d
      .select()
      .from(playsTable)
      .where(and(eq(playsTable.userId, userId), eq(playsTable.contentId, contentId))),
  );

describe("plays and rewatching", () => {
  it("finishing a film twice is two plays; the rewatch starts from 0 and keeps the first play", async () => {
    const film = await addFilm({ runtimeMinutes: 136, credits: 7834 });
    const { id, api } = await newUser();
    await watch(api, film, 8000, 8160);
    const rewatch = await api.post("/api/v1/sessions", {
      content_id: film,
      device_id: "phone",
      duration_seconds: 8160,
    });
    expect(rewatch.json.resume_position_seconds).toBeNull();
    // The rewatch is in progress from 0, and the first play is still there.
    expect((await api.get(`/api/v1/resume/${film}`)).json).toMatchObject({
      position_seconds: 0,
      watched: false,
      plays: 1,
    });
    await api.patch(`/api/v1/sessions/${rewatch.json.id}/position`, { position_seconds: 7900 });
    await api.delete(`/api/v1/sessions/${rewatch.json.id}`);

    expect(await history(api)).toMatchObject([{ content_id: film, watched: true, plays: 2 }]);
    const plays = await playsOf(api);
    expect(plays).toHaveLength(2);
    expect(plays.map((p) => p.device_id)).toEqual(["phone", "tv"]);
    // Postgres gets one row per play, through the queue.
    await eventually(
      () => pgPlays(id, film),
      (rows) => rows.length === 2 && rows.every((r) => r.active),
    );
  });

  it("the same play reported twice counts once: a retry, a second device, the same watched_at", async () => {
    const film = await addFilm({ runtimeMinutes: 136, credits: 7834 });
    const alien = await addFilm({ runtimeMinutes: 117, credits: null });
    const { id, api } = await newUser();
    const tv = await api.post("/api/v1/sessions", { content_id: film, device_id: "tv", duration_seconds: 8160 });
    const phone = await api.post("/api/v1/sessions", {
      content_id: film,
      device_id: "phone",
      duration_seconds: 8160,
    });
    await api.patch(`/api/v1/sessions/${tv.json.id}/position`, { position_seconds: 8000 });
    await api.patch(`/api/v1/sessions/${tv.json.id}/position`, { position_seconds: 8000 });
    await api.patch(`/api/v1/sessions/${phone.json.id}/position`, { position_seconds: 8100 });
    await api.delete(`/api/v1/sessions/${tv.json.id}`);
    await api.delete(`/api/v1/sessions/${phone.json.id}`);
    expect(await playsOf(api)).toHaveLength(1);
    // Marking it watched again is a retry too.
    await api.put(`/api/v1/history/${film}/watched`);
    expect(await playsOf(api)).toHaveLength(1);

    // A viewing logged at a time counts once however often it is sent.
    const at = "2025-12-24T20:00:00.000Z";
    for (let i = 0; i < 2; i++) {
      const marked = await api.put(`/api/v1/history/${alien}/watched`, { watched_at: at });
      expect(marked.status).toBe(200);
      expect(marked.json).toMatchObject({ watched: true, plays: 1 });
    }
    expect(await playsOf(api, "?end_at=2025-12-31T00:00:00Z")).toMatchObject([{ content_id: alien, watched_at: at }]);
    await eventually(
      () => pgPlays(id, alien),
      (rows) => rows.length === 1 && rows[0]?.watchedAt.toISOString() === at,
    );
  });

  it("reaching the credits marks watched without reaching 90 %", async () => {
    const { api } = await newUser();
    // 100 minutes, credits from 5000 s (83 %).
    const film = await addFilm({ runtimeMinutes: 100, credits: 5000 });
    await watch(api, film, 4900, 6000);
    expect((await api.get(`/api/v1/resume/${film}`)).json).toMatchObject({
      watched: false,
      resume_position_seconds: 4900,
    });
    await watch(api, film, 5050, 6000);
    expect((await api.get(`/api/v1/resume/${film}`)).json).toMatchObject({
      watched: true,
      resume_position_seconds: null,
      plays: 1,
    });
    expect((await api.get("/api/v1/continue-watching")).json.items).toEqual([]);

    // An episode too: credits at 38 minutes of a 50-minute file, so Next Up moves on at 77 %.
    const show = await addSeries([3]);
    await watch(api, show.ep(1, 1), 2300, 3000);
    expect(await nextUp(api)).toMatchObject([{ content_id: show.ep(1, 2), reason: "next_episode" }]);
  });

  it("filters history and plays by kind and time, and pages plays by cursor", async () => {
    const film = await addFilm({ runtimeMinutes: 136, credits: 7834 });
    const alien = await addFilm({ runtimeMinutes: 117, credits: null });
    const { api } = await newUser();
    const show = await addSeries([3]);
    await finish(api, show.ep(1, 1));
    await finish(api, show.ep(1, 2));
    await watch(api, film, 8000, 8160);
    await api.put(`/api/v1/history/${alien}/watched`, { watched_at: "2020-05-01T12:00:00Z" });

    expect((await history(api, "?kind=episode")).map((i: { content_id: string }) => i.content_id)).toEqual([
      show.ep(1, 2),
      show.ep(1, 1),
    ]);
    expect((await history(api, "?kind=movie")).every((i: { series_id: string | null }) => i.series_id === null)).toBe(
      true,
    );
    expect(await history(api, "?end_at=2021-01-01T00:00:00Z")).toMatchObject([{ content_id: alien }]);

    const first = await api.get("/api/v1/history/plays?limit=2");
    const second = await api.get(`/api/v1/history/plays?limit=2&cursor=${first.json.next_cursor}`);
    const ids = [...first.json.items, ...second.json.items].map((p: { content_id: string }) => p.content_id);
    expect(ids).toEqual([film, show.ep(1, 2), show.ep(1, 1), alien]);
    expect(second.json.next_cursor).toBeNull();
    expect(await playsOf(api, "?kind=movie&start_at=2021-01-01T00:00:00Z")).toMatchObject([{ content_id: film }]);

    for (const bad of [
      "?kind=show",
      "?start_at=yesterday",
      "?start_at=2024-02-01T00:00:00Z&end_at=2024-01-01T00:00:00Z",
    ]) {
      expect((await api.get(`/api/v1/history/plays${bad}`)).status).toBe(400);
      expect((await api.get(`/api/v1/history${bad}`)).status).toBe(400);
    }
    const future = await api.put(`/api/v1/history/${alien}/watched`, { watched_at: "2999-01-01T00:00:00Z" });
    expect(future.status).toBe(400);
  });

  it("unwatching removes an item's plays, here and in Postgres", async () => {
    const film = await addFilm({ runtimeMinutes: 136, credits: 7834 });
    const { id, api } = await newUser();
    await watch(api, film, 8000, 8160);
    await eventually(
      () => pgPlays(id, film),
      (rows) => rows.length === 1 && rows[0]?.active === true,
    );
    expect((await api.delete(`/api/v1/history/${film}/watched`)).status).toBe(204);
    expect(await playsOf(api)).toEqual([]);
    await eventually(
      () => pgPlays(id, film),
      (rows) => rows.length === 1 && rows[0]?.active === false,
    );
  });
});

describe("ratings", () => {
  it("rates 1-10, lists most recent first, removes; bad ratings are a 400 and change nothing", async () => {
    const film = await addFilm({ runtimeMinutes: 136, credits: 7834 });
    const alien = await addFilm({ runtimeMinutes: 117, credits: null });
    const { id, api } = await newUser();
    const rated = await api.put(`/api/v1/ratings/${film}`, { rating: 9 });
    expect(rated.status).toBe(200);
    expect(rated.json).toMatchObject({ content_id: film, rating: 9, rated_at: expect.any(String) });
    expect((await api.put(`/api/v1/ratings/${alien}`, { rating: 1 })).status).toBe(200);

    for (const bad of [{ rating: 0 }, { rating: 11 }, { rating: 7.5 }, { rating: "8" }, { rating: null }, {}]) {
      const res = await api.put(`/api/v1/ratings/${film}`, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
    expect((await api.put(`/api/v1/ratings/${film}`, "not json")).status).toBe(400);

    const list = await api.get("/api/v1/ratings");
    expect(list.json.items).toMatchObject([
      { content_id: alien, rating: 1 },
      { content_id: film, rating: 9 },
    ]);
    const page = await api.get("/api/v1/ratings?limit=1");
    expect(page.json.items).toHaveLength(1);
    expect((await api.get(`/api/v1/ratings?limit=1&cursor=${page.json.next_cursor}`)).json.items).toMatchObject([
      { content_id: film },
    ]);

    await eventually(
      () => db((d) => d.select().from(ratingsTable).where(eq(ratingsTable.userId, id))),
      (rows) => rows.length === 2 && rows.some((r) => r.contentId === film && r.rating === 9),
    );
    expect((await api.delete(`/api/v1/ratings/${film}`)).status).toBe(204);
    expect((await api.delete(`/api/v1/ratings/${film}`)).status).toBe(404);
    expect((await api.get("/api/v1/ratings")).json.items).toMatchObject([{ content_id: alien }]);
    await eventually(
      () => db((d) => d.select().from(ratingsTable).where(eq(ratingsTable.userId, id))),
      (rows) => rows.some((r) => r.contentId === film && r.rating === null),
    );
  });

  it("a rating outweighs the viewing: a finished film rated 1 counts against its genre", async () => {
    const { api } = await newUser();
    const [action] = await filmsOfGenre("Action", 1);
    const [comedy] = await filmsOfGenre("Comedy", 1);
    await watchFraction(api, action as string, 0.97);
    await watchFraction(api, comedy as string, 0.97);
    await profileWithViews(api, 2);
    await api.put(`/api/v1/ratings/${action}`, { rating: 1 });
    const profile = await eventually(
      () => api.get("/api/v1/profile"),
      (r) => r.status === 200 && (r.json.genres?.Action ?? 0) < 0,
    );
    expect(profile.json.genres.Comedy).toBeGreaterThan(0);
  });
});

describe("one user's viewing record is theirs alone", () => {
  it("user B cannot read or change user A's ratings, plays or hidden cards", async () => {
    const film = await addFilm({ runtimeMinutes: 136, credits: 7834 });
    const alien = await addFilm({ runtimeMinutes: 117, credits: null });
    const godfather = await addFilm({ runtimeMinutes: 175, credits: null });
    const a = await newUser("a");
    const b = await newUser("b");
    await a.api.put(`/api/v1/ratings/${film}`, { rating: 8 });
    await watch(a.api, alien, 3000, 7020);
    await finish(a.api, godfather);
    await a.api.put(`/api/v1/continue-watching/${alien}/hidden`);

    expect((await b.api.get("/api/v1/ratings")).json.items).toEqual([]);
    expect((await b.api.get("/api/v1/history/plays")).json.items).toEqual([]);
    expect((await b.api.delete(`/api/v1/ratings/${film}`)).status).toBe(404);
    expect((await b.api.delete(`/api/v1/continue-watching/${alien}/hidden`)).status).toBe(404);
    expect((await b.api.get("/api/v1/sync")).json).toMatchObject({
      ratings: { items: [] },
      hidden: { items: [] },
      plays: { items: [] },
    });

    expect((await a.api.get("/api/v1/ratings")).json.items).toMatchObject([{ content_id: film, rating: 8 }]);
    expect(await playsOf(a.api)).toMatchObject([{ content_id: godfather }]);
    expect((await a.api.get("/api/v1/continue-watching")).json.items).toEqual([]);
    // No token, no record.
    expect((await client(null).get("/api/v1/ratings")).status).toBe(401);
  });
});
