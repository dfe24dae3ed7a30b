import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isTombstone } from "../../src/domain/or-set";
import { SyncReplica } from "../../src/domain/sync-replica";
import { deliveryOrder, oracle, play, scenarioArb } from "./sync-scenario";

const START = Date.UTC(2026, 0, 1);

describe("sync convergence (property)", () => {
  it("every replica and the server converge to the same state, whatever the order and duplicates", () => {
    fc.assert(
      fc.property(scenarioArb(), (scenario) => {
        const { replicas, all } = play(scenario, START);
        const server = new SyncReplica();
        for (const op of deliveryOrder(all, scenario.seed)) server.apply(op);
        replicas.forEach((replica, i) => {
          for (const op of deliveryOrder(all, scenario.seed + i + 1)) replica.apply(op);
        });
        const expected = server.state();
        for (const replica of replicas) {
          expect(replica.state()).toEqual(expected);
          expect(replica.entries()).toEqual(server.entries());
        }
      }),
      { numRuns: 300 },
    );
  });

  it("add wins: an element is present exactly when one of its adds was observed by no remove", () => {
    fc.assert(
      fc.property(scenarioArb(), (scenario) => {
        const { all } = play(scenario, START);
        const server = new SyncReplica();
        for (const op of deliveryOrder(all, scenario.seed)) server.apply(op);
        const present = server
          .state()
          .watchlist.map((e) => e.element)
          .sort();
        expect(present).toEqual(oracle(all).present);
      }),
      { numRuns: 300 },
    );
  });

  it("LWW keeps the progress write with the greatest HLC", () => {
    fc.assert(
      fc.property(scenarioArb(), (scenario) => {
        const { all } = play(scenario, START);
        const server = new SyncReplica();
        for (const op of deliveryOrder(all, scenario.seed)) server.apply(op);
        const expected = oracle(all).progress;
        expect(server.progress.size).toBe(expected.size);
        for (const [content, op] of expected) {
          const register = server.progress.get(content);
          expect(register?.hlc).toBe(op.hlc);
          expect(register?.value.position_seconds).toBe(op.position_seconds);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("state-based merges in any order converge to the op-based result", () => {
    fc.assert(
      fc.property(scenarioArb(), fc.integer(), (scenario, seed) => {
        const { replicas, all } = play(scenario, START);
        const reference = new SyncReplica();
        for (const op of all) reference.apply(op);
        const merged = new SyncReplica();
        for (const replica of deliveryOrder(replicas, seed)) merged.merge(replica);
        expect(merged.state()).toEqual(reference.state());
      }),
      { numRuns: 200 },
    );
  });

  it("collecting tombstones every replica has seen leaves the effective state unchanged", () => {
    fc.assert(
      fc.property(scenarioArb(), (scenario) => {
        const { all } = play(scenario, START);
        const server = new SyncReplica();
        for (const op of deliveryOrder(all, scenario.seed)) server.apply(op);
        const before = server.state();
        server.watchlist.collect(isTombstone);
        expect(server.watchlist.size.tombstones).toBe(0);
        expect(server.state()).toEqual(before);
        // Redelivering everything after the collection changes nothing: op ids are remembered.
        for (const op of all) expect(server.apply(op)).toBe("duplicate");
        expect(server.state()).toEqual(before);
      }),
      { numRuns: 200 },
    );
  });
});
