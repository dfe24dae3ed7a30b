import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { trainAdapter, trainingExamples } from "../../src/domain/adapter";
import type { CatalogItem } from "../../src/domain/catalog";
import { FeatureSpace } from "../../src/domain/features";
import { buildProfile } from "../../src/domain/profile";
import { diversify, POPULAR_REASON, recommend, Scorer, scoreContent } from "../../src/domain/recommend";
import { film, view } from "./personalization-fixtures";

/** 60 films over four genres with falling votes, plus a series with two episodes. */
function catalog(): CatalogItem[] {
  const genres = ["Action", "Drama", "Horror", "Comedy"];
  const films = Array.from({ length: 60 }, (_, i) =>
    film(`film-${String(i).padStart(2, "0")}`, {
      genres: [genres[i % 4] as string],
      votes: 100_000 - i * 1000,
      director: i % 8 === 2 ? "Wes Craven" : null,
    }),
  );
  const series = film("series-x", { kind: "series", genres: ["Drama"], votes: 50_500 });
  const episodes = [1, 2].map((n) =>
    film(`series-x-s01e0${n}`, {
      kind: "episode",
      series_id: "series-x",
      genres: ["Drama"],
      votes: 20_000,
      season_number: 1,
      episode_number: n,
    }),
  );
  return [...films, series, ...episodes];
}

const items = catalog();
const space = FeatureSpace.fromCatalog(items);
const byId = (id: string) => items.find((i) => i.id === id) as CatalogItem;
const newUser = () => new Scorer(space, { profile: null, adapter: null });
const page = (scorer: Scorer, over: Partial<Parameters<typeof recommend>[2]> = {}) =>
  recommend(space, scorer, { seen: new Set(), offset: 0, limit: 10, maxPerGenre: 4, ...over });

/** A user who finished four horror films (one by Wes Craven) and abandoned two comedies. */
function horrorFan() {
  const views = [
    view(byId("film-02"), 1, 5),
    view(byId("film-06"), 1, 4),
    view(byId("film-14"), 1, 3),
    view(byId("film-18"), 0.95, 2),
    view(byId("film-03"), 0.05, 1),
    view(byId("film-07"), 0.1, 0),
  ];
  const profile = buildProfile(views, { halfLifeDays: 30 });
  const adapter = trainAdapter(trainingExamples(views, 30));
  return { views, profile, adapter, seen: new Set(views.map((v) => v.content_id)) };
}

describe("recommendations", () => {
  it("gives a new user popular items, most popular first, each explained as popular", () => {
    const scorer = newUser();
    expect(scorer.personalized).toBe(false);
    const { items: top } = page(scorer, { maxPerGenre: 10 });
    expect(top.map((r) => r.item.id)).toEqual(
      [...space.items]
        .filter((i) => i.kind !== "episode")
        .sort((a, b) => b.popularity - a.popularity)
        .slice(0, 10)
        .map((i) => i.id),
    );
    for (const r of top) {
      expect(r.reason).toBe(POPULAR_REASON);
      expect(r.score).toBeCloseTo(r.item.popularity, 12);
    }
  });

  it("never recommends what the user has seen, nor a series whose episodes they watch", () => {
    const seen = new Set(["film-00", "film-01", "series-x-s01e01"]);
    const { items: all } = page(newUser(), { seen, limit: 100 });
    const ids = all.map((r) => r.item.id);
    expect(ids).not.toContain("film-00");
    expect(ids).not.toContain("film-01");
    expect(ids).not.toContain("series-x");
    expect(ids.some((id) => id.startsWith("series-x-s"))).toBe(false);
  });

  it("ranks the user's liked genre first and explains it by a watched title", () => {
    const fan = horrorFan();
    const scorer = new Scorer(space, fan);
    expect(scorer.personalized).toBe(true);
    const { items: top } = page(scorer, { seen: fan.seen });
    expect(top[0]!.item.genres).toEqual(["Horror"]);
    expect(top.filter((r) => r.item.genres.includes("Horror"))).toHaveLength(4);
    expect(top.filter((r) => r.item.genres.includes("Comedy")).length).toBeLessThan(2);
    const craven = top.find((r) => r.item.director === "Wes Craven")!;
    expect(craven.reason).toMatch(/^Because you watched .+, also directed by Wes Craven$/);
    expect(fan.seen.has(craven.because!)).toBe(true);
  });

  it("scores with the adapter when there is one", () => {
    const fan = horrorFan();
    const withAdapter = new Scorer(space, fan);
    const profileOnly = new Scorer(space, { profile: fan.profile, adapter: null });
    const horror = space.byId.get("film-22")!;
    const comedy = space.byId.get("film-23")!;
    expect(withAdapter.finishProbability(horror)!).toBeGreaterThan(withAdapter.finishProbability(comedy)!);
    expect(profileOnly.finishProbability(horror)).toBeNull();
    expect(withAdapter.score(horror)).not.toBe(profileOnly.score(horror));
    expect(withAdapter.score(horror)).toBeGreaterThan(withAdapter.score(comedy));
  });

  it("pages without gaps or repeats", () => {
    const fan = horrorFan();
    const scorer = new Scorer(space, fan);
    const whole = page(scorer, { seen: fan.seen, limit: 30 }).items.map((r) => r.item.id);
    const first = page(scorer, { seen: fan.seen, limit: 15 });
    const second = page(scorer, { seen: fan.seen, offset: 15, limit: 15 });
    expect(first.hasMore).toBe(true);
    expect([...first.items, ...second.items].map((r) => r.item.id)).toEqual(whole);
    expect(page(scorer, { seen: fan.seen, limit: 100 }).hasMore).toBe(false);
  });

  it("keeps to the filters", () => {
    const { items: dramas } = page(newUser(), { genres: ["Drama"], kinds: ["movie"], maxPerGenre: 10 });
    expect(dramas.every((r) => r.item.genres.includes("Drama") && r.item.kind === "movie")).toBe(true);
    const { items: rest } = page(newUser(), { exclude: new Set(["film-00"]) });
    expect(rest.map((r) => r.item.id)).not.toContain("film-00");
  });

  it("scores given ids in order, once each, and lists the unknown ones", () => {
    const { scores, unknown } = scoreContent(space, newUser(), ["film-05", "nope", "film-01", "film-05"]);
    expect(scores.map((s) => s.item.id)).toEqual(["film-05", "film-01"]);
    expect(unknown).toEqual(["nope"]);
    expect(scores.every((s) => s.score >= 0 && s.score <= 1)).toBe(true);
  });
});

describe("diversify", () => {
  const attributes = (x: { group: string; genres: string[] }) => x;

  it("holds at most the cap of one genre in any ten consecutive items, and one item per series", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            group: fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"),
            genres: fc.subarray(["Drama", "Comedy", "Horror"], { maxLength: 2 }),
          }),
          { maxLength: 60 },
        ),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 5 }),
        (ranked, count, maxPerGenre) => {
          const { items: out, relaxed } = diversify(ranked, count, attributes, { maxPerGenre, window: 10 });
          const groups = out.map((x) => x.group);
          expect(new Set(groups).size).toBe(groups.length);
          expect(out.every((x) => ranked.includes(x))).toBe(true);
          const distinctGroups = new Set(ranked.map((x) => x.group)).size;
          expect(out.length).toBe(Math.min(count, distinctGroups));
          if (!relaxed) {
            for (let i = 0; i < out.length; i++) {
              const window = out.slice(Math.max(0, i - 9), i + 1);
              for (const genre of ["Drama", "Comedy", "Horror"]) {
                expect(window.filter((x) => x.genres.includes(genre)).length).toBeLessThanOrEqual(maxPerGenre);
              }
            }
          }
        },
      ),
    );
  });

  it("keeps score order where the cap allows, and fills with the rest when nothing else is left", () => {
    const ranked = [
      ...Array.from({ length: 6 }, (_, i) => ({ group: `d${i}`, genres: ["Drama"] })),
      { group: "c0", genres: ["Comedy"] },
    ];
    const { items: out, relaxed } = diversify(ranked, 7, attributes, { maxPerGenre: 4, window: 10 });
    expect(out.map((x) => x.group)).toEqual(["d0", "d1", "d2", "d3", "c0", "d4", "d5"]);
    expect(relaxed).toBe(true);
  });
});
