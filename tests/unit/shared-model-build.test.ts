import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/domain/catalog";
import { FeatureSpace } from "../../src/domain/features";
import { signalMatrix } from "../../src/domain/interactions";
import { easeNeighbours } from "../../src/domain/item-neighbours";
import {
  buildSharedModel,
  SharedModelBuilder,
  titleStats,
  type UserView,
  userSignals,
  viewWeight,
} from "../../src/domain/shared-model";
import { featureSimilarity, similarItems } from "../../src/domain/similar";
import { TitleMatcher, titleKey } from "../../src/domain/title-match";
import { film } from "./personalization-fixtures";

/** Random viewing of 12 titles by `users` users, with every kind of view. */
function viewing(users: number, seed = 3): UserView[] {
  const random = seededRandom(seed);
  const views: UserView[] = [];
  for (let u = 0; u < users; u++) {
    for (let t = 0; t < 12; t++) {
      if (random() > 0.45) continue;
      const completion = [0.1, 0.6, 1][Math.floor(random() * 3)]!;
      views.push({ user: `u${u}`, content_id: `film-${t}`, completion, watched: completion === 1, at: t * 1000 + u });
    }
  }
  return views;
}

const rows = (model: ReturnType<typeof buildSharedModel>) =>
  model.ids.map((_, i) => {
    const out: Record<number, number> = {};
    const n = model.neighbours;
    for (let a = n.offsets[i]!; a < n.offsets[i + 1]!; a++) out[n.neighbours[a]!] = n.weights[a]!;
    return out;
  });

describe("building the shared model one user at a time", () => {
  it("learns the same neighbours whether the users are fewer than the head titles or many more", () => {
    for (const users of [5, 60]) {
      const views = viewing(users);
      const model = buildSharedModel(views, { lambda: 3, neighbours: 12, head: 12 });
      // The reference: EASE over the whole weighted matrix at once.
      const ids = model.ids;
      const userIndex = new Map<string, number>();
      for (const v of views) if (!userIndex.has(v.user)) userIndex.set(v.user, userIndex.size);
      const matrix = signalMatrix(
        views.map((v) => ({
          user: userIndex.get(v.user)!,
          item: ids.indexOf(v.content_id),
          value: viewWeight(v),
          at: v.at,
        })),
        userIndex.size,
        ids.length,
        (s) => s.value,
      );
      const reference = easeNeighbours(matrix, { lambda: 3, k: 12, keepNegative: true });
      const got = rows(model);
      for (let i = 0; i < ids.length; i++) {
        for (let a = reference.offsets[i]!; a < reference.offsets[i + 1]!; a++) {
          expect(got[i]![reference.neighbours[a]!]).toBeCloseTo(reference.weights[a]!, 4);
        }
      }
      expect(model.info.users).toBe(users);
    }
  });

  it("learns from each user's most recent titles only, each once at its strongest view", () => {
    const views = [
      { content_id: "a", completion: 0.1, watched: false, at: 1 },
      { content_id: "a", completion: 1, watched: true, at: 0 },
      { content_id: "b", completion: 0.6, watched: false, at: 2 },
      { content_id: "c", completion: 1, watched: true, at: 3 },
    ];
    expect(userSignals(views, 2)).toEqual([
      { content_id: "c", weight: 1, at: 3 },
      { content_id: "b", weight: 0.5, at: 2 },
    ]);
    expect(userSignals(views, 10).find((s) => s.content_id === "a")).toEqual({ content_id: "a", weight: 1, at: 1 });
  });

  it("leaves out titles the statistics did not list and builds an empty model from no history", () => {
    const builder = new SharedModelBuilder(titleStats([[{ content_id: "a", weight: 1 }]]), { head: 5 });
    builder.addUser([{ content_id: "zzz-unknown", completion: 1, watched: true, at: 1 }]);
    const model = builder.finish();
    expect(model.ids).toEqual(["a"]);
    expect(model.info.views).toBe(0);
    const empty = new SharedModelBuilder([]).finish();
    expect(empty.ids).toEqual([]);
    expect(empty.neighbours.neighbours.length).toBe(0);
  });
});

describe("more like this", () => {
  const space = FeatureSpace.fromCatalog([
    film("film-noir-1", { genres: ["Crime", "Drama"], director: "Jane Doe" }),
    film("film-noir-2", { genres: ["Crime", "Drama"], director: "Jane Doe" }),
    film("film-comedy", { genres: ["Comedy"] }),
    film("film-crime", { genres: ["Crime"] }),
  ]);
  const item = (id: string) => space.byId.get(id)!;

  it("ranks unwatched titles by the features they share, naming them", () => {
    expect(featureSimilarity(item("film-noir-1"), item("film-noir-1"))).toBeCloseTo(1, 6);
    const list = similarItems(space, null, item("film-noir-1"), { limit: 3 });
    expect(list.map((s) => s.item.id)).toEqual(["film-noir-2", "film-crime", "film-comedy"]);
    expect(list[0]!.reason).toContain("Jane Doe");
    expect(list.every((s) => s.source === "features")).toBe(true);
  });
});

describe("matching imported titles", () => {
  it("ignores case, accents, punctuation and a trailing article; the most voted of a name and year wins", () => {
    expect(titleKey("Matrix, The")).toBe(titleKey("the MATRIX"));
    expect(titleKey("Amélie")).toBe(titleKey("amelie"));
    expect(titleKey("Se7en!")).toBe("se7en");
    const matcher = new TitleMatcher([
      { id: "heat-small", title: "Heat", year: 1995, votes: 3 },
      { id: "heat-big", title: "Heat", year: 1995, votes: 900 },
      { id: "heat-1986", title: "Heat", year: 1986, votes: 50 },
    ]);
    expect(matcher.match("heat", 1995)).toBe("heat-big");
    expect(matcher.match("Heat", 1986)).toBe("heat-1986");
    expect(matcher.match("Heat", 2000)).toBeNull();
  });
});
