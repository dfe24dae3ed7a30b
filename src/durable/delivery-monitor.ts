import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { MigratedStorage } from "./migrate";
import { deliveryMonitorMigrations } from "./migrations/delivery-monitor";
import type { TargetBacklog } from "./stores/outbox";

/** One delivery target's figures across every user. */
export interface TargetSummary {
  target: string;
  /** Users whose object holds events this target has not received. */
  users_behind: number;
  pending: number;
  /** Age in seconds of the oldest event not delivered yet; 0 when nothing is behind. */
  lag_seconds: number;
  /** Refused sends, summed over the users' objects that ever reported one. */
  failures: number;
  last_error: string | null;
}

/** A caught-up user's row is forgotten this long after its last report (its failures leave the sums). */
const FORGET_AFTER_MS = 7 * 86_400_000;

/**
 * The service-wide view of event delivery (one object, `idFromName("events")`). A user's object
 * reports its per-target backlog only while a target refuses it and once more when it caught up,
 * so a healthy stream costs nothing here; `/health` and the admin route read one summary.
 */
export class DeliveryMonitor extends DurableObject<Env> {
  readonly #storage: MigratedStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#storage = new MigratedStorage(ctx, deliveryMonitorMigrations, "DeliveryMonitor", () => {});
  }

  async report(userId: string, backlogs: TargetBacklog[], now = Date.now()): Promise<void> {
    this.#storage.check();
    const sql = this.ctx.storage.sql;
    for (const b of backlogs) {
      sql.exec(
        `INSERT INTO backlog (user_id, target, pending, oldest_at, attempts, failures, last_error, reported_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (target, user_id) DO UPDATE SET pending = excluded.pending, oldest_at = excluded.oldest_at,
           attempts = excluded.attempts, failures = excluded.failures, last_error = excluded.last_error,
           reported_at = excluded.reported_at`,
        userId,
        b.target,
        b.pending,
        b.pending > 0 ? b.oldest_at : null,
        b.attempts,
        b.failures,
        b.last_error,
        now,
      );
    }
    sql.exec("DELETE FROM backlog WHERE pending = 0 AND reported_at < ?", now - FORGET_AFTER_MS);
  }

  /** Per target: users behind, pending events, the oldest's age, refusals. */
  async summary(now = Date.now()): Promise<TargetSummary[]> {
    this.#storage.check();
    const rows = this.ctx.storage.sql
      .exec<{ target: string; behind: number; pending: number; oldest: number | null; failures: number }>(
        `SELECT target, sum(pending > 0) AS behind, sum(pending) AS pending,
                min(CASE WHEN pending > 0 THEN oldest_at END) AS oldest, sum(failures) AS failures
         FROM backlog GROUP BY target ORDER BY target`,
      )
      .toArray();
    return rows.map((r) => ({
      target: r.target,
      users_behind: r.behind,
      pending: r.pending,
      lag_seconds: r.oldest === null ? 0 : Math.max(0, Math.round((now - r.oldest) / 1000)),
      failures: r.failures,
      last_error:
        this.ctx.storage.sql
          .exec<{ e: string | null }>(
            "SELECT last_error AS e FROM backlog WHERE target = ? AND pending > 0 ORDER BY reported_at DESC LIMIT 1",
            r.target,
          )
          .toArray()[0]?.e ?? null,
    }));
  }
}
