import { env } from "cloudflare:workers";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { signAccessToken } from "../../src/accounts/tokens";
import { verifyAccessToken } from "../../src/auth";
import { LOCAL_DEV_JWT_SECRET, parseConfig } from "../../src/config";
import { HttpProblem } from "../../src/contracts/problems";
import { newAccount } from "./accounts";
import { client, testConfig, tokenFor } from "./helpers";

const secret = new TextEncoder().encode(LOCAL_DEV_JWT_SECRET);
const b64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const now = () => Math.floor(Date.now() / 1000);

async function expect401(token: string, detail?: RegExp) {
  for (const path of ["/api/v1/me", "/api/v1/resume/film-the-matrix-1999"]) {
    const res = await client(token).get(path);
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    if (detail) expect(res.json.detail).toMatch(detail);
  }
}

describe("access tokens that must be refused", () => {
  it("a forged token: our header and claims, a made-up signature", async () => {
    const account = await newAccount();
    const [header, payload] = account.accessToken.split(".");
    const claims = { ...decodeJwt(account.accessToken), role: "admin" };
    await expect401(`${header}.${b64url(claims)}.${account.accessToken.split(".")[2]}`);
    await expect401(`${header}.${payload}.${"A".repeat(43)}`);
  });

  it("an expired token", async () => {
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("someone")
      .setIssuedAt(now() - 3600)
      .setExpirationTime(now() - 60)
      .sign(secret);
    await expect401(expired, /expired/);
  });

  it("an unsigned token (alg: none)", async () => {
    const unsigned = `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub: "someone", exp: now() + 600, role: "admin" })}.`;
    await expect401(unsigned);
  });

  it("a token signed with another key", async () => {
    await expect401(await tokenFor("someone", { key: new TextEncoder().encode("another-secret-another-secret-0123") }));
  });

  it("a token signed with an asymmetric key we do not trust", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256" })
      .setSubject("someone")
      .setExpirationTime("5m")
      .sign(privateKey);
    await expect401(token);
  });

  it("an HS256 token whose secret is a public key (algorithm confusion)", async () => {
    const { publicKey } = await generateKeyPair("RS256", { extractable: true });
    const jwk = await exportJWK(publicKey);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("someone")
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(JSON.stringify(jwk)));
    await expect401(token);
  });

  it("a token without a subject or expiry, or with a malformed family id", async () => {
    const noSub = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(secret);
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("someone").sign(secret);
    const badFid = await new SignJWT({ fid: { id: 1 } })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("someone")
      .setExpirationTime("5m")
      .sign(secret);
    for (const token of [noSub, noExp, badFid]) await expect401(token);
  });

  it("garbage and malformed Authorization headers", async () => {
    for (const header of ["Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer a b", "bearer"]) {
      const res = await client(null).get("/api/v1/me", { authorization: header });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("no token at all on a route that needs one", async () => {
    const res = await client(null).get("/api/v1/me");
    expect(res.status).toBe(401);
  });
});

describe("issuer and audience", () => {
  const strict = () =>
    parseConfig({
      ...(env as unknown as Record<string, unknown>),
      JWT_ISSUER: "https://media-gateway.test",
      JWT_AUDIENCE: "media-gateway-api",
    });

  const refused = async (token: string) => {
    const error = await verifyAccessToken(strict(), token).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpProblem);
    expect((error as HttpProblem).status).toBe(401);
  };

  it("tokens we issue carry iss and aud when configured, and verify", async () => {
    const token = await signAccessToken(strict(), { sub: "user-1", fid: crypto.randomUUID(), role: "user" });
    expect(decodeJwt(token)).toMatchObject({ iss: "https://media-gateway.test", aud: "media-gateway-api" });
    expect((await verifyAccessToken(strict(), token)).sub).toBe("user-1");
  });

  it("a token for another audience is refused (401)", async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("someone")
      .setIssuer("https://media-gateway.test")
      .setAudience("another-api")
      .setExpirationTime("5m")
      .sign(secret);
    await refused(token);
  });

  it("a token from another issuer, or with no audience, is refused (401)", async () => {
    const otherIssuer = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("someone")
      .setIssuer("https://evil.test")
      .setAudience("media-gateway-api")
      .setExpirationTime("5m")
      .sign(secret);
    await refused(otherIssuer);
    await refused(await tokenFor("someone"));
  });

  it("without JWT_AUDIENCE configured, the token of the test setup verifies", async () => {
    expect((await verifyAccessToken(testConfig(), await tokenFor("someone"))).sub).toBe("someone");
  });
});
