import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { optionalUser, requireUser } from "../../src/auth";
import { problemResponse } from "../../src/contracts/problems";
import { tokenFamilies } from "../../src/db/schema";
import type { App } from "../../src/env";
import { userState } from "../../src/routes/router";
import { login, newAccount, refresh } from "./accounts";
import { workerFetch } from "./contract-harness";
import { client, db, newUser, tokenFor, userStub, withUserApi } from "./helpers";

const familyRow = (id: string) =>
  db((d) => d.select().from(tokenFamilies).where(eq(tokenFamilies.id, id))).then((rows) => rows[0]);

const startSession = (api: ReturnType<typeof client>) =>
  api.post("/api/v1/sessions", { content_id: "film-the-matrix-1999", device_id: "tv", duration_seconds: 3600 });

/** A public route that accepts an optional token, as search does, served by the real middleware. */
const publicApp = new Hono<App>()
  .get("/public", optionalUser, (c) => c.json({ personalized_for: c.var.caller?.sub ?? null }))
  .onError((error) => {
    const problem = (error as { toProblem?: () => never }).toProblem?.();
    return problem ? problemResponse(problem) : new Response("error", { status: 500 });
  });
const callPublic = (token: string | null) =>
  publicApp.request("/public", token ? { headers: { authorization: `Bearer ${token}` } } : {}, env);

/** A write with an effect outside the user's object (here a counter), as a queued job would be. */
let outsideEffects = 0;
const writeApp = new Hono<App>()
  .post("/write", requireUser, async (c) => {
    outsideEffects++;
    const status = await userState(c).status();
    return c.json({ outbox: status.outbox });
  })
  .onError((error) => {
    const problem = (error as { toProblem?: () => never }).toProblem?.();
    return problem ? problemResponse(problem) : new Response(String(error), { status: 500 });
  });
const callWrite = (token: string) =>
  writeApp.request("/write", { method: "POST", headers: { authorization: `Bearer ${token}` } }, env);

// Probed once: the search route is another issue's; once merged, revocation must hold there too.
const searchMounted = (await client(null).get("/api/v1/search?q=matrix")).status !== 404;

describe("logout and revoke-family", () => {
  it("logout refuses the family's access and refresh tokens from the next request on", async () => {
    const account = await newAccount();
    expect((await startSession(account.api)).status).toBe(201);
    expect((await account.api.post("/api/v1/auth/logout")).status).toBe(204);

    expect((await account.api.get("/api/v1/resume/film-the-matrix-1999")).status).toBe(401);
    expect((await startSession(account.api)).status).toBe(401);
    expect((await account.api.get("/api/v1/me")).status).toBe(401);
    expect((await account.api.post("/api/v1/auth/logout")).status).toBe(401);
    expect((await refresh(account.refreshToken)).status).toBe(401);
    const family = await familyRow(account.familyId);
    expect(family?.revokedReason).toBe("logout");
    expect(family?.revokedAt).toBeInstanceOf(Date);
  });

  it("a revoked token changes nothing on a user-state write: the position stays where it was", async () => {
    const account = await newAccount();
    const session = await startSession(account.api);
    expect(
      (await account.api.patch(`/api/v1/sessions/${session.json.id}/position`, { position_seconds: 600 })).status,
    ).toBe(200);
    expect((await account.api.post(`/api/v1/auth/revoke-family/${account.familyId}`)).status).toBe(204);

    const moved = await account.api.patch(`/api/v1/sessions/${session.json.id}/position`, { position_seconds: 2400 });
    expect(moved.status).toBe(401);
    expect(moved.json.type).toContain("token-revoked");
    const stored = await withUserApi(account.userId, (api) => api.getSession(session.json.id));
    expect(stored?.position_seconds).toBe(600);
  });

  it("revoking one family leaves the user's other sign-ins working", async () => {
    const first = await newAccount();
    const second = await login(first.email, first.password);
    const other = client(second.json.access_token);
    expect((await first.api.post(`/api/v1/auth/revoke-family/${first.familyId}`)).status).toBe(204);
    expect((await first.api.get("/api/v1/me")).status).toBe(401);
    expect((await other.get("/api/v1/me")).status).toBe(200);
    expect((await startSession(other)).status).toBe(201);
  });

  it("a user cannot revoke another user's family: 404, and that family keeps working", async () => {
    const victim = await newAccount();
    const intruder = await newAccount();
    const res = await intruder.api.post(`/api/v1/auth/revoke-family/${victim.familyId}`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect((await victim.api.get("/api/v1/me")).status).toBe(200);
    expect((await refresh(victim.refreshToken)).status).toBe(200);
    expect((await familyRow(victim.familyId))?.revokedAt).toBeNull();
  });

  it("an admin can revoke any user's family", async () => {
    const user = await newAccount();
    const admin = await newAccount({ admin: true });
    expect((await admin.api.post(`/api/v1/auth/revoke-family/${user.familyId}`)).status).toBe(204);
    expect((await user.api.get("/api/v1/resume/film-the-matrix-1999")).status).toBe(401);
    expect((await familyRow(user.familyId))?.revokedReason).toBe("revoked-by-admin");
  });

  it("answers 404 for an unknown family and 400 for a malformed id", async () => {
    const account = await newAccount();
    expect((await account.api.post(`/api/v1/auth/revoke-family/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await account.api.post("/api/v1/auth/revoke-family/not%20an%20id!")).status).toBe(400);
  });

  it("revoking twice is fine (idempotent)", async () => {
    const account = await newAccount();
    const admin = await newAccount({ admin: true });
    expect((await admin.api.post(`/api/v1/auth/revoke-family/${account.familyId}`)).status).toBe(204);
    expect((await admin.api.post(`/api/v1/auth/revoke-family/${account.familyId}`)).status).toBe(204);
  });

  it("logout with a token that has no family (outside issuer) is a 400 problem", async () => {
    const user = await newUser();
    const res = await user.api.post("/api/v1/auth/logout");
    expect(res.status).toBe(400);
    expect(res.json.type).toContain("no-token-family");
  });
});

describe("where revocation holds", () => {
  it("on a public endpoint that accepts an optional token: the revoked token is a 401, no token is fine", async () => {
    const account = await newAccount();
    const before = await callPublic(account.accessToken);
    expect(before.status).toBe(200);
    expect(await before.json()).toEqual({ personalized_for: account.userId });
    await account.api.post("/api/v1/auth/logout");
    const after = await callPublic(account.accessToken);
    expect(after.status).toBe(401);
    expect(after.headers.get("content-type")).toBe("application/problem+json");
    expect((await callPublic(null)).status).toBe(200);
  });

  it("on a write with effects outside the user's object: the handler never runs for a revoked token", async () => {
    const account = await newAccount();
    const before = outsideEffects;
    const ok = await callWrite(account.accessToken);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ outbox: expect.any(Number) });
    expect(outsideEffects).toBe(before + 1);
    await account.api.post("/api/v1/auth/logout");
    const refused = await callWrite(account.accessToken);
    expect(refused.status).toBe(401);
    expect(outsideEffects).toBe(before + 1);
  });

  it("on the sync WebSocket upgrade, whichever way the token comes", async () => {
    const account = await newAccount();
    const upgrade = (query: string, headers: Record<string, string>) =>
      workerFetch(
        new Request(`http://gateway.test/api/v1/sync/ws${query}`, { headers: { upgrade: "websocket", ...headers } }),
      );
    const open = await upgrade("", { authorization: `Bearer ${account.accessToken}` });
    expect(open.status).toBe(101);
    open.webSocket?.accept();
    open.webSocket?.close(1000, "done");
    await account.api.post("/api/v1/auth/logout");
    for (const [query, headers] of [
      ["", { authorization: `Bearer ${account.accessToken}` }],
      [`?access_token=${account.accessToken}`, {}],
      ["", { "sec-websocket-protocol": `bearer, ${account.accessToken}` }],
    ] as const) {
      const refused = await upgrade(query, headers);
      expect(refused.status).toBe(401);
      expect(refused.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("on sync and device writes: refused, and nothing is written", async () => {
    const account = await newAccount();
    expect((await account.api.put("/api/v1/sync/watchlist/film-inception-2010")).status).toBeLessThan(300);
    await account.api.post("/api/v1/auth/logout");
    expect((await account.api.put("/api/v1/sync/watchlist/film-jaws-1975")).status).toBe(401);
    expect((await account.api.put("/api/v1/devices/tv", { device_type: "TV", platform: "tizen" })).status).toBe(401);
    expect((await account.api.get("/api/v1/sync/watchlist")).status).toBe(401);
    const state = await withUserApi(account.userId, (api) => api.watchlist({ limit: 100 }));
    expect(JSON.stringify(state)).toContain("film-inception-2010");
    expect(JSON.stringify(state)).not.toContain("film-jaws-1975");
    const devices = await withUserApi(account.userId, (api) => api.devices({ limit: 100 }));
    expect(JSON.stringify(devices)).not.toContain('"tv"');
  });

  it("on every kind of endpoint: playback, history, sync, devices, recommendations, profile, experiments, me", async () => {
    const account = await newAccount();
    const calls: [string, string, unknown?][] = [
      ["GET", "/api/v1/history"],
      ["GET", "/api/v1/continue-watching"],
      ["GET", "/api/v1/sync"],
      ["GET", "/api/v1/devices"],
      ["GET", "/api/v1/recommendations"],
      ["POST", "/api/v1/personalization/score", { content_ids: ["film-the-matrix-1999"] }],
      ["GET", "/api/v1/profile"],
      ["POST", "/api/v1/profile/update", {}],
      ["GET", "/api/v1/experiments"],
      ["GET", "/api/v1/me"],
    ];
    const before = await Promise.all(calls.map(([m, path, body]) => account.api.raw(m, path, body)));
    expect(before.map((r) => r.status).filter((s) => s === 401)).toEqual([]);
    await account.api.post("/api/v1/auth/logout");
    const after = await Promise.all(calls.map(([m, path, body]) => account.api.raw(m, path, body)));
    expect(after.map((r, i) => `${calls[i]?.[1]} ${r.status}`)).toEqual(calls.map(([, path]) => `${path} 401`));
  });

  it.runIf(searchMounted)("on search: a revoked token is a 401", async () => {
    const account = await newAccount();
    expect((await account.api.get("/api/v1/search?q=matrix")).status).toBe(200);
    await account.api.post("/api/v1/auth/logout");
    expect((await account.api.get("/api/v1/search?q=matrix")).status).toBe(401);
  });

  it("after the user's Durable Object restarts: the revocation is read back from its storage", async () => {
    const account = await newAccount();
    expect((await account.api.get("/api/v1/resume/film-the-matrix-1999")).status).toBe(200);
    await account.api.post("/api/v1/auth/logout");
    await evictDurableObject(userStub(account.userId));
    expect((await account.api.get("/api/v1/resume/film-the-matrix-1999")).status).toBe(401);
    expect((await account.api.get("/api/v1/me")).status).toBe(401);
    expect((await callPublic(account.accessToken)).status).toBe(401);
  });

  it("on admin writes: a revoked admin token cannot create an experiment", async () => {
    const admin = await newAccount({ admin: true });
    await admin.api.post("/api/v1/auth/logout");
    const id = `revoked-admin-${crypto.randomUUID().slice(0, 8)}`;
    const res = await admin.api.post("/api/v1/experiments", {
      id,
      name: "should not exist",
      variants: [{ name: "a", weight: 1 }],
    });
    expect(res.status).toBe(401);
    const listed = await client(await tokenFor("reader")).get(`/api/v1/experiments/${id}`);
    expect(listed.status).toBe(404);
  });
});
