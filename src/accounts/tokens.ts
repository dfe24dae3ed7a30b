import { and, eq, isNull, sql } from "drizzle-orm";
import { SignJWT } from "jose";
import { hmacKey } from "../auth";
import type { Config } from "../config";
import { HttpProblem } from "../contracts/problems";
import type { Database } from "../db/client";
import { refreshTokens, tokenFamilies, users } from "../db/schema";
import { toBase64Url } from "../domain/passwords";
import type { Env } from "../env";

export type Role = "user" | "admin";
export type RevocationReason = "logout" | "revoked-by-owner" | "revoked-by-admin" | "refresh-token-reuse";

export interface TokenPair {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
  family_id: string;
  user_id: string;
}

/** A short-lived HS256 access token: `sub`, `fid`, `jti`, `iat`, `exp`, `role` (+ iss/aud when configured). */
export async function signAccessToken(
  config: Config,
  claims: { sub: string; fid: string; role: Role },
  now = Date.now(),
): Promise<string> {
  const iat = Math.floor(now / 1000);
  let jwt = new SignJWT({ fid: claims.fid, role: claims.role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setJti(crypto.randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + config.ACCESS_TOKEN_TTL_SECONDS);
  if (config.JWT_ISSUER) jwt = jwt.setIssuer(config.JWT_ISSUER);
  if (config.JWT_AUDIENCE) jwt = jwt.setAudience(config.JWT_AUDIENCE);
  return jwt.sign(await hmacKey(config));
}

/** 256 random bits, base64url: what the client holds. Only its SHA-256 is stored. */
export function newRefreshToken(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

export async function hashRefreshToken(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

export const REFRESH_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

const invalidRefresh = (detail: string) => new HttpProblem(401, "invalid-refresh-token", detail);

/**
 * Issues an access token and a refresh token in `familyId`, or in a new family (a login).
 * The family's expiry follows its newest refresh token.
 */
export async function issueTokens(
  config: Config,
  db: Database,
  user: { id: string; role: Role },
  familyId: string | null = null,
): Promise<TokenPair> {
  const now = Date.now();
  const refresh = newRefreshToken();
  const expiresAt = new Date(now + config.REFRESH_TOKEN_TTL_SECONDS * 1000);
  const family = familyId ?? crypto.randomUUID();
  await db.transaction(async (tx) => {
    if (familyId === null) await tx.insert(tokenFamilies).values({ id: family, userId: user.id, expiresAt });
    else await tx.update(tokenFamilies).set({ expiresAt }).where(eq(tokenFamilies.id, family));
    await tx
      .insert(refreshTokens)
      .values({ tokenHash: await hashRefreshToken(refresh), familyId: family, userId: user.id, expiresAt });
  });
  return {
    access_token: await signAccessToken(config, { sub: user.id, fid: family, role: user.role }, now),
    token_type: "Bearer",
    expires_in: config.ACCESS_TOKEN_TTL_SECONDS,
    refresh_token: refresh,
    refresh_expires_in: config.REFRESH_TOKEN_TTL_SECONDS,
    family_id: family,
    user_id: user.id,
  };
}

/**
 * Revokes a family: first in the user's Durable Object, which every access token of the family
 * meets on its next request (the authority, and it survives restarts); then in Postgres, which
 * refuses the family's refresh tokens and keeps the record.
 */
export async function revokeFamily(
  env: Env,
  db: Database,
  family: { id: string; userId: string },
  reason: RevocationReason,
): Promise<void> {
  const state = env.USER_STATE.get(env.USER_STATE.idFromName(family.userId));
  await state.revokeFamily(family.id, reason);
  await db
    .update(tokenFamilies)
    .set({ revokedAt: new Date(), revokedReason: reason })
    .where(and(eq(tokenFamilies.id, family.id), isNull(tokenFamilies.revokedAt)));
}

/**
 * Rotation: the presented refresh token is spent and a new pair is issued in the same family.
 * Presenting a spent token again means two parties hold it (one stole it): the whole family is
 * revoked, so the thief's and the victim's tokens stop working and the user signs in again.
 */
export async function rotateRefreshToken(config: Config, env: Env, db: Database, token: string): Promise<TokenPair> {
  const tokenHash = await hashRefreshToken(token);
  const [found] = await db
    .select({
      familyId: refreshTokens.familyId,
      userId: refreshTokens.userId,
      expiresAt: refreshTokens.expiresAt,
      spentAt: refreshTokens.spentAt,
      revokedAt: tokenFamilies.revokedAt,
      role: users.role,
    })
    .from(refreshTokens)
    .innerJoin(tokenFamilies, eq(tokenFamilies.id, refreshTokens.familyId))
    .innerJoin(users, eq(users.id, refreshTokens.userId))
    .where(eq(refreshTokens.tokenHash, tokenHash))
    .limit(1);
  if (!found || found.expiresAt.getTime() <= Date.now()) throw invalidRefresh("the refresh token is not valid");
  const family = { id: found.familyId, userId: found.userId };
  if (found.revokedAt) throw invalidRefresh("the refresh token's family has been revoked; sign in again");
  if (found.spentAt) {
    await revokeFamily(env, db, family, "refresh-token-reuse");
    throw invalidRefresh("this refresh token was already used; its family is now revoked; sign in again");
  }
  const state = env.USER_STATE.get(env.USER_STATE.idFromName(family.userId));
  if (await state.familyRevoked(family.id)) {
    throw invalidRefresh("the refresh token's family has been revoked; sign in again");
  }
  // Spend it only if nobody else did in between: of two concurrent presentations, one wins.
  const spent = await db
    .update(refreshTokens)
    .set({ spentAt: sql`now()` })
    .where(and(eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.spentAt)))
    .returning({ tokenHash: refreshTokens.tokenHash });
  if (spent.length === 0) {
    await revokeFamily(env, db, family, "refresh-token-reuse");
    throw invalidRefresh("this refresh token was already used; its family is now revoked; sign in again");
  }
  return issueTokens(config, db, { id: found.userId, role: found.role }, found.familyId);
}
