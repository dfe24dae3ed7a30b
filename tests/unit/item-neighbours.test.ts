import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/domain/catalog";
import { signalMatrix, transpose } from "../../src/domain/interactions";
import {
  accumulateScores,
  cosineNeighbours,
  easeNeighbours,
  type NeighbourModel,
  strongestContributor,
} from "../../src/domain/item-neighbours";

/** Users' liked items as a matrix of ones. */
const likes = (users: number[][], items: number) =>
  signalMatrix(
    users.flatMap((list, user) => list.map((item) => ({ user, item, value: 1, at: 0 }))),
    users.length,
    items,
  );

const row = (model: NeighbourModel, i: number) => {
  const out: Record<number, number> = {};
  for (let a = model.offsets[i]!; a < model.offsets[i + 1]!; a++) out[model.neighbours[a]!] = model.weights[a]!;
  return out;
};

/** EASE by its definition, with a textbook Gauss–Jordan inverse: B = I − P·diag(1/diag P), P = (XᵀX + λI)⁻¹. */
function easeByDefinition(users: number[][], items: number, lambda: number): number[][] {
  const a = Array.from({ length: items }, (_, i) => Array.from({ length: items }, (_, j) => (i === j ? lambda : 0)));
  for (const list of users) for (const i of list) for (const j of list) a[i]![j]! += 1;
  const p = Array.from({ length: items }, (_, i) => Array.from({ length: items }, (_, j) => (i === j ? 1 : 0)));
  for (let c = 0; c < items; c++) {
    const pivot = a[c]![c]!;
    for (let j = 0; j < items; j++) {
      a[c]![j]! /= pivot;
      p[c]![j]! /= pivot;
    }
    for (let r = 0; r < items; r++) {
      if (r === c) continue;
      const f = a[r]![c]!;
      for (let j = 0; j < items; j++) {
        a[r]![j]! -= f * a[c]![j]!;
        p[r]![j]! -= f * p[c]![j]!;
      }
    }
  }
  return p.map((r, i) => r.map((v, j) => (i === j ? 0 : -v / p[j]![j]!)));
}

describe("item neighbours", () => {
  // Users 0 and 1 liked films 0 and 1; user 1 also film 2; user 2 only film 2; film 3 nobody.
  const tiny = [[0, 1], [0, 1, 2], [2]];

  it("cosine item-kNN: co-likes over the geometric mean of the two films' likes", () => {
    const model = cosineNeighbours(likes(tiny, 4), { k: 10 });
    expect(row(model, 0)).toEqual({ 1: 1, 2: 0.5 });
    expect(row(model, 2)).toEqual({ 0: 0.5, 1: 0.5 });
    expect(row(model, 3)).toEqual({});
    // With a shrink, pairs seen rarely weigh less: 2 / (2 + 1).
    expect(row(cosineNeighbours(likes(tiny, 4), { k: 10, shrink: 1 }), 0)[1]).toBeCloseTo(2 / 3, 6);
  });

  it("keeps each film's k strongest neighbours and never the film itself", () => {
    const model = cosineNeighbours(likes(tiny, 4), { k: 1 });
    expect(row(model, 0)).toEqual({ 1: 1 });
    for (let i = 0; i < 4; i++) expect(row(model, i)[i]).toBeUndefined();
  });

  it("EASE matches its definition, by the item-side and by the user-side inverse alike", () => {
    const random = seededRandom(7);
    const users = Array.from({ length: 9 }, () => Array.from({ length: 6 }, (_, i) => i).filter(() => random() < 0.5));
    const expected = easeByDefinition(users, 6, 2);
    for (const solve of ["primal", "dual"] as const) {
      const model = easeNeighbours(likes(users, 6), { lambda: 2, k: 6, keepNegative: true, solve });
      for (let i = 0; i < 6; i++) {
        const got = row(model, i);
        for (let j = 0; j < 6; j++) expect(got[j] ?? 0).toBeCloseTo(expected[i]![j]!, 5);
      }
    }
  });

  it("EASE without negatives keeps only the films a film predicts", () => {
    const users = [
      [0, 1],
      [0, 1],
      [1, 2],
      [2, 3],
      [2, 3],
    ];
    const model = easeNeighbours(likes(users, 4), { lambda: 0.5, k: 4 });
    for (const w of model.weights) expect(w).toBeGreaterThan(0);
    // Film 0 predicts film 1 (always liked together) above film 3 (never).
    expect(row(model, 0)[1]).toBeGreaterThan(row(model, 0)[3] ?? 0);
  });

  it("EASE over the head learns only among the most liked films", () => {
    const users = [
      [0, 1, 2],
      [0, 1],
      [0, 2],
      [3, 0],
    ];
    const model = easeNeighbours(likes(users, 4), { lambda: 1, k: 4, head: 2, keepNegative: true });
    expect(row(model, 2)).toEqual({});
    expect(row(model, 3)).toEqual({});
    expect(Object.keys(row(model, 0))).toEqual(["1"]);
  });

  it("scores a history by its films' neighbour weights and names the film that adds the most", () => {
    const model = cosineNeighbours(likes(tiny, 4), { k: 10 });
    const scores = new Float64Array(4);
    accumulateScores(
      model,
      [
        { item: 0, weight: 1 },
        { item: 2, weight: 0.5 },
      ],
      scores,
    );
    // Film 1: 1·1 (from 0) + 0.5·0.5 (from 2); film 0: 0.5·0.5 (from 2).
    expect([...scores]).toEqual([0.25, 1.25, 0.5, 0]);
    expect(
      strongestContributor(
        model,
        [
          { item: 0, weight: 1 },
          { item: 2, weight: 0.5 },
        ],
        1,
      ),
    ).toBe(0);
    expect(strongestContributor(model, [{ item: 0, weight: 1 }], 3)).toBe(-1);
  });

  it("transposes a signal matrix without losing a value", () => {
    const m = signalMatrix(
      [
        { user: 0, item: 2, value: 0.5, at: 0 },
        { user: 1, item: 0, value: 1, at: 0 },
        { user: 1, item: 2, value: 0.25, at: 0 },
        { user: 1, item: 2, value: 1, at: 1 },
      ],
      2,
      3,
      (s) => s.value,
    );
    const t = transpose(m);
    expect([...t.offsets]).toEqual([0, 1, 1, 3]);
    expect([...t.index]).toEqual([1, 0, 1]);
    // A user's repeated signal on an item keeps the strongest.
    expect([...t.values]).toEqual([1, 0.5, 1]);
    expect(() => signalMatrix([{ user: 2, item: 0, value: 1, at: 0 }], 2, 3)).toThrow(RangeError);
  });
});
