import { env } from "cloudflare:workers";
import { asc, inArray, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type EventData, makeEvent } from "../../src/contracts/events";
import { deadLetters, devices, historyClears, watchHistory, watchlistEntries } from "../../src/db/schema";
import { encodeHlc } from "../../src/domain/hlc";
import { applyEventBatch } from "../../src/events/consumer";
import { db, eventually, testConfig } from "../worker/helpers";
import { cutDatabaseAfter, cutHappened } from "./faults";

const QUEUE = "media-gateway-events";
const hlc = (ms: number, counter = 0) => encodeHlc({ ms, counter, node: "server" });

function progress(
  user: string,
  content: string,
  position: number,
  ms: number,
  extra: Partial<EventData<"progress-changed">> = {},
) {
  return makeEvent("progress-changed", user, hlc(ms), {
    content_id: content,
    position_seconds: position,
    duration_seconds: 3600,
    completion_percentage: (position / 3600) * 100,
    watched: position >= 3240,
    state: "paused",
    device_id: "tv",
    last_watched_at: new Date(ms).toISOString(),
    deleted: false,
    ...extra,
  });
}

/**
 * A batch with every kind of work the consumer does: progress coalesced out of order and
 * duplicated, a clear, watchlist tags, a device, a stopped item that rebuilds the profile, and a
 * malformed message. Built for a set of users named with `prefix`, so two copies never meet.
 */
function richBatch(prefix: string) {
  const [a, b, c] = ["a", "b", "c"].map((u) => `${prefix}-${u}`) as [string, string, string];
  const base = 1_800_000_000_000;
  const events: unknown[] = [
    progress(a, "film-alien-1979", 600, base + 3000),
    progress(a, "film-alien-1979", 300, base + 1000),
    progress(a, "film-amadeus-1984", 3500, base + 2000, { state: "stopped" }),
    progress(b, "film-alien-1979", 100, base + 1000),
    makeEvent("history-cleared", b, hlc(base + 5000), { before_hlc: hlc(base + 5000) }),
    progress(b, "film-annie-hall-1977", 900, base + 6000),
    makeEvent("watchlist-changed", c, hlc(base + 1000), {
      content_id: "film-apollo-13-1995",
      present: true,
      entries: [{ tag: hlc(base + 1000, 1), added_hlc: hlc(base + 1000, 1), removed_hlc: null }],
    }),
    makeEvent("watchlist-changed", c, hlc(base + 2000), {
      content_id: "film-avatar-2009",
      present: false,
      entries: [{ tag: hlc(base + 900, 2), added_hlc: hlc(base + 900, 2), removed_hlc: hlc(base + 2000) }],
    }),
    makeEvent("device-changed", c, hlc(base + 3000), {
      device_id: "tv",
      device_type: "TV",
      platform: "tvOS",
      capabilities: { hdr: true },
      app_version: "1.0",
      device_name: "Living room",
      last_seen: new Date(base + 3000).toISOString(),
      is_online: true,
      deleted: false,
    }),
    { not: "an event", user: a },
  ];
  const messages = events.map((body, i) => ({ id: `${prefix}-m${i}`, body }));
  // Redelivered: the same message twice in one batch.
  messages.push({ ...(messages[0] as { id: string; body: unknown }) });
  return { users: [a, b, c], messages };
}

/** Everything the batch wrote, with the users' names normalized so two copies compare equal. */
async function stateOf(users: string[], prefix: string) {
  const strip = <T extends Record<string, unknown>>(rows: T[], drop: string[]) =>
    JSON.parse(
      JSON.stringify(
        rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !drop.includes(k)))),
      ).replaceAll(prefix, "U"),
    );
  return db(async (d) => ({
    history: strip(
      await d
        .select()
        .from(watchHistory)
        .where(inArray(watchHistory.userId, users))
        .orderBy(asc(watchHistory.userId), asc(watchHistory.contentId)),
      ["createdAt", "updatedAt"],
    ),
    clears: strip(await d.select().from(historyClears).where(inArray(historyClears.userId, users)), ["clearedAt"]),
    watchlist: strip(
      await d
        .select()
        .from(watchlistEntries)
        .where(inArray(watchlistEntries.userId, users))
        .orderBy(asc(watchlistEntries.tag)),
      ["updatedAt"],
    ),
    devices: strip(await d.select().from(devices).where(inArray(devices.userId, users)), ["updatedAt"]),
    // By body, not message id: through the real queue, the ids are the queue's.
    deadLetters: strip(
      await d
        .select({ queue: deadLetters.queue, body: deadLetters.body })
        .from(deadLetters)
        .where(sql`${deadLetters.body}::text like ${`%${prefix}-%`}`),
      [],
    ),
  }));
}

describe("the queue consumer failing in the middle of a batch", () => {
  it("converges to the rows of a clean run, whichever request the connection drops at", async () => {
    const clean = richBatch(`clean-${crypto.randomUUID()}`);
    const cleanPrefix = clean.users[0]!.slice(0, -2);
    await applyEventBatch(testConfig(), QUEUE, clean.messages);
    const expected = await stateOf(clean.users, cleanPrefix);
    expect(expected.history.length).toBeGreaterThan(0);
    expect(expected.watchlist.length).toBe(2);
    expect(expected.devices.length).toBe(1);
    expect(expected.deadLetters.length).toBe(1);

    // Cut the connection before the 1st, 2nd, ... request of the batch's transaction, until a run gets through.
    let failures = 0;
    for (let cut = 0; cut < 40; cut++) {
      const run = richBatch(`cut${cut}-${crypto.randomUUID()}`);
      const prefix = run.users[0]!.slice(0, -2);
      await cutDatabaseAfter(cut);
      const first = await applyEventBatch(testConfig(), QUEUE, run.messages).then(
        () => "ok",
        () => "failed",
      );
      await cutDatabaseAfter(1_000_000); // disarm, in case the run needed fewer requests than the cut
      if (first === "failed") {
        failures++;
        // A failed attempt leaves nothing half-written.
        const partial = await stateOf(run.users, prefix);
        expect(
          partial.history.length + partial.watchlist.length + partial.devices.length + partial.deadLetters.length,
        ).toBe(0);
        await applyEventBatch(testConfig(), QUEUE, run.messages); // the queue's retry
      }
      expect(await stateOf(run.users, prefix), `cut before request ${cut + 1}`).toEqual(expected);
      // And a redelivery after success changes nothing.
      await applyEventBatch(testConfig(), QUEUE, run.messages);
      expect(await stateOf(run.users, prefix)).toEqual(expected);
      if (first === "ok") break;
    }
    console.log(`mid-batch faults: the connection dropped at ${failures} different requests; every retry converged`);
    expect(failures).toBeGreaterThanOrEqual(3);
  });

  it("through the real queue: the batch fails mid-transaction, is retried, and every row arrives once", async () => {
    const run = richBatch(`queue-${crypto.randomUUID()}`);
    const prefix = run.users[0]!.slice(0, -2);
    const reference = richBatch(`ref-${crypto.randomUUID()}`);
    await applyEventBatch(testConfig(), QUEUE, reference.messages);
    const expected = await stateOf(reference.users, reference.users[0]!.slice(0, -2));

    await cutDatabaseAfter(2);
    // Message ids are the queue's own here; dead letters are compared by count.
    await env.EVENTS.sendBatch(run.messages.slice(0, -1).map((m) => ({ body: m.body as never })));
    // The consumer is the only database client now: the cut lands in its transaction.
    await cutHappened();
    const state = await eventually(
      () => stateOf(run.users, prefix),
      (s) => JSON.stringify(s.history) === JSON.stringify(expected.history) && s.devices.length === 1,
      30_000,
    );
    expect({ ...state, deadLetters: state.deadLetters.length }).toEqual({ ...expected, deadLetters: 1 });
  });
});
