import { beforeAll, describe, expect, it } from "vitest";
import { playsByContent } from "../../src/db/history";
import { content } from "../../src/db/schema";
import { client, db, eventually, testConfig } from "./helpers";
import { reindex, titleWords } from "./search-support";

const anonymous = client(null);
const suggest = (q: string, limit = 10) =>
  anonymous.get(`/api/v1/autocomplete?q=${encodeURIComponent(q)}&limit=${limit}`);

interface Suggestion {
  text: string;
  score: number;
  type: string;
  content_id: string;
}

let votesById = new Map<string, number>();
/** Popularity as the index was built with it: votes, and the plays of every test so far. */
let popularityById = new Map<string, number>();
beforeAll(async () => {
  await reindex();
  const [rows, plays] = await db((d) =>
    Promise.all([
      d.select({ id: content.id, votes: content.votes, kind: content.kind }).from(content),
      playsByContent(d),
    ]),
  );
  votesById = new Map(rows.map((r) => [r.id, r.votes]));
  const weight = testConfig().SEARCH_PLAY_WEIGHT;
  popularityById = new Map(
    rows.filter((r) => r.kind !== "episode").map((r) => [r.id, r.votes + weight * (plays.get(r.id) ?? 0)]),
  );
});

describe("autocomplete", () => {
  it("completes a prefix of any title word, most popular first", async () => {
    const res = await suggest("redem");
    expect(res.status).toBe(200);
    const suggestions = res.json.suggestions as Suggestion[];
    expect(suggestions[0]).toMatchObject({ text: "The Shawshank Redemption", type: "movie" });
    // Titles with a word starting "redem" come first, by popularity; typo matches follow.
    const exact = suggestions.filter((s) => [...titleWords(s.text)].some((w) => w.startsWith("redem")));
    expect(suggestions.slice(0, exact.length)).toEqual(exact);
    const votes = exact.map((s) => votesById.get(s.content_id) ?? 0);
    expect([...votes].sort((a, b) => b - a)).toEqual(votes);
    const scores = suggestions.map((s) => s.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it("orders the Matrix films by popularity", async () => {
    const suggestions = (await suggest("matr")).json.suggestions as Suggestion[];
    expect(suggestions.slice(0, 3).map((s) => s.text)).toEqual([
      "The Matrix",
      "The Matrix Reloaded",
      "The Matrix Revolutions",
    ]);
  });

  it("puts exact prefixes above typo matches, even more popular ones", async () => {
    const suggestions = (await suggest("alic")).json.suggestions as Suggestion[];
    expect(suggestions.slice(0, 2).map((s) => s.text)).toEqual(["Alice in Wonderland", "Alice in Wonderland"]);
    const alien = suggestions.find((s) => s.text === "Alien");
    expect(alien).toBeDefined();
    expect(votesById.get(alien!.content_id)).toBeGreaterThan(votesById.get(suggestions[0]!.content_id)!);
    expect(alien!.score).toBeLessThan(suggestions[1]!.score);
  });

  it("tolerates a typo after the first letters, and completes the last of several words", async () => {
    expect(((await suggest("matirx")).json.suggestions as Suggestion[])[0]?.text).toBe("The Matrix");
    expect(((await suggest("godfahter")).json.suggestions as Suggestion[])[0]?.text).toBe("The Godfather");
    const twoWords = (await suggest("star wa")).json.suggestions as Suggestion[];
    expect(twoWords.length).toBeGreaterThan(0);
    for (const s of twoWords) {
      const words = [...titleWords(s.text)];
      expect(words).toContain("star");
      expect(words.some((w) => w.startsWith("wa"))).toBe(true);
    }
  });

  it("returns the most popular titles for an empty q", async () => {
    const suggestions = (await suggest("", 10)).json.suggestions as Suggestion[];
    expect(suggestions).toHaveLength(10);
    const popular = [...popularityById].sort((a, b) => b[1] - a[1]).map(([id]) => id);
    expect(suggestions.map((s) => s.content_id)).toEqual(popular.slice(0, 10));
    expect(suggestions[0]?.text).toBe("The Shawshank Redemption");
  });

  it("never suggests episodes, and nothing for a word no title has", async () => {
    const suggestions = (await suggest("northern", 50)).json.suggestions as Suggestion[];
    expect(suggestions.length).toBeGreaterThan(0);
    expect(suggestions.every((s) => s.type !== "episode")).toBe(true);
    expect((await suggest("xqzvbnmk")).json.suggestions).toEqual([]);
  });

  it("is cached at the edge: the same question, however typed, is answered from the cache", async () => {
    const first = await suggest("Termin", 7);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-cache")).toBe("MISS");
    // The cache write finishes after the response: ask until it is there.
    const again = await eventually(
      () => suggest("  TERMIN", 7),
      (res) => res.headers.get("x-cache") === "HIT",
    );
    expect(again.json).toEqual(first.json);
    expect(again.headers.get("cache-control")).toMatch(/max-age=\d+/);
  });
});
