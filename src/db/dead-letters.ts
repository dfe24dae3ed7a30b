/** Messages no consumer could use, kept in Postgres with the reason, until an operator replays them. */
import { and, asc, gt, inArray, isNull, sql } from "drizzle-orm";
import type { Queryable } from "./client";
import { deadLetters } from "./schema";

export interface DeadLetterRecord {
  queue: string;
  messageId: string;
  reason: string;
  body: unknown;
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

/** Keeps messages; one already kept (same queue and message id) stays as it was. */
export async function insertDeadLetters(db: Queryable, records: readonly DeadLetterRecord[]): Promise<void> {
  await db
    .insert(deadLetters)
    .values(records.map((r) => ({ queue: r.queue, messageId: r.messageId, reason: r.reason, body: r.body })))
    .onConflictDoNothing();
}

/** Not yet replayed, after `afterId`, oldest first; only `ids` when given. */
export async function pendingDeadLetters(
  db: Queryable,
  opts: { ids?: number[] | undefined; afterId: number; limit: number },
): Promise<{ id: number; body: unknown }[]> {
  const pending = and(isNull(deadLetters.replayedAt), gt(deadLetters.id, opts.afterId));
  return db
    .select({ id: deadLetters.id, body: deadLetters.body })
    .from(deadLetters)
    .where(opts.ids ? and(pending, inArray(deadLetters.id, opts.ids)) : pending)
    .orderBy(asc(deadLetters.id))
    .limit(opts.limit);
}

export async function markReplayed(db: Queryable, ids: readonly number[]): Promise<void> {
  await db
    .update(deadLetters)
    .set({ replayedAt: sql`now()` })
    .where(inArray(deadLetters.id, [...ids]));
}

/** Dead letters by id, after `afterId`; `pendingOnly` hides those already replayed. */
export async function listDeadLetters(
  db: Queryable,
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
