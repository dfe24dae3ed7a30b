import type { Config } from "../config";
import { decodeEvent, type EventEnvelope } from "../contracts/events";
import type { Queryable } from "../db/client";
import { markReplayed, pendingDeadLetters } from "../db/dead-letters";
import { readEventLog } from "../db/event-log";
import { replayToWebhook, webhooksFor, webhookTarget } from "../db/webhooks";
import type { Env } from "../env";
import { webhookDispatcher } from "./delivery";
import { webhookHears } from "./webhooks";

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
  db: Queryable,
  queue: Queue<EventEnvelope>,
  opts: { ids?: number[] | undefined; afterId: number; limit: number; dryRun: boolean },
): Promise<ReplayReport> {
  const rows = await pendingDeadLetters(db, opts);

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
    await markReplayed(
      db,
      batch.map((e) => e.id),
    );
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

/** Where an event log replay sends: a subscriber queue or a webhook. */
export interface ReplayTarget {
  name: string;
  /** Event types the target takes ("*": every type); others in the range are passed over. */
  types: readonly string[];
  /** Sends the events; answers how many the target took (a webhook takes only its audience's). */
  send(db: Queryable, events: readonly EventEnvelope[]): Promise<number>;
}

/** A subscriber queue of EVENT_SUBSCRIBERS by its binding name, or null. */
export function subscriberReplayTarget(env: Env, config: Config, name: string): ReplayTarget | null {
  const subscriber = config.EVENT_SUBSCRIBERS.find((s) => s.binding === name);
  const queue = subscriber ? (env[subscriber.binding] as Queue<EventEnvelope> | undefined) : undefined;
  if (!subscriber || !queue) return null;
  return {
    name,
    types: subscriber.types,
    send: async (_db, events) => {
      await queue.sendBatch(events.map((body) => ({ body, contentType: "json" })));
      return events.length;
    },
  };
}

/**
 * A webhook by its id, as a replay target: the events of the range its types and its audience
 * take (a user's webhook never hears another user's events, replayed or not) are queued again as
 * pending deliveries on the replay's own connection, and the dispatcher is kicked to try them
 * (the per-minute cron retries what fails), as after a consumer's batch.
 */
export async function webhookReplayTarget(env: Env, db: Queryable, id: string): Promise<ReplayTarget | null> {
  const webhook = await webhookTarget(db, id);
  if (!webhook) return null;
  return {
    name: id,
    types: webhook.events,
    send: async (tx, events) => {
      const { accountOf } = await webhooksFor(tx, [...new Set(events.map((e) => e.user_id))]);
      const heard = events.filter((event) => webhookHears(webhook, event, accountOf));
      await replayToWebhook(tx, id, heard);
      if (heard.length > 0) await webhookDispatcher(env).kick();
      return heard.length;
    },
  };
}

/** A replay target by name: a subscriber binding first, then a webhook id; null when neither. */
export async function resolveReplayTarget(
  env: Env,
  config: Config,
  db: Queryable,
  name: string,
): Promise<ReplayTarget | null> {
  return subscriberReplayTarget(env, config, name) ?? (await webhookReplayTarget(env, db, name));
}

export interface LogReplayReport {
  target: string;
  /** Events sent to the target. */
  sent: number;
  /** Events of the range the target's types do not include. */
  passed_over: number;
  /** The last log position examined; null when the range held nothing. */
  last_seq: number | null;
  /** More of the range remains past `last_seq` (the call's limit was reached). */
  more: boolean;
}

const REPLAY_PAGE = 500;

/**
 * Sends the logged events in (after, until] to a target again, in log order, within the queue's
 * batch limits; at most `limit` events are examined per call. Consumers are idempotent by
 * `event_id` and keep the greatest `hlc` per key, so a replay is safe at any time.
 */
export async function replayEventLog(
  db: Queryable,
  target: ReplayTarget,
  opts: { after: number; until: number | null; userId?: string | null; limit: number },
): Promise<LogReplayReport> {
  const every = target.types.includes("*");
  const report: LogReplayReport = { target: target.name, sent: 0, passed_over: 0, last_seq: null, more: false };
  let after = opts.after;
  let examined = 0;
  while (examined < opts.limit) {
    const page = await readEventLog(db, {
      after,
      until: opts.until,
      userId: opts.userId ?? null,
      limit: Math.min(REPLAY_PAGE, opts.limit - examined),
    });
    if (page.length === 0) break;
    examined += page.length;
    const wanted = page.filter((e) => every || target.types.includes(e.envelope.type));
    report.passed_over += page.length - wanted.length;
    const sized = wanted.map((e) => ({
      event: e.envelope,
      bytes: new TextEncoder().encode(JSON.stringify(e.envelope)).length,
    }));
    for (const batch of queueBatches(sized)) {
      const taken = await target.send(
        db,
        batch.map((b) => b.event),
      );
      report.sent += taken;
      report.passed_over += batch.length - taken;
    }
    after = (page[page.length - 1] as { seq: number }).seq;
    report.last_seq = after;
  }
  if (examined >= opts.limit && report.last_seq !== null) {
    report.more =
      (await readEventLog(db, { after, until: opts.until, userId: opts.userId ?? null, limit: 1 })).length > 0;
  }
  return report;
}
