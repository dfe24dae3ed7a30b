import { createRoute, z } from "@hono/zod-openapi";
import { eq } from "drizzle-orm";
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
import { type Database, withDatabase } from "../db/client";
import { tokenFamilies, users } from "../db/schema";
import { hashPassword, normalizeEmail, verifyPasswordOrDummy } from "../domain/passwords";
import type { AppContext } from "../env";
import { errorResponses, problemSchema, router } from "./router";

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

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
    user_id: z.string(),
  })
  .openapi("TokenPair");

const registeredSchema = z.object({ email: z.string(), detail: z.string() }).openapi("RegistrationAccepted");

const meSchema = z
  .object({
    user_id: z.string(),
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

const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: problemSchema } },
});

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

/** Postgres for an account operation; an outage is a 503 the client may retry, not a 500. */
async function accountsDb<T>(config: Config, work: (db: Database) => Promise<T>): Promise<T> {
  try {
    return await withDatabase(config, work);
  } catch (error) {
    if (error instanceof HttpProblem) throw error;
    console.error("accounts: database error", String(error));
    throw new HttpProblem(503, "accounts-unavailable", "accounts are unavailable right now; retry shortly", {
      headers: { "retry-after": "5" },
    });
  }
}

const clientAddress = (c: AppContext) => c.req.header("cf-connecting-ip");

const base = router();
base.use("/auth/logout", requireUser);
base.use("/auth/revoke-family/*", requireUser);
base.use("/me", requireUser);

export const authRoutes = base
  .openapi(
    createRoute({
      method: "post",
      path: "/auth/register",
      tags: ["Accounts"],
      summary: "Create an account",
      description:
        "Answers the same 202 whether or not the address already has an account, and takes the same time: " +
        "a duplicate creates nothing and changes nothing, and nobody learns which addresses are registered. " +
        "Sign in with /auth/login afterwards. Rate limited per client address and per address.",
      request: { body: { content: json(registerBody), required: true } },
      responses: {
        202: { description: "Accepted", content: json(registeredSchema) },
        ...errorResponses,
        503: problem("Accounts unavailable; retry"),
      },
    }),
    async (c) => {
      const config = c.var.config;
      const body = c.req.valid("json");
      const address = await admitAttempt(c, body.email);
      const passwordHash = await hashPassword(body.password);
      await accountsDb(config, (db) =>
        db
          .insert(users)
          .values({ id: crypto.randomUUID(), email: address, passwordHash })
          .onConflictDoNothing({ target: users.email }),
      );
      return c.json(
        { email: address, detail: "if this address had no account, it has one now; sign in with /api/v1/auth/login" },
        202,
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/auth/login",
      tags: ["Accounts"],
      summary: "Sign in: an access token and a refresh token in a new family",
      description:
        "An unknown address and a wrong password give the same 401 in the same time. Rate limited per client " +
        "address and per address: 429 with Retry-After.",
      request: { body: { content: json(loginBody), required: true } },
      responses: {
        200: { description: "Signed in", content: json(tokenPairSchema) },
        ...errorResponses,
        503: problem("Accounts unavailable; retry"),
      },
    }),
    async (c) => {
      const config = c.var.config;
      const body = c.req.valid("json");
      const address = await admitAttempt(c, body.email);
      const pair = await accountsDb(config, async (db) => {
        const [user] = await db
          .select({ id: users.id, role: users.role, passwordHash: users.passwordHash })
          .from(users)
          .where(eq(users.email, address))
          .limit(1);
        const ok = await verifyPasswordOrDummy(body.password, user?.passwordHash ?? null);
        if (!user || !ok) throw new HttpProblem(401, "invalid-credentials", "the email or the password is not correct");
        return issueTokens(config, db, user);
      });
      return c.json(pair, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/auth/refresh",
      tags: ["Accounts"],
      summary: "Rotate a refresh token",
      description:
        "Spends the refresh token and returns a new pair in the same family. Presenting a refresh token that " +
        "was already used revokes its whole family (someone else holds a copy): every token of it is refused.",
      request: { body: { content: json(refreshBody), required: true } },
      responses: {
        200: { description: "Rotated", content: json(tokenPairSchema) },
        ...errorResponses,
        503: problem("Accounts unavailable; retry"),
      },
    }),
    async (c) => {
      const config = c.var.config;
      requireAccounts(config);
      const { refresh_token } = c.req.valid("json");
      const pair = await accountsDb(config, (db) => rotateRefreshToken(config, c.env, db, refresh_token));
      return c.json(pair, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/auth/logout",
      security: [{ bearer: [] }],
      tags: ["Accounts"],
      summary: "Sign out: revoke this token's family",
      description: "The access and refresh tokens of this sign-in are refused from the next request on.",
      responses: { 204: { description: "Signed out" }, ...errorResponses },
    }),
    async (c) => {
      const caller = c.var.caller;
      if (!caller.fid) {
        throw new HttpProblem(
          400,
          "no-token-family",
          "this token was not issued by /auth/login; sign out at its issuer",
        );
      }
      const family = { id: caller.fid, userId: caller.sub };
      await accountsDb(c.var.config, (db) => revokeFamily(c.env, db, family, "logout"));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/auth/revoke-family/{family_id}",
      security: [{ bearer: [] }],
      tags: ["Accounts"],
      summary: "Revoke a token family (its owner or an admin)",
      description:
        "Every access and refresh token of the family is refused from the next request on, on every endpoint. " +
        "Another user's family answers 404, as an unknown one does.",
      request: { params: familyParams },
      responses: { 204: { description: "Revoked" }, ...errorResponses },
    }),
    async (c) => {
      const caller = c.var.caller;
      const { family_id } = c.req.valid("param");
      await accountsDb(c.var.config, async (db) => {
        const [family] = await db
          .select({ id: tokenFamilies.id, userId: tokenFamilies.userId })
          .from(tokenFamilies)
          .where(eq(tokenFamilies.id, family_id))
          .limit(1);
        const isAdmin = caller.role === "admin";
        if (!family || (family.userId !== caller.sub && !isAdmin))
          throw new HttpProblem(404, "not-found", "no such token family");
        const reason: RevocationReason = family.userId === caller.sub ? "revoked-by-owner" : "revoked-by-admin";
        await revokeFamily(c.env, db, family, reason);
      });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/me",
      security: [{ bearer: [] }],
      tags: ["Accounts"],
      summary: "The signed-in user",
      responses: { 200: { description: "The caller", content: json(meSchema) }, ...errorResponses },
    }),
    async (c) => {
      const caller = c.var.caller;
      const account = await accountsDb(c.var.config, async (db) => {
        const [row] = await db
          .select({ email: users.email, createdAt: users.createdAt })
          .from(users)
          .where(eq(users.id, caller.sub))
          .limit(1);
        return row ?? null;
      });
      return c.json(
        {
          user_id: caller.sub,
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
