import { describe, expect, it } from "vitest";
import { FeatureSpace, featureKeys, parseFeatureKey, popularityOf } from "../../src/domain/features";
import { film } from "./personalization-fixtures";

describe("item features", () => {
  it("describes a film by genre, director, decade, maturity rating and platform", () => {
    const heat = film("film-heat", {
      genres: ["Action", "Drama"],
      director: "Michael Mann",
      year: 1995,
      maturity_rating: "R",
      platforms: ["Warner Bros."],
    });
    expect(featureKeys(heat)).toEqual([
      "genre:Action",
      "genre:Drama",
      "director:Michael Mann",
      "decade:1990s",
      "maturity:R",
      "platform:Warner Bros.",
    ]);
    expect(parseFeatureKey("director:Michael Mann")).toEqual({ group: "director", value: "Michael Mann" });
    expect(parseFeatureKey("nonsense")).toBeNull();
  });

  it("leaves out what an item does not have", () => {
    expect(
      featureKeys(film("x", { genres: [], director: null, year: null, maturity_rating: null, platforms: [] })),
    ).toEqual([]);
  });

  it("scales popularity by log votes: the most voted item is 1, an unvoted one 0", () => {
    expect(popularityOf(500_000, 500_000)).toBe(1);
    expect(popularityOf(0, 500_000)).toBe(0);
    expect(popularityOf(5_000, 500_000)).toBeGreaterThan(popularityOf(500, 500_000));
    expect(popularityOf(5_000, 500_000)).toBeLessThan(1);
  });

  it("turns the catalog into compact vectors over one shared vocabulary", () => {
    const space = FeatureSpace.fromCatalog([
      film("a", { genres: ["Drama"], votes: 100 }),
      film("b", { genres: ["Drama", "Comedy"], votes: 10_000 }),
    ]);
    const a = space.byId.get("a")!;
    const b = space.byId.get("b")!;
    const drama = space.indexOf.get("genre:Drama")!;
    expect([...a.features]).toContain(drama);
    expect([...b.features]).toContain(drama);
    expect(b.popularity).toBe(1);
    expect(a.popularity).toBeLessThan(1);
    // A two-genre film's genre share is split, so its full match weighs as much as a one-genre film's.
    const share = (item: typeof a, group: string) =>
      [...item.features].reduce((s, f, i) => s + (space.groupName(f) === group ? item.matchWeights[i]! : 0), 0);
    expect(share(b, "genre")).toBeCloseTo(share(a, "genre"));
    expect(space.dense({ "genre:Drama": 0.5, "genre:Unknown": 1 })[drama]).toBe(0.5);
    expect(space.dense({ "genre:Unknown": 1 }).every((x) => x === 0)).toBe(true);
  });
});
