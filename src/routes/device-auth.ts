/**
 * Signing in on a TV by code: the OAuth 2.0 Device Authorization Grant (RFC 8628). The TV asks
 * for a code, shows the user code, and polls; a person signed in on a phone enters the code,
 * picks the profile, and approves or denies. Each code lives in its own DeviceAuthorization
 * object (named by the user code), so polls are one Durable Object hop and never touch Postgres.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { checkPin, subjectOf } from "../accounts/households";
import { limitAttempts } from "../accounts/rate-limits";
import { hashRefreshToken, issueTokens } from "../accounts/tokens";
import { requireUser } from "../auth";
import { HttpProblem, notFound } from "../contracts/problems";
import { userById } from "../db/accounts";
import { profileById } from "../db/profiles";
import { addressKey } from "../domain/client-address";
import {
  DEVICE_CODE_PATTERN,
  newDeviceCode,
  newUserCode,
  normalizeUserCode,
  parseDeviceCode,
  USER_CODE_LENGTH,
} from "../domain/device-codes";
import type { AppContext } from "../env";
import { tokenPairSchema } from "./auth";
import {
  errorResponses,
  guardedRouter,
  json,
  problem,
  resourceId,
  unavailableResponse,
  userRoute,
  withPostgres,
} from "./router";

export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/** OAuth's error answer (RFC 6749 §5.2), with the problem members beside `error` for clients that read those. */
const oauthErrorSchema = z
  .object({
    error: z.enum([
      "authorization_pending",
      "slow_down",
      "access_denied",
      "expired_token",
      "invalid_grant",
      "invalid_request",
      "unsupported_grant_type",
    ]),
    error_description: z.string(),
    interval: z.number().int().optional().openapi({ description: "with slow_down: the interval from now on" }),
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
  })
  .openapi("OAuthError");
type OAuthError = z.infer<typeof oauthErrorSchema>["error"];

function oauthError(c: AppContext, error: OAuthError, description: string, extra: { interval?: number } = {}) {
  const body = {
    error,
    error_description: description,
    ...extra,
    type: `https://media-gateway.dev/problems/oauth-${error.replace(/_/g, "-")}`,
    title: "Bad Request",
    status: 400,
    detail: description,
  };
  return c.json(body, 400, { "cache-control": "no-store" });
}

const codeRequest = z
  .object({
    client_id: z.string().max(128).optional().openapi({ description: "the app asking (any string; not checked)" }),
    scope: z.string().max(256).optional(),
  })
  .openapi("DeviceCodeRequest");

const codeResponse = z
  .object({
    device_code: z.string().openapi({ description: "the TV's secret: it polls /auth/device/token with it" }),
    user_code: z.string().openapi({
      description: `${USER_CODE_LENGTH} letters of BCDFGHJKLMNPQRSTVWXZ, shown to the person (e.g. as WDJB-MJHT)`,
      example: "WDJBMJHT",
    }),
    verification_uri: z.string().openapi({ example: "https://media-gateway.example/activate" }),
    verification_uri_complete: z.string().openapi({ example: "https://media-gateway.example/activate?code=WDJBMJHT" }),
    expires_in: z.number().int(),
    interval: z.number().int().openapi({ description: "seconds between polls" }),
  })
  .openapi("DeviceAuthorization");

const tokenRequest = z
  .object({
    device_code: z.string().regex(DEVICE_CODE_PATTERN, "a device code this API issued"),
    grant_type: z.string().max(128).optional().openapi({ example: DEVICE_CODE_GRANT }),
    client_id: z.string().max(128).optional(),
  })
  .openapi("DeviceTokenRequest");

const approveBody = z
  .object({
    user_code: z
      .string()
      .max(32)
      .openapi({ description: "as shown on the TV; case, spaces and dashes do not matter", example: "WDJB-MJHT" }),
    profile_id: resourceId("profile_id").openapi({ param: undefined, description: "the profile the TV signs in" }),
    approve: z.boolean().openapi({ description: "false denies the TV" }),
    pin: z
      .string()
      .regex(/^\d{4,8}$/, "4 to 8 digits")
      .optional()
      .openapi({ description: "the profile's PIN, unless the caller is the owner or that profile" }),
  })
  .openapi("DeviceApproval");

const approvalSchema = z
  .object({
    user_code: z.string(),
    profile_id: z.string(),
    status: z.enum(["approved", "denied"]),
  })
  .openapi("DeviceApprovalResult");

/** OAuth clients post forms (RFC 8628 §3.1, §3.4); this API's own clients post JSON. Both are read. */
async function oauthBody(c: AppContext): Promise<unknown> {
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  const text = await c.req.text();
  // A body in any other format is not a malformed request but one in a format neither side reads.
  if (text.trim() !== "" && !/^application\/(json|x-www-form-urlencoded)\b/.test(type) && !/\+json\b/.test(type)) {
    throw new HttpProblem(415, "unsupported-media-type", "send the body as application/json or a form");
  }
  try {
    if (type.startsWith("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(text));
    return text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    return null;
  }
}

const codeObject = (c: AppContext, userCode: string) => c.env.DEVICE_AUTH.get(c.env.DEVICE_AUTH.idFromName(userCode));
const clientAddress = (c: AppContext) => addressKey(c.req.header("cf-connecting-ip") ?? "unknown");

const base = guardedRouter(["/auth/device/approve"], requireUser);

const codeRoute = createRoute({
  method: "post",
  path: "/auth/device/code",
  tags: ["TV sign-in"],
  summary: "A TV asks for a code (RFC 8628 §3.1–3.2)",
  description:
    "Answers the device code the TV polls with, the user code it shows, and where the person enters it. " +
    "JSON or form body, both optional. Rate limited per client address (429 with Retry-After).",
  request: {
    body: {
      content: { ...json(codeRequest), "application/x-www-form-urlencoded": { schema: codeRequest } },
      required: false,
    },
  },
  responses: {
    200: { description: "A code", content: json(codeResponse) },
    400: { description: "Not a valid request (`invalid_request`)", content: json(oauthErrorSchema) },
    413: errorResponses[413],
    415: problem("A body that is neither JSON nor a form"),
    429: problem("Too many codes from this address; see Retry-After"),
  },
});

const tokenRoute = createRoute({
  method: "post",
  path: "/auth/device/token",
  tags: ["TV sign-in"],
  summary: "The TV polls for its tokens (RFC 8628 §3.4–3.5)",
  description:
    "Until the person acts: 400 `authorization_pending`; polling sooner than `interval` seconds after the " +
    "previous poll: 400 `slow_down`, and the interval grows by 5 s for this and every later poll. Denied: " +
    "`access_denied`; past `expires_in`: `expired_token`; a code already used or never issued: " +
    "`invalid_grant`. Once approved: a token pair like login's for the chosen profile, once. Errors are " +
    "OAuth's JSON (`error`, `error_description`), with the problem members beside them.",
  request: {
    body: {
      content: { ...json(tokenRequest), "application/x-www-form-urlencoded": { schema: tokenRequest } },
      // Either media type: a declared-required body would be checked against both.
      required: false,
    },
  },
  responses: {
    200: { description: "Signed in", content: json(tokenPairSchema) },
    400: { description: "Not (yet) signed in: the RFC 8628 §3.5 answers", content: json(oauthErrorSchema) },
    413: errorResponses[413],
    415: problem("A body that is neither JSON nor a form"),
    503: unavailableResponse,
  },
});

// The two OAuth endpoints read their bodies themselves (JSON or form), so that every malformed
// request, unparseable JSON included, is answered the OAuth way; their specs document them.
base.openAPIRegistry.registerPath(codeRoute);
base.openAPIRegistry.registerPath(tokenRoute);

base
  .post(codeRoute.path, async (c) => {
    const config = c.var.config;
    const body = codeRequest.safeParse(await oauthBody(c));
    if (!body.success) return oauthError(c, "invalid_request", "the request body is not valid");
    await limitAttempts(c.env, `device-code:${clientAddress(c)}`, {
      burst: config.DEVICE_CODE_BURST,
      perSecond: config.DEVICE_CODE_PER_HOUR / 3600,
    });
    const expiresAt = Date.now() + config.DEVICE_CODE_TTL_SECONDS * 1000;
    // A user code still in use (or remembered after its expiry) is drawn again: 20^8 makes that rare.
    for (let attempt = 0; attempt < 5; attempt++) {
      const userCode = newUserCode();
      const { deviceCode, secret } = newDeviceCode(userCode);
      const started = await codeObject(c, userCode).start({
        secretHash: await hashRefreshToken(secret),
        expiresAt,
        interval: config.DEVICE_CODE_INTERVAL_SECONDS,
      });
      if (!started) continue;
      const verification = new URL("/activate", c.req.url).toString();
      return c.json(
        {
          device_code: deviceCode,
          user_code: userCode,
          verification_uri: verification,
          verification_uri_complete: `${verification}?code=${userCode}`,
          expires_in: config.DEVICE_CODE_TTL_SECONDS,
          interval: config.DEVICE_CODE_INTERVAL_SECONDS,
        },
        200,
        { "cache-control": "no-store" },
      );
    }
    throw new HttpProblem(503, "codes-unavailable", "no free user code was found; retry", {
      headers: { "retry-after": "1" },
    });
  })
  .post(tokenRoute.path, async (c) => {
    const body = tokenRequest.safeParse(await oauthBody(c));
    if (!body.success) return oauthError(c, "invalid_request", "`device_code` is missing or not one this API issued");
    if (body.data.grant_type !== undefined && body.data.grant_type !== DEVICE_CODE_GRANT) {
      return oauthError(c, "unsupported_grant_type", `grant_type must be ${DEVICE_CODE_GRANT}`);
    }
    const { userCode, secret } = parseDeviceCode(body.data.device_code) as { userCode: string; secret: string };
    const grant = codeObject(c, userCode);
    const answer = await grant.poll(await hashRefreshToken(secret));
    switch (answer.kind) {
      case "pending":
        return answer.error === "slow_down"
          ? oauthError(c, "slow_down", `polling too fast: wait ${answer.interval} s between polls`, {
              interval: answer.interval,
            })
          : oauthError(c, "authorization_pending", "the code has not been approved yet");
      case "denied":
        return oauthError(c, "access_denied", "the sign-in was denied");
      case "expired":
        return oauthError(c, "expired_token", "the code has expired; ask for a new one");
      case "used":
        return oauthError(c, "invalid_grant", "the code has been used already");
      case "invalid":
        return oauthError(c, "invalid_grant", "the device code is not one this API issued, or it is gone");
    }
    const { accountId, profileId } = answer;
    const config = c.var.config;
    try {
      const pair = await withPostgres(c, "accounts", async (db) => {
        const [account, profile] = await Promise.all([userById(db, accountId), profileById(db, profileId)]);
        if (!account || !profile || profile.accountId !== accountId) return null;
        return issueTokens(config, db, subjectOf(profile, account.role));
      });
      if (!pair) return oauthError(c, "access_denied", "the profile chosen for this TV no longer exists");
      return c.json(pair, 200, { "cache-control": "no-store" });
    } catch (error) {
      // Not signed in after all: the approval stands for the next poll.
      await grant.restore();
      throw error;
    }
  });

export const deviceAuthRoutes = base.openapi(
  userRoute("TV sign-in", "post", "/auth/device/approve", "Approve or deny a TV's code, choosing the profile", {
    description:
      "The signed-in person enters the code the TV shows and picks a profile of their account for it. A " +
      "profile with a PIN needs it unless the caller is the owner or that profile. Every attempt counts " +
      "against limits per account and per client address (429 with Retry-After), so user codes cannot be " +
      "guessed. An unknown or expired code is 404; one already approved or denied is 409.",
    request: { body: { content: json(approveBody), required: true } },
    responses: {
      200: { description: "Decided", content: json(approvalSchema) },
      403: problem("The profile's PIN is missing or wrong"),
      404: problem("No TV is waiting with this code (unknown or expired), or the profile is not the account's"),
      409: problem("The code was approved or denied already"),
      503: unavailableResponse,
    },
  }),
  async (c) => {
    const caller = c.var.caller;
    const config = c.var.config;
    const body = c.req.valid("json");
    const rule = { burst: config.DEVICE_APPROVE_BURST, perSecond: config.DEVICE_APPROVE_PER_HOUR / 3600 };
    await limitAttempts(c.env, `device-approve:ip:${clientAddress(c)}`, rule);
    await limitAttempts(c.env, `device-approve:account:${caller.account}`, rule);
    const userCode = normalizeUserCode(body.user_code);
    if (!userCode) {
      throw new HttpProblem(400, "validation", "the body is not valid", {
        errors: [{ path: "user_code", message: `${USER_CODE_LENGTH} letters as the TV shows them` }],
      });
    }
    const profile = await withPostgres(c, "accounts", async (db) => {
      const found = await profileById(db, body.profile_id);
      if (!found || found.accountId !== caller.account) throw notFound("profile");
      const trusted = caller.sub === caller.account || caller.sub === found.id;
      if (body.approve && !trusted) await checkPin(c.env, config, found, body.pin);
      return found;
    });
    const decision = await codeObject(c, userCode).decide({
      approve: body.approve,
      accountId: caller.account,
      profileId: profile.id,
    });
    if (decision === "not-found") {
      throw new HttpProblem(404, "device-code-not-found", "no TV is waiting with this code; it may have expired");
    }
    if (decision === "already-decided") {
      throw new HttpProblem(409, "device-code-decided", "this code was approved or denied already");
    }
    return c.json({ user_code: userCode, profile_id: profile.id, status: decision }, 200);
  },
);
