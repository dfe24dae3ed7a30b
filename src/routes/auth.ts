import { z } from "@hono/zod-openapi";
import { ownerSubject, revokeAccountFamilies } from "../accounts/households";
import { limitAuthAttempts } from "../accounts/rate-limits";
import {
  issueTokens,
  REFRESH_TOKEN_PATTERN,
  type RevocationReason,
  revokeFamily,
  rotateRefreshToken,
} from "../accounts/tokens";
import { requireUser } from "../auth";
import type { Config } from "../config";
import { HttpProblem } from "../contracts/problems";
import { createUser, familyById, userByEmail, userById } from "../db/accounts";
import { hashPassword, normalizeEmail, verifyPasswordOrDummy } from "../domain/passwords";
import type { AppContext } from "../env";
import { guardedRouter, json, problem, publicRoute, retryProblem, userRoute, withPostgres } from "./router";

const email = z.email().max(254).openapi({ example: "ada@example.com" });
const registerBody = z
  .object({
    email,
    // NIST SP 800-63B: at least 8 characters, long passphrases welcome.
    password: z.string().min(8).max(1024).openapi({ example: "correct horse battery staple" }),
  })
  .openapi("Register");
const loginBody = z.object({ email, password: z.string().min(1).max(1024) }).openapi("Login");
const refreshBody = z
  .object({
    refresh_token: z.string().regex(REFRESH_TOKEN_PATTERN, "a refresh token this API issued (43 characters)"),
  })
  .openapi("Refresh");

const tokenPairSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number().int().openapi({ description: "seconds until the access token expires" }),
    refresh_token: z.string().openapi({ description: "opaque; single use: each refresh returns a new one" }),
    refresh_expires_in: z.number().int(),
    family_id: z.string(),
    user_id: z.string().openapi({ description: "the profile these tokens sign in" }),
  })
  .openapi("TokenPair");

const registeredSchema = z.object({ email: z.string(), detail: z.string() }).openapi("RegistrationAccepted");

const meSchema = z
  .object({
    user_id: z.string().openapi({ description: "the profile signed in: the user every per-user endpoint serves" }),
    account_id: z.string().openapi({ description: "the account (household) the profile belongs to" }),
    is_owner: z.boolean().openapi({ description: "whether this is the account's owner profile" }),
    maturity_limit: z.string().nullable().openapi({ description: "the profile's maturity limit; null: none" }),
    role: z.enum(["user", "admin"]),
    family_id: z.string().nullable(),
    email: z.string().nullable().openapi({ description: "null for a token from an outside identity provider" }),
    created_at: z.string().nullable().openapi({ format: "date-time" }),
    expires_at: z.string().nullable().openapi({ format: "date-time", description: "of this access token" }),
  })
  .openapi("Me");

const familyParams = z.object({
  family_id: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, "a family id")
    .openapi({ param: { name: "family_id", in: "path" }, example: "4f8e6f8e-1b7a-4c1e-9d1e-1f2a3b4c5d6e" }),
});

const accountsUnavailable = retryProblem("Accounts unavailable; retry after Retry-After");
const accountsDisabled = problem("Accounts are managed by this deployment's identity provider");
/** Register and login: accounts may be disabled, and attempts are rate limited. */
const accountErrors = { 404: accountsDisabled, 429: retryProblem("Too many attempts; see Retry-After") };

/** Accounts need our own signing key; a deployment that trusts an outside identity provider has none. */
function requireAccounts(config: Config): void {
  if (!config.JWT_SECRET) {
    throw new HttpProblem(404, "accounts-disabled", "accounts are managed by this deployment's identity provider");
  }
}

/** Register and login alike: accounts enabled, the email normalized, both rate limits taken. */
async function admitAttempt(c: AppContext, email: string): Promise<string> {
  requireAccounts(c.var.config);
  const address = normalizeEmail(email);
  await limitAuthAttempts(c.env, c.var.config, clientAddress(c), address);
  return address;
}

const clientAddress = (c: AppContext) => c.req.header("cf-connecting-ip");

export { tokenPairSchema };

export const authRoutes = guardedRouter(["/auth/logout", "/auth/revoke-family/*", "/me"], requireUser)
  .openapi(
    publicRoute("Accounts", "post", "/auth/register", "Create an account", {
      description:
        "Answers the same 202 whether or not the address already has an account, and takes the same time: " +
        "a duplicate creates nothing and changes nothing, and nobody learns which addresses are registered. " +
        "Sign in with /auth/login afterwards. Rate limited per client address and per address.",
      request: { body: { content: json(registerBody), required: true } },
      responses: {
        202: { description: "Accepted", content: json(registeredSchema) },
        ...accountErrors,
        503: accountsUnavailable,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const address = await admitAttempt(c, body.email);
      const passwordHash = await hashPassword(body.password);
      await withPostgres(c, "accounts", (db) =>
        createUser(db, { id: crypto.randomUUID(), email: address, passwordHash }),
      );
      return c.json(
        { email: address, detail: "if this address had no account, it has one now; sign in with /api/v1/auth/login" },
        202,
      );
    },
  )
  .openapi(
    publicRoute("Accounts", "post", "/auth/login", "Sign in: an access token and a refresh token in a new family", {
      description:
        "An unknown address and a wrong password give the same 401 in the same time. Rate limited per client " +
        "address and per address: 429 with Retry-After.",
      request: { body: { content: json(loginBody), required: true } },
      responses: {
        200: { description: "Signed in", content: json(tokenPairSchema) },
        401: problem("Wrong email or password"),
        ...accountErrors,
        503: accountsUnavailable,
      },
    }),
    async (c) => {
      const config = c.var.config;
      const body = c.req.valid("json");
      const address = await admitAttempt(c, body.email);
      const pair = await withPostgres(c, "accounts", async (db) => {
        const user = await userByEmail(db, address);
        const ok = await verifyPasswordOrDummy(body.password, user?.passwordHash ?? null);
        if (!user || !ok) throw new HttpProblem(401, "invalid-credentials", "the email or the password is not correct");
        // Signing in with the password is the owner: other profiles are picked with /profiles/{id}/select.
        return issueTokens(config, db, await ownerSubject(db, user, address));
      });
      return c.json(pair, 200);
    },
  )
  .openapi(
    publicRoute("Accounts", "post", "/auth/refresh", "Rotate a refresh token", {
      description:
        "Spends the refresh token and returns a new pair in the same family. Presenting a refresh token that " +
        "was already used revokes its whole family (someone else holds a copy): every token of it is refused.",
      request: { body: { content: json(refreshBody), required: true } },
      responses: {
        200: { description: "Rotated", content: json(tokenPairSchema) },
        401: problem("The refresh token is not valid, expired, or its family was revoked"),
        404: accountsDisabled,
        503: accountsUnavailable,
      },
    }),
    async (c) => {
      const config = c.var.config;
      requireAccounts(config);
      const { refresh_token } = c.req.valid("json");
      const pair = await withPostgres(c, "accounts", (db) => rotateRefreshToken(config, c.env, db, refresh_token));
      return c.json(pair, 200);
    },
  )
  .openapi(
    userRoute(
      "Accounts",
      "post",
      "/auth/logout",
      "Sign out: revoke this token's family, or every family of the account",
      {
        description:
          "The access and refresh tokens of this sign-in are refused from the next request on. With " +
          "`everywhere=true` (the account's owner only), every family of the account is revoked: every " +
          "profile is signed out on every device, TVs included.",
        request: {
          query: z.object({
            everywhere: z
              .enum(["true", "false"])
              .optional()
              .openapi({ description: "sign every profile of the account out everywhere (owner only)" }),
          }),
        },
        responses: {
          204: { description: "Signed out" },
          403: problem("Only the account's owner signs everyone out"),
        },
      },
    ),
    async (c) => {
      const caller = c.var.caller;
      if (c.req.valid("query").everywhere === "true") {
        if (caller.sub !== caller.account) {
          throw new HttpProblem(403, "owner-only", "only the account's owner profile signs everyone out");
        }
        await withPostgres(c, "accounts", (db) => revokeAccountFamilies(c.env, db, caller.account, "logout"));
        return c.body(null, 204);
      }
      if (!caller.fid) {
        throw new HttpProblem(
          400,
          "no-token-family",
          "this token was not issued by /auth/login; sign out at its issuer",
        );
      }
      const family = { id: caller.fid, userId: caller.sub };
      await withPostgres(c, "accounts", (db) => revokeFamily(c.env, db, family, "logout"));
      return c.body(null, 204);
    },
  )
  .openapi(
    userRoute("Accounts", "post", "/auth/revoke-family/{family_id}", "Revoke a token family (its owner or an admin)", {
      description:
        "Every access and refresh token of the family is refused from the next request on, on every endpoint. " +
        "A profile revokes its own families; the account's owner also those of the account's other profiles " +
        "(a TV signed in as a child, say). Anyone else's family answers 404, as an unknown one does.",
      request: { params: familyParams },
      responses: { 204: { description: "Revoked" } },
    }),
    async (c) => {
      const caller = c.var.caller;
      const { family_id } = c.req.valid("param");
      await withPostgres(c, "accounts", async (db) => {
        const family = await familyById(db, family_id);
        const isAdmin = caller.role === "admin";
        const isAccountOwner = caller.sub === caller.account && family?.accountId === caller.account;
        if (!family || (family.userId !== caller.sub && !isAccountOwner && !isAdmin))
          throw new HttpProblem(404, "not-found", "no such token family");
        const reason: RevocationReason =
          family.userId === caller.sub || isAccountOwner ? "revoked-by-owner" : "revoked-by-admin";
        await revokeFamily(c.env, db, family, reason);
      });
      return c.body(null, 204);
    },
  )
  .openapi(
    userRoute("Accounts", "get", "/me", "The signed-in user", {
      responses: { 200: { description: "The caller", content: json(meSchema) } },
    }),
    async (c) => {
      const caller = c.var.caller;
      const account = await withPostgres(c, "accounts", (db) => userById(db, caller.account));
      return c.json(
        {
          user_id: caller.sub,
          account_id: caller.account,
          is_owner: caller.sub === caller.account,
          maturity_limit: caller.maturityLimit ?? null,
          role: caller.role,
          family_id: caller.fid ?? null,
          email: account?.email ?? null,
          created_at: account?.createdAt.toISOString() ?? null,
          expires_at: caller.exp ? new Date(caller.exp * 1000).toISOString() : null,
        },
        200,
      );
    },
  );
