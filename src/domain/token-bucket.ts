/** A token bucket: `burst` tokens, refilled at `perSecond`. Pure: the caller stores the state. */
export interface BucketState {
  tokens: number;
  updatedAt: number;
}

export interface BucketRule {
  perSecond: number;
  burst: number;
}

export interface BucketDecision {
  allowed: boolean;
  state: BucketState;
  /** Whole seconds until one token is back (for Retry-After); 0 when allowed. */
  retryAfterSeconds: number;
}

export function takeToken(state: BucketState | null, now: number, rule: BucketRule, cost = 1): BucketDecision {
  const previous = state ?? { tokens: rule.burst, updatedAt: now };
  const elapsed = Math.max(0, now - previous.updatedAt) / 1000;
  const tokens = Math.min(rule.burst, previous.tokens + elapsed * rule.perSecond);
  if (tokens >= cost) return { allowed: true, state: { tokens: tokens - cost, updatedAt: now }, retryAfterSeconds: 0 };
  return {
    allowed: false,
    state: { tokens, updatedAt: now },
    retryAfterSeconds: Math.max(1, Math.ceil((cost - tokens) / rule.perSecond)),
  };
}
