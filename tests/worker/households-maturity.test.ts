import { and, asc, eq, gte, inArray } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { content } from "../../src/db/schema";
import { allowsRating, limitOf } from "../../src/domain/maturity";
import { type Account, anonymous, newAccount, refresh } from "./accounts";
import { client, db } from "./helpers";
import { household, type SignedInProfile } from "./households";
import { inPostgres, viewer } from "./recommendations-model-support";

const MATRIX = "film-the-matrix-1999"; // R
const SHAWSHANK = "film-the-shawshank-redemption-1994"; // R
const GODFATHER = "film-the-godfather-1972"; // no rating
const SCARFACE = "film-scarface-1983"; // Not Rated
const TOY_STORY = "film-toy-story-1995"; // G
const SHREK = "film-shrek-2001"; // PG
const DARK_KNIGHT = "film-the-dark-knight-2008"; // PG-13
const TV_MA_SERIES = "series-northern-station";
const TV_Y_SERIES = "series-distant-frontier";

const pg = limitOf("PG", false);

/** Ratings of content ids, read from the catalog table itself. */
async function ratingsOf(ids: readonly string[]): Promise<Map<string, string | null>> {
  if (ids.length === 0) return new Map();
  const rows = await db((d) =>
    d
      .select({ id: content.id, rating: content.maturityRating })
      .from(content)
      .where(inArray(content.id, [...ids])),
  );
  return new Map(rows.map((r) => [r.id, r.rating]));
}

async function expectAllAllowed(ids: readonly string[]) {
  const ratings = await ratingsOf(ids);
  const above = ids.filter((id) => !allowsRating(pg, ratings.get(id)));
  expect(above, `above PG: ${above.map((id) => `${id} (${ratings.get(id)})`).join(", ")}`).toEqual([]);
}

describe("a profile limited to PG", () => {
  let owner: Account;
  let kid: SignedInProfile;

  beforeAll(async () => {
    ({ owner, kid } = await household("PG"));
  });

  it("finds no R film in search, while the owner does", async () => {
    const mine = await owner.api.get("/api/v1/search?q=the+matrix");
    expect(mine.json.results[0].id).toBe(MATRIX);
    const theirs = await kid.api.get("/api/v1/search?q=the+matrix&page_size=50");
    expect(theirs.status).toBe(200);
    expect(theirs.json.results.map((r: { id: string }) => r.id)).not.toContain(MATRIX);
    await expectAllAllowed(theirs.json.results.map((r: { id: string }) => r.id));
    const none = await kid.api.get("/api/v1/search?q=shawshank+redemption");
    expect(none.json.total).toBe(0);
    expect(none.json.results).toEqual([]);
    expect(none.json.facets.genres).toEqual([]);
  });

  it("counts and facets only what it may see: totals and genre counts match the catalog under the limit", async () => {
    const rows = await db((d) =>
      d
        .select({ id: content.id, rating: content.maturityRating, genres: content.genres })
        .from(content)
        .where(inArray(content.kind, ["movie", "series"])),
    );
    const allowed = rows.filter((r) => allowsRating(pg, r.rating));
    const genreCounts = new Map<string, number>();
    for (const r of allowed) for (const g of r.genres) genreCounts.set(g, (genreCounts.get(g) ?? 0) + 1);

    const everything = await owner.api.get("/api/v1/search?page_size=100");
    const limited = await kid.api.get("/api/v1/search?page_size=100");
    expect(everything.json.total).toBe(rows.length);
    expect(limited.json.total).toBe(allowed.length);
    expect(limited.json.total).toBeLessThan(everything.json.total);
    for (const facet of limited.json.facets.genres) expect(facet.count).toBe(genreCounts.get(facet.value));
    expect(limited.json.facets.genres.length).toBe(genreCounts.size);
    // Every page of the limited listing holds only allowed titles, down to the last.
    const pageIds: string[] = [];
    let cursor: string | null = limited.json.next_cursor;
    pageIds.push(...limited.json.results.map((r: { id: string }) => r.id));
    for (let page = 0; cursor && page < 3; page++) {
      const next = await kid.api.get(`/api/v1/search?page_size=100&cursor=${encodeURIComponent(cursor)}`);
      pageIds.push(...next.json.results.map((r: { id: string }) => r.id));
      cursor = next.json.next_cursor;
    }
    await expectAllAllowed(pageIds);
    // The owner's cursor is not the kid's.
    const foreign = await kid.api.get(
      `/api/v1/search?page_size=100&cursor=${encodeURIComponent(everything.json.next_cursor)}`,
    );
    expect(foreign.status).toBe(400);
  });

  it("is suggested nothing above PG in autocomplete, typed or popular, and never shares the owner's cached answer", async () => {
    const typedOwner = await owner.api.get("/api/v1/autocomplete?q=the+matr");
    expect(typedOwner.json.suggestions.map((s: { content_id: string }) => s.content_id)).toContain(MATRIX);
    const typed = await kid.api.get("/api/v1/autocomplete?q=the+matr");
    expect(typed.json.suggestions.map((s: { content_id: string }) => s.content_id)).not.toContain(MATRIX);
    expect(typed.headers.get("cache-control")).toMatch(/^private/);
    const popular = await kid.api.get("/api/v1/autocomplete?q=&limit=50");
    expect(popular.json.suggestions.length).toBe(50);
    await expectAllAllowed(popular.json.suggestions.map((s: { content_id: string }) => s.content_id));
    const anonymousPopular = await anonymous.get("/api/v1/autocomplete?q=&limit=50");
    expect(anonymousPopular.json.suggestions.map((s: { content_id: string }) => s.content_id)).toContain(SHAWSHANK);
  });

  it("cannot read an R film, an unrated one or a TV-MA series; reads G and PG; the catalog listing leaves them out", async () => {
    for (const id of [MATRIX, GODFATHER, SCARFACE, DARK_KNIGHT, TV_MA_SERIES, `${TV_MA_SERIES}-s01e01`]) {
      const res = await kid.api.get(`/api/v1/content/${id}`);
      expect(res.status, id).toBe(403);
      expect(res.json.type).toMatch(/maturity-restricted$/);
      // The refusal says nothing of the item.
      expect(Object.keys(res.json).sort()).toEqual(["detail", "status", "title", "type"]);
    }
    for (const id of [TOY_STORY, SHREK, TV_Y_SERIES])
      expect((await kid.api.get(`/api/v1/content/${id}`)).status).toBe(200);
    expect((await anonymous.get(`/api/v1/content/${MATRIX}`)).status).toBe(200);
    expect((await owner.api.get(`/api/v1/content/${MATRIX}`)).status).toBe(200);

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 3; page++) {
      const res = await kid.api.get(
        `/api/v1/content?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      expect(res.json.items).toHaveLength(100);
      for (const item of res.json.items) {
        expect(allowsRating(pg, item.maturity_rating), `${item.id} ${item.maturity_rating}`).toBe(true);
        seen.push(item.id);
      }
      cursor = res.json.next_cursor;
    }
    expect(new Set(seen).size).toBe(300);
    expect((await kid.api.get(`/api/v1/content?series_id=${TV_MA_SERIES}`)).json.items).toEqual([]);
    const episodes = await kid.api.get(`/api/v1/content?series_id=${TV_Y_SERIES}`);
    expect(episodes.json.items.length).toBeGreaterThan(0);
    expect((await owner.api.get(`/api/v1/content?series_id=${TV_MA_SERIES}`)).json.items.length).toBeGreaterThan(0);
  });

  it("is recommended only what PG allows, and scores of R films are not given", async () => {
    const recs = await kid.api.get("/api/v1/recommendations?limit=50");
    expect(recs.status).toBe(200);
    expect(recs.json.items.length).toBe(50);
    await expectAllAllowed(recs.json.items.map((r: { content_id: string }) => r.content_id));
    const ownerRecs = await owner.api.get("/api/v1/recommendations?limit=50");
    const ratings = await ratingsOf(ownerRecs.json.items.map((r: { content_id: string }) => r.content_id));
    expect([...ratings.values()].some((r) => !allowsRating(pg, r))).toBe(true);
    const scored = await kid.api.post("/api/v1/personalization/score", { content_ids: [MATRIX, TOY_STORY] });
    expect(scored.json.scores.map((s: { content_id: string }) => s.content_id)).toEqual([TOY_STORY]);
    expect(scored.json.unknown_ids).toEqual([MATRIX]);
  });

  it("is shown no trending or similar title above PG, and similar titles of an R film are 403", async () => {
    // Viewers finish an R film and a G one: both trend for everyone, the R one never for the kid.
    const viewers = [await viewer([MATRIX, TOY_STORY], "trend-pg"), await viewer([MATRIX, TOY_STORY], "trend-pg")];
    await inPostgres(
      viewers.map((v) => v.id),
      4,
    );
    const ids = (res: { json: { items: { content_id: string }[] } }) => res.json.items.map((i) => i.content_id);
    expect(ids(await owner.api.get("/api/v1/trending?window=1d&limit=100"))).toContain(MATRIX);
    const kidTrending = await kid.api.get("/api/v1/trending?window=1d&limit=100");
    expect(kidTrending.status).toBe(200);
    expect(ids(kidTrending)).toContain(TOY_STORY);
    await expectAllAllowed(ids(kidTrending));

    const refused = await kid.api.get(`/api/v1/content/${MATRIX}/similar`);
    expect(refused.status).toBe(403);
    expect(refused.json.type).toMatch(/maturity-restricted$/);
    expect((await owner.api.get(`/api/v1/content/${MATRIX}/similar`)).status).toBe(200);
    for (const id of [TOY_STORY, SHREK]) {
      const similar = await kid.api.get(`/api/v1/content/${id}/similar?limit=50`);
      expect(similar.status, id).toBe(200);
      expect(similar.json.items.length, id).toBeGreaterThan(0);
      await expectAllAllowed(ids(similar));
    }
  });

  it("cannot start a session on an R film, an unrated film or a TV-MA episode (403), and can on G and PG", async () => {
    for (const id of [MATRIX, GODFATHER, `${TV_MA_SERIES}-s01e01`]) {
      const res = await kid.api.post("/api/v1/sessions", { content_id: id, device_id: "tv", duration_seconds: 7200 });
      expect(res.status, id).toBe(403);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.json.type).toMatch(/maturity-restricted$/);
    }
    expect((await kid.api.get("/api/v1/continue-watching")).json.items).toEqual([]);
    for (const id of [TOY_STORY, SHREK, `${TV_Y_SERIES}-s01e01`]) {
      const res = await kid.api.post("/api/v1/sessions", { content_id: id, device_id: "tv", duration_seconds: 7200 });
      expect(res.status, id).toBe(201);
    }
  });
});

describe("a limit set after the fact", () => {
  it("hides what the profile watched or listed before from continue watching, history, the watchlist and resume", async () => {
    const { owner, kid } = await household(null);
    for (const id of [MATRIX, TOY_STORY]) {
      const started = await kid.api.post("/api/v1/sessions", {
        content_id: id,
        device_id: "tv",
        duration_seconds: 7200,
      });
      await kid.api.patch(`/api/v1/sessions/${started.json.id}/position`, {
        position_seconds: 3600,
        playback_state: "paused",
      });
    }
    const before = await kid.api.get("/api/v1/continue-watching");
    expect(before.json.items.map((i: { content_id: string }) => i.content_id).sort()).toEqual(
      [MATRIX, TOY_STORY].sort(),
    );

    await kid.api.put(`/api/v1/sync/watchlist/${MATRIX}`);
    await kid.api.put(`/api/v1/sync/watchlist/${TOY_STORY}`);

    expect((await owner.api.patch(`/api/v1/profiles/${kid.id}`, { maturity_limit: "PG" })).status).toBe(200);
    const pair = (await refresh(kid.refreshToken)).json;
    const limited = client(pair.access_token);
    const paths = ["/api/v1/continue-watching", "/api/v1/history", "/api/v1/history?status=in_progress"];
    for (const path of [...paths, "/api/v1/sync/watchlist"]) {
      const res = await limited.get(path);
      expect(
        res.json.items.map((i: { content_id: string }) => i.content_id),
        path,
      ).toEqual([TOY_STORY]);
    }
    expect((await limited.get(`/api/v1/resume/${MATRIX}`)).status).toBe(403);
    expect((await limited.get(`/api/v1/resume/${TOY_STORY}`)).json.resume_position_seconds).toBe(3600);
    // The state itself is kept: lifting the limit shows it again.
    await owner.api.patch(`/api/v1/profiles/${kid.id}`, { maturity_limit: null });
    const lifted = client((await refresh(pair.refresh_token)).json.access_token);
    const after = await lifted.get("/api/v1/continue-watching");
    expect(after.json.items.map((i: { content_id: string }) => i.content_id).sort()).toEqual(
      [MATRIX, TOY_STORY].sort(),
    );
  });

  it("leaves series above the limit out of Next Up, and their progress is 403", async () => {
    const { owner, kid } = await household(null);
    const firstEpisode = async (seriesId: string) => {
      const [row] = await db((d) =>
        d
          .select({ id: content.id })
          .from(content)
          // Season 1 on: specials (season 0) are not Next Up unless asked for.
          .where(and(eq(content.seriesId, seriesId), eq(content.kind, "episode"), gte(content.seasonNumber, 1)))
          .orderBy(asc(content.seasonNumber), asc(content.episodeNumber))
          .limit(1),
      );
      return row!.id;
    };
    for (const series of [TV_MA_SERIES, TV_Y_SERIES]) {
      const started = await kid.api.post("/api/v1/sessions", {
        content_id: await firstEpisode(series),
        device_id: "tv",
        duration_seconds: 1800,
      });
      expect(started.status).toBe(201);
      await kid.api.patch(`/api/v1/sessions/${started.json.id}/position`, {
        position_seconds: 900,
        playback_state: "paused",
      });
    }
    const seriesOf = (res: { json: { items: { series_id: string }[] } }) =>
      res.json.items.map((i) => i.series_id).sort();
    expect(seriesOf(await kid.api.get("/api/v1/next-up"))).toEqual([TV_MA_SERIES, TV_Y_SERIES].sort());

    expect((await owner.api.patch(`/api/v1/profiles/${kid.id}`, { maturity_limit: "TV-PG" })).status).toBe(200);
    const limited = client((await refresh(kid.refreshToken)).json.access_token);
    expect(seriesOf(await limited.get("/api/v1/next-up"))).toEqual([TV_Y_SERIES]);
    const refused = await limited.get(`/api/v1/series/${TV_MA_SERIES}/progress`);
    expect(refused.status).toBe(403);
    expect(refused.json.type).toContain("maturity-restricted");
    expect((await limited.get(`/api/v1/series/${TV_Y_SERIES}/progress`)).status).toBe(200);
  });

  it("an episode without a rating of its own follows its series", async () => {
    const { owner, kid } = await household("TV-PG");
    const admin = await newAccount({ admin: true });
    // An episode with no rating of its own, in a seeded TV-MA series (a new series would change the catalog's count).
    const episodeId = `series-wild-kingdom-test-${crypto.randomUUID().slice(0, 8)}`;
    const imported = await admin.api.post("/api/v1/admin/catalog", {
      items: [
        {
          id: episodeId,
          kind: "episode",
          title: "Wild Kingdom Special",
          series_id: "series-wild-kingdom",
          season_number: 99,
          episode_number: 1,
          maturity_rating: null,
        },
      ],
    });
    expect(imported.status).toBe(200);
    const res = await kid.api.post("/api/v1/sessions", {
      content_id: episodeId,
      device_id: "tv",
      duration_seconds: 1800,
    });
    expect(res.status).toBe(403);
    expect((await kid.api.get(`/api/v1/content/${episodeId}`)).status).toBe(403);
    expect((await owner.api.get(`/api/v1/content/${episodeId}`)).status).toBe(200);
  });
});
