import { makeEvent } from "../../contracts/events";
import { encodeHlc } from "../../domain/hlc";
import type { StoreContext } from "./context";

export interface Exposure {
  experiment_id: string;
  variant: string;
  bucket: number;
}

/**
 * The experiments this user has been shown, in the Durable Object's SQLite: the first exposure
 * emits `experiment-exposure` through the outbox; a repeat of the same variant emits nothing.
 */
export class ExposureStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly ctx: StoreContext,
  ) {}

  /** True when this exposure is news (first one, or a weight change moved the user). Call in a transaction. */
  record(exposure: Exposure, now: number): boolean {
    const seen = this.sql
      .exec<{ variant: string; first_at: number }>(
        "SELECT variant, first_at FROM experiment_exposures WHERE experiment_id = ?",
        exposure.experiment_id,
      )
      .toArray()[0];
    if (seen?.variant === exposure.variant) return false;
    const firstAt = seen?.first_at ?? now;
    this.sql.exec(
      `INSERT INTO experiment_exposures (experiment_id, variant, bucket, first_at, at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (experiment_id) DO UPDATE SET variant = excluded.variant, bucket = excluded.bucket, at = excluded.at`,
      exposure.experiment_id,
      exposure.variant,
      exposure.bucket,
      firstAt,
      now,
    );
    this.ctx.outbox.append(
      makeEvent(
        "experiment-exposure",
        this.ctx.userId,
        encodeHlc(this.ctx.clock.tick()),
        { ...exposure, first_exposed_at: new Date(firstAt).toISOString() },
        new Date(now),
      ),
    );
    return true;
  }
}
