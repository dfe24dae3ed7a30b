import { describe, expect, it } from "vitest";
import type { CatalogItem } from "../../src/domain/catalog";
import { FeatureSpace } from "../../src/domain/features";
import { alignModel, CollaborativeScorer } from "../../src/domain/personal-ranking";
import { buildProfile } from "../../src/domain/profile";
import { recommend, Scorer } from "../../src/domain/recommend";
import { buildSharedModel, type HistoryView, historyWeights, type UserView } from "../../src/domain/shared-model";
import { film, NOW, view } from "./personalization-fixtures";

/**
 * Everyone's viewing: 20 users watched the two heist films and then finished the two caper films;
 * 60 users watched the blockbusters (so they are the most popular titles); the drama nobody watched.
 */
const heist = [film("film-heist-1"), film("film-heist-2")];
const caper = [film("film-caper-1"), film("film-caper-2")];
const blockbusters = [film("film-blockbuster-1", { votes: 900_000 }), film("film-blockbuster-2", { votes: 800_000 })];
const unwatched = film("film-unwatched-drama", { genres: ["Drama"], votes: 50 });
const catalog: CatalogItem[] = [...heist, ...caper, ...blockbusters, unwatched];
const space = FeatureSpace.fromCatalog(catalog);

function everyone(): UserView[] {
  const views: UserView[] = [];
  const watch = (user: string, item: CatalogItem, at: number) => {
    views.push({ user, content_id: item.id, completion: 1, watched: true, at });
  };
  for (let u = 0; u < 20; u++) {
    for (const [i, item] of [...heist, ...caper].entries()) watch(`fan-${u}`, item, NOW - (10 - i) * 1000);
    if (u % 4 === 0) watch(`fan-${u}`, blockbusters[0]!, NOW);
  }
  for (let u = 0; u < 60; u++) for (const item of blockbusters) watch(`crowd-${u}`, item, NOW);
  return views;
}

const model = buildSharedModel(everyone(), { lambda: 10, neighbours: 50, head: 100 });
const aligned = alignModel(model, space);

const historyOf = (items: CatalogItem[], completion = 1): HistoryView[] =>
  items.map((item, i) => ({
    content_id: item.id,
    completion,
    watched: completion >= 0.9,
    at: NOW - (items.length - i) * 1000,
  }));

function recommendFor(history: HistoryView[], limit = 4) {
  const views = history.map((h) => view(catalog.find((c) => c.id === h.content_id)!, h.completion));
  const scorer = new CollaborativeScorer(
    space,
    { profile: buildProfile(views, { halfLifeDays: 30 }), adapter: null },
    aligned,
    history,
  );
  const seen = new Set(history.map((h) => h.content_id));
  return { scorer, ...recommend(space, scorer, { seen, offset: 0, limit, maxPerGenre: 10 }) };
}

describe("recommendations from the shared model and the user's own history", () => {
  it("a user who watched films that others who watched them also finished gets those others' films first", () => {
    const { items, scorer } = recommendFor(historyOf(heist));
    expect(scorer.collaborativeActive).toBe(true);
    expect(
      items
        .slice(0, 2)
        .map((r) => r.item.id)
        .sort(),
    ).toEqual(caper.map((c) => c.id).sort());
    // The popular blockbusters come after, however popular.
    expect(items.map((r) => r.item.id).indexOf("film-blockbuster-1")).toBeGreaterThan(1);
  });

  it("finished films never come back", () => {
    const history = historyOf([...heist, caper[0]!]);
    const { items } = recommendFor(history, 10);
    const ids = items.map((r) => r.item.id);
    for (const h of history) expect(ids).not.toContain(h.content_id);
    expect(ids[0]).toBe("film-caper-2");
  });

  it("a film finished a moment ago changes the next answer", () => {
    const before = recommendFor(historyOf([blockbusters[1]!])).items.map((r) => r.item.id);
    const after = recommendFor([
      ...historyOf([blockbusters[1]!]),
      { content_id: "film-heist-1", completion: 1, watched: true, at: NOW },
    ]).items.map((r) => r.item.id);
    expect(after).not.toEqual(before);
    const coWatched = ["film-heist-2", "film-caper-1", "film-caper-2"];
    // Right after the blockbuster's companion, the films co-watched with the new one now lead.
    expect(coWatched).not.toContain(before[1]);
    expect(coWatched).toContain(after[1]);
    expect(after).not.toContain("film-heist-1");
  });

  it("names the film behind a recommendation", () => {
    const { items } = recommendFor(historyOf([heist[0]!]));
    const top = items[0]!;
    expect(top.reason).toBe("Because you watched heist 1");
    expect(top.because).toBe("film-heist-1");
  });

  it("a user with no history, or no model at all, is scored as the content scorer scores", () => {
    const fresh = new CollaborativeScorer(space, { profile: null, adapter: null }, aligned, []);
    const noModel = new CollaborativeScorer(space, { profile: null, adapter: null }, null, historyOf(heist));
    const content = new Scorer(space, { profile: null, adapter: null });
    expect(fresh.collaborativeActive).toBe(false);
    expect(noModel.collaborativeActive).toBe(false);
    for (const item of space.items) {
      expect(fresh.score(item)).toBe(content.score(item));
      expect(noModel.score(item)).toBe(content.score(item));
    }
  });

  it("a title nobody watched is still ranked, by the content profile", () => {
    const { items } = recommendFor(historyOf(heist), 10);
    expect(items.map((r) => r.item.id)).toContain("film-unwatched-drama");
  });

  it("weighs the history by recency and by how much of each film was watched", () => {
    const index = new Map(model.ids.map((id, i) => [id, i]));
    const weights = historyWeights(
      index,
      [
        { content_id: "film-heist-1", completion: 1, watched: true, at: 1 },
        { content_id: "film-heist-2", completion: 0.2, watched: false, at: 2 },
        { content_id: "film-caper-1", completion: 0.6, watched: false, at: 3 },
        { content_id: "film-not-in-the-model", completion: 1, watched: true, at: 4 },
        { content_id: "film-heist-1", completion: 1, watched: true, at: 5 },
      ],
      { halfLifeViews: 1 },
    );
    const byId = Object.fromEntries(weights.map((w) => [model.ids[w.item]!, w.weight]));
    // Newest first: heist-1 (rewatched last, finished), the unknown film (dropped), caper-1 (partial), heist-2 (abandoned).
    expect(byId).toEqual({ "film-heist-1": 1, "film-caper-1": 0.5 * 0.25, "film-heist-2": 0.25 * 0.125 });
  });
});
