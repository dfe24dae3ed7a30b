import { SignJWT } from "jose";
import { hmacKey } from "../auth";
import type { Config } from "../config";
import { HttpProblem } from "../contracts/problems";
import { markFamilyRevoked, type Role, refreshTokenByHash, saveRefreshToken, spendRefreshToken } from "../db/accounts";
import type { Queryable } from "../db/client";
import { toBase64Url } from "../domain/passwords";
import type { Env } from "../env";

export type { Role } from "../db/accounts";
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

/**
 * Who tokens are issued to: a profile (`id`, the tokens' `sub`) of an account, with what the
 * profile carries into every request (its maturity limit and that limit's version).
 */
export interface TokenSubject {
  id: string;
  role: Role;
  accountId: string;
  maturityLimit: string | null;
  profileVersion: number;
}

/** The claims of a subject beyond `sub`: `acc`, and `mat`/`pv` for a limited profile. */
export function profileClaims(subject: TokenSubject): { acc: string; mat?: string; pv?: number } {
  return {
    acc: subject.accountId,
    ...(subject.maturityLimit ? { mat: subject.maturityLimit } : {}),
    ...(subject.profileVersion > 0 ? { pv: subject.profileVersion } : {}),
  };
}

/**
 * A short-lived HS256 access token: `sub`, `fid`, `jti`, `iat`, `exp`, `role`, the account
 * (`acc`) and, for a limited profile, its maturity limit (`mat`) and the limit's version (`pv`)
 * (+ iss/aud when configured).
 */
export async function signAccessToken(
  config: Config,
  claims: { sub: string; fid: string; role: Role; acc?: string; mat?: string; pv?: number },
  now = Date.now(),
): Promise<string> {
  const iat = Math.floor(now / 1000);
  const { sub: _sub, ...rest } = claims;
  let jwt = new SignJWT(rest)
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
  db: Queryable,
  user: TokenSubject,
  familyId: string | null = null,
): Promise<TokenPair> {
  const now = Date.now();
  const refresh = newRefreshToken();
  const expiresAt = new Date(now + config.REFRESH_TOKEN_TTL_SECONDS * 1000);
  const family = familyId ?? crypto.randomUUID();
  await saveRefreshToken(db, {
    tokenHash: await hashRefreshToken(refresh),
    familyId: family,
    newFamily: familyId === null,
    userId: user.id,
    accountId: user.accountId,
    expiresAt,
  });
  const claims = { sub: user.id, fid: family, role: user.role, ...profileClaims(user) };
  return {
    access_token: await signAccessToken(config, claims, now),
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
  db: Queryable,
  family: { id: string; userId: string },
  reason: RevocationReason,
): Promise<void> {
  const state = env.USER_STATE.get(env.USER_STATE.idFromName(family.userId));
  await state.revokeFamily(family.id, reason);
  await markFamilyRevoked(db, family.id, reason);
}

/**
 * Rotation: the presented refresh token is spent and a new pair is issued in the same family.
 * Presenting a spent token again means two parties hold it (one stole it): the whole family is
 * revoked, so the thief's and the victim's tokens stop working and the user signs in again.
 */
export async function rotateRefreshToken(config: Config, env: Env, db: Queryable, token: string): Promise<TokenPair> {
  const tokenHash = await hashRefreshToken(token);
  const found = await refreshTokenByHash(db, tokenHash);
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
  if (!(await spendRefreshToken(db, tokenHash))) {
    await revokeFamily(env, db, family, "refresh-token-reuse");
    throw invalidRefresh("this refresh token was already used; its family is now revoked; sign in again");
  }
  const subject = {
    id: found.userId,
    role: found.role,
    accountId: found.accountId,
    maturityLimit: found.maturityLimit,
    profileVersion: found.profileVersion,
  };
  return issueTokens(config, db, subject, found.familyId);
}
