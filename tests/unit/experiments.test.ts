import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Allocation,
  allocate,
  assignVariant,
  BUCKETS,
  bucketCounts,
  bucketOf,
  compileAllocation,
  isValidAllocation,
  murmur3,
  reassignedShare,
  targetCounts,
  type VariantWeight,
} from "../../src/domain/experiments";

const USERS = 100_000;
const userIds = Array.from({ length: USERS }, (_, i) => `user-${i}`);

/** Chi-square critical values at p = 0.001, by degrees of freedom. */
const CHI2_CRITICAL_P001: Record<number, number> = { 1: 10.828, 2: 13.816, 3: 16.266, 4: 18.467 };

function chiSquare(observed: number[], expected: number[]): number {
  return observed.reduce((sum, o, i) => sum + (o - (expected[i] as number)) ** 2 / (expected[i] as number), 0);
}

function split(experimentId: string, variants: VariantWeight[], allocation = allocate(variants)) {
  const compiled = compileAllocation(allocation);
  const counts = new Map(variants.map((v) => [v.name, 0]));
  for (const user of userIds) {
    const { variant } = assignVariant(compiled, experimentId, user);
    counts.set(variant, (counts.get(variant) ?? 0) + 1);
  }
  return variants.map((v) => counts.get(v.name) ?? 0);
}

describe("bucketOf", () => {
  it("matches the published MurmurHash3 x86_32 test vectors", () => {
    const bytes = (s: string) => new TextEncoder().encode(s);
    const hash = (s: string, seed = 0) => murmur3(bytes(s), bytes(s).length, seed);
    expect(hash("")).toBe(0);
    expect(hash("", 1)).toBe(0x514e28b7);
    expect(hash("hello")).toBe(0x248bfa47);
    expect(hash("Hello, world!", 1234)).toBe(0xfaf6cdb3);
    expect(hash("The quick brown fox jumps over the lazy dog")).toBe(0x2e4ff723);
  });

  it("gives the same user the same bucket every time, in [0, 10000)", () => {
    for (const user of userIds.slice(0, 1000)) {
      const first = bucketOf("exp-a", user);
      expect(first).toBeGreaterThanOrEqual(0);
      expect(first).toBeLessThan(BUCKETS);
      expect(bucketOf("exp-a", user)).toBe(first);
    }
  });

  it("hashes non-ASCII and very long ids", () => {
    expect(bucketOf("exp", "usuário-ñ-東京")).toBe(bucketOf("exp", "usuário-ñ-東京"));
    expect(bucketOf("exp", "x".repeat(5000))).toBeLessThan(BUCKETS);
  });
});

describe("assignment", () => {
  it("is 100 % consistent: the same user always gets the same variant", () => {
    const compiled = compileAllocation(
      allocate([
        { name: "a", weight: 1 },
        { name: "b", weight: 1 },
      ]),
    );
    for (const user of userIds.slice(0, 10_000)) {
      const first = assignVariant(compiled, "consistency", user).variant;
      for (let i = 0; i < 3; i++) expect(assignVariant(compiled, "consistency", user).variant).toBe(first);
    }
  });

  it.each([
    { id: "split-50-50", variants: [50, 50] },
    { id: "split-60-40", variants: [60, 40] },
    { id: "split-10-30-60", variants: [10, 30, 60] },
    { id: "split-4-way", variants: [25, 25, 25, 25] },
  ])("over 100,000 users, $id matches the weights (chi-square, p > 0.001)", ({ id, variants }) => {
    const defs = variants.map((weight, i) => ({ name: `v${i}`, weight }));
    const observed = split(id, defs);
    const total = variants.reduce((a, b) => a + b, 0);
    const expected = variants.map((w) => (w / total) * USERS);
    const statistic = chiSquare(observed, expected);
    expect(statistic).toBeLessThan(CHI2_CRITICAL_P001[variants.length - 1] as number);
  });

  it("assigns independently across experiments (chi-square test of independence, p > 0.001)", () => {
    const compiled = compileAllocation(
      allocate([
        { name: "a", weight: 1 },
        { name: "b", weight: 1 },
      ]),
    );
    // Cells: (first, second) = aa, ab, ba, bb.
    const observed = [0, 0, 0, 0];
    for (const user of userIds) {
      const x = assignVariant(compiled, "first", user).variant === "a" ? 0 : 1;
      const y = assignVariant(compiled, "second", user).variant === "a" ? 0 : 1;
      observed[x * 2 + y] = (observed[x * 2 + y] as number) + 1;
    }
    const [aa, ab, ba, bb] = observed as [number, number, number, number];
    const rows = [aa + ab, ba + bb];
    const cols = [aa + ba, ab + bb];
    const expected = [0, 1].flatMap((i) => [0, 1].map((j) => ((rows[i] as number) * (cols[j] as number)) / USERS));
    expect(chiSquare(observed, expected)).toBeLessThan(CHI2_CRITICAL_P001[1] as number);
  });

  it("moving weights from 50/50 to 60/40 reassigns only about 10 % of users", () => {
    const before = allocate([
      { name: "control", weight: 50 },
      { name: "treatment", weight: 50 },
    ]);
    const after = allocate(
      [
        { name: "control", weight: 60 },
        { name: "treatment", weight: 40 },
      ],
      before,
    );
    const a = compileAllocation(before);
    const b = compileAllocation(after);
    let moved = 0;
    let movedToControl = 0;
    for (const user of userIds) {
      const was = assignVariant(a, "reweigh", user).variant;
      const now = assignVariant(b, "reweigh", user).variant;
      if (was !== now) {
        moved++;
        if (was === "treatment" && now === "control") movedToControl++;
      }
    }
    expect(moved / USERS).toBeGreaterThan(0.09);
    expect(moved / USERS).toBeLessThan(0.11);
    expect(movedToControl).toBe(moved); // only treatment users move, and only to control
    expect(reassignedShare(before, after)).toBe(0.1);
  });

  it("a weight change in the middle of three variants moves only the surplus (10 %, not 20 %)", () => {
    const before = allocate([
      { name: "a", weight: 33 },
      { name: "b", weight: 34 },
      { name: "c", weight: 33 },
    ]);
    const after = allocate(
      [
        { name: "a", weight: 23 },
        { name: "b", weight: 34 },
        { name: "c", weight: 43 },
      ],
      before,
    );
    expect(reassignedShare(before, after)).toBeCloseTo(0.1, 3);
  });

  it("a variant with weight 0 gets nobody; a removed variant's users go to the others", () => {
    const before = allocate([
      { name: "a", weight: 1 },
      { name: "b", weight: 1 },
      { name: "c", weight: 1 },
    ]);
    const paused = allocate(
      [
        { name: "a", weight: 1 },
        { name: "b", weight: 1 },
        { name: "c", weight: 0 },
      ],
      before,
    );
    expect(bucketCounts(paused).c).toBe(0);
    expect(reassignedShare(before, paused)).toBeCloseTo(1 / 3, 3);
    const removed = allocate(
      [
        { name: "a", weight: 1 },
        { name: "b", weight: 1 },
      ],
      paused,
    );
    expect(reassignedShare(paused, removed)).toBe(0);
  });
});

describe("allocate (properties)", () => {
  const weights = fc
    .array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 8 })
    .filter((ws) => ws.some((w) => w > 0));
  const named = (ws: number[]) => ws.map((weight, i) => ({ name: `v${i}`, weight }));

  it("always covers the 10,000 buckets exactly once, with counts by largest remainder", () => {
    fc.assert(
      fc.property(weights, weights, (w1, w2) => {
        const first = allocate(named(w1));
        const second = allocate(named(w2), first);
        for (const [allocation, ws] of [
          [first, w1],
          [second, w2],
        ] as [Allocation, number[]][]) {
          expect(isValidAllocation(allocation, Object.keys(allocation))).toBe(true);
          const counts = bucketCounts(allocation);
          expect(named(ws).map((v) => counts[v.name])).toEqual(targetCounts(ws));
        }
      }),
    );
  });

  it("moves exactly the minimum: half the L1 distance between the old and new counts", () => {
    fc.assert(
      fc.property(weights, weights, (w1, w2) => {
        const n = Math.max(w1.length, w2.length);
        const pad = (ws: number[]) => [...ws, ...Array(n - ws.length).fill(0)];
        const first = allocate(named(pad(w1)));
        const second = allocate(named(pad(w2)), first);
        const c1 = targetCounts(pad(w1));
        const c2 = targetCounts(pad(w2));
        const minimum = c1.reduce((s, c, i) => s + Math.abs(c - (c2[i] as number)), 0) / 2 / BUCKETS;
        expect(reassignedShare(first, second)).toBeCloseTo(minimum, 10);
      }),
      { numRuns: 60 },
    );
  });

  it("refuses duplicate names and all-zero weights", () => {
    expect(() =>
      allocate([
        { name: "a", weight: 1 },
        { name: "a", weight: 1 },
      ]),
    ).toThrow(RangeError);
    expect(() => allocate([{ name: "a", weight: 0 }])).toThrow(RangeError);
  });

  it("starts over from contiguous ranges when the stored allocation is damaged", () => {
    const damaged = { a: [{ start: 0, end: 6000 }], b: [{ start: 5000, end: 10_000 }] };
    const repaired = allocate(
      [
        { name: "a", weight: 1 },
        { name: "b", weight: 1 },
      ],
      damaged,
    );
    expect(repaired).toEqual({ a: [{ start: 0, end: 5000 }], b: [{ start: 5000, end: 10_000 }] });
  });
});
