import { describe, expect, it } from "vitest";
import { newUser } from "./helpers";
import { filmsOfGenre, profileWithViews, watch } from "./recommendations-helpers";

describe("preference profile", () => {
  it("weighs a finished view more than an abandoned one", async () => {
    const { api } = await newUser();
    const [action] = await filmsOfGenre("Action", 1);
    const [horror] = await filmsOfGenre("Horror", 1);
    await watch(api, action as string, 0.97);
    await watch(api, horror as string, 0.08);
    const profile = await profileWithViews(api, 2);
    expect(profile.finished).toBe(1);
    expect(profile.abandoned).toBe(1);
    expect(profile.genres.Action).toBeGreaterThan(0);
    expect(profile.genres.Horror).toBeLessThan(0);
    expect(profile.favorites.map((f: { content_id: string }) => f.content_id)).toEqual([action]);
  });
});
