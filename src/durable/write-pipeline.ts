import type { Config } from "../config";
import { type Outcome, type Refusal, RefusedError, refusal } from "../contracts/outcomes";
import { type BucketState, takeToken } from "../domain/token-bucket";
import type { AlarmPlan } from "./alarm-plan";
import type { SocketHub } from "./socket-hub";
import type { UserStores } from "./stores";
import { buildSyncDocument } from "./sync-document";

export interface WriteOptions<T> {
  /** Rate-limit tokens the write costs; 0 for the object's own bookkeeping. */
  cost?: number;
  /** The device that made the change: its own sockets are not sent the push. */
  origin?: string | null | ((value: T) => string | null);
}

/**
 * The one way the user's state changes: the write budget (a token bucket kept in storage, so a
 * restart does not refill it) → one SQLite transaction → the change pushed to the user's other
 * devices → the alarm set for whatever the write made due (its events, above all).
 */
export class WritePipeline {
  private bucket: BucketState | null = null;

  constructor(
    private readonly deps: {
      storage: DurableObjectStorage;
      stores: UserStores;
      hub: SocketHub;
      alarms: AlarmPlan;
      config: Config;
    },
  ) {}

  /**
   * Runs one mutation. A refusal (429 over budget, or one the mutation throws as RefusedError)
   * is returned, and nothing is written.
   */
  async write<T>(mutation: (now: number) => T, opts: WriteOptions<T> = {}): Promise<Outcome<T>> {
    const now = Date.now();
    const limited = this.takeWriteTokens(opts.cost ?? 1, now);
    if (limited) return limited;
    const before = this.deps.stores.changes.head;
    let value: T;
    try {
      value = this.transaction(() => mutation(now));
    } catch (error) {
      if (error instanceof RefusedError) return error.refusal;
      throw error;
    }
    this.pushAfter(before, typeof opts.origin === "function" ? opts.origin(value) : (opts.origin ?? null));
    await this.deps.alarms.schedule();
    return { refused: false, value };
  }

  /** One SQLite transaction; the server clock is saved with it. */
  transaction<T>(work: () => T): T {
    return this.deps.storage.transactionSync(() => {
      const result = work();
      this.deps.stores.clock.save();
      return result;
    });
  }

  /** Sends the changes after `afterSeq` to every socket except the originating device's. */
  pushAfter(afterSeq: number, origin: string | null): void {
    const { stores, hub } = this.deps;
    if (stores.changes.head <= afterSeq) return;
    hub.broadcast(() => ({ type: "change", ...buildSyncDocument(stores, afterSeq, hub.connectedDevices()) }), origin);
  }

  /** The per-user write budget; null when the write may go ahead. */
  private takeWriteTokens(cost: number, now: number): Refusal | null {
    if (cost <= 0) return null;
    const { config, stores } = this.deps;
    const rule = { perSecond: config.RATE_LIMIT_WRITES_PER_MINUTE / 60, burst: config.RATE_LIMIT_BURST };
    if (!this.bucket) {
      const saved = stores.meta.get("write_bucket");
      this.bucket = saved ? (JSON.parse(saved) as BucketState) : null;
    }
    const decision = takeToken(this.bucket, now, rule, Math.min(cost, rule.burst));
    this.bucket = decision.state;
    stores.meta.set("write_bucket", JSON.stringify(decision.state));
    if (decision.allowed) return null;
    return refusal(429, "rate-limited", "too many writes for this user; slow down", {
      retry_after_seconds: decision.retryAfterSeconds,
    });
  }
}
