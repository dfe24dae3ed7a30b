import { and, asc, gt, inArray, isNull, sql } from "drizzle-orm";
import { decodeEvent, type EventEnvelope } from "../contracts/events";
import type { Database } from "../db/client";
import { deadLetters } from "../db/schema";

/** Queues limits per sendBatch: 100 messages and 256 KB. Stay below both. */
const MAX_BATCH_MESSAGES = 100;
const MAX_BATCH_BYTES = 200_000;

export interface ReplayReport {
  /** Dead letters sent back to the EVENTS queue and marked replayed. */
  replayed: { id: number; event_id: string; type: string }[];
  /** Dead letters left as they are: their body is still not an event this service can decode. */
  still_malformed: { id: number; reason: string }[];
  dry_run: boolean;
  /** The greatest id examined; pass it as `afterId` to continue. null when nothing was pending. */
  last_id: number | null;
}

/**
 * Sends pending dead letters back to the EVENTS queue, oldest first, and marks them replayed.
 * A body that still does not decode stays pending (sending it again would only dead-letter it
 * again). Replaying is safe at any time: the consumer is idempotent by HLC and event_id.
 */
export async function replayDeadLetters(
  db: Database,
  queue: Queue<EventEnvelope>,
  opts: { ids?: number[] | undefined; afterId: number; limit: number; dryRun: boolean },
): Promise<ReplayReport> {
  const pending = and(isNull(deadLetters.replayedAt), gt(deadLetters.id, opts.afterId));
  const rows = await db
    .select({ id: deadLetters.id, body: deadLetters.body })
    .from(deadLetters)
    .where(opts.ids ? and(pending, inArray(deadLetters.id, opts.ids)) : pending)
    .orderBy(asc(deadLetters.id))
    .limit(opts.limit);

  const report: ReplayReport = {
    replayed: [],
    still_malformed: [],
    dry_run: opts.dryRun,
    last_id: rows[rows.length - 1]?.id ?? null,
  };
  const events: { id: number; event: EventEnvelope; bytes: number }[] = [];
  for (const row of rows) {
    const decoded = decodeEvent(row.body);
    if (decoded.kind === "malformed") {
      report.still_malformed.push({ id: row.id, reason: decoded.reason.slice(0, 500) });
      continue;
    }
    // An unknown type or newer version is replayed too: a newer consumer may understand it.
    const event = row.body as EventEnvelope;
    events.push({ id: row.id, event, bytes: new TextEncoder().encode(JSON.stringify(event)).length });
  }
  if (opts.dryRun) {
    report.replayed = events.map(({ id, event }) => ({ id, event_id: event.event_id, type: event.type }));
    return report;
  }
  for (const batch of queueBatches(events)) {
    await queue.sendBatch(batch.map(({ event }) => ({ body: event, contentType: "json" })));
    const ids = batch.map((e) => e.id);
    await db.update(deadLetters).set({ replayedAt: sql`now()` }).where(inArray(deadLetters.id, ids));
    report.replayed.push(...batch.map(({ id, event }) => ({ id, event_id: event.event_id, type: event.type })));
  }
  return report;
}

/** Splits events into sendBatch calls within the queue's message and byte limits. */
export function queueBatches<T extends { bytes: number }>(items: readonly T[]): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length === MAX_BATCH_MESSAGES || (current.length > 0 && bytes + item.bytes > MAX_BATCH_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export interface DeadLetterView {
  id: number;
  queue: string;
  message_id: string;
  reason: string;
  body: unknown;
  received_at: string;
  replayed_at: string | null;
}

/** Dead letters by id, after `afterId`; `pendingOnly` hides those already replayed. */
export async function listDeadLetters(
  db: Database,
  opts: { afterId: number; limit: number; pendingOnly: boolean },
): Promise<{ items: DeadLetterView[]; more: boolean }> {
  const after = gt(deadLetters.id, opts.afterId);
  const rows = await db
    .select()
    .from(deadLetters)
    .where(opts.pendingOnly ? and(after, isNull(deadLetters.replayedAt)) : after)
    .orderBy(asc(deadLetters.id))
    .limit(opts.limit + 1);
  return {
    items: rows.slice(0, opts.limit).map((r) => ({
      id: r.id,
      queue: r.queue,
      message_id: r.messageId,
      reason: r.reason,
      body: r.body,
      received_at: r.receivedAt.toISOString(),
      replayed_at: r.replayedAt?.toISOString() ?? null,
    })),
    more: rows.length > opts.limit,
  };
}
