/** The replayable event log: every event the consumer applied, in commit order, for a retention window. */
import { sql } from "drizzle-orm";
import type { EventEnvelope } from "../contracts/events";
import { type Queryable, run } from "./client";

/**
 * Held from the log's append to the commit of the consumer's transaction: `seq` values are
 * drawn in commit order, so a reader that saw `seq` n never later finds a committed row below n
 * (with bigserial alone, a transaction that drew n and commits after n+1's would be skipped).
 */
const EVENT_LOG_LOCK = 0x6576_6c6f; // "evlo"

export interface LoggedEvent {
  seq: number;
  envelope: EventEnvelope;
}

/**
 * Appends events inside the consumer's transaction, last thing before its commit. An event
 * already logged (a redelivery) keeps its place. Returns how many rows were added.
 */
export async function appendEventLog(tx: Queryable, events: readonly EventEnvelope[]): Promise<number> {
  if (events.length === 0) return 0;
  // Per user, hlc order; an event's place in the log is its commit, so a batch keeps that order.
  const ordered = [...events].sort((a, b) => (a.hlc < b.hlc ? -1 : a.hlc > b.hlc ? 1 : 0));
  await run(tx, sql`select pg_advisory_xact_lock(${EVENT_LOG_LOCK})`);
  const values = ordered.map(
    (e, i) => sql`(${e.event_id}, ${e.type}, ${e.user_id}, ${e.hlc}, ${JSON.stringify(e)}::jsonb, ${i}::int)`,
  );
  const { rowCount } = await run(
    tx,
    sql`insert into event_log (event_id, type, user_id, hlc, envelope)
        select event_id, type, user_id, hlc, envelope
        from (values ${sql.join(values, sql`, `)}) as v (event_id, type, user_id, hlc, envelope, ord)
        order by ord
        on conflict (event_id) do nothing`,
  );
  return rowCount;
}

/** Log entries after `after` (up to `until`), oldest first, optionally of one type or one user. */
export async function readEventLog(
  db: Queryable,
  opts: { after: number; until?: number | null; type?: string | null; userId?: string | null; limit: number },
): Promise<LoggedEvent[]> {
  const filters = [sql`seq > ${opts.after}`];
  if (opts.until != null) filters.push(sql`seq <= ${opts.until}`);
  if (opts.type) filters.push(sql`type = ${opts.type}`);
  if (opts.userId) filters.push(sql`user_id = ${opts.userId}`);
  const { rows } = await run<{ seq: string | number; envelope: EventEnvelope | string }>(
    db,
    sql`select seq, envelope from event_log where ${sql.join(filters, sql` and `)} order by seq limit ${opts.limit}`,
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    envelope: typeof r.envelope === "string" ? (JSON.parse(r.envelope) as EventEnvelope) : r.envelope,
  }));
}

/** Entries logged more than `days` ago go (the hourly job). Returns how many. */
export async function deleteExpiredEvents(db: Queryable, days: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  const { rowCount } = await run(db, sql`delete from event_log where logged_at < ${cutoff}::timestamptz`);
  return rowCount;
}
