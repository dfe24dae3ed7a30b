import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshAddress, login, newAccount, register } from "./accounts";

const unknownEmail = () => `nobody-${crypto.randomUUID()}@example.com`;

/** Calls until the first 429 (at most 40 times); returns the statuses before it. */
async function exhaust(attempt: () => Promise<{ status: number }>): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < 40; i++) {
    const { status } = await attempt();
    if (status === 429) return statuses;
    statuses.push(status);
  }
  throw new Error(`no 429 after 40 attempts: ${statuses.join(",")}`);
}

describe("login and register rate limits", () => {
  it("per client address: after the burst (20), login answers 429 with Retry-After; other addresses are unaffected", async () => {
    const address = freshAddress();
    const statuses = await exhaust(() => login(unknownEmail(), "password-1234", address));
    // The burst is 20; a slow machine may see a few more refilled at 10 per minute.
    expect(statuses.length).toBeGreaterThanOrEqual(20);
    expect(statuses.length).toBeLessThanOrEqual(24);
    expect(statuses.every((s) => s === 401)).toBe(true);
    const limited = await login(unknownEmail(), "password-1234", address);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("content-type")).toBe("application/problem+json");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Register shares the address's bucket: two in a row cannot both pass at 1 token per 6 s.
    const registers = [
      await register(unknownEmail(), "password-1234", address),
      await register(unknownEmail(), "password-1234", address),
    ];
    expect(registers.map((r) => r.status)).toContain(429);
    expect((await login(unknownEmail(), "password-1234", freshAddress())).status).toBe(401);
  });

  it("per account: after 10 attempts from anywhere, even the right password waits; other accounts do not", async () => {
    const account = await newAccount(); // register and login: two attempts spent
    for (let i = 0; i < 8; i++) expect((await login(account.email, "wrong password", freshAddress())).status).toBe(401);
    const limited = await login(account.email, account.password, freshAddress());
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // The same 429 for an address that has no account: the limit does not reveal which exist.
    const ghost = unknownEmail();
    for (let i = 0; i < 10; i++) await login(ghost, "wrong password", freshAddress());
    const ghostLimited = await login(ghost, "wrong password", freshAddress());
    expect(ghostLimited.status).toBe(429);
    expect(ghostLimited.json.type).toBe(limited.json.type);
    const other = await newAccount();
    expect((await login(other.email, other.password, freshAddress())).status).toBe(200);
  });

  it("an address over its limit does not drain the account's bucket", async () => {
    const account = await newAccount();
    const noisy = freshAddress();
    await exhaust(() => login(unknownEmail(), "x", noisy));
    const refused = [];
    for (let i = 0; i < 12; i++) refused.push((await login(account.email, "wrong", noisy)).status);
    // 12 tries on the account from the noisy address; at most a refilled one or two reach the account.
    expect(refused.filter((s) => s === 429).length).toBeGreaterThanOrEqual(10);
    expect((await login(account.email, account.password, freshAddress())).status).toBe(200);
  });

  it("a bucket refills over time, and forgets its key once full again", async () => {
    const limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`test:${crypto.randomUUID()}`));
    const rule = { burst: 2, perSecond: 0.001 };
    expect((await limiter.take(rule)).allowed).toBe(true);
    expect((await limiter.take(rule)).allowed).toBe(true);
    const refused = await limiter.take(rule);
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: expect.any(Number) });
    expect(refused.retryAfterSeconds).toBeGreaterThan(100);
    const quick = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`test:${crypto.randomUUID()}`));
    const fast = { burst: 1, perSecond: 100 };
    expect((await quick.take(fast)).allowed).toBe(true);
    await new Promise((r) => setTimeout(r, 30));
    expect((await quick.take(fast)).allowed).toBe(true);
    // The alarm fires once the bucket is full: storage is dropped and the key starts over.
    expect(await runDurableObjectAlarm(limiter)).toBe(true);
    expect((await limiter.take({ burst: 1, perSecond: 0.001 })).allowed).toBe(true);
    expect((await limiter.take({ burst: 1, perSecond: 0.001 })).allowed).toBe(false);
  });
});
