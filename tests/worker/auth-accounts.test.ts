import { eq } from "drizzle-orm";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { refreshTokens, tokenFamilies, users } from "../../src/db/schema";
import { anonymous, freshAddress, login, newAccount, register } from "./accounts";
import { client, db, newUser } from "./helpers";

const uniqueEmail = () => `person-${crypto.randomUUID()}@example.com`;

describe("register and login", () => {
  it("registers, signs in and answers /me as the new user", async () => {
    const email = uniqueEmail();
    const registered = await register(email, "a long enough password");
    expect(registered.status).toBe(202);
    expect(registered.json.email).toBe(email);

    const signedIn = await login(email, "a long enough password");
    expect(signedIn.status).toBe(200);
    expect(signedIn.json).toMatchObject({ token_type: "Bearer", expires_in: 900 });
    const me = await client(signedIn.json.access_token).get("/api/v1/me");
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({
      user_id: signedIn.json.user_id,
      email,
      role: "user",
      family_id: signedIn.json.family_id,
    });
  });

  it("issues an HS256 access token with sub, fid, jti, iat, exp and role", async () => {
    const account = await newAccount();
    expect(decodeProtectedHeader(account.accessToken).alg).toBe("HS256");
    const claims = decodeJwt(account.accessToken);
    expect(claims).toMatchObject({ sub: account.userId, fid: account.familyId, role: "user" });
    expect(typeof claims.jti).toBe("string");
    expect((claims.exp as number) - (claims.iat as number)).toBe(900);
  });

  it("issues a 256-bit refresh token and stores only its hash", async () => {
    const account = await newAccount();
    expect(account.refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = await db((d) => d.select().from(refreshTokens).where(eq(refreshTokens.userId, account.userId)));
    expect(rows).toHaveLength(1);
    expect(rows[0]?.tokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows)).not.toContain(account.refreshToken);
    const [family] = await db((d) => d.select().from(tokenFamilies).where(eq(tokenFamilies.id, account.familyId)));
    expect(family).toMatchObject({ userId: account.userId, revokedAt: null });
  });

  it("stores a salted PBKDF2 hash, never the password", async () => {
    const account = await newAccount();
    const [row] = await db((d) => d.select().from(users).where(eq(users.id, account.userId)));
    expect(row?.passwordHash).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(row?.passwordHash).not.toContain(account.password);
  });

  it("normalizes the email: the address in another case is the same account", async () => {
    const email = uniqueEmail();
    await register(email, "password-1234");
    const res = await login(email.toUpperCase(), "password-1234");
    expect(res.status).toBe(200);
    const again = await register(email.toUpperCase(), "another-password");
    expect(again.status).toBe(202);
    expect((await login(email, "another-password")).status).toBe(401);
  });

  it("refuses a duplicate registration without revealing it: same answer, password unchanged", async () => {
    const email = uniqueEmail();
    const first = await register(email, "first-password");
    const second = await register(email, "second-password");
    expect(second.status).toBe(first.status);
    expect(second.json).toEqual(first.json);
    expect((await login(email, "first-password")).status).toBe(200);
    expect((await login(email, "second-password")).status).toBe(401);
    const rows = await db((d) => d.select().from(users).where(eq(users.email, email)));
    expect(rows).toHaveLength(1);
  });

  it("answers an unknown email and a wrong password with the same 401", async () => {
    const account = await newAccount();
    const wrong = await login(account.email, "not the password");
    const unknown = await login(uniqueEmail(), "not the password");
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.headers.get("content-type")).toBe("application/problem+json");
    expect(unknown.json).toEqual(wrong.json);
  });

  it("takes about as long for an unknown email as for a wrong password", async () => {
    const account = await newAccount();
    const time = async (email: string) => {
      const started = performance.now();
      await login(email, "not the password");
      return performance.now() - started;
    };
    await time(uniqueEmail()); // warm-up
    const wrong: number[] = [];
    const unknown: number[] = [];
    // Interleaved, so that load from elsewhere on the machine falls on both alike.
    for (let i = 0; i < 7; i++) {
      wrong.push(await time(account.email));
      unknown.push(await time(uniqueEmail()));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[3] as number;
    expect(median(unknown) / median(wrong)).toBeGreaterThan(0.5);
    expect(median(unknown) / median(wrong)).toBeLessThan(2);
  });

  it.each([
    ["no body", undefined],
    ["not JSON", "{"],
    ["an array", []],
    ["no password", { email: "a@example.com" }],
    ["a bad email", { email: "not-an-email", password: "password-1234" }],
    ["a short password", { email: "a@example.com", password: "short" }],
    ["a huge password", { email: "a@example.com", password: "x".repeat(2000) }],
    ["a number for email", { email: 42, password: "password-1234" }],
  ])("answers 400 problem+json to a registration with %s and creates nothing", async (_, body) => {
    const res = await anonymous.raw("POST", "/api/v1/auth/register", body, {
      "content-type": "application/json",
      "cf-connecting-ip": freshAddress(),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });

  it("answers 400 to malformed refresh requests", async () => {
    for (const body of [
      {},
      { refresh_token: "short" },
      { refresh_token: 7 },
      { refresh_token: `${"x".repeat(43)}!` },
    ]) {
      const res = await anonymous.post("/api/v1/auth/refresh", body);
      expect(res.status).toBe(400);
    }
  });

  it("answers 401 to an unknown refresh token of the right shape", async () => {
    const res = await anonymous.post("/api/v1/auth/refresh", { refresh_token: "A".repeat(43) });
    expect(res.status).toBe(401);
    expect(res.json.type).toContain("invalid-refresh-token");
  });

  it("answers /me for a token from an outside issuer (no account, no family)", async () => {
    const user = await newUser();
    const me = await user.api.get("/api/v1/me");
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ user_id: user.id, email: null, family_id: null });
  });
});

describe("the OpenAPI document", () => {
  it("describes the account, token and experiment routes", async () => {
    const res = await client(null).get("/openapi.json");
    expect(res.status).toBe(200);
    for (const path of [
      "/api/v1/auth/register",
      "/api/v1/auth/login",
      "/api/v1/auth/refresh",
      "/api/v1/auth/logout",
      "/api/v1/auth/revoke-family/{family_id}",
      "/api/v1/me",
      "/api/v1/experiments",
      "/api/v1/experiments/{id}",
      "/api/v1/experiments/{id}/assign",
    ]) {
      expect(Object.keys(res.json.paths)).toContain(path);
    }
  });
});
