/** Accounts, token families and refresh tokens (stored as their SHA-256 only). */
import { and, eq, isNull, lt, sql } from "drizzle-orm";
import type { Queryable } from "./client";
import { profiles, refreshTokens, tokenFamilies, users } from "./schema";

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

export async function userById(
  db: Queryable,
  id: string,
): Promise<{ email: string; role: Role; createdAt: Date } | null> {
  const [row] = await db
    .select({ email: users.email, role: users.role, createdAt: users.createdAt })
    .from(users)
    .where(eq(users.id, id))
    .limit(1);
  return row ?? null;
}

/**
 * Stores a newly issued refresh token in one transaction: in a new family (a login), or in an
 * existing one whose expiry then follows its newest token (a rotation). A family belongs to the
 * account (`accountId`) and signs in one of its profiles (`userId`, the tokens' subject).
 */
export async function saveRefreshToken(
  db: Queryable,
  token: {
    tokenHash: string;
    familyId: string;
    newFamily: boolean;
    userId: string;
    accountId: string;
    expiresAt: Date;
  },
): Promise<void> {
  await db.transaction(async (tx) => {
    const { tokenHash, familyId, userId, accountId, expiresAt } = token;
    if (token.newFamily) {
      const profileId = userId === accountId ? null : userId;
      await tx.insert(tokenFamilies).values({ id: familyId, userId: accountId, profileId, expiresAt });
    } else await tx.update(tokenFamilies).set({ expiresAt }).where(eq(tokenFamilies.id, familyId));
    await tx.insert(refreshTokens).values({ tokenHash, familyId, userId, expiresAt });
  });
}

/** The family's profile (`userId`, the subject of its tokens) and account. */
export async function familyById(
  db: Queryable,
  id: string,
): Promise<{ id: string; userId: string; accountId: string } | null> {
  const [family] = await db
    .select({
      id: tokenFamilies.id,
      userId: sql<string>`coalesce(${tokenFamilies.profileId}, ${tokenFamilies.userId})`,
      accountId: tokenFamilies.userId,
    })
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
  /** The profile the family signs in: the subject of its tokens. */
  userId: string;
  accountId: string;
  expiresAt: Date;
  spentAt: Date | null;
  revokedAt: Date | null;
  /** The account's role for its owner profile; other profiles are plain users. */
  role: Role;
  /** The profile's current limit and version (null and 0 for an owner from before profiles). */
  maturityLimit: string | null;
  profileVersion: number;
}

/** A refresh token by its hash, with its family's revocation, its profile as it is now and its role. */
export async function refreshTokenByHash(db: Queryable, tokenHash: string): Promise<StoredRefreshToken | null> {
  const subject = sql<string>`coalesce(${tokenFamilies.profileId}, ${tokenFamilies.userId})`;
  const [found] = await db
    .select({
      familyId: refreshTokens.familyId,
      userId: subject,
      accountId: tokenFamilies.userId,
      expiresAt: refreshTokens.expiresAt,
      spentAt: refreshTokens.spentAt,
      revokedAt: tokenFamilies.revokedAt,
      role: sql<Role>`case when ${tokenFamilies.profileId} is null then ${users.role} else 'user' end`,
      maturityLimit: profiles.maturityLimit,
      profileVersion: sql<number>`coalesce(${profiles.version}, 0)`,
    })
    .from(refreshTokens)
    .innerJoin(tokenFamilies, eq(tokenFamilies.id, refreshTokens.familyId))
    .innerJoin(users, eq(users.id, tokenFamilies.userId))
    .leftJoin(profiles, eq(profiles.id, subject))
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
