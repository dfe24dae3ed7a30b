import { describe, expect, it } from "vitest";
import { buildProfile, EXPLICIT_WEIGHT, engagement, genrePreferences, recencyWeight } from "../../src/domain/profile";
import { DAY, film, NOW, view } from "./personalization-fixtures";

const action = film("film-action", { genres: ["Action"], director: "John Woo" });
const action2 = film("film-action-2", { genres: ["Action"] });
const horror = film("film-horror", { genres: ["Horror"] });
const comedy = film("film-comedy", { genres: ["Comedy"] });

describe("preference profile", () => {
  it("counts a finished view fully and a view stopped early against its features", () => {
    expect(engagement({ completion: 1, watched: true })).toBe(1);
    expect(engagement({ completion: 0.6, watched: false })).toBeGreaterThan(0);
    expect(engagement({ completion: 0.6, watched: false })).toBeLessThan(1);
    expect(engagement({ completion: 0.05, watched: false })).toBeLessThan(0);
    expect(engagement({ completion: 0, watched: false })).toBe(-0.5);
  });

  it("lets a rating outweigh the viewing: a finished film rated 2 counts against its genre", () => {
    expect(engagement({ completion: 1, watched: true, rating: 10 })).toBe(EXPLICIT_WEIGHT);
    expect(engagement({ completion: 1, watched: true, rating: 1 })).toBe(-EXPLICIT_WEIGHT);
    const rated = buildProfile(
      [
        { ...view(action, 1), rating: 2 },
        view(comedy, 1),
        // Rated without watching: counts for its genre, and is not an abandoned view.
        { ...view(horror, 0), rating: 9, viewed: false },
      ],
      { halfLifeDays: 30 },
    );
    expect(rated.weights.genre.Action).toBeLessThan(0);
    expect(rated.weights.genre.Horror).toBe(1);
    expect(rated.weights.genre.Comedy).toBeGreaterThan(0);
    expect(rated.weights.genre.Comedy).toBeLessThan(rated.weights.genre.Horror as number);
    expect(rated.abandoned).toBe(0);
  });

  it("weighs finished views more than abandoned ones", () => {
    const profile = buildProfile([view(action, 0.97), view(horror, 0.1)], { halfLifeDays: 30 });
    expect(profile.weights.genre.Action).toBe(1);
    expect(profile.weights.genre.Horror).toBeLessThan(0);
    expect(profile.finished).toBe(1);
    expect(profile.abandoned).toBe(1);
    expect(profile.anchors.map((a) => a.content_id)).toEqual(["film-action"]);
  });

  it("weighs recent views more than old ones, halving every half-life", () => {
    const views = [view(comedy, 1, 30), view(action, 1, 0)];
    const profile = buildProfile(views, { halfLifeDays: 30 });
    expect(profile.weights.genre.Action).toBe(1);
    expect(profile.weights.genre.Comedy).toBeCloseTo(0.5, 3);
    expect(recencyWeight(NOW - 60 * DAY, NOW, 30)).toBeCloseTo(0.25);
    // The half-life is a setting: twice as long, the old view keeps more of its weight.
    expect(buildProfile(views, { halfLifeDays: 60 }).weights.genre.Comedy).toBeCloseTo(Math.SQRT1_2, 3);
  });

  it("depends on the history only: rebuilding later gives the same weights", () => {
    const views = [view(comedy, 1, 40), view(action, 1, 3), view(horror, 0.05, 1)];
    const shifted = views.map((v) => ({ ...v, at: v.at + 90 * DAY }));
    const a = buildProfile(views, { halfLifeDays: 30 });
    const b = buildProfile(shifted, { halfLifeDays: 30 });
    expect(b.weights).toEqual(a.weights);
    expect(b.anchors).toEqual(a.anchors);
    expect(b.confidence).toBe(a.confidence);
  });

  it("ignores content that is not in the catalog and is empty without views", () => {
    const unknown = { ...view(action, 1), content_id: "gone", features: null };
    expect(buildProfile([unknown], { halfLifeDays: 30 }).views).toBe(0);
    const empty = buildProfile([], { halfLifeDays: 30 });
    expect(empty.weights.genre).toEqual({});
    expect(empty.confidence).toBe(0);
    expect(genrePreferences(empty)).toEqual({});
    expect(genrePreferences(null)).toEqual({});
  });

  it("grows more confident with more evidence, and genre preferences for search scale with it", () => {
    const one = buildProfile([view(action, 1)], { halfLifeDays: 30 });
    const three = buildProfile([view(action, 1), view(action2, 1), view(film("a3", { genres: ["Action"] }), 1)], {
      halfLifeDays: 30,
    });
    expect(three.confidence).toBeGreaterThan(one.confidence);
    expect(genrePreferences(three).Action).toBeGreaterThan(genrePreferences(one).Action!);
    expect(genrePreferences(three).Action).toBeLessThanOrEqual(1);
  });
});
