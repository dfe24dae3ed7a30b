import { type Refusal, refusal } from "../contracts/outcomes";
import { type BucketRule, type BucketState, takeToken } from "../domain/token-bucket";

/**
 * The user's read budget: a token bucket charged by every read the Worker makes on the user's
 * behalf, taken in the call to this object the read makes anyway; the Worker passes the rule
 * (its settings). Kept in memory only: a read writes nothing, and an object is evicted only
 * after seconds without calls, by which time the bucket has mostly refilled.
 */
export class ReadBudget {
  private bucket: BucketState | null = null;

  /** Null when the read may go ahead, else its 429 refusal. */
  take(rule: BucketRule, now = Date.now()): Refusal | null {
    const decision = takeToken(this.bucket, now, rule);
    this.bucket = decision.state;
    if (decision.allowed) return null;
    return refusal(429, "rate-limited", "too many reads for this user; slow down", {
      retry_after_seconds: decision.retryAfterSeconds,
    });
  }
}
