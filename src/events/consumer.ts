import { sql } from "drizzle-orm";
import type { Config } from "../config";
import { decodeEvent, type TypedEnvelope } from "../contracts/events";
import { type Database, withDatabase } from "../db/client";
import { deadLetters } from "../db/schema";
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
type Exposed = TypedEnvelope<"experiment-exposure">;

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
  const exposures = new Map<string, Exposed>();
  const dead: { messageId: string; reason: string; body: unknown }[] = [];
  const personalization = new PersonalizationWork();

  for (const message of messages) {
    const decoded = decodeEvent(message.body);
    if (keepAllReason && decoded.kind !== "malformed") {
      dead.push({ messageId: message.id, reason: keepAllReason, body: jsonSafe(message.body) });
    }
    if (decoded.kind === "malformed") {
      dead.push({
        messageId: message.id,
        reason: storable(decoded.reason.slice(0, 2000)) as string,
        body: jsonSafe(message.body),
      });
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
    } else if (event.type === "experiment-exposure") {
      const key = `${event.user_id}\u0000${event.data.experiment_id}`;
      const seen = exposures.get(key);
      if (!seen || seen.hlc < event.hlc) exposures.set(key, event);
    }
  }

  if (
    latest.size === 0 &&
    clears.size === 0 &&
    syncMirror.size === 0 &&
    exposures.size === 0 &&
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
      if (exposures.size > 0) await upsertAssignments(tx, [...exposures.values()]);
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

/** Experiment assignments: one row per (experiment, user), the latest exposure by HLC; replays change nothing. */
async function upsertAssignments(tx: Tx, events: Exposed[]): Promise<void> {
  const col = <T>(pick: (e: Exposed) => T) => sql.param(events.map(pick));
  await tx.execute(sql`
    INSERT INTO experiment_assignments AS a (experiment_id, user_id, variant, bucket, first_exposed_at, exposed_at, hlc)
    SELECT * FROM unnest(
      ${col((e) => e.data.experiment_id)}::text[], ${col((e) => e.user_id)}::text[], ${col((e) => e.data.variant)}::text[],
      ${col((e) => e.data.bucket)}::int[], ${col((e) => e.data.first_exposed_at)}::timestamptz[],
      ${col((e) => e.occurred_at)}::timestamptz[], ${col((e) => e.hlc)}::text[]
    )
    ON CONFLICT (experiment_id, user_id) DO UPDATE SET
      variant = excluded.variant, bucket = excluded.bucket, exposed_at = excluded.exposed_at, hlc = excluded.hlc,
      first_exposed_at = least(a.first_exposed_at, excluded.first_exposed_at)
    WHERE a.hlc COLLATE "C" < excluded.hlc COLLATE "C"
  `);
}

/**
 * The body as jsonb can keep it. Postgres refuses NUL in jsonb and text, and an unpaired
 * surrogate in jsonb; one refused dead letter would fail its whole batch again and again. Such
 * characters are kept as visible escapes ("\u0000", "\ud800").
 */
function jsonSafe(body: unknown): unknown {
  try {
    return storable(JSON.parse(JSON.stringify(body ?? null)));
  } catch {
    return storable(String(body));
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what Postgres refuses
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function storable(value: unknown): unknown {
  if (typeof value === "string") {
    return value.replace(UNSTORABLE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
  }
  if (Array.isArray(value)) return value.map(storable);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k) as string, storable(v)]));
  }
  return value;
}

/** The SQLSTATE of a Postgres error, looked up through Drizzle's wrapping. */
function sqlState(error: unknown): string | null {
  for (
    let e = error, depth = 0;
    e && typeof e === "object" && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return null;
}

/** Errors that come from one message's data (and would come back on every retry), not from an outage. */
const refusesData = (error: unknown) => /^(22|23|54)/.test(sqlState(error) ?? "");

/**
 * Applies messages one by one after their batch failed on data: the ones Postgres refuses are
 * kept in dead_letters with its reason, so they do not hold back the rest of the batch forever.
 */
async function isolateRefused(
  config: Config,
  queue: string,
  messages: readonly { id: string; body: unknown }[],
  keepAllReason: string | null,
): Promise<number> {
  let refused = 0;
  for (const message of messages) {
    try {
      await applyEventBatch(config, queue, [message], keepAllReason);
    } catch (error) {
      if (!refusesData(error)) throw error;
      refused++;
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? String(error);
      await withDatabase(config, (db) =>
        db
          .insert(deadLetters)
          .values({
            queue,
            messageId: message.id,
            reason: storable(`postgres refused it (${sqlState(error)}): ${cause}`.slice(0, 2000)) as string,
            body: jsonSafe(message.body),
          })
          .onConflictDoNothing(),
      );
    }
  }
  return refused;
}

/**
 * The Worker's queue() handler: ack on success; on failure (Postgres down) retry the whole batch
 * with exponential backoff, so an outage of hours exhausts no retry budget. When Postgres refuses
 * the data itself, the batch is applied message by message and the refused ones are dead-lettered.
 * Messages that reach the dead-letter queue anyway are applied as well and kept in `dead_letters`.
 */
export async function consumeBatch(config: Config, batch: MessageBatch<unknown>): Promise<void> {
  const dlq = batch.queue.endsWith("-dlq");
  const keepAllReason = dlq ? "delivery retries exhausted" : null;
  try {
    try {
      await applyEventBatch(config, batch.queue, batch.messages, keepAllReason);
    } catch (error) {
      if (!refusesData(error)) throw error;
      const refused = await isolateRefused(config, batch.queue, batch.messages, keepAllReason);
      console.error(`queue ${batch.queue}: ${refused} message(s) refused by Postgres kept in dead_letters`);
    }
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
