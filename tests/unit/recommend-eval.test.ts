import { describe, expect, it } from "vitest";
import { developmentCatalog } from "../../scripts/seed";
import { SERVING_WEIGHTS } from "../../src/domain/recommend";
import { DEFAULT_SIMULATION, evaluate, simulatePopulation, standardVariants } from "../../src/domain/recommend-eval";

// A plumbing check of profile, adapter and ranking: these users' tastes depend on genre alone, which
// rewards a genre profile by construction. Quality is measured on MovieLens (npm run bench -- recommendations).
describe("the content scorer on a simulated genre-taste population", () => {
  const films = developmentCatalog().filter((item) => item.kind === "movie");
  const users = simulatePopulation(films, DEFAULT_SIMULATION);

  it("simulates the same population for the same seed", () => {
    const again = simulatePopulation(films, { ...DEFAULT_SIMULATION, users: 20 });
    expect(again.map((u) => u.heldOut)).toEqual(users.slice(0, 20).map((u) => u.heldOut));
    expect(users.every((u) => u.heldOut.length === DEFAULT_SIMULATION.heldOut && u.training.length > 0)).toBe(true);
    // Held-out films come after everything the scorers may learn from.
    const user = users[0]!;
    expect(user.training.some((v) => user.heldOut.includes(v.content_id))).toBe(false);
  });

  it("the personalized scorer beats popularity by a clear margin on hit-rate@10 and NDCG@10", () => {
    const rows = evaluate(films, users, standardVariants(SERVING_WEIGHTS), { k: 10, halfLifeDays: 30, maxPerGenre: 4 });
    const row = (name: string) => rows.find((r) => r.name.startsWith(name))!;
    const popularity = row("popularity only");
    const served = row("profile + adapter");
    const profile = row("profile only");
    const oracle = row("oracle");
    console.table(rows);
    expect(popularity.hitRate).toBeGreaterThan(0);
    for (const personalized of [served, profile]) {
      expect(personalized.hitRate).toBeGreaterThanOrEqual(1.5 * popularity.hitRate);
      expect(personalized.ndcg).toBeGreaterThanOrEqual(1.5 * popularity.ndcg);
    }
    // No scorer knows more than the hidden tastes.
    expect(oracle.hitRate).toBeGreaterThanOrEqual(served.hitRate);
  }, 60_000);
});
