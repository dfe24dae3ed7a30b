import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClockDriftError, compareHlc, decodeHlc, encodeHlc, HlcClock } from "../../src/domain/hlc";

describe("hybrid logical clock", () => {
  it("encodes so that string order is clock order", () => {
    const stamp = fc.record({
      ms: fc.integer({ min: 0, max: 2 ** 45 }),
      counter: fc.integer({ min: 0, max: 999_999 }),
      node: fc.stringMatching(/^[a-z0-9]{1,8}$/),
    });
    fc.assert(
      fc.property(stamp, stamp, (a, b) => {
        const byString = encodeHlc(a) < encodeHlc(b) ? -1 : encodeHlc(a) > encodeHlc(b) ? 1 : 0;
        expect(byString).toBe(compareHlc(a, b));
        expect(decodeHlc(encodeHlc(a))).toEqual(a);
      }),
    );
  });

  it("ticks strictly increase even when the wall clock stands still or goes back", () => {
    let wall = 1_000;
    const clock = new HlcClock("server", null, () => wall);
    const stamps = [clock.tick(), clock.tick()];
    wall = 500;
    stamps.push(clock.tick(), clock.tick());
    for (let i = 1; i < stamps.length; i++) expect(compareHlc(stamps[i - 1]!, stamps[i]!)).toBe(-1);
  });

  it("orders its next stamp after any received stamp", () => {
    let wall = 1_000;
    const clock = new HlcClock("server", null, () => wall);
    const remote = { ms: 5_000, counter: 7, node: "phone" };
    const merged = clock.receive(remote);
    expect(compareHlc(remote, merged)).toBe(-1);
    wall = 1_001;
    expect(compareHlc(merged, clock.tick())).toBe(-1);
  });

  it("accepts a client clock hours behind or ahead within the drift bound, refuses one beyond it", () => {
    const wall = Date.UTC(2026, 0, 1);
    const clock = new HlcClock("server", null, () => wall, 24 * 3600_000);
    expect(() => clock.receive({ ms: wall - 5 * 3600_000, counter: 0, node: "a" })).not.toThrow();
    expect(() => clock.receive({ ms: wall + 5 * 3600_000, counter: 0, node: "a" })).not.toThrow();
    expect(() => clock.receive({ ms: wall + 25 * 3600_000, counter: 0, node: "a" })).toThrow(ClockDriftError);
  });

  it("breaks ties by node id, deterministically", () => {
    expect(compareHlc({ ms: 1, counter: 0, node: "a" }, { ms: 1, counter: 0, node: "b" })).toBe(-1);
    expect(compareHlc({ ms: 1, counter: 0, node: "b" }, { ms: 1, counter: 0, node: "a" })).toBe(1);
  });

  it("refuses text that is not a clock value", () => {
    expect(() => decodeHlc("12:34:x")).toThrow(RangeError);
    expect(() => decodeHlc("000000000000001:000000:bad node")).toThrow(RangeError);
  });
});
