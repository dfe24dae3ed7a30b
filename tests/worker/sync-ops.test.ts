import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeHlc, encodeHlc } from "../../src/domain/hlc";
import { SyncReplica } from "../../src/domain/sync-replica";
import { batches, deliveryOrder, play, scenarioArb } from "../unit/sync-scenario";
import { type Client, newUser } from "./helpers";

const HOUR = 3600_000;
let counter = 0;
/** A device's clock: stamps strictly increasing per call, at `offsetMs` from now. */
const stamp = (node: string, offsetMs = 0) => encodeHlc({ ms: Date.now() + offsetMs, counter: counter++, node });
const opId = () => crypto.randomUUID();

async function state(api: Client) {
  const res = await api.get("/api/v1/sync");
  expect(res.status).toBe(200);
  return res.json;
}

const watchlistIds = (doc: any) => doc.watchlist.items.map((i: { content_id: string }) => i.content_id).sort();

describe("POST /sync/ops", () => {
  it("applies a batch once: the same batch again changes nothing", async () => {
    const { api } = await newUser();
    const batch = {
      device_id: "phone",
      ops: [
        { op_id: opId(), type: "watchlist.add", content_id: "film-alien-1979", hlc: stamp("phone") },
        { op_id: opId(), type: "watchlist.add", content_id: "film-amadeus-1984", hlc: stamp("phone") },
        {
          op_id: opId(),
          type: "progress.set",
          content_id: "film-alien-1979",
          position_seconds: 600,
          duration_seconds: 3600,
          state: "paused",
          hlc: stamp("phone"),
        },
      ],
    };
    const first = await api.post("/api/v1/sync/ops", batch);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ applied: 3, duplicates: 0 });
    const before = await state(api);
    const second = await api.post("/api/v1/sync/ops", batch);
    expect(second.status).toBe(200);
    expect(second.json).toMatchObject({ applied: 0, duplicates: 3, cursor: first.json.cursor });
    const after = await state(api);
    expect(after.watchlist).toEqual(before.watchlist);
    expect(after.progress).toEqual(before.progress);
    expect(after.cursor).toBe(before.cursor);
    // The op's tag defaults to its HLC, so the client knows it without asking.
    expect(after.watchlist.items.find((i: any) => i.content_id === "film-alien-1979").tags).toEqual([
      batch.ops[0]?.hlc,
    ]);
  });

  it("merges an offline device's batch without losing the other device's concurrent edits", async () => {
    const { api } = await newUser();
    await api.put("/api/v1/sync/watchlist/film-alien-1979", undefined);
    // The tablet syncs, then goes offline holding Alien's tag.
    const seen = await state(api);
    const observed = seen.watchlist.items[0].tags as string[];
    const offlineStart = Date.now();
    const tablet = (i: number) => encodeHlc({ ms: offlineStart, counter: i, node: "tablet" });
    const offlineOps = [
      { op_id: opId(), type: "watchlist.remove", content_id: "film-alien-1979", tags: observed, hlc: tablet(1) },
      { op_id: opId(), type: "watchlist.add", content_id: "film-amadeus-1984", hlc: tablet(2) },
      {
        op_id: opId(),
        type: "progress.set",
        content_id: "film-annie-hall-1977",
        position_seconds: 600,
        duration_seconds: 3600,
        state: "paused",
        hlc: tablet(3),
      },
      {
        op_id: opId(),
        type: "progress.set",
        content_id: "film-avatar-2009",
        position_seconds: 42,
        duration_seconds: 3600,
        state: "paused",
        hlc: tablet(4),
      },
    ];
    // Meanwhile, online, the TV removes and re-adds Alien (a new tag), adds Apollo 13 and watches Annie Hall further.
    await api.delete("/api/v1/sync/watchlist/film-alien-1979");
    await api.put("/api/v1/sync/watchlist/film-alien-1979", undefined);
    await api.put("/api/v1/sync/watchlist/film-apollo-13-1995", undefined);
    const session = await api.post("/api/v1/sessions", {
      content_id: "film-annie-hall-1977",
      device_id: "tv",
      duration_seconds: 3600,
    });
    await api.patch(`/api/v1/sessions/${session.json.id}/position`, {
      position_seconds: 1200,
      playback_state: "paused",
    });

    const posted = await api.post("/api/v1/sync/ops", { device_id: "tablet", ops: offlineOps });
    expect(posted.status).toBe(200);
    const merged = await state(api);
    // Add wins: the TV's new tag of Alien was never observed by the tablet's remove.
    expect(watchlistIds(merged)).toEqual(["film-alien-1979", "film-amadeus-1984", "film-apollo-13-1995"]);
    const progress = Object.fromEntries(merged.progress.items.map((p: any) => [p.content_id, p.position_seconds]));
    // The TV's later position beats the tablet's older offline one; untouched content takes the tablet's.
    expect(progress).toEqual({ "film-annie-hall-1977": 1200, "film-avatar-2009": 42 });
    expect(posted.json.results.map((r: { status: string }) => r.status)).toEqual([
      "applied",
      "applied",
      "stale",
      "applied",
    ]);
  });

  describe("refuses bad batches whole (4xx problem+json, nothing applied)", () => {
    const good = () => ({
      op_id: opId(),
      type: "watchlist.add",
      content_id: "film-big-fish-2003",
      hlc: stamp("phone"),
    });
    const cases: [string, (api: Client) => Promise<unknown>, number][] = [
      [
        "a malformed op (no hlc)",
        async () => ({ ops: [good(), { op_id: opId(), type: "watchlist.add", content_id: "film-braveheart-1995" }] }),
        400,
      ],
      [
        "an unknown op type",
        async () => ({
          ops: [
            good(),
            { op_id: opId(), type: "watchlist.clear", content_id: "film-braveheart-1995", hlc: stamp("p") },
          ],
        }),
        400,
      ],
      ["an HLC far in the future", async () => ({ ops: [good(), { ...good(), hlc: stamp("phone", 30 * HOUR) }] }), 400],
      ["the server's node id", async () => ({ ops: [good(), { ...good(), hlc: stamp("server") }] }), 400],
      [
        "a remove without tags",
        async () => ({
          ops: [
            good(),
            { op_id: opId(), type: "watchlist.remove", content_id: "film-braveheart-1995", tags: [], hlc: stamp("p") },
          ],
        }),
        400,
      ],
      [
        "a negative position",
        async () => ({
          ops: [
            good(),
            {
              op_id: opId(),
              type: "progress.set",
              content_id: "film-braveheart-1995",
              position_seconds: -5,
              duration_seconds: 10,
              state: "paused",
              hlc: stamp("p"),
            },
          ],
        }),
        400,
      ],
      ["an oversized batch", async () => ({ ops: Array.from({ length: 501 }, good) }), 413],
      ["an empty batch", async () => ({ ops: [] }), 400],
      ["not an object", async () => "[1, 2, 3]", 400],
      [
        "a tag reused for another item",
        async (api) => {
          const hlc = stamp("phone");
          await api.post("/api/v1/sync/ops", {
            ops: [{ op_id: opId(), type: "watchlist.add", content_id: "film-babe-1995", tag: "tag-1", hlc }],
          });
          return {
            ops: [
              good(),
              {
                op_id: opId(),
                type: "watchlist.add",
                content_id: "film-batman-1989",
                tag: "tag-1",
                hlc: stamp("phone"),
              },
            ],
          };
        },
        409,
      ],
    ];
    for (const [name, body, status] of cases) {
      it(name, async () => {
        const { api } = await newUser();
        const payload = await body(api);
        const before = await state(api);
        const res = await api.post("/api/v1/sync/ops", payload);
        expect(res.status).toBe(status);
        expect(res.headers.get("content-type")).toBe("application/problem+json");
        expect(res.json.status).toBe(status);
        const after = await state(api);
        expect(after.watchlist).toEqual(before.watchlist);
        expect(after.progress).toEqual(before.progress);
        expect(after.cursor).toBe(before.cursor);
      });
    }

    it("names the offending op in the problem's errors", async () => {
      const { api } = await newUser();
      const res = await api.post("/api/v1/sync/ops", {
        ops: [good(), good(), { ...good(), hlc: stamp("phone", 48 * HOUR) }],
      });
      expect(res.json.errors).toEqual([expect.objectContaining({ path: "ops.2.hlc" })]);
      // Nothing of the refused batch was remembered: the good ops apply when sent again alone.
      const [first] = (await api.post("/api/v1/sync/ops", { ops: [good()] })).json.results;
      expect(first.status).toBe("applied");
    });
  });

  it("converges with the reference replica for random multi-device histories, in any order with duplicates (property)", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb({ maxSteps: 40 }), async (scenario) => {
        const { api } = await newUser("prop");
        const { logs, all } = play(scenario, Date.now() - HOUR, "op");
        // Each device posts its own ops, in random batches; devices take turns at random; some batches twice.
        const posts = logs.flatMap((ops, device) =>
          batches(deliveryOrder(ops, scenario.seed + device), scenario.seed + device, 8).map((batch) => ({
            device_id: `device-${device}`,
            ops: batch,
          })),
        );
        for (const body of deliveryOrder(posts, scenario.seed)) {
          const res = await api.post("/api/v1/sync/ops", body);
          expect(res.status, JSON.stringify(res.json)).toBe(200);
        }
        const reference = new SyncReplica();
        for (const op of all) reference.apply(op);
        const expected = reference.state();
        const server = await state(api);
        const serverWatchlist = [...server.watchlist.items].sort((a: any, b: any) =>
          a.content_id < b.content_id ? -1 : 1,
        );
        const expectedWatchlist = expected.watchlist
          .map((e) => ({
            content_id: e.element,
            tags: e.tags,
            added_at: new Date(decodeHlc(e.addedHlc).ms).toISOString(),
          }))
          .sort((a, b) => (a.content_id < b.content_id ? -1 : 1));
        expect(serverWatchlist).toEqual(expectedWatchlist);
        const serverProgress = server.progress.items
          .map((p: any) => [p.content_id, { hlc: p.hlc, position_seconds: p.position_seconds }])
          .sort();
        expect(serverProgress).toEqual(
          expected.progress.map(([key, r]) => [key, { hlc: r.hlc, position_seconds: r.value.position_seconds }]),
        );
      }),
      { numRuns: 25 },
    );
  });
});
