/**
 * `npm run bench -- events`: one user's object puts events through its outbox to real queues,
 * with the mirror's queue alone or with the configured subscriber queues as well. Reachable
 * only with BENCH_ROUTES.
 */
import type { Config } from "../config";
import { type EventEnvelope, makeEvent } from "../contracts/events";
import { outboxTargets } from "./stores";
import { MIRROR_TARGET, Outbox } from "./stores/outbox";

export interface OutboxBenchResult {
  events: number;
  targets: string[];
  /** Messages the queues accepted, over every target. */
  sent: number;
  /** Inside the object, from the first append to the last send acknowledged. */
  ms: number;
}

/** The events of a playing session: position reports (mirror and analytics) and progress checkpoints (every target). */
function benchEvents(userId: string, count: number, at: number): EventEnvelope[] {
  const events: EventEnvelope[] = [];
  for (let i = 0; i < count; i++) {
    const hlc = `${String(at).padStart(15, "0")}:${String(i).padStart(6, "0")}:bench`;
    const position = i * 10;
    events.push(
      i % 2 === 0
        ? makeEvent("position-updated", userId, hlc, {
            session_id: `bench-${at}`,
            content_id: "film-the-matrix-1999",
            device_id: "bench",
            position_seconds: position,
            duration_seconds: 8160,
            playback_state: "playing",
          })
        : makeEvent("progress-changed", userId, hlc, {
            content_id: "film-the-matrix-1999",
            position_seconds: position,
            duration_seconds: 8160,
            completion_percentage: (position / 8160) * 100,
            watched: false,
            state: "paused",
            device_id: "bench",
            last_watched_at: new Date(at).toISOString(),
            deleted: false,
          }),
    );
  }
  return events;
}

export async function benchOutbox(
  sql: SqlStorage,
  userId: string,
  config: Config,
  queueOf: (target: string) => Queue<EventEnvelope> | undefined,
  opts: { events: number; fanout: boolean },
): Promise<OutboxBenchResult> {
  const targets = opts.fanout ? outboxTargets(config) : [{ name: MIRROR_TARGET, types: ["*"] }];
  const started = Date.now();
  const outbox = new Outbox(sql, 0, targets);
  for (const event of benchEvents(userId, opts.events, started)) outbox.append(event);
  let sent = 0;
  while (outbox.size > 0) {
    const result = await outbox.drain(queueOf, Date.now(), 1);
    if (result.failed) throw new Error("a queue refused the bench's events");
    sent += result.sent;
  }
  return { events: opts.events, targets: targets.map((t) => t.name), sent, ms: Date.now() - started };
}
