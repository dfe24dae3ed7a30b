/**
 * Read rate limits. Every read is charged to one token bucket:
 * - with a token, the user's (`ReadBudget` in their UserState), taken in the call the request
 *   makes to that object anyway (the family check, or the route's own call: see auth.ts);
 * - without one, the client address's (a RateLimiter object per address, kept in memory).
 * The check runs alongside the handler and its answer is withheld until the check passed. Once
 * a bucket refused, this isolate refuses that user or address at once until its Retry-After has
 * passed, so a client that keeps calling costs neither a handler nor a Durable Object call.
 */
import type { Context, Next } from "hono";
import { createMiddleware } from "hono/factory";
import type { Config } from "./config";
import { HttpProblem } from "./contracts/problems";
import { addressKey } from "./domain/client-address";
import type { BucketRule } from "./domain/token-bucket";
import { type App, configOf } from "./env";

const SAFE_METHODS = new Set(["GET", "HEAD"]);

/** Whether the request is a read: a GET, or a POST route marked with `readOperation`. */
export const isRead = (c: Context<App>) => SAFE_METHODS.has(c.req.method) || c.get("read") === true;

/** Marks a POST route that only reads (search, recommendations, scores): it is charged as a read. */
export const readOperation = createMiddleware<App>(async (c, next) => {
  c.set("read", true);
  await next();
});

export const userReadKey = (sub: string) => `user:${sub}`;

/** The per-user read bucket, or null when it is off (0 per minute). */
export const userReadRule = (config: Config): BucketRule | null =>
  config.RATE_LIMIT_READS_PER_MINUTE > 0
    ? { burst: config.RATE_LIMIT_READ_BURST, perSecond: config.RATE_LIMIT_READS_PER_MINUTE / 60 }
    : null;

// ---- refusals this isolate remembers ----

const refusedUntil = new Map<string, number>();
const REMEMBERED_AT_MOST = 10_000;

const tooManyReads = (retryAfterSeconds: number) =>
  new HttpProblem(429, "rate-limited", `too many reads; retry in ${retryAfterSeconds} s`, {
    retry_after_seconds: retryAfterSeconds,
    headers: { "retry-after": String(retryAfterSeconds) },
  });

/** The 429 of a refused read, remembered for its Retry-After. */
export function readRefused(key: string, retryAfterSeconds: number, now = Date.now()): HttpProblem {
  if (refusedUntil.size >= REMEMBERED_AT_MOST) {
    for (const [k, until] of refusedUntil) if (until <= now) refusedUntil.delete(k);
    if (refusedUntil.size >= REMEMBERED_AT_MOST) refusedUntil.clear();
  }
  refusedUntil.set(key, now + retryAfterSeconds * 1000);
  return tooManyReads(retryAfterSeconds);
}

/** The 429 to answer at once when this key was refused and its Retry-After has not passed. */
export function refusedRecently(key: string, now = Date.now()): HttpProblem | null {
  const until = refusedUntil.get(key);
  if (until === undefined) return null;
  if (until <= now) {
    refusedUntil.delete(key);
    return null;
  }
  return tooManyReads(Math.max(1, Math.ceil((until - now) / 1000)));
}

// ---- anonymous reads, per client address ----

/** Requests already charged (a path under two patterns meets the middleware twice). */
const charged = new WeakSet<Context<App>>();

/** Runs `next` under the client address's read budget (reads only; other requests pass). */
export async function addressReadLimit(c: Context<App>, next: Next): Promise<void> {
  const config = configOf(c.env);
  if (config.READ_IP_PER_MINUTE <= 0 || !isRead(c) || charged.has(c)) return next();
  charged.add(c);
  const key = `read:ip:${addressKey(c.req.header("cf-connecting-ip") ?? "unknown")}`;
  const early = refusedRecently(key);
  if (early) throw early;
  const limiter = c.env.RATE_LIMITER.get(c.env.RATE_LIMITER.idFromName(key));
  const decision = Promise.resolve(
    limiter.takeRead({ burst: config.READ_IP_BURST, perSecond: config.READ_IP_PER_MINUTE / 60 }),
  );
  decision.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  await next();
  let answer: { allowed: boolean; retryAfterSeconds: number };
  try {
    answer = await decision;
  } catch (error) {
    // A limiter that cannot answer must not take reads down with it.
    console.error("read limit check failed; allowing the read", String(error));
    return;
  }
  if (answer.allowed) return;
  c.res = undefined; // the handler's response must not leak a single header
  throw readRefused(key, answer.retryAfterSeconds);
}

/** `addressReadLimit` as middleware, for public routes that take no token (the catalog). */
export const anonymousReads = createMiddleware<App>(addressReadLimit);
