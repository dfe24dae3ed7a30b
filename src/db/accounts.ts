/** Accounts, token families and refresh tokens (stored as their SHA-256 only). */
import { and, eq, isNull, lt, sql } from "drizzle-orm";
import type { Queryable } from "./client";
import { refreshTokens, tokenFamilies, users } from "./schema";

export type Role = "user" | "admin";

/** Creates the account unless the address has one already (then nothing changes). */
export async function createUser(db: Queryable, user: { id: string; email: string; passwordHash: string }) {
  await db.insert(users).values(user).onConflictDoNothing({ target: users.email });
}

export async function userByEmail(
  db: Queryable,
  email: string,
): Promise<{ id: string; role: Role; passwordHash: string } | null> {
  const [user] = await db
    .select({ id: users.id, role: users.role, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.email, email))
    .limit(1);
  return user ?? null;
}

export async function userById(db: Queryable, id: string): Promise<{ email: string; createdAt: Date } | null> {
  const [row] = await db
    .select({ email: users.email, createdAt: users.createdAt })
    .from(users)
    .where(eq(users.id, id))
    .limit(1);
  return row ?? null;
}

/**
 * Stores a newly issued refresh token in one transaction: in a new family (a login), or in an
 * existing one whose expiry then follows its newest token (a rotation).
 */
export async function saveRefreshToken(
  db: Queryable,
  token: { tokenHash: string; familyId: string; newFamily: boolean; userId: string; expiresAt: Date },
): Promise<void> {
  await db.transaction(async (tx) => {
    const { tokenHash, familyId, userId, expiresAt } = token;
    if (token.newFamily) await tx.insert(tokenFamilies).values({ id: familyId, userId, expiresAt });
    else await tx.update(tokenFamilies).set({ expiresAt }).where(eq(tokenFamilies.id, familyId));
    await tx.insert(refreshTokens).values({ tokenHash, familyId, userId, expiresAt });
  });
}

export async function familyById(db: Queryable, id: string): Promise<{ id: string; userId: string } | null> {
  const [family] = await db
    .select({ id: tokenFamilies.id, userId: tokenFamilies.userId })
    .from(tokenFamilies)
    .where(eq(tokenFamilies.id, id))
    .limit(1);
  return family ?? null;
}

/** Records the revocation (the first reason stays). */
export async function markFamilyRevoked(db: Queryable, familyId: string, reason: string): Promise<void> {
  await db
    .update(tokenFamilies)
    .set({ revokedAt: new Date(), revokedReason: reason })
    .where(and(eq(tokenFamilies.id, familyId), isNull(tokenFamilies.revokedAt)));
}

export interface StoredRefreshToken {
  familyId: string;
  userId: string;
  expiresAt: Date;
  spentAt: Date | null;
  revokedAt: Date | null;
  role: Role;
}

/** A refresh token by its hash, with its family's revocation and its user's role. */
export async function refreshTokenByHash(db: Queryable, tokenHash: string): Promise<StoredRefreshToken | null> {
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
  return found ?? null;
}

/** Spends the token if nobody else did in between; false when it was spent already. */
export async function spendRefreshToken(db: Queryable, tokenHash: string): Promise<boolean> {
  const spent = await db
    .update(refreshTokens)
    .set({ spentAt: sql`now()` })
    .where(and(eq(refreshTokens.tokenHash, tokenHash), isNull(refreshTokens.spentAt)))
    .returning({ tokenHash: refreshTokens.tokenHash });
  return spent.length > 0;
}

/**
 * Deletes refresh tokens past their expiry (a spent one is kept until then, to recognize a
 * replay) and token families that stopped being usable (revoked or expired) before
 * `retentionStart`. Returns how many of each went.
 */
export async function deleteExpiredTokens(
  db: Queryable,
  now: Date,
  retentionStart: Date,
): Promise<{ refreshTokens: number; tokenFamilies: number }> {
  const tokens = await db
    .delete(refreshTokens)
    .where(lt(refreshTokens.expiresAt, now))
    .returning({ tokenHash: refreshTokens.tokenHash });
  const families = await db
    .delete(tokenFamilies)
    .where(sql`least(${tokenFamilies.revokedAt}, ${tokenFamilies.expiresAt}) < ${retentionStart}`)
    .returning({ id: tokenFamilies.id });
  return { refreshTokens: tokens.length, tokenFamilies: families.length };
}
