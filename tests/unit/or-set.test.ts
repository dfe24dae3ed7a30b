import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addEntry,
  isTombstone,
  joinEntry,
  OrSet,
  type OrSetEntry,
  removeEntry,
  TagConflictError,
} from "../../src/domain/or-set";

const h = (ms: number, node = "a") => `${String(ms).padStart(15, "0")}:000000:${node}`;

describe("OR-Set", () => {
  it("a remove tombstones only the tags it observed, so a concurrent add survives (add wins)", () => {
    const phone = new OrSet();
    const tv = new OrSet();
    phone.add("movie-1", "t1", h(1));
    tv.merge(phone);
    // The TV removes what it saw while the phone, offline, adds the movie again.
    tv.removeObserved("movie-1", h(3, "tv"));
    phone.add("movie-1", "t2", h(2));
    phone.merge(tv);
    tv.merge(phone);
    expect(phone.has("movie-1")).toBe(true);
    expect(tv.liveTags("movie-1")).toEqual(["t2"]);
  });

  it("a remove that arrives before its add still removes the tag", () => {
    const set = new OrSet();
    set.remove("movie-1", ["t1"], h(2));
    set.add("movie-1", "t1", h(1));
    expect(set.has("movie-1")).toBe(false);
    expect(set.size).toEqual({ entries: 1, tombstones: 1 });
  });

  it("orders the effective set by when first added, most recent first", () => {
    const set = new OrSet();
    set.add("old", "t1", h(1));
    set.add("new", "t2", h(5));
    set.add("old", "t3", h(9));
    set.add("gone", "t4", h(7));
    set.removeObserved("gone", h(8));
    expect(set.elements().map((e) => [e.element, e.addedHlc, e.tags])).toEqual([
      ["new", h(5), ["t2"]],
      ["old", h(1), ["t1", "t3"]],
    ]);
  });

  it("refuses a tag reused for another element", () => {
    const set = new OrSet();
    set.add("movie-1", "t1", h(1));
    expect(() => set.add("movie-2", "t1", h(2))).toThrow(TagConflictError);
  });

  it("collects tombstones only, and only the ones the caller finds safe", () => {
    const set = new OrSet();
    set.add("a", "t1", h(1));
    set.add("b", "t2", h(2));
    set.removeObserved("a", h(3));
    set.removeObserved("b", h(10));
    expect(set.collect((e) => (e.removed as string) <= h(5))).toBe(1);
    expect(set.size).toEqual({ entries: 1, tombstones: 1 });
    set.add("c", "t3", h(11));
    expect(set.collect(() => true)).toBe(1);
    expect(set.elements().map((e) => e.element)).toEqual(["c"]);
  });

  const entryArb: fc.Arbitrary<OrSetEntry> = fc
    .record({
      tag: fc.constantFrom("t1", "t2", "t3"),
      added: fc.option(fc.integer({ min: 1, max: 9 }), { nil: null }),
      removed: fc.option(fc.integer({ min: 1, max: 9 }), { nil: null }),
    })
    .map(({ tag, added, removed }) => ({
      tag,
      element: `e-${tag}`,
      added: added === null ? null : h(added),
      removed: removed === null ? null : h(removed),
    }));

  it("join is commutative, associative and idempotent (property)", () => {
    fc.assert(
      fc.property(entryArb, entryArb, entryArb, (a, b0, c0) => {
        const b = { ...b0, tag: a.tag, element: a.element };
        const c = { ...c0, tag: a.tag, element: a.element };
        expect(joinEntry(a, b)).toEqual(joinEntry(b, a));
        expect(joinEntry(joinEntry(a, b), c)).toEqual(joinEntry(a, joinEntry(b, c)));
        expect(joinEntry(a, a)).toEqual(a);
      }),
    );
  });

  it("any order of the same entries gives the same set (property)", () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 30 }), fc.integer(), (entries, seed) => {
        const shuffled = [...entries].sort((x, y) => ((x.added ?? "") + seed < (y.added ?? "") + seed ? -1 : 1));
        const one = new OrSet();
        const two = new OrSet();
        for (const e of entries) one.apply(e);
        for (const e of [...shuffled].reverse()) two.apply(e);
        for (const e of entries) two.apply(e);
        expect(one.snapshot()).toEqual(two.snapshot());
        expect(one.elements()).toEqual(two.elements());
      }),
    );
  });

  it("10k add/remove cycles leave tombstones that a collection removes entirely", () => {
    const set = new OrSet();
    for (let i = 0; i < 10_000; i++) {
      set.apply(addEntry(`c-${i % 100}`, `t${i}`, h(2 * i + 1)));
      set.apply(removeEntry(`c-${i % 100}`, `t${i}`, h(2 * i + 2)));
    }
    expect(set.size).toEqual({ entries: 10_000, tombstones: 10_000 });
    expect(set.collect(isTombstone)).toBe(10_000);
    expect(set.size).toEqual({ entries: 0, tombstones: 0 });
  });
});
