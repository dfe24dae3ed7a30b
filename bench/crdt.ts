/**
 * CRDT core benchmark: our OR-Set + LWW replica next to Yjs and Automerge on the same workload,
 * measured in the same run.
 *   1. Merge throughput: one device makes 10k ops (watchlist add/remove, progress writes); a
 *      fresh replica integrates them, op by op (the sync path), and as one state merge.
 *   2. State size after 10k add/remove cycles of the watchlist, with and without GC.
 * Run alone: npx tsx bench/crdt.ts
 */
import * as Automerge from "@automerge/automerge";
import * as Y from "yjs";
import { seededRandom } from "../src/domain/catalog";
import { encodeHlc, HlcClock } from "../src/domain/hlc";
import { isTombstone } from "../src/domain/or-set";
import { type SyncOp, SyncReplica } from "../src/domain/sync-replica";

const OPS = 10_000;
const CONTENT = 1_000;
const CYCLES = 10_000;
const RUNS = 9;
const WARMUPS = 3;

/** What one device did, in a form each library can replay. */
type Action =
  | { kind: "add"; id: string }
  | { kind: "remove"; id: string }
  | { kind: "progress"; id: string; position: number };

/** 10k actions over 1000 titles: ~45 % adds, ~35 % removes of a listed title, ~20 % progress writes. */
function workload(): Action[] {
  const next = seededRandom(42);
  const listed = new Set<string>();
  const actions: Action[] = [];
  while (actions.length < OPS) {
    const r = next();
    const id = `content-${Math.floor(next() * CONTENT)}`;
    if (r < 0.45) {
      actions.push({ kind: "add", id });
      listed.add(id);
    } else if (r < 0.8 && listed.size > 0) {
      const victim = [...listed][Math.floor(next() * listed.size)] as string;
      listed.delete(victim);
      actions.push({ kind: "remove", id: victim });
    } else {
      actions.push({ kind: "progress", id, position: Math.floor(next() * 7200) });
    }
  }
  return actions;
}

// ---- producing each library's ops from the same actions ----

function ourOps(actions: Action[]): { ops: SyncOp[]; writer: SyncReplica } {
  let wall = Date.UTC(2026, 0, 1);
  const clock = new HlcClock("writer", null, () => wall++);
  const writer = new SyncReplica();
  const ops: SyncOp[] = [];
  actions.forEach((a, i) => {
    const hlc = encodeHlc(clock.tick());
    const op_id = `op-${i}`;
    const op: SyncOp =
      a.kind === "add"
        ? { op_id, type: "watchlist.add", content_id: a.id, tag: hlc, hlc }
        : a.kind === "remove"
          ? { op_id, type: "watchlist.remove", content_id: a.id, tags: writer.watchlist.liveTags(a.id), hlc }
          : {
              op_id,
              type: "progress.set",
              content_id: a.id,
              position_seconds: a.position,
              duration_seconds: 7200,
              state: "paused",
              hlc,
            };
    writer.apply(op);
    ops.push(op);
  });
  return { ops, writer };
}

function yjsUpdates(actions: Action[]): { updates: Uint8Array[]; doc: Y.Doc } {
  const doc = new Y.Doc();
  const watchlist = doc.getMap<boolean>("watchlist");
  const progress = doc.getMap<number>("progress");
  const updates: Uint8Array[] = [];
  doc.on("update", (u: Uint8Array) => updates.push(u));
  for (const a of actions) {
    doc.transact(() => {
      if (a.kind === "add") watchlist.set(a.id, true);
      else if (a.kind === "remove") watchlist.delete(a.id);
      else progress.set(a.id, a.position);
    });
  }
  return { updates, doc };
}

type AmDoc = { watchlist: Record<string, boolean>; progress: Record<string, number> };

function automergeChanges(actions: Action[]): { changes: Uint8Array[]; doc: Automerge.Doc<AmDoc> } {
  let doc = Automerge.change(Automerge.init<AmDoc>({ actor: "aa".repeat(16) }), (d) => {
    d.watchlist = {};
    d.progress = {};
  });
  for (const a of actions) {
    doc = Automerge.change(doc, (d) => {
      if (a.kind === "add") d.watchlist[a.id] = true;
      else if (a.kind === "remove") delete d.watchlist[a.id];
      else d.progress[a.id] = a.position;
    });
  }
  return { changes: Automerge.getAllChanges(doc), doc };
}

// ---- measuring ----

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * Median wall time of each contender, in ms. Rounds interleave the contenders, so that on a
 * shared machine they all run under the same load; warm-up rounds let the JIT settle first.
 */
function compare(contenders: Record<string, () => void>): Record<string, number> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
  for (let round = 0; round < WARMUPS + RUNS; round++) {
    for (const [name, work] of Object.entries(contenders)) {
      const t = performance.now();
      work();
      if (round >= WARMUPS) samples[name]?.push(performance.now() - t);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, list]) => [name, median(list)]));
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2));
const bytes = (n: number) =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;

function printTable(title: string, header: string[], rows: (string | number)[][]): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  console.log(`\n${title}`);
  for (const [i, row] of cells.entries()) {
    console.log(
      `  ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join("  ")}`,
    );
    if (i === 0) console.log(`  ${widths.map((w) => "-".repeat(w)).join("  ")}`);
  }
}

function mergeThroughput(): void {
  const actions = workload();
  const ours = ourOps(actions);
  const yjs = yjsUpdates(actions);
  const am = automergeChanges(actions);

  // The replicas must agree, or the comparison means nothing.
  const oursFinal = ours.writer.watchlist
    .elements()
    .map((e) => e.element)
    .sort();
  const yjsFinal = [...yjs.doc.getMap("watchlist").keys()].sort();
  const amFinal = Object.keys(am.doc.watchlist).sort();
  if (JSON.stringify(oursFinal) !== JSON.stringify(yjsFinal) || JSON.stringify(oursFinal) !== JSON.stringify(amFinal)) {
    throw new Error("the three replicas disagree on the final watchlist");
  }

  const opBased = compare({
    ours: () => {
      const replica = new SyncReplica();
      for (const op of ours.ops) replica.apply(op);
    },
    yjs: () => {
      const doc = new Y.Doc();
      for (const u of yjs.updates) Y.applyUpdate(doc, u);
    },
    automerge: () => {
      Automerge.applyChanges(Automerge.init<AmDoc>(), am.changes);
    },
  });
  const yjsState = Y.encodeStateAsUpdate(yjs.doc);
  const amSaved = Automerge.save(am.doc);
  const stateBased = compare({
    ours: () => new SyncReplica().merge(ours.writer),
    yjs: () => Y.applyUpdate(new Y.Doc(), yjsState),
    automerge: () => Automerge.merge(Automerge.init<AmDoc>(), Automerge.load<AmDoc>(amSaved)),
  });
  const rows = (m: Record<string, number>) =>
    Object.entries(m).map(([name, ms]) => [
      name,
      fmt(ms),
      fmt((OPS / ms) * 1000),
      `${(ms / (m.ours as number)).toFixed(2)}×`,
    ]);
  printTable(
    `Merge ${OPS.toLocaleString("en-US")} ops (op by op; median of ${RUNS}) — ${actions.filter((a) => a.kind === "add").length} adds, ${actions.filter((a) => a.kind === "remove").length} removes, ${actions.filter((a) => a.kind === "progress").length} progress writes over ${CONTENT} titles`,
    ["replica", "ms", "ops/s", "time vs ours"],
    rows(opBased),
  );
  printTable(
    `Merge the same history as one state (median of ${RUNS})`,
    ["replica", "ms", "ops/s", "time vs ours"],
    rows(stateBased),
  );
}

function stateSize(): void {
  let wall = Date.UTC(2026, 0, 1);
  const clock = new HlcClock("writer", null, () => wall++);
  const ours = new SyncReplica();
  const yjsGc = new Y.Doc();
  const yjsNoGc = new Y.Doc({ gc: false });
  let am = Automerge.change(Automerge.init<AmDoc>({ actor: "bb".repeat(16) }), (d) => {
    d.watchlist = {};
    d.progress = {};
  });
  for (let i = 0; i < CYCLES; i++) {
    // A user toggling titles in and out of the list: 100 titles, each added and removed 100 times.
    const id = `content-${i % 100}`;
    const add = encodeHlc(clock.tick());
    ours.apply({ op_id: `a${i}`, type: "watchlist.add", content_id: id, tag: add, hlc: add });
    ours.apply({ op_id: `r${i}`, type: "watchlist.remove", content_id: id, tags: [add], hlc: encodeHlc(clock.tick()) });
    for (const doc of [yjsGc, yjsNoGc]) {
      doc.transact(() => doc.getMap("watchlist").set(id, true));
      doc.transact(() => doc.getMap("watchlist").delete(id));
    }
    am = Automerge.change(am, (d) => {
      d.watchlist[id] = true;
    });
    am = Automerge.change(am, (d) => {
      delete d.watchlist[id];
    });
  }
  const ourSize = () => new TextEncoder().encode(JSON.stringify(ours.entries())).byteLength;
  const before = ourSize();
  const tombstones = ours.watchlist.size.tombstones;
  ours.watchlist.collect(isTombstone);
  const after = ourSize();
  const rows: [string, number, string][] = [
    ["ours, no GC (JSON of every entry)", before, `${tombstones.toLocaleString("en-US")} tombstones`],
    ["ours, after GC (every device synced)", after, `${ours.watchlist.size.tombstones} tombstones`],
    ["Yjs, gc: true (encodeStateAsUpdate)", Y.encodeStateAsUpdate(yjsGc).byteLength, "keeps a delete set"],
    ["Yjs, gc: false", Y.encodeStateAsUpdate(yjsNoGc).byteLength, "keeps deleted items"],
    ["Automerge (save)", Automerge.save(am).byteLength, "keeps the whole history"],
  ];
  printTable(
    `State size after ${CYCLES.toLocaleString("en-US")} add/remove cycles (100 titles × 100 toggles)`,
    ["replica", "bytes", "size", "note"],
    rows.map(([name, n, note]) => [name, n.toLocaleString("en-US"), bytes(n), note]),
  );
}

export async function run(): Promise<void> {
  console.log("CRDT core: ours (src/domain/or-set.ts + lww.ts) vs Yjs vs Automerge, same workload, same run");
  mergeThroughput();
  stateSize();
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
