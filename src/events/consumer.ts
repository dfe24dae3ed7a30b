import type { Config } from "../config";
import { type Decoded, decodeEvent, type TypedEnvelope } from "../contracts/events";
import { inTransaction, type Queryable, withDatabase } from "../db/client";
import { type DeadLetterRecord, insertDeadLetters } from "../db/dead-letters";
import { appendEventLog } from "../db/event-log";
import { upsertAssignments } from "../db/experiments";
import { clearHistory, upsertProgress } from "../db/history";
import { erasedAmong, eraseUserRows } from "../db/profiles";
import { PersonalizationWork } from "./personalization";
import { SyncMirror } from "./sync-mirror";
import { ViewingWork } from "./viewing-work";
import { queueWebhookDeliveries } from "./webhooks";

export interface ConsumerReport {
  applied: number;
  skipped: number;
  deadLettered: number;
  historyRows: number;
  /** Watchlist and device rows the sync mirror changed. */
  syncRows: number;
  /** Play and rating rows written. */
  viewingRows?: number;
  /** Webhook deliveries queued (one per matching webhook and event). */
  webhookDeliveries?: number;
  /** Events added to the event log (a redelivered one is there already). */
  logged?: number;
}

type Progress = TypedEnvelope<"progress-changed">;
type Cleared = TypedEnvelope<"history-cleared">;
type Exposed = TypedEnvelope<"experiment-exposure">;

/**
 * Applies one batch of events to Postgres in one transaction. Progress is coalesced per
 * (user, content) to the greatest HLC, and every row write is guarded by the HLC in SQL, so a
 * redelivered or late batch changes nothing. Malformed messages are kept in `dead_letters`.
 * Every applied event is appended to the event log in the same transaction.
 */
export async function applyEventBatch(
  config: Config,
  queue: string,
  messages: readonly { id: string; body: unknown }[],
  /** Set for the dead-letter queue: every message is also kept, with this reason. */
  keepAllReason: string | null = null,
): Promise<ConsumerReport> {
  const report: ConsumerReport = { applied: 0, skipped: 0, deadLettered: 0, historyRows: 0, syncRows: 0 };
  const events: AppliedEvent[] = [];
  const dead: DeadLetterRecord[] = [];

  for (const message of messages) {
    const decoded = decodeEvent(message.body);
    if (keepAllReason && decoded.kind !== "malformed") {
      dead.push({ queue, messageId: message.id, reason: keepAllReason, body: jsonSafe(message.body) });
    }
    if (decoded.kind === "malformed") {
      dead.push({
        queue,
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
    events.push(decoded.event);
  }

  const erasing = new Set(events.filter((e) => e.type === "profile-deleted").map((e) => e.user_id));
  if (events.length === 0 && dead.length === 0) return report;
  await inTransaction(config, async (tx) => {
    if (dead.length > 0) {
      await insertDeadLetters(tx, dead);
      report.deadLettered = dead.length;
    }
    if (events.length === 0) return;
    // A deleted profile's events are dropped, whenever they arrive: nothing of it comes back.
    const erased = await erasedAmong(tx, [...new Set(events.map((e) => e.user_id))]);
    const batch = new BatchWork();
    const applied: AppliedEvent[] = [];
    for (const event of events) {
      if (erasing.has(event.user_id) || erased.has(event.user_id)) {
        if (event.type === "profile-deleted") {
          report.applied++;
          applied.push(event);
        } else report.skipped++;
        continue;
      }
      report.applied++;
      applied.push(event);
      batch.note(event);
    }
    if (batch.size > 0) await batch.apply(tx, config, report);
    // Whatever this batch wrote for a deleted profile goes with the rest (its logged events too):
    // of a deleted profile, only `profile-deleted` is delivered and logged from here on.
    for (const userId of erasing) await eraseUserRows(tx, userId);
    // In the same transaction: a committed batch has queued its webhook deliveries, once each.
    report.webhookDeliveries = await queueWebhookDeliveries(tx, applied);
    // The log last of all: its lock is held only from here to the commit.
    report.logged = await appendEventLog(tx, applied);
  });
  return report;
}

type AppliedEvent = Extract<Decoded, { kind: "event" }>["event"];

/** One batch's events, coalesced: the latest progress per (user, content), the latest clear per user, … */
class BatchWork {
  private readonly syncMirror = new SyncMirror();
  private readonly latest = new Map<string, Progress>();
  private readonly clears = new Map<string, Cleared>();
  private readonly exposures = new Map<string, Exposed>();
  private readonly personalization = new PersonalizationWork();
  private readonly viewing = new ViewingWork();

  note(event: AppliedEvent): void {
    this.personalization.note(event);
    this.viewing.note(event);
    if (event.type === "progress-changed") {
      const key = `${event.user_id}\u0000${event.data.content_id}`;
      const seen = this.latest.get(key);
      if (!seen || seen.hlc < event.hlc) this.latest.set(key, event);
    } else if (event.type === "history-cleared") {
      const seen = this.clears.get(event.user_id);
      if (!seen || seen.hlc < event.hlc) this.clears.set(event.user_id, event);
    } else if (event.type === "watchlist-changed" || event.type === "device-changed") {
      this.syncMirror.add(event);
    } else if (event.type === "experiment-exposure") {
      const key = `${event.user_id}\u0000${event.data.experiment_id}`;
      const seen = this.exposures.get(key);
      if (!seen || seen.hlc < event.hlc) this.exposures.set(key, event);
    }
  }

  get size(): number {
    return (
      this.latest.size +
      this.clears.size +
      this.syncMirror.size +
      this.exposures.size +
      this.personalization.size +
      this.viewing.size
    );
  }

  async apply(tx: Queryable, config: Config, report: ConsumerReport): Promise<void> {
    const { latest, clears, syncMirror, exposures, personalization } = this;
    if (latest.size > 0) report.historyRows = await upsertProgress(tx, [...latest.values()].map(progressRecord));
    if (this.viewing.size > 0) report.viewingRows = await this.viewing.apply(tx);
    // Clears go after the upserts: a row an older event just wrote is cleared with the rest.
    for (const event of clears.values()) {
      await clearHistory(tx, event.user_id, event.data.before_hlc);
      await ViewingWork.clear(tx, event.user_id, event.data.before_hlc);
    }
    if (syncMirror.size > 0) report.syncRows = await syncMirror.apply(tx);
    if (exposures.size > 0) {
      await upsertAssignments(
        tx,
        [...exposures.values()].map((e) => ({
          experimentId: e.data.experiment_id,
          userId: e.user_id,
          variant: e.data.variant,
          bucket: e.data.bucket,
          firstExposedAt: e.data.first_exposed_at,
          exposedAt: e.occurred_at,
          hlc: e.hlc,
        })),
      );
    }
    // Profiles are rebuilt from the history as this transaction leaves it.
    await personalization.apply(tx, { halfLifeDays: config.PROFILE_HALF_LIFE_DAYS });
  }
}

const progressRecord = (e: Progress) => ({
  userId: e.user_id,
  contentId: e.data.content_id,
  positionSeconds: e.data.position_seconds,
  durationSeconds: e.data.duration_seconds,
  completionPercentage: e.data.completion_percentage,
  watched: e.data.watched,
  deviceId: e.data.device_id,
  deleted: e.data.deleted,
  hlc: e.hlc,
  lastWatchedAt: e.data.last_watched_at,
});

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
        insertDeadLetters(db, [
          {
            queue,
            messageId: message.id,
            reason: storable(`postgres refused it (${sqlState(error)}): ${cause}`.slice(0, 2000)) as string,
            body: jsonSafe(message.body),
          },
        ]),
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
export async function consumeBatch(
  config: Config,
  batch: MessageBatch<unknown>,
  after: {
    /** Where to finish work after the batch is acknowledged (the invocation's waitUntil). */
    waitUntil: (promise: Promise<unknown>) => void;
    /** Hands new webhook deliveries to their dispatcher (a Durable Object), off this batch's path. */
    kickWebhooks: () => Promise<void>;
  },
): Promise<void> {
  const dlq = batch.queue.endsWith("-dlq");
  const keepAllReason = dlq ? "delivery retries exhausted" : null;
  let queuedDeliveries = 0;
  try {
    try {
      queuedDeliveries =
        (await applyEventBatch(config, batch.queue, batch.messages, keepAllReason)).webhookDeliveries ?? 0;
    } catch (error) {
      if (!refusesData(error)) throw error;
      const refused = await isolateRefused(config, batch.queue, batch.messages, keepAllReason);
      console.error(`queue ${batch.queue}: ${refused} message(s) refused by Postgres kept in dead_letters`);
    }
    batch.ackAll();
    // The first attempt right after the commit, by the dispatcher (a queue consumer's ack waits
    // for its waitUntil work: partners' endpoints must not hold the next batch). What fails, or a
    // lost kick, is retried by the per-minute cron.
    if (queuedDeliveries > 0) {
      after.waitUntil(
        after
          .kickWebhooks()
          .catch((error) => console.error(`queue ${batch.queue}: webhook deliveries not started:`, String(error))),
      );
    }
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
