/**
 * When a webhook delivery that did not succeed is tried again: exponential backoff from
 * `baseSeconds`, each wait capped at `maxDelaySeconds`, for `windowSeconds` after the event was
 * first queued; after that the delivery is failed (and kept, to be replayed).
 */
export interface RetryPolicy {
  baseSeconds: number;
  maxDelaySeconds: number;
  windowSeconds: number;
}

export type NextStep = { kind: "retry"; at: Date } | { kind: "fail" };

/** The wait before attempt `attempts + 1`, given `attempts` tries so far (1 or more). */
export const retryDelaySeconds = (policy: RetryPolicy, attempts: number) =>
  Math.min(policy.maxDelaySeconds, policy.baseSeconds * 2 ** Math.min(Math.max(attempts - 1, 0), 30));

/** What follows a failed attempt: the next try, or failure when it would fall past the window. */
export function afterFailure(policy: RetryPolicy, attempts: number, queuedAt: Date, now: Date): NextStep {
  const at = new Date(now.getTime() + retryDelaySeconds(policy, attempts) * 1000);
  if (at.getTime() - queuedAt.getTime() > policy.windowSeconds * 1000) return { kind: "fail" };
  return { kind: "retry", at };
}

/** The offsets (seconds after queueing) of every try under the policy, when every try fails at once. */
export function retrySchedule(policy: RetryPolicy): number[] {
  const offsets = [0];
  let t = 0;
  for (let attempts = 1; attempts < 1000; attempts++) {
    t += retryDelaySeconds(policy, attempts);
    if (t > policy.windowSeconds) break;
    offsets.push(t);
  }
  return offsets;
}
