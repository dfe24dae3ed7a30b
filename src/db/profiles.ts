/** The profiles of an account, and what deleting one removes from Postgres. */
import { and, asc, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Queryable } from "./client";
import {
  erasedUsers,
  eventLog,
  experimentAssignments,
  historyClears,
  devices as mirroredDevices,
  plays,
  preferenceProfiles,
  profileJobs,
  profiles,
  ratings,
  tokenFamilies,
  userAdapters,
  watchHistory,
  watchlistEntries,
  webhookDeliveries,
  webhooks,
} from "./schema";

export interface ProfileRecord {
  id: string;
  accountId: string;
  name: string;
  maturityLimit: string | null;
  pinHash: string | null;
  isOwner: boolean;
  version: number;
  createdAt: Date;
}

const columns = {
  id: profiles.id,
  accountId: profiles.accountId,
  name: profiles.name,
  maturityLimit: profiles.maturityLimit,
  pinHash: profiles.pinHash,
  isOwner: profiles.isOwner,
  version: profiles.version,
  createdAt: profiles.createdAt,
};

/**
 * The owner's profile has the account's id, so an account from before profiles keeps its state
 * and tokens. Made on first need; a second call changes nothing.
 */
export async function ensureOwnerProfile(db: Queryable, accountId: string, name: string): Promise<void> {
  await db.insert(profiles).values({ id: accountId, accountId, name, isOwner: true }).onConflictDoNothing();
}

/** The owner first, then the others in the order they were made. */
export async function listProfiles(db: Queryable, accountId: string): Promise<ProfileRecord[]> {
  return db
    .select(columns)
    .from(profiles)
    .where(eq(profiles.accountId, accountId))
    .orderBy(desc(profiles.isOwner), asc(profiles.createdAt), asc(profiles.id));
}

export async function profileById(db: Queryable, id: string): Promise<ProfileRecord | null> {
  const [row] = await db.select(columns).from(profiles).where(eq(profiles.id, id)).limit(1);
  return row ?? null;
}

export type ProfileWriteRefusal = "name-taken" | "too-many";

const isUniqueViolation = (error: unknown): boolean => {
  for (
    let e = error, depth = 0;
    e && typeof e === "object" && depth < 5;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    if ((e as { code?: unknown }).code === "23505") return true;
  }
  return false;
};

/**
 * Adds a profile unless the account has `max` already or one of the same name (any case). The
 * owner's row is locked first, so two concurrent additions cannot both take the last place.
 */
export async function createProfile(
  db: Queryable,
  profile: { id: string; accountId: string; name: string; maturityLimit: string | null; pinHash: string | null },
  max: number,
): Promise<ProfileRecord | ProfileWriteRefusal> {
  try {
    return await db.transaction(async (tx) => {
      await tx.execute(sql`select id from ${profiles} where ${profiles.id} = ${profile.accountId} for update`);
      const [{ n }] = (await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(profiles)
        .where(eq(profiles.accountId, profile.accountId))) as [{ n: number }];
      if (n >= max) return "too-many" as const;
      const [row] = await tx.insert(profiles).values(profile).returning(columns);
      return row as ProfileRecord;
    });
  } catch (error) {
    if (isUniqueViolation(error)) return "name-taken";
    throw error;
  }
}

/**
 * Changes a profile of the account; a new maturity limit raises its version, which makes the
 * tokens it signed in with stale. Null when the account has no such profile.
 */
export async function updateProfile(
  db: Queryable,
  accountId: string,
  id: string,
  patch: { name?: string; maturityLimit?: string | null; pinHash?: string | null },
): Promise<ProfileRecord | null | "name-taken"> {
  const set: Record<string, unknown> = { updatedAt: sql`now()` };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.pinHash !== undefined) set.pinHash = patch.pinHash;
  if (patch.maturityLimit !== undefined) {
    set.maturityLimit = patch.maturityLimit;
    set.version = sql`${profiles.version} + (${profiles.maturityLimit} is distinct from ${patch.maturityLimit})::int`;
  }
  try {
    const [row] = await db
      .update(profiles)
      .set(set)
      .where(and(eq(profiles.id, id), eq(profiles.accountId, accountId)))
      .returning(columns);
    return row ?? null;
  } catch (error) {
    if (isUniqueViolation(error)) return "name-taken";
    throw error;
  }
}

/**
 * Removes a profile that is not the owner's; its token families and refresh tokens go with it
 * (foreign keys). False when the account has no such profile.
 */
export async function deleteProfile(db: Queryable, accountId: string, id: string): Promise<boolean> {
  const gone = await db
    .delete(profiles)
    .where(and(eq(profiles.id, id), eq(profiles.accountId, accountId), eq(profiles.isOwner, false)))
    .returning({ id: profiles.id });
  return gone.length > 0;
}

/** Every family of the account still usable, whichever profile it signed in. */
export async function liveAccountFamilies(db: Queryable, accountId: string): Promise<{ id: string; userId: string }[]> {
  return db
    .select({
      id: tokenFamilies.id,
      userId: sql<string>`coalesce(${tokenFamilies.profileId}, ${tokenFamilies.userId})`,
    })
    .from(tokenFamilies)
    .where(
      and(
        eq(tokenFamilies.userId, accountId),
        isNull(tokenFamilies.revokedAt),
        sql`${tokenFamilies.expiresAt} > now()`,
      ),
    );
}

// ---- deleting a profile's state (the queue consumer, on `profile-deleted`) ----

/**
 * Deletes every row of the user's in Postgres and remembers the user as erased, in the caller's
 * transaction. Idempotent.
 */
export async function eraseUserRows(db: Queryable, userId: string): Promise<number> {
  await db.insert(erasedUsers).values({ userId }).onConflictDoNothing();
  let removed = 0;
  for (const table of [
    watchHistory,
    historyClears,
    plays,
    ratings,
    watchlistEntries,
    mirroredDevices,
    preferenceProfiles,
    userAdapters,
    profileJobs,
    experimentAssignments,
    // The retained event log forgets the profile too: a consumer catching up sees its `profile-deleted` only.
    eventLog,
  ]) {
    const result = await db.delete(table).where(eq(table.userId, userId));
    removed += (result as { rowCount?: number | null }).rowCount ?? 0;
  }
  // The profile's webhooks (their deliveries go with them), and deliveries of its events to anyone's.
  for (const result of [
    await db.delete(webhooks).where(eq(webhooks.ownerId, userId)),
    await db.delete(webhookDeliveries).where(eq(webhookDeliveries.userId, userId)),
  ]) {
    removed += (result as { rowCount?: number | null }).rowCount ?? 0;
  }
  return removed;
}

/** Which of these users were erased: their events are dropped. */
export async function erasedAmong(db: Queryable, userIds: readonly string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db
    .select({ userId: erasedUsers.userId })
    .from(erasedUsers)
    .where(inArray(erasedUsers.userId, [...userIds]));
  return new Set(rows.map((r) => r.userId));
}
