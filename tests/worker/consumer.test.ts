import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type EventData, makeEvent } from "../../src/contracts/events";
import { deadLetters, watchHistory } from "../../src/db/schema";
import { encodeHlc } from "../../src/domain/hlc";
import { applyEventBatch } from "../../src/events/consumer";
import { db, testConfig } from "./helpers";

const progress = (
  userId: string,
  contentId: string,
  position: number,
  ms: number,
  extra: Partial<EventData<"progress-changed">> = {},
) =>
  makeEvent("progress-changed", userId, encodeHlc({ ms, counter: 0, node: "server" }), {
    content_id: contentId,
    position_seconds: position,
    duration_seconds: 3600,
    completion_percentage: (position / 3600) * 100,
    watched: false,
    state: "paused",
    device_id: "tv",
    last_watched_at: new Date(ms).toISOString(),
    deleted: false,
    ...extra,
  });

const messages = (events: unknown[]) => events.map((body, i) => ({ id: `m-${crypto.randomUUID()}-${i}`, body }));
const rowsOf = (userId: string) =>
  db((d) => d.select().from(watchHistory).where(eq(watchHistory.userId, userId)).orderBy(watchHistory.contentId));

describe("queue consumer", () => {
  it("coalesces a batch to one row per (user, content) holding the greatest HLC", async () => {
    const user = `c-${crypto.randomUUID()}`;
    const batch = messages([
      progress(user, "a", 100, 1000),
      progress(user, "a", 300, 3000),
      progress(user, "a", 200, 2000),
      progress(user, "b", 50, 1500),
    ]);
    const report = await applyEventBatch(testConfig(), "media-gateway-events", batch);
    expect(report.historyRows).toBe(2);
    const rows = await rowsOf(user);
    expect(rows.map((r) => [r.contentId, r.positionSeconds])).toEqual([
      ["a", 300],
      ["b", 50],
    ]);
  });

  it("changes nothing when the same batch is delivered again", async () => {
    const user = `c-${crypto.randomUUID()}`;
    const batch = messages([progress(user, "a", 100, 1000), progress(user, "b", 700, 2000)]);
    await applyEventBatch(testConfig(), "media-gateway-events", batch);
    const before = await rowsOf(user);
    const again = await applyEventBatch(testConfig(), "media-gateway-events", batch);
    expect(again.historyRows).toBe(0);
    expect(await rowsOf(user)).toEqual(before);
  });

  it("ignores an older event arriving after a newer one", async () => {
    const user = `c-${crypto.randomUUID()}`;
    await applyEventBatch(testConfig(), "media-gateway-events", messages([progress(user, "a", 900, 9000)]));
    const before = await rowsOf(user);
    const late = await applyEventBatch(
      testConfig(),
      "media-gateway-events",
      messages([progress(user, "a", 100, 1000)]),
    );
    expect(late.historyRows).toBe(0);
    expect(await rowsOf(user)).toEqual(before);
  });

  it("does not bring back history older than a clear, even for content it never saw", async () => {
    const user = `c-${crypto.randomUUID()}`;
    const clear = makeEvent("history-cleared", user, encodeHlc({ ms: 5000, counter: 0, node: "server" }), {
      before_hlc: encodeHlc({ ms: 5000, counter: 0, node: "server" }),
    });
    await applyEventBatch(testConfig(), "media-gateway-events", messages([progress(user, "a", 100, 1000), clear]));
    expect((await rowsOf(user)).map((r) => r.active)).toEqual([false]);
    await applyEventBatch(testConfig(), "media-gateway-events", messages([progress(user, "never-seen", 100, 2000)]));
    expect(await rowsOf(user)).toHaveLength(1);
    await applyEventBatch(testConfig(), "media-gateway-events", messages([progress(user, "a", 400, 6000)]));
    expect((await rowsOf(user)).map((r) => [r.contentId, r.active, r.positionSeconds])).toEqual([["a", true, 400]]);
  });

  it("keeps malformed messages in dead_letters and skips unknown types and newer versions", async () => {
    const user = `c-${crypto.randomUUID()}`;
    const bad = messages([
      { not: "an event" },
      { ...progress(user, "a", 1, 1000), data: { content_id: 5 } },
      { ...progress(user, "a", 1, 1000), type: "from-the-future" },
      { ...progress(user, "a", 1, 1000), version: 99 },
    ]);
    const report = await applyEventBatch(testConfig(), "media-gateway-events", bad);
    expect(report).toMatchObject({ deadLettered: 2, skipped: 2, historyRows: 0 });
    const kept = await db((d) =>
      d
        .select()
        .from(deadLetters)
        .where(and(eq(deadLetters.queue, "media-gateway-events"), eq(deadLetters.messageId, bad[0]!.id))),
    );
    expect(kept[0]?.body).toEqual({ not: "an event" });
    expect(await rowsOf(user)).toEqual([]);
  });
});
