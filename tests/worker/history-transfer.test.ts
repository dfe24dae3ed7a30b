import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { watchHistory } from "../../src/db/schema";
import { client, db, eventually, newUser } from "./helpers";
import { quietFilms } from "./recommendations-model-support";

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

const expectProblem = (res: { status: number; headers: Headers; json: any }, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
};

async function exported(api: ReturnType<typeof client>) {
  const res = await api.get("/api/v1/history/export");
  expect(res.status).toBe(200);
  return res.json;
}

describe("history import", () => {
  it("matches content ids and titles with years, reports what it could not match, and changes nothing the second time", async () => {
    const { api } = await newUser();
    const films = await quietFilms(2, 100);
    const file = {
      items: [
        { content_id: films[0]!.id, watched_at: ago(40), completed: true, rating: 9 },
        { title: "Matrix, The", year: 1999, watched_at: ago(30), completed: true },
        { title: "the  MATRIX", year: 1999, watched_at: ago(31), completed: true },
        { content_id: films[1]!.id, watched_at: ago(20), position_seconds: 1200, duration_seconds: 6000 },
        { title: "A Film That Was Never Made", year: 1999, watched_at: ago(10), completed: true },
        { content_id: "film-not-in-the-catalog-2099", watched_at: ago(5), completed: true },
      ],
    };
    const first = await api.post("/api/v1/history/import", file);
    expect(first.status).toBe(200);
    // Four views changed something: three registers, and The Matrix's earlier finish as a play of its own.
    expect(first.json).toEqual({
      imported: 4,
      matched: 4,
      unmatched: [
        { index: 4, content_id: null, title: "A Film That Was Never Made", year: 1999 },
        { index: 5, content_id: "film-not-in-the-catalog-2099", title: null, year: null },
      ],
    });
    const history = (await exported(api)).history;
    expect(history.map((h: { content_id: string }) => h.content_id)).toEqual([
      films[1]!.id,
      "film-the-matrix-1999",
      films[0]!.id,
    ]);
    expect(history[0]).toMatchObject({ completed: false, position_seconds: 1200, duration_seconds: 6000 });
    expect(history[1]).toMatchObject({ completed: true, watched_at: file.items[1]!.watched_at });
    // Resume follows the imported position.
    expect((await api.get(`/api/v1/resume/${films[1]!.id}`)).json.resume_position_seconds).toBe(1200);

    const data = await exported(api);
    expect(data.plays.filter((p: { content_id: string }) => p.content_id === "film-the-matrix-1999")).toHaveLength(2);
    expect(data.ratings).toEqual([
      expect.objectContaining({ content_id: films[0]!.id, rating: 9, rated_at: file.items[0]!.watched_at }),
    ]);

    const second = await api.post("/api/v1/history/import", file);
    expect(second.json).toMatchObject({ imported: 0, matched: 4 });
    const again = await exported(api);
    expect(again.history).toEqual(history);
    expect(again.plays).toEqual(data.plays);
    expect(again.ratings).toEqual(data.ratings);
  });

  it("never takes back what the user did here after the imported time", async () => {
    const { api } = await newUser();
    const [film] = await quietFilms(1, 103);
    expect((await api.put(`/api/v1/history/${film!.id}/watched`)).status).toBe(200);
    const res = await api.post("/api/v1/history/import", {
      items: [{ content_id: film!.id, watched_at: ago(3), position_seconds: 60, duration_seconds: 6000 }],
    });
    expect(res.json).toMatchObject({ imported: 0, matched: 1 });
    expect((await api.get(`/api/v1/resume/${film!.id}`)).json.watched).toBe(true);
  });

  it("reaches Postgres through the queue like any other view", async () => {
    const { id, api } = await newUser();
    const [film] = await quietFilms(1, 104);
    const watchedAt = ago(12);
    await api.post("/api/v1/history/import", {
      items: [{ content_id: film!.id, watched_at: watchedAt, completed: true }],
    });
    const row = await eventually(
      () =>
        db((d) =>
          d
            .select()
            .from(watchHistory)
            .where(and(eq(watchHistory.userId, id), eq(watchHistory.contentId, film!.id))),
        ),
      (rows) => rows.length === 1,
    );
    expect(row[0]).toMatchObject({ watched: true, active: true });
    expect(row[0]!.lastWatchedAt.toISOString()).toBe(new Date(watchedAt).toISOString());
  });

  it("refuses a file over the limit with a 413, and changes nothing", async () => {
    const { api } = await newUser();
    const [film] = await quietFilms(1, 105);
    const item = { content_id: film!.id, watched_at: ago(1), completed: true };
    expectProblem(await api.post("/api/v1/history/import", { items: Array.from({ length: 1001 }, () => item) }), 413);
    const padded = { ...item, title: "x".repeat(300), year: 2000 };
    const big = JSON.stringify({ items: Array.from({ length: 1000 }, () => padded) }).replace(
      /}$/,
      `,"pad":"${"y".repeat(800_000)}"}`,
    );
    expectProblem(await api.raw("POST", "/api/v1/history/import", big), 413);
    expect((await exported(api)).history).toEqual([]);
    // A thousand items with long titles fit its own limit, past the general 256 KB.
    const thousand = await api.post("/api/v1/history/import", { items: Array.from({ length: 1000 }, () => padded) });
    expect(thousand.status).toBe(200);
    expect(thousand.json).toMatchObject({ imported: 1, matched: 1000 });
  });

  it("refuses bad items with a 400 naming them, and changes nothing", async () => {
    const { api } = await newUser();
    const [film] = await quietFilms(1, 106);
    const good = { content_id: film!.id, watched_at: ago(1), completed: true };
    const bad: unknown[] = [
      { watched_at: ago(1), completed: true },
      { title: "Heat", watched_at: ago(1), completed: true },
      { content_id: film!.id, completed: true },
      { content_id: film!.id, watched_at: "yesterday", completed: true },
      { content_id: film!.id, watched_at: new Date(Date.now() + 2 * DAY).toISOString(), completed: true },
      { content_id: film!.id, watched_at: ago(1) },
      { content_id: film!.id, watched_at: ago(1), completed: false, position_seconds: 10 },
      { content_id: film!.id, watched_at: ago(1), position_seconds: -1, duration_seconds: 100 },
      { ...good, rating: 11 },
      { ...good, rating: 0 },
      { ...good, rating: 7.5 },
      { ...good, content_id: "../etc" },
    ];
    for (const item of bad) {
      const res = await api.post("/api/v1/history/import", { items: [good, item] });
      expectProblem(res, 400);
      expect(res.json.errors[0].path).toMatch(/^items\.1/);
    }
    for (const body of [{}, { items: [] }, { items: "all of them" }, []]) {
      expectProblem(await api.post("/api/v1/history/import", body), 400);
    }
    expectProblem(await api.raw("POST", "/api/v1/history/import", "{not json"), 400);
    expect((await exported(api)).history).toEqual([]);
    expectProblem(await client(null).post("/api/v1/history/import", { items: [good] }), 401);
  });

  it("never touches another user's history", async () => {
    const alice = await newUser("alice");
    const bob = await newUser("bob");
    const [film] = await quietFilms(1, 107);
    expect((await bob.api.put(`/api/v1/history/${film!.id}/watched`)).status).toBe(200);
    const bobsBefore = await exported(bob.api);
    const res = await alice.api.post("/api/v1/history/import", {
      items: [{ content_id: film!.id, watched_at: ago(2), position_seconds: 30, duration_seconds: 6000 }],
      user_id: bob.id,
    });
    expect(res.json.imported).toBe(1);
    const bobsAfter = await exported(bob.api);
    expect(bobsAfter.history).toEqual(bobsBefore.history);
    expect((await exported(alice.api)).history.map((h: { content_id: string }) => h.content_id)).toEqual([film!.id]);
  });
});

describe("history export", () => {
  it("holds the history, watchlist and devices, and its history imports back as it is", async () => {
    const { api } = await newUser();
    const films = await quietFilms(3, 110);
    await api.put(`/api/v1/history/${films[0]!.id}/watched`);
    await api.post("/api/v1/history/import", {
      items: [{ content_id: films[1]!.id, watched_at: ago(4), position_seconds: 600, duration_seconds: 3000 }],
    });
    await api.put(`/api/v1/sync/watchlist/${films[2]!.id}`);
    await api.put("/api/v1/devices/tv-1", {
      device_type: "TV",
      platform: "tvOS",
      capabilities: {},
      app_version: "1.0",
      device_name: "Living room",
    });
    const data = await exported(api);
    expect(Date.parse(data.exported_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(data.history.map((h: { content_id: string }) => h.content_id)).toEqual([films[0]!.id, films[1]!.id]);
    expect(data.watchlist.map((w: { content_id: string }) => w.content_id)).toEqual([films[2]!.id]);
    expect(data.devices.map((d: { device_id: string }) => d.device_id)).toEqual(["tv-1"]);
    // Marking the first film watched was a play; nothing was rated.
    expect(data.plays.map((p: { content_id: string }) => p.content_id)).toEqual([films[0]!.id]);
    expect(data.ratings).toEqual([]);

    const elsewhere = await newUser();
    const back = await elsewhere.api.post("/api/v1/history/import", { items: data.history });
    expect(back.json).toMatchObject({ imported: 2, matched: 2, unmatched: [] });
    expect((await exported(elsewhere.api)).history).toEqual(data.history);
  });

  it("requires a token", async () => {
    expectProblem(await client(null).get("/api/v1/history/export"), 401);
  });
});
