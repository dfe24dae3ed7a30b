import type { EventEnvelope } from "../../contracts/events";

/** Queues limits: 100 messages and 256 KB per sendBatch. Stay below both. */
const MAX_BATCH_MESSAGES = 100;
const MAX_BATCH_BYTES = 200_000;
/** Batches sent per target and alarm run before yielding to requests; the alarm runs again at once. */
const MAX_BATCHES_PER_RUN = 20;
/** Rows read per step: a filtered target skips rows of other types this many at a time. */
const ROWS_PER_STEP = 500;

/** The mirror's queue: the service's own consumer (Postgres) reads it. */
export const MIRROR_TARGET = "EVENTS";

/** Where the outbox delivers: a queue binding and the event types it takes ("*": every type). */
export interface OutboxTarget {
  name: string;
  types: readonly string[];
}

export interface OutboxDrainResult {
  sent: number;
  remaining: number;
  failed: boolean;
}

/** One target's backlog, as the object sees it: what has not reached that queue yet. */
export interface TargetBacklog {
  target: string;
  /** Events of the target's types not delivered yet. */
  pending: number;
  /** When the oldest of them was written (ms), or null. */
  oldest_at: number | null;
  /** Sends refused in a row (0: the last send went through). */
  attempts: number;
  /** Sends refused since the object's storage has targets. */
  failures: number;
  next_at: number;
  last_error: string | null;
}

type TargetRow = {
  target: string;
  cursor: number;
  attempts: number;
  next_at: number;
  failures: number;
  last_error: string | null;
  reported: number;
};

type QueueOf = (target: string) => Queue<EventEnvelope> | undefined;

/**
 * Transactional outbox in the Durable Object's SQLite: events are appended in the same
 * transaction as the state they describe, and the alarm delivers them in order to every target
 * (the mirror's queue and each subscriber queue). Each target has its own cursor, attempts and
 * backoff, so a target that refuses for hours holds back no other; a row is deleted once every
 * target has passed it. A target that appears in the configuration starts at the outbox's tail
 * (events written before it existed are not sent to it); a target that leaves it holds no row.
 */
export class Outbox {
  readonly #targets: readonly OutboxTarget[];

  /** `lingerMs`: how long an event may wait for others to share its queue send. */
  constructor(
    private readonly sql: SqlStorage,
    private readonly lingerMs = 0,
    targets: readonly OutboxTarget[] = [{ name: MIRROR_TARGET, types: ["*"] }],
  ) {
    this.#targets = targets;
    this.#syncTargets();
  }

  /** Call inside the transaction that changes the state the event describes. */
  append(event: EventEnvelope): void {
    const body = JSON.stringify(event);
    // Bytes of UTF-8, not string length: non-Latin text is up to 3 bytes per character.
    this.sql.exec(
      "INSERT INTO outbox (body, at, bytes, type) VALUES (?, ?, length(CAST(? AS BLOB)), ?)",
      body,
      Date.now(),
      body,
      event.type,
    );
  }

  /** Rows held: events some target has not passed yet. */
  get size(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
  }

  /** The held events' size in UTF-8 bytes. */
  get bytes(): number {
    return this.sql.exec<{ b: number | null }>("SELECT sum(bytes) AS b FROM outbox").one().b ?? 0;
  }

  /** When the alarm should next drain, or null when no target has anything pending. */
  nextAt(): number | null {
    let next: number | null = null;
    for (const row of this.#rows()) {
      const at = this.#dueAt(row);
      if (at !== null && (next === null || at < next)) next = at;
    }
    return next;
  }

  /** Delivers what is due to every target, each on its own; the targets' sends run side by side. */
  async drain(queueOf: QueueOf, now: number, maxBackoffSeconds: number): Promise<OutboxDrainResult> {
    const due = this.#rows().filter((row) => {
      const at = this.#dueAt(row);
      return at !== null && at <= now;
    });
    const results = await Promise.all(due.map((row) => this.#drainTarget(row, queueOf, now, maxBackoffSeconds)));
    this.#prune();
    return {
      sent: results.reduce((sum, r) => sum + r.sent, 0),
      remaining: this.size,
      failed: results.some((r) => r.failed),
    };
  }

  /** Every target's backlog (pending events of its types, the oldest's age, refusals). */
  backlog(): TargetBacklog[] {
    return this.#rows().map((row) => {
      const { where, params } = this.#typeFilter(row.target);
      const pending = this.sql
        .exec<{ n: number; oldest: number | null }>(
          `SELECT count(*) AS n, min(at) AS oldest FROM outbox WHERE seq > ?${where}`,
          row.cursor,
          ...params,
        )
        .one();
      return {
        target: row.target,
        pending: pending.n,
        oldest_at: pending.oldest,
        attempts: row.attempts,
        failures: row.failures,
        next_at: row.next_at,
        last_error: row.last_error,
      };
    });
  }

  /**
   * The backlogs worth telling the service-wide monitor about: targets being refused, and those
   * reported before that have caught up since (once). A healthy outbox reports nothing.
   */
  backlogToReport(): TargetBacklog[] {
    const reported = new Set(
      this.#rows()
        .filter((r) => r.reported === 1)
        .map((r) => r.target),
    );
    return this.backlog().filter((b) => b.attempts > 0 || reported.has(b.target));
  }

  /** Records what the monitor now knows: a target still behind stays reported until it catches up. */
  markReported(backlogs: readonly TargetBacklog[]): void {
    for (const b of backlogs) {
      this.sql.exec("UPDATE outbox_targets SET reported = ? WHERE target = ?", b.pending > 0 ? 1 : 0, b.target);
    }
  }

  // ---- internals ----

  #rows(): TargetRow[] {
    return this.sql.exec<TargetRow>("SELECT * FROM outbox_targets ORDER BY target").toArray();
  }

  #dueAt(row: TargetRow): number | null {
    const oldest = this.sql
      .exec<{ at: number | null }>("SELECT min(at) AS at FROM outbox WHERE seq > ?", row.cursor)
      .one().at;
    if (oldest === null) return null;
    return Math.max(row.next_at, oldest + this.lingerMs);
  }

  #typesOf(target: string): ReadonlySet<string> | null {
    const types = this.#targets.find((t) => t.name === target)?.types ?? ["*"];
    return types.includes("*") ? null : new Set(types);
  }

  #typeFilter(target: string): { where: string; params: string[] } {
    const types = this.#typesOf(target);
    if (types === null) return { where: "", params: [] };
    return { where: ` AND type IN (${[...types].map(() => "?").join(", ")})`, params: [...types] };
  }

  async #drainTarget(
    row: TargetRow,
    queueOf: QueueOf,
    now: number,
    maxBackoffSeconds: number,
  ): Promise<{ sent: number; failed: boolean }> {
    const types = this.#typesOf(row.target);
    let cursor = row.cursor;
    let sent = 0;
    for (let run = 0; run < MAX_BATCHES_PER_RUN; run++) {
      const rows = this.sql
        .exec<{ seq: number; body: string; bytes: number; type: string }>(
          "SELECT seq, body, bytes, type FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
          cursor,
          ROWS_PER_STEP,
        )
        .toArray();
      if (rows.length === 0) break;
      const batch: typeof rows = [];
      let bytes = 0;
      let last = cursor;
      for (const r of rows) {
        if (types !== null && !types.has(r.type)) {
          last = r.seq; // not this target's: passed over
          continue;
        }
        if (batch.length === MAX_BATCH_MESSAGES || (batch.length > 0 && bytes + r.bytes > MAX_BATCH_BYTES)) break;
        batch.push(r);
        bytes += r.bytes;
        last = r.seq;
      }
      if (batch.length > 0) {
        try {
          const queue = queueOf(row.target);
          if (!queue) throw new Error(`no queue is bound as ${row.target}`);
          await queue.sendBatch(batch.map((r) => ({ body: JSON.parse(r.body) as EventEnvelope, contentType: "json" })));
        } catch (error) {
          const current = this.sql
            .exec<{ attempts: number }>("SELECT attempts FROM outbox_targets WHERE target = ?", row.target)
            .one();
          const delay = Math.min(maxBackoffSeconds, 2 ** Math.min(current.attempts, 20)) * 1000;
          this.sql.exec(
            "UPDATE outbox_targets SET attempts = attempts + 1, failures = failures + 1, next_at = ?, last_error = ? WHERE target = ?",
            now + delay,
            String(error).slice(0, 500),
            row.target,
          );
          return { sent, failed: true };
        }
      }
      cursor = last;
      this.sql.exec(
        "UPDATE outbox_targets SET cursor = ?, attempts = 0, next_at = 0 WHERE target = ?",
        cursor,
        row.target,
      );
      sent += batch.length;
    }
    return { sent, failed: false };
  }

  /** Rows every target has passed go. */
  #prune(): void {
    const { low } = this.sql.exec<{ low: number | null }>("SELECT min(cursor) AS low FROM outbox_targets").one();
    if (low === null) return;
    this.sql.exec("DELETE FROM outbox WHERE seq <= ?", low);
  }

  /** Targets new to the configuration start at the tail; targets gone from it stop holding rows. */
  #syncTargets(): void {
    const names = this.#targets.map((t) => t.name);
    // Every row up to the greatest cursor was delivered, so the tail is past both.
    const tail = this.sql
      .exec<{ tail: number }>(
        "SELECT max(coalesce((SELECT max(seq) FROM outbox), 0), coalesce((SELECT max(cursor) FROM outbox_targets), 0)) AS tail",
      )
      .one().tail;
    const known = new Set(this.#rows().map((r) => r.target));
    for (const name of names) {
      if (!known.has(name)) this.sql.exec("INSERT INTO outbox_targets (target, cursor) VALUES (?, ?)", name, tail);
    }
    const gone = [...known].filter((name) => !names.includes(name));
    for (const name of gone) this.sql.exec("DELETE FROM outbox_targets WHERE target = ?", name);
    if (gone.length > 0) this.#prune();
  }
}
