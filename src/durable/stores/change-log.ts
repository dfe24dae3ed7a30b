export type ChangeKind = "progress" | "watchlist" | "device" | "rating" | "hidden" | "play";

export interface Change {
  seq: number;
  kind: ChangeKind;
  key: string;
}

/**
 * The user's change sequence for delta sync: one row per (kind, key), carrying the sequence
 * number of its latest change. A client that synced up to `seq` needs the current state of
 * every key changed after it. Rows of keys that no longer exist are pruned after a while; the
 * horizon is the greatest pruned seq, and a cursor before it gets a full state instead.
 */
export class ChangeLog {
  constructor(private readonly sql: SqlStorage) {}

  // Read from storage every time (cheap, by primary key), so a rolled-back write leaves no trace.

  /** The seq of the latest change: what a client that has everything holds as its cursor. */
  get head(): number {
    const max = this.sql.exec<{ s: number | null }>("SELECT max(seq) AS s FROM changes").one().s ?? 0;
    return Math.max(max, this.horizon);
  }

  get horizon(): number {
    return this.sql.exec<{ horizon: number }>("SELECT horizon FROM change_log_state").one().horizon;
  }

  /** Records a change inside the write's transaction; earlier rows of the same key are superseded. */
  record(kind: ChangeKind, key: string, hlc: string, now: number): number {
    this.sql.exec("DELETE FROM changes WHERE kind = ? AND key = ?", kind, key);
    return this.sql
      .exec<{ seq: number }>(
        "INSERT INTO changes (kind, key, hlc, at) VALUES (?, ?, ?, ?) RETURNING seq",
        kind,
        key,
        hlc,
        now,
      )
      .one().seq;
  }

  /** Keys changed after `seq`, in change order. */
  since(seq: number): Change[] {
    return this.sql
      .exec<{ seq: number; kind: ChangeKind; key: string }>(
        "SELECT seq, kind, key FROM changes WHERE seq > ? ORDER BY seq",
        seq,
      )
      .toArray();
  }

  /**
   * Forgets the rows of keys that no longer exist (`gone`) once every device has synced past
   * them (`seq <= stableSeq`) or they are older than `oldestAt`. Returns how many rows went.
   */
  prune(gone: (kind: ChangeKind, key: string) => boolean, stableSeq: number | null, oldestAt: number): number {
    const candidates = this.sql
      .exec<{ seq: number; kind: ChangeKind; key: string }>(
        "SELECT seq, kind, key FROM changes WHERE seq <= ? OR at <= ?",
        stableSeq ?? -1,
        oldestAt,
      )
      .toArray()
      .filter((row) => gone(row.kind, row.key));
    if (candidates.length === 0) return 0;
    let horizon = this.horizon;
    for (const row of candidates) {
      this.sql.exec("DELETE FROM changes WHERE seq = ?", row.seq);
      horizon = Math.max(horizon, row.seq);
    }
    this.sql.exec("UPDATE change_log_state SET horizon = ?", horizon);
    return candidates.length;
  }

  get size(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM changes").one().n;
  }
}
