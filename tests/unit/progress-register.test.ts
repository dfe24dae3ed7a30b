import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeHlc } from "../../src/domain/hlc";
import {
  mergeProgress,
  type ProgressRegister,
  type ProgressWrite,
  resolveProgressWrite,
} from "../../src/domain/progress-register";
import { DEFAULT_RESUME_RULES } from "../../src/domain/resume";

const rules = DEFAULT_RESUME_RULES;

/** Few distinct stamps, so equal HLCs (the same stamp from two devices) are common. */
const hlcArb = fc
  .record({
    ms: fc.integer({ min: 1_000, max: 1_002 }),
    counter: fc.integer({ min: 0, max: 1 }),
    node: fc.constantFrom("tv", "phone", "web"),
  })
  .map(encodeHlc);

const writeArb: fc.Arbitrary<ProgressWrite> = fc.record(
  {
    position: fc.constantFrom(0, 20, 1800, 6800, 7200),
    duration: fc.constantFrom(0, 0, 3600, 7200),
    state: fc.constantFrom("playing" as const, "paused" as const, "stopped" as const),
    device_id: fc.constantFrom("tv", "phone", null),
    watched: fc.constantFrom(undefined, true, false),
    deleted: fc.constantFrom(undefined, true),
    at: fc.integer({ min: 1_000, max: 1_010 }),
    hlc: hlcArb,
  },
  { requiredKeys: ["position", "duration", "state", "device_id", "at", "hlc"] },
);

const fold = (writes: readonly ProgressWrite[]) =>
  writes.reduce<ProgressRegister | undefined>((r, w) => mergeProgress(r, resolveProgressWrite(w, rules)), undefined);

describe("progress register (property)", () => {
  it("holds the same state whatever order the same writes arrive in", () => {
    fc.assert(
      fc.property(
        fc
          .array(writeArb, { minLength: 1, maxLength: 8 })
          .chain((writes) => fc.tuple(fc.constant(writes), fc.shuffledSubarray(writes, { minLength: writes.length }))),
        ([writes, shuffled]) => {
          expect(fold(shuffled)).toEqual(fold(writes));
          expect(fold([...writes].reverse())).toEqual(fold(writes));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("is unchanged by duplicates and by merging a replica's state into another", () => {
    fc.assert(
      fc.property(fc.array(writeArb, { minLength: 1, maxLength: 8 }), fc.nat(), (writes, cut) => {
        const at = cut % (writes.length + 1);
        const left = fold(writes.slice(0, at));
        const right = fold(writes.slice(at)) as ProgressRegister | undefined;
        const joined = right ? mergeProgress(left, right) : left;
        expect(joined).toEqual(fold(writes));
        expect(fold([...writes, ...writes])).toEqual(fold(writes));
      }),
      { numRuns: 1000 },
    );
  });

  it("keeps the write with the greatest HLC, its duration included", () => {
    fc.assert(
      fc.property(fc.uniqueArray(writeArb, { minLength: 1, maxLength: 8, selector: (w) => w.hlc }), (writes) => {
        const newest = writes.reduce((a, b) => (b.hlc > a.hlc ? b : a));
        const register = fold(writes) as ProgressRegister;
        expect(register.hlc).toBe(newest.hlc);
        expect(register.duration).toBe(newest.duration);
        expect(register.position).toBe(newest.position);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("progress register", () => {
  const write = (hlcMs: number, over: Partial<ProgressWrite>): ProgressWrite => ({
    position: 1800,
    duration: 7200,
    state: "paused",
    device_id: "tv",
    at: hlcMs,
    hlc: encodeHlc({ ms: hlcMs, counter: 0, node: "tv" }),
    ...over,
  });

  it("a newer write that does not know the duration (0) makes it unknown in either arrival order", () => {
    const known = write(1_000, { duration: 7200 });
    const unknown = write(2_000, { duration: 0, position: 3600 });
    expect(fold([known, unknown])).toMatchObject({ duration: 0, position: 3600, watched: false });
    expect(fold([unknown, known])).toEqual(fold([known, unknown]));
  });

  it("an older write with duration 0 changes nothing, whenever it arrives", () => {
    const unknown = write(1_000, { duration: 0, position: 60 });
    const known = write(2_000, { duration: 7200, position: 7000 });
    expect(fold([unknown, known])).toMatchObject({ duration: 7200, position: 7000, watched: true });
    expect(fold([known, unknown])).toEqual(fold([unknown, known]));
  });

  it("two devices writing under the very same HLC: every replica keeps the same one", () => {
    const stamp = encodeHlc({ ms: 5_000, counter: 3, node: "shared" });
    const tv = write(5_000, { hlc: stamp, device_id: "tv", position: 100 });
    const phone = write(5_000, { hlc: stamp, device_id: "phone", position: 200 });
    const a = fold([tv, phone]);
    const b = fold([phone, tv]);
    expect(a).toEqual(b);
    expect([100, 200]).toContain(a?.position);
  });

  it("a watched mark with an unknown duration stays watched; a removal is never watched", () => {
    expect(fold([write(1_000, { duration: 0, position: 0, watched: true })])?.watched).toBe(true);
    expect(fold([write(1_000, { watched: true, deleted: true })])?.watched).toBe(false);
  });
});
