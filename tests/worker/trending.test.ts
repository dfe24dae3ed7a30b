import { and, desc, eq, isNotNull } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { content } from "../../src/db/schema";
import { client, db, eventually } from "./helpers";
import { inPostgres, quietFilms, viewer } from "./recommendations-model-support";

const DAY = 86_400_000;
const anonymous = client(null);

interface Trending {
  window: string;
  items: { content_id: string; kind: string; plays: number; score: number }[];
}

const trending = async (query: string) => {
  const res = await anonymous.get(`/api/v1/trending?${query}`);
  expect(res.status).toBe(200);
  return res.json as Trending;
};
const entry = (list: Trending, id: string) => list.items.find((i) => i.content_id === id);

let now: string;
let fewer: string;
let lastMonth: string;
let longAgo: string;
let rewatched: string;
let episode: { id: string; series: string };

beforeAll(async () => {
  [now, fewer, lastMonth, longAgo, rewatched] = (await quietFilms(5, 130)).map((f) => f.id) as [
    string,
    string,
    string,
    string,
    string,
  ];
  const [row] = await db((d) =>
    d
      .select({ id: content.id, series: content.seriesId })
      .from(content)
      .where(and(eq(content.kind, "episode"), isNotNull(content.seriesId)))
      .orderBy(desc(content.id))
      .limit(1),
  );
  episode = { id: row!.id, series: row!.series! };
  const users = [];
  for (let i = 0; i < 5; i++) users.push(await viewer([now], "trend"));
  for (let i = 0; i < 2; i++) users.push(await viewer([fewer], "trend"));
  users.push(await viewer([episode.id], "trend"));
  const imported = async (id: string, daysAgo: number) => {
    const user = await viewer([], "trend-import");
    const at = new Date(Date.now() - daysAgo * DAY).toISOString();
    const res = await user.api.post("/api/v1/history/import", {
      items: [{ content_id: id, watched_at: at, completed: true }],
    });
    expect(res.json.imported).toBe(1);
    users.push(user);
  };
  // One viewer who finished the same film three times today: three plays, one history row.
  const fan = await viewer([], "trend-rewatch");
  for (const hoursAgo of [5, 3, 1]) {
    const at = new Date(Date.now() - hoursAgo * 3_600_000).toISOString();
    expect((await fan.api.put(`/api/v1/history/${rewatched}/watched`, { watched_at: at })).status).toBe(200);
  }
  users.push(fan);
  for (let i = 0; i < 3; i++) await imported(lastMonth, 20);
  for (let i = 0; i < 3; i++) await imported(longAgo, 60);
  await inPostgres(
    users.map((u) => u.id),
    users.length,
  );
}, 120_000);

describe("trending", () => {
  it("ranks titles by plays in the window, most played first", async () => {
    const day = await eventually(
      () => trending("window=1d&kind=movie&limit=100"),
      (t) => entry(t, now)?.plays === 5 && entry(t, fewer)?.plays === 2,
    );
    expect(day.window).toBe("1d");
    const ids = day.items.map((i) => i.content_id);
    expect(ids.indexOf(now)).toBeLessThan(ids.indexOf(fewer));
    expect(ids).not.toContain(lastMonth);
    expect(ids).not.toContain(longAgo);
    for (const item of day.items) expect(item.kind).toBe("movie");
  });

  it("counts every play, so a title finished three times by one viewer has three plays", async () => {
    const day = await eventually(
      () => trending("window=1d&kind=movie&limit=100"),
      (t) => entry(t, rewatched)?.plays === 3,
    );
    const ids = day.items.map((i) => i.content_id);
    expect(ids.indexOf(rewatched)).toBeGreaterThan(ids.indexOf(now));
    expect(ids.indexOf(rewatched)).toBeLessThan(ids.indexOf(fewer));
  });

  it("decays older plays and leaves out plays before the window", async () => {
    const month = await trending("window=30d&kind=movie&limit=100");
    const old = entry(month, lastMonth);
    expect(old?.plays).toBe(3);
    // 20 days with a half-life of a quarter of 30 days: 3 × 0.5^(20 / 7.5) ≈ 0.47.
    expect(old!.score).toBeGreaterThan(0.4);
    expect(old!.score).toBeLessThan(0.55);
    expect(entry(month, now)!.score).toBeGreaterThan(4.9);
    expect(entry(month, longAgo)).toBeUndefined();
    expect(entry(await trending("kind=movie&limit=100"), lastMonth)).toBeUndefined();
    expect((await trending("")).window).toBe("7d");
  });

  it("counts an episode's plays for its series, unless episodes are asked for", async () => {
    const series = await eventually(
      () => trending("window=1d&limit=100"),
      (t) => entry(t, episode.series) !== undefined,
    );
    expect(series.items.every((i) => i.kind === "movie" || i.kind === "series")).toBe(true);
    const episodes = await trending("window=1d&kind=episode&limit=100");
    expect(entry(episodes, episode.id)?.plays).toBeGreaterThanOrEqual(1);
    expect(episodes.items.every((i) => i.kind === "episode")).toBe(true);
  });

  it("keeps to the limit and refuses bad parameters with a 400", async () => {
    expect((await trending("window=30d&limit=1")).items).toHaveLength(1);
    for (const query of ["window=2d", "window=", "limit=0", "limit=101", "kind=film"]) {
      const res = await anonymous.get(`/api/v1/trending?${query}`);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
  });
});
