/**
 * Random multi-device sync scenarios for property tests: 2–5 replicas with clocks off by up to
 * three hours make watchlist and progress changes, exchange some of them along the way, and
 * finally every op reaches every replica and the server in a random order, with duplicates.
 * Pure: used by the unit tests (server = a SyncReplica) and by the worker tests (the real server).
 */
import fc from "fast-check";
import { seededRandom } from "../../src/domain/catalog";
import { decodeHlc, encodeHlc, HlcClock } from "../../src/domain/hlc";
import { type SyncOp, SyncReplica } from "../../src/domain/sync-replica";

/** Content of the seeded catalog: the worker tests replay scenarios against the real server. */
export const ELEMENTS = [
  "film-alien-1979",
  "film-amadeus-1984",
  "film-annie-hall-1977",
  "series-distant-empire-s01e01",
];
export const DURATION = 3600;
const HOUR = 3600_000;

export type Step =
  | { kind: "add"; replica: number; element: number }
  | { kind: "remove"; replica: number; element: number }
  | { kind: "progress"; replica: number; element: number; position: number }
  | { kind: "exchange"; from: number; to: number };

export interface Scenario {
  replicas: number;
  skewsMs: number[];
  steps: { step: Step; advanceMs: number }[];
  seed: number;
}

const stepArb = (n: number): fc.Arbitrary<Step> => {
  const replica = fc.integer({ min: 0, max: n - 1 });
  const element = fc.integer({ min: 0, max: ELEMENTS.length - 1 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("add" as const), replica, element }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant("remove" as const), replica, element }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant("progress" as const),
        replica,
        element,
        position: fc.integer({ min: 0, max: DURATION }),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("exchange" as const), from: replica, to: replica }) },
  );
};

export const scenarioArb = (opts: { maxSteps?: number } = {}): fc.Arbitrary<Scenario> =>
  fc.integer({ min: 2, max: 5 }).chain((n) =>
    fc.record({
      replicas: fc.constant(n),
      skewsMs: fc.array(fc.integer({ min: -3 * HOUR, max: 3 * HOUR }), { minLength: n, maxLength: n }),
      steps: fc.array(
        // 0 ms steps force same-millisecond stamps, where the counter and node id must decide.
        fc.record({ step: stepArb(n), advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 })) }),
        { minLength: 3, maxLength: opts.maxSteps ?? 60 },
      ),
      seed: fc.integer(),
    }),
  );

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface Played {
  /** The ops each replica made, in the order it made them. */
  logs: SyncOp[][];
  /** Every replica after the scenario, before the final delivery. */
  replicas: SyncReplica[];
  all: SyncOp[];
}

/** Runs the scenario's local changes and exchanges, starting at wall time `startMs`. */
export function play(s: Scenario, startMs: number, opPrefix = "op"): Played {
  let now = startMs;
  const clocks = s.skewsMs.map((skew, i) => new HlcClock(`device-${i}`, null, () => now + skew));
  const replicas = s.skewsMs.map(() => new SyncReplica());
  const logs: SyncOp[][] = s.skewsMs.map(() => []);
  const make = (i: number, op: DistributiveOmit<SyncOp, "op_id">) => {
    const full = { ...op, op_id: `${opPrefix}-${i}-${logs[i]!.length}` } as SyncOp;
    replicas[i]!.apply(full);
    logs[i]!.push(full);
  };
  for (const { step, advanceMs } of s.steps) {
    now += advanceMs;
    if (step.kind === "exchange") {
      if (step.from === step.to) continue;
      for (const op of logs[step.from]!) {
        clocks[step.to]!.receive(decodeHlc(op.hlc));
        replicas[step.to]!.apply(op);
      }
      continue;
    }
    const i = step.replica;
    const element = ELEMENTS[step.element]!;
    if (step.kind === "remove") {
      // Remove one of the elements this replica holds (the index picks which), as a user would.
      const held = replicas[i]!.watchlist.elements();
      if (held.length === 0) continue;
      const target = held[step.element % held.length]!;
      make(i, {
        type: "watchlist.remove",
        content_id: target.element,
        tags: target.tags,
        hlc: encodeHlc(clocks[i]!.tick()),
      });
    } else if (step.kind === "add") {
      const hlc = encodeHlc(clocks[i]!.tick());
      make(i, { type: "watchlist.add", content_id: element, tag: hlc, hlc });
    } else {
      make(i, {
        type: "progress.set",
        content_id: element,
        position_seconds: step.position,
        duration_seconds: DURATION,
        state: "paused",
        hlc: encodeHlc(clocks[i]!.tick()),
      });
    }
  }
  return { logs, replicas, all: logs.flat() };
}

/** A deterministic PRNG, so a failing case replays from its seed. */
const random = seededRandom;

/** Every op in a random order, about a third of them delivered twice. */
export function deliveryOrder<T>(ops: readonly T[], seed: number): T[] {
  const next = random(seed);
  const out = [...ops];
  for (const op of ops) if (next() < 0.35) out.push(op);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Splits a list into batches of random sizes (1..max). */
export function batches<T>(items: readonly T[], seed: number, max: number): T[][] {
  const next = random(seed ^ 0x5bd1e995);
  const out: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const size = 1 + Math.floor(next() * max);
    out.push(items.slice(i, i + size));
    i += size;
  }
  return out;
}

/** The expected outcome, computed from the op log alone (not through the OR-Set code). */
export function oracle(all: readonly SyncOp[]) {
  const removedTags = new Set<string>();
  for (const op of all) if (op.type === "watchlist.remove") for (const t of op.tags) removedTags.add(t);
  const present = new Set<string>();
  for (const op of all) if (op.type === "watchlist.add" && !removedTags.has(op.tag)) present.add(op.content_id);
  const progress = new Map<string, Extract<SyncOp, { type: "progress.set" }>>();
  for (const op of all) {
    if (op.type !== "progress.set") continue;
    const seen = progress.get(op.content_id);
    if (!seen || seen.hlc < op.hlc) progress.set(op.content_id, op);
  }
  return { present: [...present].sort(), progress };
}
