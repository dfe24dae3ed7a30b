import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { freshAddress, newAccount } from "./accounts";
import { newUser } from "./helpers";

/** The Worker with small read buckets: 3 reads, then one every 10 s, per user and per address. */
const limitedEnv = {
  ...env,
  RATE_LIMIT_READ_BURST: "3",
  RATE_LIMIT_READS_PER_MINUTE: "6",
  READ_IP_BURST: "3",
  READ_IP_PER_MINUTE: "6",
};

async function call(
  method: string,
  path: string,
  opts: { token?: string; address?: string; body?: unknown } = {},
): Promise<{ status: number; headers: Headers; json: any }> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://gateway.test${path}`, {
      method,
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.address ? { "cf-connecting-ip": opts.address } : {}),
        ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    }) as Request<unknown, IncomingRequestCfProperties>,
    limitedEnv as never,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : null };
}

function expectRefused(res: { status: number; headers: Headers; json: any }) {
  expect(res.status).toBe(429);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.json).toMatchObject({ status: 429, type: expect.stringContaining("rate-limited") });
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
}

describe("read rate limits", () => {
  it("a user over the read budget gets a 429 problem with Retry-After; another user reads on", async () => {
    const alice = await newUser("reader");
    const bob = await newUser("reader");
    const reads = ["/api/v1/sync/watchlist", "/api/v1/continue-watching", "/api/v1/sync"];
    for (const path of reads) expect((await call("GET", path, { token: alice.token })).status).toBe(200);
    const refused = await call("GET", "/api/v1/devices", { token: alice.token });
    expectRefused(refused);
    expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(10);
    // Refused again at once (this isolate remembers), search included: one budget for every read.
    expectRefused(await call("GET", "/api/v1/sync/watchlist", { token: alice.token }));
    expectRefused(await call("GET", "/api/v1/search?q=matrix", { token: alice.token }));
    // Another user, from the same address, is not affected.
    const address = freshAddress();
    for (let i = 0; i < 3; i++)
      expect((await call("GET", "/api/v1/sync", { token: bob.token, address })).status).toBe(200);
    // Writes have their own budget: the refused reader can still write.
    expect((await call("PUT", "/api/v1/sync/watchlist/film-the-matrix-1999", { token: alice.token })).status).toBe(201);
  });

  it("a token with a family is limited in the same family check, and a POST that reads counts as a read", async () => {
    const account = await newAccount();
    const address = freshAddress();
    for (let i = 0; i < 3; i++) {
      const res = await call("POST", "/api/v1/search", {
        token: account.accessToken,
        address,
        body: { query: "alien" },
      });
      expect(res.status).toBe(200);
    }
    expectRefused(await call("GET", "/api/v1/resume/film-alien-1979", { token: account.accessToken, address }));
    // The address itself was never charged: anonymous reads from it go on.
    expect((await call("GET", "/api/v1/autocomplete?q=ali", { address })).status).toBe(200);
  });

  it("anonymous search, autocomplete and catalog reads are limited per client address", async () => {
    const address = freshAddress();
    expect((await call("GET", "/api/v1/search?q=titanic", { address })).status).toBe(200);
    expect((await call("GET", "/api/v1/autocomplete?q=tit", { address })).status).toBe(200);
    expect((await call("GET", "/api/v1/content/film-titanic-1997", { address })).status).toBe(200);
    for (const refused of [
      await call("POST", "/api/v1/search", { address, body: { query: "titanic" } }),
      await call("GET", "/api/v1/content?limit=5", { address }),
      await call("GET", "/api/v1/autocomplete?q=ti", { address }),
    ]) {
      expectRefused(refused);
    }
    // Another address reads on; a signed-in user at the refused address reads on their own budget.
    expect((await call("GET", "/api/v1/search?q=titanic", { address: freshAddress() })).status).toBe(200);
    const { token } = await newUser("same-address");
    expect((await call("GET", "/api/v1/search?q=titanic", { token, address })).status).toBe(200);
  });
});
