import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ClockDriftError,
  compareHlc,
  decodeHlc,
  encodeHlc,
  type Hlc,
  HlcClock,
  laterHlc,
  parseHlc,
} from "../../src/domain/hlc";
import { LwwMap } from "../../src/domain/lww";

const HOUR = 3600_000;

function manualClock(node: string, start: number) {
  let wall = start;
  const clock = new HlcClock(node, null, () => wall);
  return {
    clock,
    set: (ms: number) => {
      wall = ms;
    },
  };
}

describe("hybrid logical clock", () => {
  it("ticks monotonically even when the wall clock stands still or goes back", () => {
    const { clock, set } = manualClock("server", 1000);
    const a = clock.tick();
    const b = clock.tick();
    set(500);
    const c = clock.tick();
    expect(compareHlc(a, b)).toBe(-1);
    expect(compareHlc(b, c)).toBe(-1);
    expect(c).toEqual({ ms: 1000, counter: 2, node: "server" });
  });

  it("receive puts the next local stamp after the remote one", () => {
    const { clock } = manualClock("server", 1000);
    const remote: Hlc = { ms: 5000, counter: 7, node: "phone" };
    const merged = clock.receive(remote);
    expect(merged).toEqual({ ms: 5000, counter: 8, node: "server" });
    expect(compareHlc(clock.tick(), remote)).toBe(1);
  });

  it("a client clock hours ahead does not reorder the server's own writes", () => {
    const { clock, set } = manualClock("server", 10 * HOUR);
    const before = clock.tick();
    const client: Hlc = { ms: 13 * HOUR, counter: 0, node: "phone" };
    clock.receive(client);
    set(10 * HOUR + 1000);
    const after = clock.tick();
    // The server's later write is ordered after both its earlier write and the client's.
    expect(compareHlc(before, after)).toBe(-1);
    expect(compareHlc(client, after)).toBe(-1);
  });

  it("a client clock hours behind loses to the server's later writes and does not move the clock back", () => {
    const { clock } = manualClock("server", 10 * HOUR);
    const first = clock.tick();
    clock.receive({ ms: 7 * HOUR, counter: 3, node: "tv" });
    const next = clock.tick();
    expect(compareHlc(first, next)).toBe(-1);
    const register = new LwwMap<number>();
    register.set("movie", { hlc: encodeHlc(next), value: 1 });
    expect(register.set("movie", { hlc: encodeHlc({ ms: 7 * HOUR, counter: 4, node: "tv" }), value: 2 })).toBe(false);
  });

  it("refuses a stamp further ahead than the allowed drift and leaves the clock as it was", () => {
    const { clock } = manualClock("server", 1000);
    const before = clock.current;
    expect(clock.accepts({ ms: 1000 + 25 * HOUR, counter: 0, node: "x" })).toBe(false);
    expect(() => clock.receive({ ms: 1000 + 25 * HOUR, counter: 0, node: "x" })).toThrow(ClockDriftError);
    expect(clock.current).toEqual(before);
    expect(clock.accepts({ ms: 1000 + 23 * HOUR, counter: 0, node: "x" })).toBe(true);
  });

  it("borrows the next millisecond when the counter would overflow", () => {
    const clock = new HlcClock("server", { ms: 1000, counter: 999_999, node: "server" }, () => 1000);
    expect(clock.tick()).toEqual({ ms: 1001, counter: 0, node: "server" });
  });

  const hlcArb = fc.record({
    ms: fc.integer({ min: 0, max: 4_000_000_000_000 }),
    counter: fc.integer({ min: 0, max: 999_999 }),
    node: fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
  });

  it("encoding keeps the order: string order is HLC order (property)", () => {
    fc.assert(
      fc.property(hlcArb, hlcArb, (a, b) => {
        const ea = encodeHlc(a);
        const eb = encodeHlc(b);
        expect(decodeHlc(ea)).toEqual(a);
        const byString = ea < eb ? -1 : ea > eb ? 1 : 0;
        // Node ids compare as strings too, so the encoded order equals compareHlc exactly.
        expect(byString).toBe(compareHlc(a, b));
      }),
    );
  });

  it("parses only well-formed stamps", () => {
    expect(parseHlc("000000000001000:000001:phone")).toEqual({ ms: 1000, counter: 1, node: "phone" });
    for (const bad of ["", "1000:1:phone", "000000000001000:000001:", "000000000001000:000001:a b", "x".repeat(90)]) {
      expect(parseHlc(bad)).toBeNull();
    }
    expect(laterHlc(null, "b")).toBe("b");
    expect(laterHlc("b", "a")).toBe("b");
  });
});
