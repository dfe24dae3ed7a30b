import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { watchHistory } from "../../src/db/schema";
import { type Client, db, eventually, newUser, userStub } from "./helpers";

async function watch(api: Client, contentId: string, duration: number, position: number, device = "tv") {
  const session = await api.post("/api/v1/sessions", {
    content_id: contentId,
    device_id: device,
    duration_seconds: duration,
  });
  expect(session.status).toBe(201);
  if (position > 0) {
    const moved = await api.patch(`/api/v1/sessions/${session.json.id}/position`, { position_seconds: position });
    expect(moved.status).toBe(200);
  }
  expect((await api.delete(`/api/v1/sessions/${session.json.id}`)).status).toBe(204);
  return session.json.id as string;
}

const historyRow = (userId: string, contentId: string) =>
  db((d) =>
    d
      .select()
      .from(watchHistory)
      .where(and(eq(watchHistory.userId, userId), eq(watchHistory.contentId, contentId))),
  );

describe("seed workflow: sessions and resume", () => {
  it("resumes at 1800 s after 50 % of 3600 s, starts over after 96 % or 20 s", async () => {
    const { api } = await newUser();
    await watch(api, "film-fargo-1996", 3600, 1800);
    const half = await api.post("/api/v1/sessions", {
      content_id: "film-fargo-1996",
      device_id: "phone",
      duration_seconds: 3600,
    });
    expect(half.json.resume_position_seconds).toBe(1800);

    await watch(api, "film-elf-2003", 3600, 3456);
    const almost = await api.post("/api/v1/sessions", {
      content_id: "film-elf-2003",
      device_id: "tv",
      duration_seconds: 3600,
    });
    expect(almost.json.resume_position_seconds).toBeNull();

    await watch(api, "film-dune-1984", 3600, 20);
    const barely = await api.post("/api/v1/sessions", {
      content_id: "film-dune-1984",
      device_id: "tv",
      duration_seconds: 3600,
    });
    expect(barely.json.resume_position_seconds).toBeNull();
  });

  it("returns the full session shape and reads it back", async () => {
    const { id, api } = await newUser();
    const created = await api.post("/api/v1/sessions", {
      content_id: "series-distant-empire-s01e01",
      device_id: "tablet",
      duration_seconds: 1500,
      quality: "1080p",
    });
    expect(created.json).toMatchObject({
      user_id: id,
      content_id: "series-distant-empire-s01e01",
      device_id: "tablet",
      position_seconds: 0,
      duration_seconds: 1500,
      playback_state: "playing",
      quality: "1080p",
      resume_position_seconds: null,
    });
    const moved = await api.patch(`/api/v1/sessions/${created.json.id}/position`, {
      position_seconds: 700,
      playback_state: "paused",
    });
    expect(moved.json).toMatchObject({ position_seconds: 700, playback_state: "paused" });
    const read = await api.get(`/api/v1/sessions/${created.json.id}`);
    expect(read.json).toMatchObject({ id: created.json.id, position_seconds: 700, playback_state: "paused" });
  });

  it("progress belongs to the content, whatever device or quality played it", async () => {
    const { api } = await newUser();
    const tv = await api.post("/api/v1/sessions", {
      content_id: "film-gladiator-2000",
      device_id: "tv",
      duration_seconds: 6000,
      quality: "4k",
    });
    await api.patch(`/api/v1/sessions/${tv.json.id}/position`, { position_seconds: 1200 });
    const resume = await api.get("/api/v1/resume/film-gladiator-2000");
    expect(resume.json).toMatchObject({ resume_position_seconds: 1200, completion_percentage: 20, watched: false });
    const phone = await api.post("/api/v1/sessions", {
      content_id: "film-gladiator-2000",
      device_id: "phone",
      duration_seconds: 6000,
      quality: "480p",
    });
    expect(phone.json.resume_position_seconds).toBe(1200);
  });

  it("refuses position updates on an ended session with 409", async () => {
    const { api } = await newUser();
    const id = await watch(api, "film-goodfellas-1990", 3600, 100);
    const late = await api.patch(`/api/v1/sessions/${id}/position`, { position_seconds: 200 });
    expect(late.status).toBe(409);
    expect(late.headers.get("content-type")).toContain("application/problem+json");
    expect((await api.get("/api/v1/resume/film-goodfellas-1990")).json.position_seconds).toBe(100);
  });

  it("ends an idle session at its last position through the alarm", async () => {
    const { id: userId, api } = await newUser();
    const session = await api.post("/api/v1/sessions", {
      content_id: "film-inception-2010",
      device_id: "tv",
      duration_seconds: 3600,
    });
    await api.patch(`/api/v1/sessions/${session.json.id}/position`, { position_seconds: 900 });
    const stub = userStub(userId);
    // Make the session look untouched for two hours; then let the alarm run.
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE sessions SET updated_at = updated_at - 7200000");
    });
    await runDurableObjectAlarm(stub);
    const read = await api.get(`/api/v1/sessions/${session.json.id}`);
    expect(read.json.playback_state).toBe("stopped");
    expect(read.json.ended_at).not.toBeNull();
    expect((await api.get("/api/v1/resume/film-inception-2010")).json.resume_position_seconds).toBe(900);
  });
});

describe("history", () => {
  it("lists most recent first, filters by status, pages by cursor with no duplicates", async () => {
    const { api } = await newUser();
    const shows = [0, 1, 2, 3, 4].map((i) => `series-distant-empire-s01e0${i + 1}`);
    for (let i = 0; i < 5; i++) await watch(api, shows[i] as string, 1000, i % 2 === 0 ? 500 : 950);
    const all = await api.get("/api/v1/history");
    expect(all.json.items.map((x: any) => x.content_id)).toEqual([shows[4], shows[3], shows[2], shows[1], shows[0]]);
    const done = await api.get("/api/v1/history?status=completed");
    expect(done.json.items.map((x: any) => x.content_id)).toEqual([shows[3], shows[1]]);
    const going = await api.get("/api/v1/history?status=in_progress");
    expect(going.json.items.map((x: any) => x.content_id)).toEqual([shows[4], shows[2], shows[0]]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await api.get(`/api/v1/history?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.json.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.json.items.map((x: any) => x.content_id));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...shows].reverse());
  });

  it("continue watching holds only resumable, unfinished items", async () => {
    const { api } = await newUser();
    await watch(api, "film-amadeus-1984", 3600, 1800);
    await watch(api, "film-batman-1989", 3600, 3500); // watched
    await watch(api, "film-casablanca-1941", 3600, 10); // too early to resume
    await watch(api, "film-die-hard-1988", 3600, 600);
    const list = await api.get("/api/v1/continue-watching");
    expect(list.json.items.map((x: any) => [x.content_id, x.resume_position_seconds])).toEqual([
      ["film-die-hard-1988", 600],
      ["film-amadeus-1984", 1800],
    ]);
  });

  it("marks watched and unwatched, clears one and all; each visible on the next read", async () => {
    const { api } = await newUser();
    await watch(api, "film-jaws-1975", 3600, 1000);
    await watch(api, "film-juno-2007", 3600, 1000);
    const marked = await api.put("/api/v1/history/film-jaws-1975/watched");
    expect(marked.json).toMatchObject({ content_id: "film-jaws-1975", watched: true, resume_position_seconds: null });
    expect((await api.get("/api/v1/history?status=completed")).json.items.map((i: any) => i.content_id)).toEqual([
      "film-jaws-1975",
    ]);

    expect((await api.delete("/api/v1/history/film-jaws-1975/watched")).status).toBe(204);
    expect((await api.get("/api/v1/resume/film-jaws-1975")).json).toMatchObject({
      position_seconds: 0,
      watched: false,
      last_watched_at: null,
    });

    expect((await api.delete("/api/v1/history/film-juno-2007")).status).toBe(204);
    expect((await api.delete("/api/v1/history/film-juno-2007")).status).toBe(404);
    await watch(api, "film-zodiac-2007", 3600, 1000);
    const cleared = await api.delete("/api/v1/history");
    expect(cleared.json.removed).toBe(1);
    expect((await api.get("/api/v1/history")).json.items).toEqual([]);
  });
});

describe("events reach Postgres", () => {
  it("holds exactly one watch_history row per (user, content) with the latest position", async () => {
    const { id, api } = await newUser();
    const s = await api.post("/api/v1/sessions", {
      content_id: "film-psycho-1998",
      device_id: "tv",
      duration_seconds: 3600,
    });
    for (const p of [100, 400, 900, 1700])
      await api.patch(`/api/v1/sessions/${s.json.id}/position`, { position_seconds: p });
    await api.delete(`/api/v1/sessions/${s.json.id}`);
    const rows = await eventually(
      () => historyRow(id, "film-psycho-1998"),
      (r) => r.length === 1 && r[0]?.positionSeconds === 1700,
    );
    expect(rows[0]).toMatchObject({
      durationSeconds: 3600,
      completionPercentage: (1700 / 3600) * 100,
      watched: false,
      active: true,
    });
  });

  it("clearing the history deactivates the user's rows", async () => {
    const { id, api } = await newUser();
    await watch(api, "film-pulp-fiction-1994", 3600, 1000);
    await eventually(
      () => historyRow(id, "film-pulp-fiction-1994"),
      (r) => r.length === 1,
    );
    await api.delete("/api/v1/history");
    await eventually(
      () => historyRow(id, "film-pulp-fiction-1994"),
      (r) => r[0]?.active === false,
    );
  });
});

describe("isolation between users", () => {
  it("user B can neither read nor change user A's sessions or history", async () => {
    const a = await newUser("a");
    const b = await newUser("b");
    const session = await a.api.post("/api/v1/sessions", {
      content_id: "film-se7en-1995",
      device_id: "tv",
      duration_seconds: 3600,
    });
    await a.api.patch(`/api/v1/sessions/${session.json.id}/position`, { position_seconds: 1000 });

    for (const res of [
      await b.api.get(`/api/v1/sessions/${session.json.id}`),
      await b.api.patch(`/api/v1/sessions/${session.json.id}/position`, { position_seconds: 5 }),
      await b.api.delete(`/api/v1/sessions/${session.json.id}`),
      await b.api.delete("/api/v1/history/film-se7en-1995"),
    ]) {
      expect(res.status).toBe(404);
      expect(res.json.type).toBeTypeOf("string");
      expect(JSON.stringify(res.json)).not.toContain("1000");
    }
    expect((await b.api.get("/api/v1/history")).json.items).toEqual([]);
    expect((await b.api.get("/api/v1/resume/film-se7en-1995")).json.position_seconds).toBe(0);
    // A body field naming another user is ignored: the token decides.
    const sneaky = await b.api.post("/api/v1/sessions", {
      content_id: "film-se7en-1995",
      device_id: "tv",
      duration_seconds: 3600,
      user_id: a.id,
    });
    expect(sneaky.json.user_id).toBe(b.id);
    expect(sneaky.json.resume_position_seconds).toBeNull();

    const mine = await a.api.get(`/api/v1/sessions/${session.json.id}`);
    expect(mine.json).toMatchObject({ position_seconds: 1000, playback_state: "playing" });
  });
});
