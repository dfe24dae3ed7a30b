import type { Config } from "../config";
import { HttpProblem } from "../contracts/problems";
import { addressKey } from "../domain/client-address";
import type { BucketRule } from "../domain/token-bucket";
import type { Env } from "../env";

/**
 * Login and register attempts: first per client address, then per account. The account bucket
 * is only charged for attempts the address limit let through, so one noisy address cannot lock
 * an account out by itself.
 */
export async function limitAuthAttempts(env: Env, config: Config, ip: string | undefined, email: string) {
  const buckets = [
    {
      key: `ip:${addressKey(ip ?? "unknown")}`,
      rule: { burst: config.AUTH_IP_BURST, perSecond: config.AUTH_IP_PER_MINUTE / 60 },
    },
    {
      key: `account:${email}`,
      rule: { burst: config.AUTH_ACCOUNT_BURST, perSecond: config.AUTH_ACCOUNT_PER_HOUR / 3600 },
    },
  ];
  for (const { key, rule } of buckets) await limitAttempts(env, key, rule);
}

/** Takes one attempt from the bucket of `key`: a 429 with Retry-After when it is empty. */
export async function limitAttempts(env: Env, key: string, rule: BucketRule): Promise<void> {
  const limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(key));
  const decision = await limiter.take(rule);
  if (!decision.allowed) {
    throw new HttpProblem(429, "rate-limited", `too many attempts; retry in ${decision.retryAfterSeconds} s`, {
      headers: { "retry-after": String(decision.retryAfterSeconds) },
    });
  }
}
