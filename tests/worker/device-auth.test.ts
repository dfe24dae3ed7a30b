import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DeviceAuthorization } from "../../src/durable/device-authorization";
import { anonymous, freshAddress, newAccount, refresh } from "./accounts";
import { client } from "./helpers";
import { addProfile, deviceCode, household, pollToken, selectProfile } from "./households";

const GRANT = "urn:ietf:params:oauth:grant-type:device_code";
const codeObject = (userCode: string) => env.DEVICE_AUTH.get(env.DEVICE_AUTH.idFromName(userCode));

/** Moves a code's clock: its last poll and its expiry `ms` into the past (time passing, without waiting). */
async function rewind(userCode: string, ms: { lastPoll?: number; expiry?: number }) {
  await runInDurableObject(codeObject(userCode), async (_instance: DeviceAuthorization, state) => {
    if (ms.lastPoll) state.storage.sql.exec("UPDATE device_grant SET last_poll_at = last_poll_at - ?", ms.lastPoll);
    if (ms.expiry) state.storage.sql.exec("UPDATE device_grant SET expires_at = expires_at - ?", ms.expiry);
  });
}

const approve = (as: { api: ReturnType<typeof client> }, userCode: string, profileId: string, ok = true, extra = {}) =>
  as.api.post(
    "/api/v1/auth/device/approve",
    { user_code: userCode, profile_id: profileId, approve: ok, ...extra },
    { "cf-connecting-ip": freshAddress() },
  );

function expectOAuthError(res: { status: number; json: any; headers: Headers }, error: string) {
  expect(res.status).toBe(400);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(res.headers.get("cache-control")).toBe("no-store");
  expect(res.json.error).toBe(error);
  expect(typeof res.json.error_description).toBe("string");
}

describe("TV sign-in by code (RFC 8628)", () => {
  it("gives a TV a device code, an 8-letter user code without ambiguous letters, where to enter it, its lifetime and interval", async () => {
    const code = await deviceCode();
    expect(code.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
    expect(code.device_code).toMatch(new RegExp(`^${code.user_code}\\.[A-Za-z0-9_-]{43}$`));
    expect(code.verification_uri).toBe("http://gateway.test/activate");
    expect(code.verification_uri_complete).toBe(`http://gateway.test/activate?code=${code.user_code}`);
    expect(code.expires_in).toBe(600);
    expect(code.interval).toBe(5);
    expect((await deviceCode()).user_code).not.toBe(code.user_code);
  });

  it("answers every RFC 8628 §3.5 state: pending, slow_down (interval + 5), then tokens once approved", async () => {
    const { owner, kid } = await household("G");
    const code = await deviceCode();
    expectOAuthError(await pollToken(code.device_code), "authorization_pending");
    // Again at once: too fast.
    const fast = await pollToken(code.device_code);
    expectOAuthError(fast, "slow_down");
    expect(fast.json.interval).toBe(10);
    // 6 s later is too soon at the new interval of 10 s: slower still.
    await rewind(code.user_code, { lastPoll: 6000 });
    const stillFast = await pollToken(code.device_code);
    expectOAuthError(stillFast, "slow_down");
    expect(stillFast.json.interval).toBe(15);
    await rewind(code.user_code, { lastPoll: 15_000 });
    expectOAuthError(await pollToken(code.device_code), "authorization_pending");

    const approved = await approve(owner, code.user_code, kid.id);
    expect(approved.status).toBe(200);
    expect(approved.json).toEqual({ user_code: code.user_code, profile_id: kid.id, status: "approved" });

    const signedIn = await pollToken(code.device_code);
    expect(signedIn.status).toBe(200);
    expect(signedIn.headers.get("cache-control")).toBe("no-store");
    expect(signedIn.json).toMatchObject({ token_type: "Bearer", user_id: kid.id, expires_in: 900 });
    const tv = client(signedIn.json.access_token);
    expect((await tv.get("/api/v1/me")).json).toMatchObject({ user_id: kid.id, maturity_limit: "G", is_owner: false });
    // The TV holds a family of its own, refreshed like any sign-in.
    expect(signedIn.json.family_id).not.toBe(kid.familyId);
    expect((await refresh(signedIn.json.refresh_token)).json.user_id).toBe(kid.id);
  });

  it("a code is used once: a second poll after the tokens is invalid_grant, and approving it again is 409", async () => {
    const owner = await newAccount();
    const code = await deviceCode();
    expect((await approve(owner, code.user_code, owner.userId)).status).toBe(200);
    expect((await pollToken(code.device_code)).status).toBe(200);
    expectOAuthError(await pollToken(code.device_code), "invalid_grant");
    expect((await approve(owner, code.user_code, owner.userId)).status).toBe(409);
  });

  it("a denied code is access_denied, for good", async () => {
    const owner = await newAccount();
    const code = await deviceCode();
    const denied = await approve(owner, code.user_code, owner.userId, false);
    expect(denied.json.status).toBe("denied");
    expectOAuthError(await pollToken(code.device_code), "access_denied");
    await rewind(code.user_code, { lastPoll: 60_000 });
    expectOAuthError(await pollToken(code.device_code), "access_denied");
    expect((await approve(owner, code.user_code, owner.userId)).status).toBe(409);
  });

  it("an expired code is expired_token, cannot be approved, and is forgotten later", async () => {
    const owner = await newAccount();
    const code = await deviceCode();
    await rewind(code.user_code, { expiry: 601_000 });
    expectOAuthError(await pollToken(code.device_code), "expired_token");
    const late = await approve(owner, code.user_code, owner.userId);
    expect(late.status).toBe(404);
    expect(late.json.type).toMatch(/device-code-not-found$/);
    // An approval that came in time does not survive the expiry either.
    const other = await deviceCode();
    await approve(owner, other.user_code, owner.userId);
    await rewind(other.user_code, { expiry: 601_000 });
    expectOAuthError(await pollToken(other.device_code), "expired_token");
  });

  it("a device code this API did not issue is invalid_grant; malformed requests are invalid_request", async () => {
    const code = await deviceCode();
    const forged = `${code.user_code}.${"A".repeat(43)}`;
    expectOAuthError(await pollToken(forged), "invalid_grant");
    expectOAuthError(await pollToken(`BCDFGHJK.${"A".repeat(43)}`), "invalid_grant");
    expectOAuthError(await pollToken("not-a-code"), "invalid_request");
    expectOAuthError(await anonymous.post("/api/v1/auth/device/token", {}), "invalid_request");
    expectOAuthError(
      await anonymous.post("/api/v1/auth/device/token", { device_code: code.device_code, grant_type: "password" }),
      "unsupported_grant_type",
    );
    // The forged polls did not spoil the real code.
    expectOAuthError(await pollToken(code.device_code), "authorization_pending");
  });

  it("is in the OpenAPI document: bodies in JSON and form encoding, OAuth errors, the approval", async () => {
    const doc = (await anonymous.get("/openapi.json")).json;
    for (const path of ["/api/v1/auth/device/code", "/api/v1/auth/device/token"]) {
      const op = doc.paths[path]?.post;
      expect(Object.keys(op.requestBody.content).sort()).toEqual([
        "application/json",
        "application/x-www-form-urlencoded",
      ]);
      expect(op.responses["400"].content["application/json"].schema.$ref).toBe("#/components/schemas/OAuthError");
    }
    expect(doc.paths["/api/v1/auth/device/approve"].post.security).toEqual([{ bearer: [] }]);
    // Unparseable JSON is answered the OAuth way too.
    expectOAuthError(await anonymous.post("/api/v1/auth/device/token", '{"device_code":'), "invalid_request");
  });

  it("takes the RFC's form-encoded requests as well as JSON", async () => {
    const owner = await newAccount();
    const res = await anonymous.raw("POST", "/api/v1/auth/device/code", "client_id=living-room-tv", {
      "content-type": "application/x-www-form-urlencoded",
      "cf-connecting-ip": freshAddress(),
    });
    expect(res.status).toBe(200);
    await approve(owner, res.json.user_code, owner.userId);
    const form = new URLSearchParams({ grant_type: GRANT, device_code: res.json.device_code, client_id: "tv" });
    const token = await anonymous.raw("POST", "/api/v1/auth/device/token", form.toString(), {
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(token.status).toBe(200);
    expect(token.json.user_id).toBe(owner.userId);
  });

  it("user codes cannot be guessed: wrong codes are 404 and, past the burst, 429 for the account from any address", async () => {
    const owner = await newAccount();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const guess = "BCDFGHJKLMNPQRSTVWXZ"
        .split("")
        .sort(() => Math.random() - 0.5)
        .slice(0, 8)
        .join("");
      statuses.push((await approve(owner, guess, owner.userId)).status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(404));
    expect(statuses.slice(10)).toEqual([429, 429]);
    // Even a real code waits now: the limit is on trying, not on failing.
    const code = await deviceCode();
    const limited = await approve(owner, code.user_code, owner.userId);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another account is not held back.
    const other = await newAccount();
    expect((await approve(other, code.user_code, other.userId)).status).toBe(200);
  });

  it("one client address is limited across accounts too", async () => {
    const address = freshAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const owner = await newAccount();
      const res = await owner.api.post(
        "/api/v1/auth/device/approve",
        { user_code: "BCDFGHJK", profile_id: owner.userId, approve: true },
        { "cf-connecting-ip": address },
      );
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 404)).toBe(true);
    expect(statuses[10]).toBe(429);
  });

  it("asking for codes is limited per client address", async () => {
    const address = freshAddress();
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      statuses.push((await anonymous.post("/api/v1/auth/device/code", {}, { "cf-connecting-ip": address })).status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(200));
    expect(statuses[10]).toBe(429);
  });

  it("the approver picks a profile of their own account only, with its PIN unless they are the owner", async () => {
    const owner = await newAccount();
    const locked = await addProfile(owner, { name: "Grown-up", pin: "2580" });
    const kidProfile = await addProfile(owner, { name: "Kid", maturity_limit: "TV-Y7" });
    const kid = await selectProfile(owner, kidProfile.id);
    const stranger = await newAccount();
    const code = await deviceCode();
    expect((await approve(stranger, code.user_code, owner.userId)).status).toBe(404);
    const noPin = await approve(kid, code.user_code, locked.id);
    expect(noPin.status).toBe(403);
    expect((await approve(kid, code.user_code, locked.id, true, { pin: "0000" })).status).toBe(403);
    expect((await approve(kid, code.user_code, locked.id, true, { pin: "2580" })).status).toBe(200);
    const tv = await pollToken(code.device_code);
    expect(tv.json.user_id).toBe(locked.id);
    // The owner needs no PIN; a kid may sign a TV into their own profile.
    const second = await deviceCode();
    expect((await approve(kid, second.user_code, kid.id)).status).toBe(200);
    expect((await pollToken(second.device_code)).json.user_id).toBe(kid.id);
  });

  it("refuses bad approvals with a 400 problem and leaves the code pending", async () => {
    const owner = await newAccount();
    const code = await deviceCode();
    for (const body of [
      { user_code: "SHORT", profile_id: owner.userId, approve: true },
      { user_code: "AEIOUAEI", profile_id: owner.userId, approve: true },
      { user_code: code.user_code, profile_id: owner.userId },
      { user_code: code.user_code, profile_id: owner.userId, approve: "yes" },
      { user_code: code.user_code, profile_id: "has spaces", approve: true },
    ]) {
      const res = await owner.api.post("/api/v1/auth/device/approve", body, { "cf-connecting-ip": freshAddress() });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
    expect((await anonymous.post("/api/v1/auth/device/approve", { user_code: code.user_code })).status).toBe(401);
    expectOAuthError(await pollToken(code.device_code), "authorization_pending");
    // Typed as on the TV, with a dash and in lower case, it is the same code.
    const typed = `${code.user_code.slice(0, 4).toLowerCase()}-${code.user_code.slice(4)}`;
    expect((await approve(owner, typed, owner.userId)).status).toBe(200);
  });

  it("a TV signed into a profile that is then deleted is refused, and so is a code approved for it", async () => {
    const { owner, kid } = await household();
    const before = await deviceCode();
    await approve(owner, before.user_code, kid.id);
    const tv = client((await pollToken(before.device_code)).json.access_token);
    const pending = await deviceCode();
    await approve(owner, pending.user_code, kid.id);
    expect((await owner.api.delete(`/api/v1/profiles/${kid.id}`)).status).toBe(204);
    expect((await tv.get("/api/v1/continue-watching")).status).toBe(401);
    expectOAuthError(await pollToken(pending.device_code), "access_denied");
  });
});
