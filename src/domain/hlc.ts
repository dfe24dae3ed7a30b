/**
 * Hybrid logical clock: physical milliseconds, a logical counter and the node that made it.
 * Encoded as a fixed-width string so that byte order is time order (compare with COLLATE "C"
 * in SQL, or plain `<` in JavaScript).
 */
export interface Hlc {
  ms: number;
  counter: number;
  node: string;
}

const MS_WIDTH = 15;
const COUNTER_WIDTH = 6;
const MAX_COUNTER = 10 ** COUNTER_WIDTH - 1;
export const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const HLC_PATTERN = /^\d{15}:\d{6}:[A-Za-z0-9_-]{1,64}$/;

export function encodeHlc(h: Hlc): string {
  return `${String(h.ms).padStart(MS_WIDTH, "0")}:${String(h.counter).padStart(COUNTER_WIDTH, "0")}:${h.node}`;
}

export function decodeHlc(text: string): Hlc {
  if (!HLC_PATTERN.test(text)) throw new RangeError(`not an HLC: ${text.slice(0, 80)}`);
  const [ms, counter, node] = text.split(":") as [string, string, string];
  return { ms: Number(ms), counter: Number(counter), node };
}

/** Total order: time, then counter, then node id (a deterministic tie-break). */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/** Decodes an HLC, or null for anything that is not one. */
export function parseHlc(text: string): Hlc | null {
  return HLC_PATTERN.test(text) ? decodeHlc(text) : null;
}

/** The later of two encoded HLCs (encoded HLCs sort as strings), null counting as "never". */
export function laterHlc(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a < b ? b : a;
}

export class ClockDriftError extends Error {
  override name = "ClockDriftError";
}

/**
 * How far a remote stamp runs ahead of the wall clock, in ms, or 0 when it does not. A caller
 * can check a whole batch with this before merging any of it into a clock.
 */
export function driftAhead(remote: Hlc, wallMs: number): number {
  return Math.max(0, remote.ms - wallMs);
}

/**
 * One node's clock. `tick` stamps a local event; `receive` merges a remote stamp so that the
 * next local stamp is after it. A remote stamp further ahead of the wall clock than `maxDriftMs`
 * is refused, so one client with a broken clock cannot drag every later write into the future.
 */
export class HlcClock {
  private last: Hlc;

  constructor(
    readonly node: string,
    last: Hlc | null = null,
    private readonly wallClock: () => number = Date.now,
    readonly maxDriftMs: number = 24 * 3600 * 1000,
  ) {
    if (!NODE_ID_PATTERN.test(node)) throw new RangeError(`bad node id: ${node}`);
    this.last = last ?? { ms: 0, counter: 0, node };
  }

  get current(): Hlc {
    return this.last;
  }

  tick(): Hlc {
    const wall = this.wallClock();
    const next =
      wall > this.last.ms ? { ms: wall, counter: 0, node: this.node } : this.bump(this.last.ms, this.last.counter + 1);
    this.last = next;
    return next;
  }

  /** Whether `receive` would accept this stamp (it is not too far ahead of the wall clock). */
  accepts(remote: Hlc): boolean {
    return driftAhead(remote, this.wallClock()) <= this.maxDriftMs;
  }

  receive(remote: Hlc): Hlc {
    const wall = this.wallClock();
    if (driftAhead(remote, wall) > this.maxDriftMs) {
      throw new ClockDriftError(`clock ahead by ${Math.round((remote.ms - wall) / 1000)} s`);
    }
    const ms = Math.max(wall, this.last.ms, remote.ms);
    let counter = 0;
    if (ms === this.last.ms && ms === remote.ms) counter = Math.max(this.last.counter, remote.counter) + 1;
    else if (ms === this.last.ms) counter = this.last.counter + 1;
    else if (ms === remote.ms) counter = remote.counter + 1;
    this.last = this.bump(ms, counter);
    return this.last;
  }

  private bump(ms: number, counter: number): Hlc {
    // The counter overflowing means > 1M events in one ms: borrow the next millisecond.
    return counter > MAX_COUNTER ? { ms: ms + 1, counter: 0, node: this.node } : { ms, counter, node: this.node };
  }
}
