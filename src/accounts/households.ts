/**
 * Households: an account and its profiles. The account's owner profile has the account's id,
 * every other profile an id of its own; tokens name the profile as their subject (`sub`) and
 * the account as `acc`, and each token family belongs to the account (`token_families.user_id`)
 * and signs in one profile (`profile_id`, null for the owner's).
 */
import type { Config } from "../config";
import { HttpProblem } from "../contracts/problems";
import type { Role } from "../db/accounts";
import type { Queryable } from "../db/client";
import { ensureOwnerProfile, liveAccountFamilies, type ProfileRecord, profileById } from "../db/profiles";
import { verifyPassword } from "../domain/passwords";
import type { Env } from "../env";
import { limitAttempts } from "./rate-limits";
import { type RevocationReason, revokeFamily, type TokenSubject } from "./tokens";

/** The owner profile's first name: the address's local part ("ada" for ada@example.com). */
export function ownerName(email: string): string {
  return (email.split("@")[0] ?? "").slice(0, 40) || "Owner";
}

/** What a profile's tokens say: the account's role for its owner, a plain user for everyone else. */
export function subjectOf(profile: ProfileRecord, accountRole: Role): TokenSubject {
  return {
    id: profile.id,
    role: profile.isOwner ? accountRole : "user",
    accountId: profile.accountId,
    maturityLimit: profile.maturityLimit,
    profileVersion: profile.version,
  };
}

/** The owner profile of an account signing in with its password, made on first sign-in. */
export async function ownerSubject(
  db: Queryable,
  account: { id: string; role: Role },
  email: string,
): Promise<TokenSubject> {
  await ensureOwnerProfile(db, account.id, ownerName(email));
  const owner = await profileById(db, account.id);
  if (!owner) throw new Error("the owner profile was not created");
  return subjectOf(owner, account.role);
}

/**
 * Signs every profile of the account out everywhere: each live family (the owner's logins,
 * profiles picked in them, TVs signed in by code) is revoked in its profile's object, then in
 * Postgres. Returns how many families were revoked.
 */
export async function revokeAccountFamilies(
  env: Env,
  db: Queryable,
  accountId: string,
  reason: RevocationReason,
): Promise<number> {
  const families = await liveAccountFamilies(db, accountId);
  await Promise.all(families.map((family) => revokeFamily(env, db, family, reason)));
  return families.length;
}

const pinProblem = (slug: string, detail: string) =>
  new HttpProblem(403, slug, detail, { errors: [{ path: "pin", message: detail }] });

/**
 * Entering a profile that has a PIN: each attempt takes one from the profile's bucket before the
 * PIN is checked (so guessing is slow whatever the answers), then the PIN is compared with its
 * hash. 403 when it is missing or wrong (not 401: the caller's token is fine), 429 past the limit.
 */
export async function checkPin(env: Env, config: Config, profile: ProfileRecord, pin: string | undefined) {
  if (profile.pinHash === null) return;
  if (pin === undefined) throw pinProblem("pin-required", "this profile has a PIN; send it as `pin`");
  await limitAttempts(env, `pin:${profile.id}`, {
    burst: config.PIN_ATTEMPTS_BURST,
    perSecond: config.PIN_ATTEMPTS_PER_HOUR / 3600,
  });
  if (!(await verifyPassword(pin, profile.pinHash))) throw pinProblem("wrong-pin", "the PIN is not correct");
}
