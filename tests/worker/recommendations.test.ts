import { describe, expect, it } from "vitest";
import { type Client, newUser } from "./helpers";
import { filmsOfGenre, mostPopular, profileWithViews, watch } from "./recommendations-helpers";

const expectProblem = (res: { status: number; headers: Headers; json: any }, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(res.json).toMatchObject({ status, type: expect.any(String), title: expect.any(String) });
};

/** Every recommendation the API will page out (it stops at 500). */
async function allRecommendations(api: Client, method: "GET" | "POST"): Promise<{ content_id: string }[]> {
  const items: { content_id: string }[] = [];
  let cursor: string | null = null;
  do {
    const res: Awaited<ReturnType<Client["get"]>> =
      method === "GET"
        ? await api.get(`/api/v1/recommendations?limit=100${cursor ? `&cursor=${cursor}` : ""}`)
        : await api.post("/api/v1/recommendations", { limit: 100, ...(cursor ? { cursor } : {}) });
    expect(res.status).toBe(200);
    items.push(...res.json.items);
    cursor = res.json.next_cursor;
  } while (cursor);
  return items;
}

describe("recommendations", () => {
  it("gives a new user popular items, explained as popular", async () => {
    const { api } = await newUser();
    const res = await api.get("/api/v1/recommendations?limit=10");
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ personalized: false, profile_version: null, adapter_version: null });
    expect(res.json.items).toHaveLength(10);
    const popular = await mostPopular(40);
    expect(res.json.items[0].content_id).toBe(popular[0]!.id);
    const top = new Set(popular.map((p) => p.id));
    for (const item of res.json.items) {
      expect(top.has(item.content_id)).toBe(true);
      expect(item.reason).toBe("Popular on Media Gateway");
      expect(item.score).toBeGreaterThan(0);
      expect(item.score).toBeLessThanOrEqual(1);
    }
    const scores = res.json.items.map((i: { score: number }) => i.score);
    expect(scores[0]).toBe(Math.max(...scores));
  });

  it("never brings back what the user finished, right away and on every page", async () => {
    const { api } = await newUser();
    const finished = (await mostPopular(3)).map((p) => p.id);
    for (const id of finished) expect((await api.put(`/api/v1/history/${id}/watched`)).status).toBe(200);
    // At once: the user's Durable Object knows before Postgres does.
    const immediate = await api.get("/api/v1/recommendations?limit=50");
    const shown = immediate.json.items.map((i: { content_id: string }) => i.content_id);
    for (const id of finished) expect(shown).not.toContain(id);
    await profileWithViews(api, 3);
    for (const method of ["GET", "POST"] as const) {
      const all = await allRecommendations(api, method);
      expect(all).toHaveLength(500);
      const ids = all.map((i) => i.content_id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of finished) expect(ids).not.toContain(id);
    }
  });

  it("follows the profile: liked genres first, explained by a watched title", async () => {
    const { api } = await newUser();
    const horrors = await filmsOfGenre("Horror", 4);
    for (const id of horrors) await watch(api, id, 0.97);
    await watch(api, (await filmsOfGenre("Comedy", 1))[0] as string, 0.05);
    await profileWithViews(api, 5);

    const res = await api.get("/api/v1/recommendations?limit=10");
    expect(res.json.personalized).toBe(true);
    expect(res.json.profile_version).toBeGreaterThanOrEqual(1);
    const items = res.json.items as {
      content_id: string;
      genres: string[];
      reason: string;
      because_content_id: string;
    }[];
    expect(items[0]!.genres).toContain("Horror");
    expect(items.filter((i) => i.genres.includes("Horror")).length).toBeGreaterThanOrEqual(3);
    const explained = items.find((i) => i.genres.includes("Horror"))!;
    expect(explained.reason).toMatch(/^Because you watched /);
    expect(horrors).toContain(explained.because_content_id);

    const newcomer = await (await newUser()).api.get("/api/v1/recommendations?limit=10");
    const horrorFor = (list: { genres: string[] }[]) => list.filter((i) => i.genres.includes("Horror")).length;
    expect(horrorFor(items)).toBeGreaterThan(horrorFor(newcomer.json.items));
  });

  it("is diverse: no series twice, at most four of a genre in any ten", async () => {
    const { api } = await newUser();
    for (const id of await filmsOfGenre("Drama", 4)) await watch(api, id, 1);
    await profileWithViews(api, 4);
    const res = await api.post("/api/v1/recommendations", { limit: 40, kinds: ["movie", "series", "episode"] });
    expect(res.status).toBe(200);
    const items = res.json.items as { content_id: string; kind: string; genres: string[] }[];
    expect(items).toHaveLength(40);
    const seriesOf = (i: { content_id: string; kind: string }) =>
      i.kind === "episode" ? i.content_id.replace(/-s\d+e\d+$/, "") : i.content_id;
    expect(new Set(items.map(seriesOf)).size).toBe(items.length);
    for (let end = 10; end <= items.length; end++) {
      const window = items.slice(end - 10, end);
      const counts = new Map<string, number>();
      for (const item of window) for (const g of item.genres) counts.set(g, (counts.get(g) ?? 0) + 1);
      expect(Math.max(0, ...counts.values())).toBeLessThanOrEqual(4);
    }
  });

  it("answers a POST without a body with the defaults", async () => {
    const { api } = await newUser();
    const res = await api.raw("POST", "/api/v1/recommendations");
    expect(res.status).toBe(200);
    expect(res.json.items).toHaveLength(20);
  });

  it("keeps to the filters and exclusions of a POST", async () => {
    const { api } = await newUser();
    const [first] = await mostPopular(1);
    const res = await api.post("/api/v1/recommendations", {
      limit: 10,
      genres: ["Comedy"],
      kinds: ["movie"],
      exclude_content_ids: [first!.id],
    });
    expect(res.status).toBe(200);
    for (const item of res.json.items) {
      expect(item.genres).toContain("Comedy");
      expect(item.kind).toBe("movie");
      expect(item.content_id).not.toBe(first!.id);
    }
  });
});

describe("personalization score", () => {
  it("scores each known id once, in order, and reports unknown ones", async () => {
    const { api } = await newUser();
    const [a, b] = await filmsOfGenre("Action", 2);
    const res = await api.post("/api/v1/personalization/score", {
      content_ids: [b, "no-such-film", a, b, "series-northern-harbor-does-not-exist"],
    });
    expect(res.status).toBe(200);
    expect(res.json.scores.map((s: { content_id: string }) => s.content_id)).toEqual([b, a]);
    expect(res.json.unknown_ids).toEqual(["no-such-film", "series-northern-harbor-does-not-exist"]);
    for (const s of res.json.scores) {
      expect(s.score).toBeGreaterThanOrEqual(0);
      expect(s.score).toBeLessThanOrEqual(1);
      expect(typeof s.reason).toBe("string");
    }
    const unknownOnly = await api.post("/api/v1/personalization/score", { content_ids: ["nothing-here"] });
    expect(unknownOnly.status).toBe(200);
    expect(unknownOnly.json).toMatchObject({ scores: [], unknown_ids: ["nothing-here"] });
  });
});

describe("documentation", () => {
  it("documents the recommendation and profile routes with their request limits", async () => {
    const { api } = await newUser();
    const doc = (await api.get("/openapi.json")).json;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/recommendations",
        "/api/v1/personalization/score",
        "/api/v1/profile",
        "/api/v1/profile/update",
        "/api/v1/profile/train",
      ]),
    );
    expect(Object.keys(doc.paths["/api/v1/recommendations"])).toEqual(expect.arrayContaining(["get", "post"]));
    expect(doc.components.schemas.ScoreRequest.properties.content_ids).toMatchObject({ minItems: 1, maxItems: 1000 });
  });
});

describe("bad input is a 4xx problem and changes nothing", () => {
  it("refuses empty, oversized and non-string id lists", async () => {
    const { api } = await newUser();
    const [film] = await filmsOfGenre("Drama", 1);
    await api.put(`/api/v1/history/${film}/watched`);
    const before = await profileWithViews(api, 1);

    const tenThousand = Array.from({ length: 10_000 }, (_, i) => `film-${i}`);
    const tenThousandShort = Array.from({ length: 10_000 }, (_, i) => String(i));
    for (const body of [
      { content_ids: [] },
      { content_ids: tenThousandShort },
      { content_ids: [1, 2, 3] },
      { content_ids: [film, null] },
      { content_ids: [{ id: film }] },
      { content_ids: [""] },
      { content_ids: "film-a" },
      {},
      [],
    ]) {
      expectProblem(await api.post("/api/v1/personalization/score", body), 400);
    }
    const huge = await api.post("/api/v1/personalization/score", { content_ids: tenThousand });
    expect([400, 413]).toContain(huge.status);
    expect(huge.headers.get("content-type")).toContain("application/problem+json");
    expectProblem(await api.raw("POST", "/api/v1/personalization/score", "{not json"), 400);

    const invalid = await api.post("/api/v1/personalization/score", { content_ids: [1] });
    expect(invalid.json.errors[0].path).toMatch(/^content_ids/);

    for (const query of ["limit=0", "limit=101", "limit=ten", "cursor=not-a-cursor", "kind=film", "genre="]) {
      expectProblem(await api.get(`/api/v1/recommendations?${query}`), 400);
    }
    for (const body of [
      { limit: 0 },
      { limit: "20" },
      { kinds: ["film"] },
      { genres: [7] },
      { exclude_content_ids: "x" },
      { cursor: "AAAA" },
    ]) {
      expectProblem(await api.post("/api/v1/recommendations", body), 400);
    }

    const after = (await api.get("/api/v1/profile")).json;
    expect(after.version).toBe(before.version);
    expect(after.views).toBe(1);
    expect(after.jobs).toEqual(before.jobs);
  });

  it("refuses callers without a valid token", async () => {
    const { client } = await import("./helpers");
    for (const res of [
      await client(null).get("/api/v1/recommendations"),
      await client(null).post("/api/v1/recommendations", {}),
      await client(null).post("/api/v1/personalization/score", { content_ids: ["a"] }),
      await client("garbage").get("/api/v1/recommendations"),
    ]) {
      expectProblem(res, 401);
    }
  });
});
