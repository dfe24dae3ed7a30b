import type { EventEnvelope } from "../../contracts/events";

/** Queues limits: 100 messages and 256 KB per sendBatch. Stay below both. */
const MAX_BATCH_MESSAGES = 100;
const MAX_BATCH_BYTES = 200_000;
/** Batches sent per alarm run before yielding to requests; the alarm runs again at once. */
const MAX_BATCHES_PER_RUN = 20;

export interface OutboxDrainResult {
  sent: number;
  remaining: number;
  failed: boolean;
}

/**
 * Transactional outbox in the Durable Object's SQLite: events are appended in the same
 * transaction as the state they describe, and drained in order by the alarm.
 */
export class Outbox {
  /** `lingerMs`: how long an event may wait for others to share its queue send. */
  constructor(
    private readonly sql: SqlStorage,
    private readonly lingerMs = 0,
  ) {}

  /** Call inside the transaction that changes the state the event describes. */
  append(event: EventEnvelope): void {
    const body = JSON.stringify(event);
    // Bytes of UTF-8, not string length: non-Latin text is up to 3 bytes per character.
    this.sql.exec(
      "INSERT INTO outbox (body, at, bytes) VALUES (?, ?, length(CAST(? AS BLOB)))",
      body,
      Date.now(),
      body,
    );
  }

  get size(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
  }

  /** The pending events' size in UTF-8 bytes. */
  get bytes(): number {
    return this.sql.exec<{ b: number | null }>("SELECT sum(bytes) AS b FROM outbox").one().b ?? 0;
  }

  /** When the alarm should next drain, or null when the outbox is empty. */
  nextAt(): number | null {
    const oldest = this.sql.exec<{ at: number | null }>("SELECT min(at) AS at FROM outbox").one().at;
    if (oldest === null) return null;
    const backoff = this.sql.exec<{ next_at: number }>("SELECT next_at FROM outbox_state").one().next_at;
    return Math.max(backoff, oldest + this.lingerMs);
  }

  async drain(queue: Queue<EventEnvelope>, now: number, maxBackoffSeconds: number): Promise<OutboxDrainResult> {
    let sent = 0;
    for (let run = 0; run < MAX_BATCHES_PER_RUN; run++) {
      const rows = this.sql
        .exec<{ seq: number; body: string; bytes: number }>(
          "SELECT seq, body, bytes FROM outbox ORDER BY seq LIMIT ?",
          MAX_BATCH_MESSAGES,
        )
        .toArray();
      if (rows.length === 0) break;
      const batch: typeof rows = [];
      let bytes = 0;
      for (const row of rows) {
        if (batch.length > 0 && bytes + row.bytes > MAX_BATCH_BYTES) break;
        batch.push(row);
        bytes += row.bytes;
      }
      try {
        await queue.sendBatch(
          batch.map((row) => ({ body: JSON.parse(row.body) as EventEnvelope, contentType: "json" })),
        );
      } catch {
        const { attempts } = this.sql.exec<{ attempts: number }>("SELECT attempts FROM outbox_state").one();
        const delay = Math.min(maxBackoffSeconds, 2 ** Math.min(attempts, 20)) * 1000;
        this.sql.exec("UPDATE outbox_state SET attempts = ?, next_at = ?", attempts + 1, now + delay);
        return { sent, remaining: this.size, failed: true };
      }
      const last = batch[batch.length - 1] as { seq: number };
      this.sql.exec("DELETE FROM outbox WHERE seq <= ?", last.seq);
      this.sql.exec("UPDATE outbox_state SET attempts = 0, next_at = 0");
      sent += batch.length;
    }
    return { sent, remaining: this.size, failed: false };
  }
}
