/** Webhook endpoints and their deliveries: registration, fan-out in the consumer's batch, retries, health. */
import { and, count, desc, eq, inArray, lt, ne, or, sql } from "drizzle-orm";
import type { EventEnvelope } from "../contracts/events";
import { type Queryable, run } from "./client";
import { profiles, webhookDeliveries, webhooks } from "./schema";

export interface WebhookRecord {
  id: string;
  ownerId: string;
  scope: "own" | "all";
  url: string;
  events: string[];
  createdAt: Date;
}

const publicColumns = {
  id: webhooks.id,
  ownerId: webhooks.ownerId,
  scope: webhooks.scope,
  url: webhooks.url,
  events: webhooks.events,
  createdAt: webhooks.createdAt,
};

export async function createWebhook(
  db: Queryable,
  record: Omit<WebhookRecord, "createdAt"> & { secret: string },
): Promise<WebhookRecord> {
  const [row] = await db.insert(webhooks).values(record).returning(publicColumns);
  if (!row) throw new Error("insert returned no row");
  return row;
}

export async function countWebhooks(db: Queryable, ownerId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(webhooks).where(eq(webhooks.ownerId, ownerId));
  return row?.n ?? 0;
}

/** The owner's webhooks, oldest first (secrets never leave this file except at creation). */
export function listWebhooks(db: Queryable, ownerId: string): Promise<WebhookRecord[]> {
  return db
    .select(publicColumns)
    .from(webhooks)
    .where(eq(webhooks.ownerId, ownerId))
    .orderBy(webhooks.createdAt, webhooks.id);
}

/** One of the owner's webhooks; null for an id that is not theirs, whoever else has it. */
export async function ownWebhook(db: Queryable, ownerId: string, id: string): Promise<WebhookRecord | null> {
  const [row] = await db
    .select(publicColumns)
    .from(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.ownerId, ownerId)));
  return row ?? null;
}

/** Any webhook by its id, as delivery needs it (an operator's replay); null when there is none. */
export async function webhookTarget(db: Queryable, id: string): Promise<WebhookTarget | null> {
  const [row] = await db.select(targetColumns).from(webhooks).where(eq(webhooks.id, id));
  return row ?? null;
}

/** Deletes one of the owner's webhooks and its deliveries; false when it is not theirs. */
export async function deleteWebhook(db: Queryable, ownerId: string, id: string): Promise<boolean> {
  const gone = await db
    .delete(webhooks)
    .where(and(eq(webhooks.id, id), eq(webhooks.ownerId, ownerId)))
    .returning({ id: webhooks.id });
  return gone.length > 0;
}

// ---- deliveries ----

export type DeliveryState = "pending" | "delivered" | "failed";

export interface DeliveryView {
  id: number;
  eventId: string;
  type: string;
  status: DeliveryState;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  queuedAt: Date;
  nextAttemptAt: Date;
  deliveredAt: Date | null;
}

/** A webhook's deliveries, newest first, before the delivery `beforeId` (a page's cursor). */
export async function listDeliveries(
  db: Queryable,
  webhookId: string,
  opts: { beforeId: number | null; limit: number },
): Promise<{ items: DeliveryView[]; more: boolean }> {
  const rows = await db
    .select({
      id: webhookDeliveries.id,
      eventId: webhookDeliveries.eventId,
      type: webhookDeliveries.type,
      status: webhookDeliveries.status,
      attempts: webhookDeliveries.attempts,
      lastStatusCode: webhookDeliveries.lastStatusCode,
      lastError: webhookDeliveries.lastError,
      queuedAt: webhookDeliveries.queuedAt,
      nextAttemptAt: webhookDeliveries.nextAttemptAt,
      deliveredAt: webhookDeliveries.deliveredAt,
    })
    .from(webhookDeliveries)
    .where(
      and(
        eq(webhookDeliveries.webhookId, webhookId),
        opts.beforeId === null ? undefined : lt(webhookDeliveries.id, opts.beforeId),
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(opts.limit + 1);
  return { items: rows.slice(0, opts.limit), more: rows.length > opts.limit };
}

/** What delivery needs of a webhook: whose it is, whom it hears and which types. */
const targetColumns = { id: webhooks.id, ownerId: webhooks.ownerId, scope: webhooks.scope, events: webhooks.events };

export interface WebhookTarget {
  id: string;
  ownerId: string;
  scope: "own" | "all";
  events: string[];
}

/**
 * The webhooks that may hear any of these users' events: admins' `all` ones, each user's own,
 * and their account owner's (an owner's webhooks hear every profile of the account). One query.
 */
export async function webhooksFor(
  db: Queryable,
  userIds: readonly string[],
): Promise<{ targets: WebhookTarget[]; accountOf: Map<string, string> }> {
  if (userIds.length === 0) return { targets: [], accountOf: new Map() };
  const ids = [...userIds];
  const accountOf = new Map<string, string>();
  const rows = await db
    .select({ id: profiles.id, accountId: profiles.accountId })
    .from(profiles)
    .where(inArray(profiles.id, ids));
  for (const row of rows) if (row.accountId !== row.id) accountOf.set(row.id, row.accountId);
  const owners = [...new Set([...ids, ...accountOf.values()])];
  const targets = await db
    .select(targetColumns)
    .from(webhooks)
    .where(or(eq(webhooks.scope, "all"), inArray(webhooks.ownerId, owners)));
  return { targets, accountOf };
}

/** Queues deliveries; a (webhook, event) pair already queued stays as it is. Answers how many are new. */
export async function queueDeliveries(
  db: Queryable,
  rows: readonly { webhookId: string; event: EventEnvelope }[],
): Promise<number> {
  if (rows.length === 0) return 0;
  let added = 0;
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const inserted = await db
      .insert(webhookDeliveries)
      .values(
        chunk.map((r) => ({
          webhookId: r.webhookId,
          eventId: r.event.event_id,
          type: r.event.type,
          userId: r.event.user_id,
          envelope: r.event,
        })),
      )
      .onConflictDoNothing({ target: [webhookDeliveries.webhookId, webhookDeliveries.eventId] })
      .returning({ id: webhookDeliveries.id });
    added += inserted.length;
  }
  return added;
}

/**
 * Queues these events for the webhook again, whatever became of them before (failed, delivered):
 * each becomes pending with a fresh retry window. For an operator's replay of a range of the log.
 * Answers how many were queued; 0 when the webhook does not exist.
 */
export async function replayToWebhook(
  db: Queryable,
  webhookId: string,
  events: readonly EventEnvelope[],
): Promise<number> {
  if (events.length === 0) return 0;
  const [exists] = await db.select({ id: webhooks.id }).from(webhooks).where(eq(webhooks.id, webhookId));
  if (!exists) return 0;
  let queued = 0;
  for (let i = 0; i < events.length; i += 500) {
    const chunk = events.slice(i, i + 500);
    const rows = await db
      .insert(webhookDeliveries)
      .values(
        chunk.map((event) => ({
          webhookId,
          eventId: event.event_id,
          type: event.type,
          userId: event.user_id,
          envelope: event,
        })),
      )
      .onConflictDoUpdate({
        target: [webhookDeliveries.webhookId, webhookDeliveries.eventId],
        set: {
          status: "pending",
          attempts: 0,
          nextAttemptAt: sql`now()`,
          queuedAt: sql`now()`,
          deliveredAt: null,
          lastError: null,
          lastStatusCode: null,
        },
      })
      .returning({ id: webhookDeliveries.id });
    queued += rows.length;
  }
  return queued;
}

/** A delivery taken for one attempt, with what is needed to make it. */
export interface ClaimedDelivery {
  id: number;
  webhookId: string;
  eventId: string;
  envelope: EventEnvelope;
  /** Tries so far, this one included. */
  attempts: number;
  queuedAt: Date;
  url: string;
  secret: string;
}

/**
 * Takes up to `limit` due deliveries for one attempt each: their next try moves `leaseSeconds`
 * ahead, so a runner that dies mid-attempt leaves them to the next run, and two runners never
 * take the same one at once.
 */
export async function claimDueDeliveries(
  db: Queryable,
  opts: { now: Date; leaseSeconds: number; limit: number },
): Promise<ClaimedDelivery[]> {
  const lease = new Date(opts.now.getTime() + opts.leaseSeconds * 1000);
  const { rows } = await run<{
    id: string | number;
    webhook_id: string;
    event_id: string;
    envelope: EventEnvelope;
    attempts: number;
    queued_at: string | Date;
    url: string;
    secret: string;
  }>(
    db,
    sql`
      update webhook_deliveries d
         set attempts = d.attempts + 1, next_attempt_at = ${lease.toISOString()}, last_attempt_at = ${opts.now.toISOString()}
        from webhooks w
       where w.id = d.webhook_id
         and d.id in (
           select id from webhook_deliveries
            where status = 'pending' and next_attempt_at <= ${opts.now.toISOString()}
            order by next_attempt_at, id
            limit ${opts.limit}
            for update skip locked)
      returning d.id, d.webhook_id, d.event_id, d.envelope, d.attempts, d.queued_at, w.url, w.secret`,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    webhookId: r.webhook_id,
    eventId: r.event_id,
    envelope: r.envelope,
    attempts: r.attempts,
    queuedAt: new Date(r.queued_at),
    url: r.url,
    secret: r.secret,
  }));
}

export async function markDelivered(db: Queryable, id: number, statusCode: number, at: Date): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({ status: "delivered", lastStatusCode: statusCode, lastError: null, deliveredAt: at })
    .where(eq(webhookDeliveries.id, id));
}

/** A failed attempt: due again at `retryAt`, or failed for good when it is null. */
export async function markAttemptFailed(
  db: Queryable,
  id: number,
  outcome: { statusCode: number | null; error: string; retryAt: Date | null },
): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({
      lastStatusCode: outcome.statusCode,
      lastError: outcome.error.slice(0, 500),
      ...(outcome.retryAt ? { nextAttemptAt: outcome.retryAt } : { status: "failed" as const }),
    })
    .where(eq(webhookDeliveries.id, id));
}

/** Deletes delivered and failed deliveries queued before `before`. Answers how many. */
export async function pruneDeliveries(db: Queryable, before: Date): Promise<number> {
  const gone = await db
    .delete(webhookDeliveries)
    .where(and(inArray(webhookDeliveries.status, ["delivered", "failed"]), lt(webhookDeliveries.queuedAt, before)))
    .returning({ id: webhookDeliveries.id });
  return gone.length;
}

// ---- observability ----

export interface WebhookBacklog {
  /** Deliveries not yet delivered (never tried, or waiting for a retry). */
  pending: number;
  /** Of those, how many have failed at least once. */
  retrying: number;
  /** Deliveries that ran out of retries (kept, replayable). */
  failed: number;
  /** When the oldest undelivered delivery was queued; null when none is. */
  oldestPendingAt: Date | null;
}

const backlogColumns = {
  pending: sql<number>`count(*) filter (where ${webhookDeliveries.status} = 'pending')`.mapWith(Number),
  retrying:
    sql<number>`count(*) filter (where ${webhookDeliveries.status} = 'pending' and ${webhookDeliveries.attempts} > 0)`.mapWith(
      Number,
    ),
  failed: sql<number>`count(*) filter (where ${webhookDeliveries.status} = 'failed')`.mapWith(Number),
  oldestPendingAt: sql<
    string | null
  >`min(${webhookDeliveries.queuedAt}) filter (where ${webhookDeliveries.status} = 'pending')`,
};

const toBacklog = (r: { pending: number; retrying: number; failed: number; oldestPendingAt: string | null }) => ({
  pending: r.pending,
  retrying: r.retrying,
  failed: r.failed,
  oldestPendingAt: r.oldestPendingAt ? new Date(r.oldestPendingAt) : null,
});

/** Per webhook: its backlog (webhooks without deliveries are absent from the map). */
export async function webhookBacklogs(
  db: Queryable,
  webhookIds: readonly string[],
): Promise<Map<string, WebhookBacklog>> {
  if (webhookIds.length === 0) return new Map();
  const rows = await db
    .select({ webhookId: webhookDeliveries.webhookId, ...backlogColumns })
    .from(webhookDeliveries)
    .where(and(inArray(webhookDeliveries.webhookId, [...webhookIds]), ne(webhookDeliveries.status, "delivered")))
    .groupBy(webhookDeliveries.webhookId);
  return new Map(rows.map((r) => [r.webhookId, toBacklog(r)]));
}

/** Every webhook together, for /health: one aggregate over the pending and failed rows only. */
export async function webhookBacklogSummary(db: Queryable): Promise<WebhookBacklog & { webhooks: number }> {
  const [totals] = await db
    .select(backlogColumns)
    .from(webhookDeliveries)
    .where(ne(webhookDeliveries.status, "delivered"));
  const [registered] = await db.select({ n: count() }).from(webhooks);
  return {
    webhooks: registered?.n ?? 0,
    ...toBacklog(totals ?? { pending: 0, retrying: 0, failed: 0, oldestPendingAt: null }),
  };
}

/** The webhooks furthest behind (undelivered or failed deliveries), oldest undelivered first: an operator's view. */
export async function webhooksBehind(
  db: Queryable,
  limit: number,
): Promise<(WebhookBacklog & { id: string; events: string[]; users: number; lastError: string | null })[]> {
  const rows = await db
    .select({
      id: webhooks.id,
      events: webhooks.events,
      users: sql<number>`count(distinct ${webhookDeliveries.userId})`.mapWith(Number),
      lastError: sql<string | null>`max(${webhookDeliveries.lastError})`,
      ...backlogColumns,
    })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .where(ne(webhookDeliveries.status, "delivered"))
    .groupBy(webhooks.id)
    .orderBy(sql`min(${webhookDeliveries.queuedAt})`)
    .limit(limit);
  return rows.map((r) => ({ id: r.id, events: r.events, users: r.users, lastError: r.lastError, ...toBacklog(r) }));
}
