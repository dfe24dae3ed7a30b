import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { content, preferenceProfiles, spellCorrections, watchHistory } from "../../src/db/schema";
import { client, db, newUser, tokenFor } from "./helpers";
import { adminApi, reindex } from "./search-support";

const anonymous = client(null);
const search = (q: string, extra = "") => anonymous.get(`/api/v1/search?q=${encodeURIComponent(q)}${extra}`);
const titles = (res: { json: { results: { title: string }[] } }) => res.json.results.map((r) => r.title);

beforeAll(async () => {
  // Start from the catalog as seeded, whatever an earlier run left in KV.
  await reindex();
});

describe("typo-tolerant search over the real catalog", () => {
  it('finds The Matrix for "teh matrix" and says it searched "the matrix"', async () => {
    const res = await search("teh matrix");
    expect(res.status).toBe(200);
    expect(res.json.results[0].title).toBe("The Matrix");
    expect(res.json.results[0].id).toBe("film-the-matrix-1999");
    expect(res.json.corrected_query).toBe("the matrix");
  });

  // Real titles of movies.json, misspelled the ways people misspell them.
  const misspellings: [string, string][] = [
    ["godfahter", "The Godfather"],
    ["shawshenk redemption", "The Shawshank Redemption"],
    ["jurasic park", "Jurassic Park"],
    ["gladiater", "Gladiator"],
    ["titanik", "Titanic"],
    ["termintor", "The Terminator"],
    ["pulp fictoin", "Pulp Fiction"],
    ["forest gump", "Forrest Gump"],
    ["lord of the rigns", "The Lord of the Rings: The Fellowship of the Ring"],
    ["harry poter", "Harry Potter and the Sorcerer's Stone"],
    ["the dark knigth", "The Dark Knight"],
    ["inceptoin", "Inception"],
    ["silense of the lambs", "The Silence of the Lambs"],
    ["teh lion kign", "The Lion King"],
    ["indianna jones", "Indiana Jones and the Last Crusade"],
    ["findng nemo", "Finding Nemo"],
    ["shek", "Shrek"],
  ];
  it.each(misspellings)('"%s" has %s in the top 3', async (q, title) => {
    const res = await search(q, "&page_size=3");
    expect(res.status).toBe(200);
    expect(titles(res)).toContain(title);
    expect(res.json.corrected_query).not.toBeNull();
  });

  it("says nothing was corrected when every word is spelled right", async () => {
    const res = await search("The Matrix");
    expect(res.json.results[0].title).toBe("The Matrix");
    expect(res.json.corrected_query).toBeNull();
  });

  it("ranks the exact title first, then the other matches by popularity", async () => {
    const res = await search("godfather");
    expect(titles(res)).toEqual(["The Godfather", "The Godfather: Part II", "The Godfather: Part III"]);
    const scores = res.json.results.map((r: { score: number }) => r.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it("finds a title by any of its words, and words without any match give no results", async () => {
    expect(titles(await search("redemption"))).toContain("The Shawshank Redemption");
    const nothing = await search("xqzvbnmk");
    expect(nothing.status).toBe(200);
    expect(nothing.json).toMatchObject({ results: [], total: 0, corrected_query: null, next_cursor: null });
  });

  it("takes the same parameters in a POST body", async () => {
    const res = await anonymous.post("/api/v1/search", { query: "teh matrix", page_size: 2, include_facets: false });
    expect(res.status).toBe(200);
    expect(titles(res)).toEqual(["The Matrix", "The Matrix Reloaded"]);
    expect(res.json.facets).toBeNull();
    expect(res.json.total).toBe(3);
  });

  it("leaves episodes out unless they are asked for by kind", async () => {
    const series = await search("northern harbor");
    const kinds = new Set(series.json.results.map((r: { kind: string }) => r.kind));
    expect(kinds.has("episode")).toBe(false);
    const episodes = await search("last garden", "&kind=episode");
    expect(episodes.json.total).toBeGreaterThan(0);
    expect(episodes.json.results.every((r: { kind: string }) => r.kind === "episode")).toBe(true);
  });
});

describe("curated spelling corrections", () => {
  // The table outlives a run on a shared database: start and end without this test's entry.
  const forget = async () => {
    await db((d) => d.delete(spellCorrections).where(eq(spellCorrections.misspelled, "godfathr")));
    await reindex();
  };
  beforeAll(forget);
  afterAll(forget);

  it("override the automatic correction and show in corrected_query", async () => {
    expect((await search("godfathr")).json.corrected_query).toBe("godfather");
    const admin = await adminApi();
    const put = await admin.put("/api/v1/admin/spell-corrections", {
      corrections: [{ misspelled: "Godfathr", corrected: "gladiator", frequency: 3 }],
      reindex: true,
    });
    expect(put.status).toBe(200);
    const res = await search("godfathr");
    expect(res.json.results[0].title).toBe("Gladiator");
    expect(res.json.corrected_query).toBe("gladiator");
  });

  it("refuses a correction that changes nothing, and non-admins", async () => {
    const admin = await adminApi();
    const same = await admin.put("/api/v1/admin/spell-corrections", {
      corrections: [{ misspelled: "Matrix", corrected: "matrix" }],
    });
    expect(same.status).toBe(400);
    expect(same.headers.get("content-type")).toContain("application/problem+json");
    const { api } = await newUser();
    const forbidden = await api.put("/api/v1/admin/spell-corrections", {
      corrections: [{ misspelled: "abc", corrected: "def" }],
    });
    expect(forbidden.status).toBe(403);
  });
});

describe("personalization", () => {
  const watched = ["film-the-hills-have-eyes-ii-2007", "film-prom-night-2008", "film-creepshow-2-1987"];
  let horrorFan: Awaited<ReturnType<typeof newUser>>;
  beforeAll(async () => {
    horrorFan = await newUser("horror-fan");
    // Obscure horror films, fully watched: the user's history says Horror.
    await db((d) =>
      d.insert(watchHistory).values(
        watched.map((contentId, i) => ({
          userId: horrorFan.id,
          contentId,
          positionSeconds: 5000,
          durationSeconds: 5000,
          completionPercentage: 100,
          watched: true,
          hlc: `0000000000000:00000:${i}`,
          lastWatchedAt: new Date(),
        })),
      ),
    );
  });
  afterAll(async () => {
    await db((d) => d.delete(watchHistory).where(eq(watchHistory.userId, horrorFan.id)));
  });

  it("boosts the genres of the caller's history; without a token the ranking is not personal", async () => {
    const known = await db((d) => d.select({ id: content.id }).from(content).where(inArray(content.id, watched)));
    expect(known).toHaveLength(watched.length);
    const plain = await search("dead");
    expect(plain.json.results[0].genres).not.toContain("Horror");
    const personal = await horrorFan.api.get("/api/v1/search?q=dead");
    expect(personal.status).toBe(200);
    expect(personal.json.results[0].genres).toContain("Horror");
    // Same matches, only their order differs.
    expect(personal.json.total).toBe(plain.json.total);
  });

  it("follows the stored preference profile when there is one, liked and disliked genres alike", async () => {
    const { id, api } = await newUser("profiled");
    await db((d) =>
      d.insert(preferenceProfiles).values({
        userId: id,
        weights: { genre: { Drama: -0.9, Comedy: 0.8 }, director: {}, decade: {}, maturity: {}, platform: {} },
        anchors: [],
        views: 20,
        finished: 12,
        abandoned: 8,
        confidence: 1,
        halfLifeDays: 30,
      }),
    );
    try {
      const plain = await search("dead");
      expect(plain.json.results[0].title).toBe("Dead Poets' Society");
      const personal = await api.get("/api/v1/search?q=dead");
      expect(personal.json.results[0].genres).toContain("Comedy");
      expect(titles(personal).slice(0, 3)).not.toContain("Dead Poets' Society");
    } finally {
      await db((d) => d.delete(preferenceProfiles).where(eq(preferenceProfiles.userId, id)));
    }
  });

  it("does not personalize for a user without history", async () => {
    const { api } = await newUser();
    const res = await api.get("/api/v1/search?q=dead");
    expect(titles(res)).toEqual(titles(await search("dead")));
  });

  it("answers 401 to an invalid or expired token instead of falling back to anonymous", async () => {
    const forged = await client(await tokenFor("someone", { key: new TextEncoder().encode("x".repeat(48)) })).get(
      "/api/v1/search?q=dead",
    );
    expect(forged.status).toBe(401);
    expect(forged.headers.get("content-type")).toContain("application/problem+json");
    const expired = await client(await tokenFor("someone", { expiresIn: "-1m" })).get("/api/v1/search?q=dead");
    expect(expired.status).toBe(401);
    const garbage = await anonymous.get("/api/v1/search?q=dead", { authorization: "Bearer not-a-jwt" });
    expect(garbage.status).toBe(401);
  });
});

describe("bad parameters are 4xx problems, never 5xx", () => {
  const cases: [string, string][] = [
    ["page 0", "/api/v1/search?q=matrix&page=0"],
    ["page_size 10000", "/api/v1/search?q=matrix&page_size=10000"],
    ["year_min above year_max", "/api/v1/search?q=matrix&year_min=2000&year_max=1990"],
    ["q of 10 kB", `/api/v1/search?q=${"a".repeat(10_240)}`],
    ["rating_min above 10", "/api/v1/search?q=matrix&rating_min=11"],
    ["a year that is not a number", "/api/v1/search?q=matrix&year_min=abc"],
    ["an unknown kind", "/api/v1/search?q=matrix&kind=podcast"],
    ["a forged cursor", "/api/v1/search?q=matrix&cursor=eyJ2IjoiMSJ9"],
    ["a cursor that is not base64url", "/api/v1/search?q=matrix&cursor=%25%25%25"],
    ["autocomplete limit 0", "/api/v1/autocomplete?q=ma&limit=0"],
    ["autocomplete q of 10 kB", `/api/v1/autocomplete?q=${"a".repeat(10_240)}`],
  ];
  it.each(cases)("%s", async (_name, path) => {
    const res = await anonymous.get(path);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.json.status).toBe(res.status);
  });

  it("rejects a POST body with wrong types", async () => {
    for (const body of [{ query: 42 }, { query: "x", page: "zero" }, { query: "x", genre: [1, 2] }, "not json"]) {
      const res = await anonymous.post("/api/v1/search", body);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
  });
});
