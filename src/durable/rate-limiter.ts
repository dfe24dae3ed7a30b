import { DurableObject } from "cloudflare:workers";
import { type BucketRule, type BucketState, takeToken } from "../domain/token-bucket";
import type { Env } from "../env";
import { MigratedStorage, migrate } from "./migrate";
import { rateLimiterMigrations } from "./migrations/rate-limiter";

export interface RateDecision {
  allowed: boolean;
  retryAfterSeconds: number;
}

/**
 * One token bucket per key (a client address, an account), named `idFromName(key)`. The bucket
 * lives in SQLite so a restart does not hand an attacker a fresh burst; once it would be full
 * again the object deletes its storage, so idle keys cost nothing.
 */
export class RateLimiter extends DurableObject<Env> {
  private readonly storage: MigratedStorage;
  private state: BucketState | null = null;
  private readState: BucketState | null = null;
  /** False after the alarm deleted everything: the next take migrates the empty storage again. */
  private schemaReady = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.storage = new MigratedStorage(ctx, rateLimiterMigrations, "RateLimiter", () => {
      this.schemaReady = true;
      const row = ctx.storage.sql
        .exec<{ tokens: number; updated_at: number }>("SELECT tokens, updated_at FROM bucket")
        .toArray()[0];
      this.state = row ? { tokens: row.tokens, updatedAt: row.updated_at } : null;
    });
  }

  async take(rule: BucketRule, cost = 1): Promise<RateDecision> {
    this.storage.check();
    if (!this.schemaReady) {
      migrate(this.ctx.storage, rateLimiterMigrations);
      this.schemaReady = true;
    }
    const now = Date.now();
    const decision = takeToken(this.state, now, rule, cost);
    this.state = decision.state;
    this.ctx.storage.sql.exec(
      "INSERT INTO bucket (id, tokens, updated_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at",
      decision.state.tokens,
      decision.state.updatedAt,
    );
    const fullAt = now + Math.ceil(((rule.burst - decision.state.tokens) / rule.perSecond) * 1000);
    await this.ctx.storage.setAlarm(fullAt);
    return { allowed: decision.allowed, retryAfterSeconds: decision.retryAfterSeconds };
  }

  /**
   * A read bucket (anonymous reads per client address): the same token bucket, kept in memory
   * only, so a read writes nothing. An object is evicted only after seconds without calls, by
   * which time the bucket has mostly refilled; an address busy enough to matter keeps it loaded.
   */
  async takeRead(rule: BucketRule): Promise<RateDecision> {
    const decision = takeToken(this.readState, Date.now(), rule);
    this.readState = decision.state;
    return { allowed: decision.allowed, retryAfterSeconds: decision.retryAfterSeconds };
  }

  /** The bucket is full again: forget the key entirely. */
  override async alarm(): Promise<void> {
    this.state = null;
    this.schemaReady = false;
    await this.ctx.storage.deleteAll();
  }
}
