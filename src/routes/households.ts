/**
 * The profiles of an account: the owner manages them, every profile of the account lists them
 * and switches to one (with its PIN when it has one).
 */
import { z } from "@hono/zod-openapi";
import { checkPin, ownerName, subjectOf } from "../accounts/households";
import { issueTokens } from "../accounts/tokens";
import { requireUser } from "../auth";
import { HttpProblem, notFound } from "../contracts/problems";
import { userById } from "../db/accounts";
import type { Queryable } from "../db/client";
import {
  createProfile,
  deleteProfile,
  ensureOwnerProfile,
  listProfiles,
  type ProfileRecord,
  profileById,
  updateProfile,
} from "../db/profiles";
import { MATURITY_LABELS } from "../domain/maturity";
import { hashPassword } from "../domain/passwords";
import type { AppContext, Caller } from "../env";
import { tokenPairSchema } from "./auth";
import { guardedRouter, json, problem, resourceId, unavailableResponse, userRoute, withPostgres } from "./router";

export const profileSchema = z
  .object({
    id: z.string().openapi({ description: "the profile's user id: the `sub` of its tokens" }),
    name: z.string(),
    maturity_limit: z.enum(MATURITY_LABELS).nullable().openapi({ description: "null: no limit" }),
    has_pin: z.boolean(),
    is_owner: z.boolean(),
    created_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("HouseholdProfile");

const profileList = z
  .object({
    items: z.array(profileSchema),
    next_cursor: z.null().openapi({ description: "always null: an account has at most PROFILES_MAX profiles" }),
  })
  .openapi("HouseholdProfiles");

const name = z
  .string()
  .trim()
  .min(1)
  .max(40)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  .regex(/^[^\x00-\x1f\x7f-\x9f]*$/, "no control characters")
  // A lone surrogate is no character at all (a published pattern cannot say so without flags).
  .refine((text) => !/\p{Cs}/u.test(text), "no lone surrogates")
  .openapi({ example: "Kids" });
const maturityLimit = z.enum(MATURITY_LABELS).nullable().openapi({
  description:
    "the highest rating the profile sees, on the scale TV-Y < TV-Y7 < G/TV-G < PG/TV-PG < PG-13/TV-14 < R/TV-MA < NC-17",
  example: "PG",
});
// The message never repeats what was typed: a PIN appears in no response.
const pin = z
  .string()
  .regex(/^\d{4,8}$/, "4 to 8 digits")
  .openapi({ description: "4 to 8 digits; never returned", example: "1234" });

const createBody = z
  .object({ name, maturity_limit: maturityLimit.optional(), pin: pin.optional() })
  .openapi("CreateProfile");
const patchBody = z
  .object({
    name: name.optional(),
    maturity_limit: maturityLimit.optional(),
    pin: pin.nullable().optional().openapi({ description: "null removes the PIN" }),
  })
  .refine((b) => b.name !== undefined || b.maturity_limit !== undefined || b.pin !== undefined, {
    message: "give at least one of name, maturity_limit, pin",
  })
  .openapi("UpdateProfile");
const selectBody = z.object({ pin: pin.optional() }).openapi("SelectProfile");
const idParams = z.object({ id: resourceId("id") });

const ownerOnly = problem("Only the account's owner profile manages profiles");

function present(p: ProfileRecord): z.infer<typeof profileSchema> {
  return {
    id: p.id,
    name: p.name,
    maturity_limit: p.maturityLimit as z.infer<typeof profileSchema>["maturity_limit"],
    has_pin: p.pinHash !== null,
    is_owner: p.isOwner,
    created_at: p.createdAt.toISOString(),
  };
}

/** The caller's account, its owner profile made on first need; 404 for a token with no account here. */
async function household(db: Queryable, caller: Caller): Promise<{ email: string; role: "user" | "admin" }> {
  const account = await userById(db, caller.account);
  if (!account) {
    throw new HttpProblem(404, "no-account", "this token's user has no account here; profiles belong to accounts");
  }
  await ensureOwnerProfile(db, caller.account, ownerName(account.email));
  return account;
}

function requireOwner(caller: Caller): void {
  if (caller.sub !== caller.account) {
    throw new HttpProblem(403, "owner-only", "only the account's owner profile manages profiles");
  }
}

/** A profile of the caller's account, or the 404 any other id gets (another account's profiles do not exist here). */
async function ownProfile(db: Queryable, caller: Caller, id: string): Promise<ProfileRecord> {
  const profile = await profileById(db, id);
  if (!profile || profile.accountId !== caller.account) throw notFound("profile");
  return profile;
}

const stateOf = (c: AppContext, profileId: string) => c.env.USER_STATE.get(c.env.USER_STATE.idFromName(profileId));

const nameTaken = () => new HttpProblem(409, "name-taken", "the account has a profile of that name already");

const noAccount = problem("The token's user has no account here (a developer token): no household");

export const householdRoutes = guardedRouter(["/profiles", "/profiles/*"], requireUser)
  .openapi(
    userRoute("Households", "get", "/profiles", "The account's profiles", {
      description:
        "Every profile of the caller's account, the owner's first. Any profile of the account may list them " +
        "(to switch). PINs are never returned, only whether a profile has one.",
      responses: {
        200: { description: "The profiles", content: json(profileList) },
        404: noAccount,
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const caller = c.var.caller;
      const items = await withPostgres(c, "accounts", async (db) => {
        await household(db, caller);
        return listProfiles(db, caller.account);
      });
      return c.json({ items: items.map(present), next_cursor: null }, 200);
    },
  )
  .openapi(
    userRoute("Households", "post", "/profiles", "Add a profile (owner)", {
      description:
        "A new person of the household: a user of their own (resume points, watchlist, history, devices, " +
        "recommendations), with an optional maturity limit and an optional PIN (4–8 digits, stored hashed). " +
        "At most PROFILES_MAX profiles per account; names are unique in the account whatever their case.",
      request: { body: { content: json(createBody), required: true } },
      responses: {
        201: { description: "Created", content: json(profileSchema) },
        403: ownerOnly,
        404: noAccount,
        409: problem("A profile of that name exists, or the account has PROFILES_MAX profiles"),
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const caller = c.var.caller;
      requireOwner(caller);
      const body = c.req.valid("json");
      const pinHash = body.pin === undefined ? null : await hashPassword(body.pin);
      const created = await withPostgres(c, "accounts", async (db) => {
        await household(db, caller);
        return createProfile(
          db,
          {
            id: crypto.randomUUID(),
            accountId: caller.account,
            name: body.name,
            maturityLimit: body.maturity_limit ?? null,
            pinHash,
          },
          c.var.config.PROFILES_MAX,
        );
      });
      if (created === "name-taken") throw nameTaken();
      if (created === "too-many") {
        throw new HttpProblem(409, "too-many-profiles", `an account has at most ${c.var.config.PROFILES_MAX} profiles`);
      }
      return c.json(present(created), 201);
    },
  )
  .openapi(
    userRoute("Households", "patch", "/profiles/{id}", "Rename a profile, change its limit or PIN (owner)", {
      description:
        "A new maturity limit applies from the profile's next request on: its access tokens issued before are " +
        "answered 401 `token-stale` and a refresh gives tokens with the new limit. `pin: null` removes the PIN.",
      request: { params: idParams, body: { content: json(patchBody), required: true } },
      responses: {
        200: { description: "The profile", content: json(profileSchema) },
        403: ownerOnly,
        409: problem("A profile of that name exists"),
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const caller = c.var.caller;
      requireOwner(caller);
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const pinHash = body.pin === undefined ? undefined : body.pin === null ? null : await hashPassword(body.pin);
      const updated = await withPostgres(c, "accounts", async (db) => {
        await household(db, caller);
        return updateProfile(db, caller.account, id, {
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(body.maturity_limit !== undefined ? { maturityLimit: body.maturity_limit } : {}),
          ...(pinHash !== undefined ? { pinHash } : {}),
        });
      });
      if (updated === "name-taken") throw nameTaken();
      if (!updated) throw notFound("profile");
      // Told every time the limit is sent, so a retry after a failure here still gets it through.
      if (body.maturity_limit !== undefined) await stateOf(c, updated.id).raiseProfileVersion(updated.version);
      return c.json(present(updated), 200);
    },
  )
  .openapi(
    userRoute("Households", "delete", "/profiles/{id}", "Delete a profile and everything of it (owner)", {
      description:
        "The profile's state goes with it: its Durable Object is emptied at once (its tokens are refused from " +
        "the next request on), and its rows in Postgres are deleted by the queue consumer. Nothing of another " +
        "profile is touched. The owner's own profile cannot be deleted.",
      request: { params: idParams },
      responses: {
        204: { description: "Deleted" },
        403: ownerOnly,
        409: problem("The owner's profile cannot be deleted"),
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const caller = c.var.caller;
      requireOwner(caller);
      const { id } = c.req.valid("param");
      const profile = await withPostgres(c, "accounts", async (db) => {
        await household(db, caller);
        return ownProfile(db, caller, id);
      });
      if (profile.isOwner) throw new HttpProblem(409, "owner-profile", "the owner's profile cannot be deleted");
      // The object first: once it is empty no token of the profile works, whatever happens next.
      await stateOf(c, profile.id).erase();
      await withPostgres(c, "accounts", (db) => deleteProfile(db, caller.account, profile.id));
      return c.body(null, 204);
    },
  )
  .openapi(
    userRoute("Households", "post", "/profiles/{id}/select", "Switch to a profile: tokens for it", {
      description:
        "Any profile of the account may switch to another. A profile with a PIN needs it in `pin` unless the " +
        "caller is the account's owner or the profile itself: a wrong or missing PIN is 403, and after " +
        "PIN_ATTEMPTS_BURST attempts (right or wrong) a 429 with Retry-After. The answer is a token pair like " +
        "login's, in a new family that belongs to the chosen profile.",
      request: { params: idParams, body: { content: json(selectBody), required: false } },
      responses: {
        200: { description: "Signed in as the profile", content: json(tokenPairSchema) },
        403: problem("The profile's PIN is missing or wrong"),
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const caller = c.var.caller;
      const { id } = c.req.valid("param");
      const body = c.req.valid("json") ?? {};
      const config = c.var.config;
      const pair = await withPostgres(c, "accounts", async (db) => {
        const account = await household(db, caller);
        const profile = await ownProfile(db, caller, id);
        const trusted = caller.sub === caller.account || caller.sub === profile.id;
        if (!trusted) await checkPin(c.env, config, profile, body.pin);
        return issueTokens(config, db, subjectOf(profile, account.role));
      });
      return c.json(pair, 200);
    },
  );
