import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { EventEnvelope } from "../../src/contracts/events";
import { devices, watchHistory } from "../../src/db/schema";
import { db, eventually, newUser, userStub } from "../worker/helpers";
import { drainOutbox, recordQueue } from "../worker/queue-recorder";

/** Cloudflare Queues: at most 100 messages and 256 KB per sendBatch. */
const QUEUE_BATCH_MESSAGES = 100;
const QUEUE_BATCH_BYTES = 256_000;

const outboxOf = (stub: ReturnType<typeof userStub>) =>
  runInDurableObject(stub, (_instance, state) =>
    state.storage.sql
      .exec<{ body: string }>("SELECT body FROM outbox ORDER BY seq")
      .toArray()
      .map((row) => JSON.parse(row.body) as EventEnvelope),
  );

describe("the outbox after a long queue outage", () => {
  it("keeps every event, then drains them in order per user in batches within the queue's limits", async () => {
    const users = await Promise.all([1, 2, 3].map(() => newUser("outbox")));
    const recorders: Awaited<ReturnType<typeof recordQueue>>[] = [];
    for (const user of users) {
      await user.api.get("/api/v1/history");
      const recorder = await recordQueue(userStub(user.id));
      recorder.down = true;
      recorders.push(recorder);
    }

    // While the queue refuses every send, each user keeps writing: big non-ASCII device records
    // (about 12 KB of UTF-8 each) and a session's positions.
    const finalPosition = new Map<string, number>();
    for (const user of users) {
      for (let d = 0; d < 30; d++) {
        const res = await user.api.put(`/api/v1/devices/dev-${d}`, {
          device_type: "TV",
          platform: "tvOS",
          capabilities: { notes: "字幕".repeat(1900), index: d },
          app_version: "1.0",
          device_name: `テレビ ${d}`,
        });
        expect(res.status).toBe(201);
      }
      const session = await user.api.post("/api/v1/sessions", {
        content_id: "film-alien-1979",
        device_id: "dev-0",
        duration_seconds: 7200,
      });
      for (let i = 1; i <= 60; i++) {
        const res = await user.api.patch(`/api/v1/sessions/${session.json.id}/position`, {
          position_seconds: i * 60,
          playback_state: i % 2 ? "playing" : "paused",
        });
        expect(res.status).toBe(200);
      }
      finalPosition.set(user.id, 3600);
      // The queue being down changes nothing for the user's reads.
      expect((await user.api.get("/api/v1/resume/film-alien-1979")).json.position_seconds).toBe(3600);
    }

    // The alarm keeps failing and backs off, without losing or reordering anything.
    for (const [i, user] of users.entries()) {
      const stub = userStub(user.id);
      await new Promise((r) => setTimeout(r, 300)); // past the linger
      for (let attempt = 0; attempt < 8; attempt++) {
        // As if the backoff had elapsed: hours of outage in a few alarm runs.
        await runInDurableObject(stub, (_instance, state) => {
          state.storage.sql.exec("UPDATE outbox_targets SET next_at = 0");
          return state.storage.setAlarm(Date.now());
        });
        await runDurableObjectAlarm(stub);
      }
      expect(recorders[i]?.refused).toBeGreaterThanOrEqual(8);
      const backoff = await runInDurableObject(stub, async (_instance, state) => ({
        alarm: await state.storage.getAlarm(),
        attempts: state.storage.sql
          .exec<{ attempts: number }>("SELECT attempts FROM outbox_targets WHERE target = 'EVENTS'")
          .one().attempts,
      }));
      expect(backoff.attempts).toBeGreaterThanOrEqual(8);
      // Backoff is capped (OUTBOX_MAX_BACKOFF_SECONDS is 2 in tests).
      expect(backoff.alarm).not.toBeNull();
      expect((backoff.alarm as number) - Date.now()).toBeLessThanOrEqual(2_500);
    }

    const expected = new Map<string, EventEnvelope[]>();
    for (const user of users) expected.set(user.id, await outboxOf(userStub(user.id)));
    for (const events of expected.values()) {
      expect(events.length).toBeGreaterThan(QUEUE_BATCH_MESSAGES); // 30 devices, 1 session, 60 positions, 30 checkpoints
      const bytes = events.reduce((sum, e) => sum + new TextEncoder().encode(JSON.stringify(e)).length, 0);
      expect(bytes).toBeGreaterThan(QUEUE_BATCH_BYTES);
    }

    // The queue is back: every user's outbox drains.
    for (const [i, user] of users.entries()) {
      (recorders[i] as { down: boolean }).down = false;
      await drainOutbox(userStub(user.id), 30_000).catch((error) => {
        throw new Error(`${error}; the queue refused: ${recorders[i]?.errors.slice(0, 2).join(" | ")}`);
      });
    }
    let batches = 0;
    for (const [i, user] of users.entries()) {
      const sent = recorders[i]?.sent ?? [];
      batches += sent.length;
      for (const batch of sent) {
        expect(batch.events.length).toBeLessThanOrEqual(QUEUE_BATCH_MESSAGES);
        expect(batch.bytes).toBeLessThanOrEqual(QUEUE_BATCH_BYTES);
      }
      // Exactly the events written, once each, in the order they were written.
      const delivered = sent.flatMap((b) => b.events.map((e) => e.event_id));
      expect(delivered).toEqual(expected.get(user.id)?.map((e) => e.event_id));
      const hlcs = sent.flatMap((b) => b.events.map((e) => e.hlc));
      expect([...hlcs].sort()).toEqual(hlcs);
    }
    console.log(`outbox outage: ${[...expected.values()].flat().length} events held, drained in ${batches} batches`);

    // And the consumer brings Postgres to the final state of every user.
    for (const user of users) {
      await eventually(
        () =>
          db((d) =>
            d
              .select()
              .from(watchHistory)
              .where(and(eq(watchHistory.userId, user.id), eq(watchHistory.contentId, "film-alien-1979"))),
          ),
        (rows) => rows[0]?.positionSeconds === finalPosition.get(user.id),
        30_000,
      );
      const mirrored = await eventually(
        () => db((d) => d.select().from(devices).where(eq(devices.userId, user.id))),
        (rows) => rows.length === 30,
        30_000,
      );
      expect(mirrored.every((row) => (row.capabilities as { notes: string }).notes.length === 3800)).toBe(true);
    }
  }, 240_000);
});
