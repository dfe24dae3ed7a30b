import { sql } from "drizzle-orm";
import type { Config } from "../config";
import { type Database, withDatabase } from "../db/client";
import { deadLetters } from "../db/schema";
import { decodeEvent, type TypedEnvelope } from "./envelope";
import { PersonalizationWork } from "./personalization";
import { SyncMirror } from "./sync-mirror";

export interface ConsumerReport {
  applied: number;
  skipped: number;
  deadLettered: number;
  historyRows: number;
  /** Watchlist and device rows the sync mirror changed. */
  syncRows: number;
}

type Progress = TypedEnvelope<"progress-changed">;
type Cleared = TypedEnvelope<"history-cleared">;

/**
 * Applies one batch of events to Postgres in one transaction. Progress is coalesced per
 * (user, content) to the greatest HLC, and every row write is guarded by the HLC in SQL, so a
 * redelivered or late batch changes nothing. Malformed messages are kept in `dead_letters`.
 */
export async function applyEventBatch(
  config: Config,
  queue: string,
  messages: readonly { id: string; body: unknown }[],
  /** Set for the dead-letter queue: every message is also kept, with this reason. */
  keepAllReason: string | null = null,
): Promise<ConsumerReport> {
  const report: ConsumerReport = { applied: 0, skipped: 0, deadLettered: 0, historyRows: 0, syncRows: 0 };
  const syncMirror = new SyncMirror();
  const latest = new Map<string, Progress>();
  const clears = new Map<string, Cleared>();
  const dead: { messageId: string; reason: string; body: unknown }[] = [];
  const personalization = new PersonalizationWork();

  for (const message of messages) {
    const decoded = decodeEvent(message.body);
    if (keepAllReason && decoded.kind !== "malformed") {
      dead.push({ messageId: message.id, reason: keepAllReason, body: jsonSafe(message.body) });
    }
    if (decoded.kind === "malformed") {
      dead.push({ messageId: message.id, reason: decoded.reason.slice(0, 2000), body: jsonSafe(message.body) });
      continue;
    }
    if (decoded.kind === "skip") {
      report.skipped++;
      continue;
    }
    report.applied++;
    const event = decoded.event;
    personalization.note(event);
    if (event.type === "progress-changed") {
      const key = `${event.user_id}\u0000${event.data.content_id}`;
      const seen = latest.get(key);
      if (!seen || seen.hlc < event.hlc) latest.set(key, event);
    } else if (event.type === "history-cleared") {
      const seen = clears.get(event.user_id);
      if (!seen || seen.hlc < event.hlc) clears.set(event.user_id, event);
    } else if (event.type === "watchlist-changed" || event.type === "device-changed") {
      syncMirror.add(event);
    }
  }

  if (
    latest.size === 0 &&
    clears.size === 0 &&
    syncMirror.size === 0 &&
    dead.length === 0 &&
    personalization.size === 0
  )
    return report;
  await withDatabase(config, (db) =>
    db.transaction(async (tx) => {
      if (dead.length > 0) {
        await tx
          .insert(deadLetters)
          .values(dead.map((d) => ({ queue, messageId: d.messageId, reason: d.reason, body: d.body })))
          .onConflictDoNothing();
        report.deadLettered = dead.length;
      }
      if (latest.size > 0) report.historyRows = await upsertProgress(tx, [...latest.values()]);
      // Clears go after the upserts: a row an older event just wrote is cleared with the rest.
      for (const event of clears.values()) await applyClear(tx, event);
      if (syncMirror.size > 0) report.syncRows = await syncMirror.apply(tx);
      // Profiles are rebuilt from the history as this transaction leaves it.
      await personalization.apply(tx, { halfLifeDays: config.PROFILE_HALF_LIFE_DAYS });
    }),
  );
  return report;
}

type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];

async function upsertProgress(tx: Tx, events: Progress[]): Promise<number> {
  // One array parameter per column (sql.param keeps Drizzle from spreading the array into a list).
  const col = <T>(pick: (e: Progress) => T) => sql.param(events.map(pick));
  const result = await tx.execute(sql`
    INSERT INTO watch_history AS w (user_id, content_id, position_seconds, duration_seconds, completion_percentage,
      watched, device_id, active, hlc, last_watched_at, created_at, updated_at)
    SELECT v.user_id, v.content_id, v.position, v.duration, v.completion, v.watched, v.device_id, NOT v.deleted, v.hlc,
      v.last_watched_at, now(), now()
    FROM unnest(
      ${col((e) => e.user_id)}::text[], ${col((e) => e.data.content_id)}::text[],
      ${col((e) => e.data.position_seconds)}::float8[], ${col((e) => e.data.duration_seconds)}::float8[],
      ${col((e) => e.data.completion_percentage)}::float8[], ${col((e) => e.data.watched)}::bool[],
      ${col((e) => e.data.device_id)}::text[], ${col((e) => e.data.deleted)}::bool[], ${col((e) => e.hlc)}::text[],
      ${col((e) => e.data.last_watched_at)}::timestamptz[]
    ) AS v(user_id, content_id, position, duration, completion, watched, device_id, deleted, hlc, last_watched_at)
    WHERE NOT EXISTS (
      SELECT 1 FROM history_clears c WHERE c.user_id = v.user_id AND c.before_hlc COLLATE "C" >= v.hlc COLLATE "C"
    )
    ON CONFLICT (user_id, content_id) DO UPDATE SET
      position_seconds = excluded.position_seconds, duration_seconds = excluded.duration_seconds,
      completion_percentage = excluded.completion_percentage, watched = excluded.watched,
      device_id = excluded.device_id, active = excluded.active, hlc = excluded.hlc,
      last_watched_at = excluded.last_watched_at, updated_at = now()
    WHERE w.hlc COLLATE "C" < excluded.hlc COLLATE "C"
  `);
  return result.rowCount ?? 0;
}

async function applyClear(tx: Tx, event: Cleared): Promise<void> {
  const before = event.data.before_hlc;
  await tx.execute(sql`
    INSERT INTO history_clears (user_id, before_hlc, cleared_at) VALUES (${event.user_id}, ${before}, now())
    ON CONFLICT (user_id) DO UPDATE SET before_hlc = excluded.before_hlc, cleared_at = now()
    WHERE history_clears.before_hlc COLLATE "C" < excluded.before_hlc COLLATE "C"
  `);
  await tx.execute(sql`
    UPDATE watch_history SET active = false, updated_at = now()
    WHERE user_id = ${event.user_id} AND active AND hlc COLLATE "C" <= ${before} COLLATE "C"
  `);
}

function jsonSafe(body: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(body ?? null));
  } catch {
    return String(body);
  }
}

/**
 * The Worker's queue() handler: ack on success; on failure (Postgres down) retry the whole batch
 * with exponential backoff, so an outage of hours exhausts no retry budget. Messages that reach
 * the dead-letter queue anyway are applied as well and kept in `dead_letters`.
 */
export async function consumeBatch(config: Config, batch: MessageBatch<unknown>): Promise<void> {
  const dlq = batch.queue.endsWith("-dlq");
  try {
    await applyEventBatch(config, batch.queue, batch.messages, dlq ? "delivery retries exhausted" : null);
    batch.ackAll();
  } catch (error) {
    const attempts = Math.max(1, ...batch.messages.map((m) => m.attempts));
    const delaySeconds = Math.min(43_200, config.QUEUE_RETRY_DELAY_SECONDS * 2 ** Math.min(attempts - 1, 16));
    console.error(
      `queue ${batch.queue}: batch of ${batch.messages.length} failed, retry in ${delaySeconds} s:`,
      String(error),
    );
    batch.retryAll({ delaySeconds });
  }
}
