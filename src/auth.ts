import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { Config } from "./config";
import { isStorageUnavailable, type Refusal, storageUnavailableProblem } from "./contracts/outcomes";
import { HttpProblem } from "./contracts/problems";
import { MATURITY_LIMITS } from "./domain/maturity";
import type { BucketRule } from "./domain/token-bucket";
import type { UserApi } from "./durable/user-api";
import { type App, type Caller, configOf, type Env } from "./env";
import { addressReadLimit, isRead, readRefused, refusedRecently, userReadKey, userReadRule } from "./read-limits";

const jwksCache = new Map<string, JWTVerifyGetKey>();
const hmacKeys = new Map<string, Promise<CryptoKey>>();

function unauthorized(detail: string): HttpProblem {
  return new HttpProblem(401, "unauthorized", detail, {
    headers: { "www-authenticate": 'Bearer realm="media-gateway"' },
  });
}

/** The profile's maturity limit changed after this token was issued: a refresh carries the new one. */
const staleProblem = () =>
  new HttpProblem(401, "token-stale", "this profile's settings changed; refresh the access token", {
    headers: { "www-authenticate": 'Bearer realm="media-gateway", error="invalid_token"' },
  });

const revokedProblem = () =>
  new HttpProblem(401, "token-revoked", "this access token's family has been revoked; sign in again", {
    headers: { "www-authenticate": 'Bearer realm="media-gateway", error="invalid_token"' },
  });

/** The HS256 key of JWT_SECRET, imported into WebCrypto once per isolate. */
export function hmacKey(config: Config): Promise<CryptoKey> {
  const secret = config.JWT_SECRET;
  if (!secret) return Promise.reject(new Error("JWT_SECRET is not set"));
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    hmacKeys.set(secret, key);
  }
  return key;
}

/**
 * Verifies an access token: HS256 with JWT_SECRET (the tokens this service issues), or the keys
 * of JWT_JWKS_URL for an outside identity provider. Only the expected algorithms are accepted
 * (never `none`, never HS256 against a public key). Checks the signature and claims only: the
 * family check is the middleware's, because it needs the user's Durable Object.
 */
export async function verifyAccessToken(config: Config, token: string): Promise<Caller> {
  const options = {
    ...(config.JWT_ISSUER ? { issuer: config.JWT_ISSUER } : {}),
    ...(config.JWT_AUDIENCE ? { audience: config.JWT_AUDIENCE } : {}),
    requiredClaims: ["sub", "exp"],
  };
  let payload: JWTPayload;
  try {
    const { alg } = decodeProtectedHeader(token);
    if (config.JWT_SECRET && (alg === "HS256" || !config.JWT_JWKS_URL)) {
      ({ payload } = await jwtVerify(token, await hmacKey(config), { ...options, algorithms: ["HS256"] }));
    } else {
      const url = config.JWT_JWKS_URL as string;
      let keys = jwksCache.get(url);
      if (!keys) {
        keys = createRemoteJWKSet(new URL(url));
        jwksCache.set(url, keys);
      }
      ({ payload } = await jwtVerify(token, keys, { ...options, algorithms: ["RS256", "ES256", "EdDSA", "PS256"] }));
    }
  } catch (error) {
    const code = (error as { code?: string }).code ?? "";
    throw unauthorized(code === "ERR_JWT_EXPIRED" ? "the access token has expired" : "the access token is not valid");
  }
  if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 256) {
    throw unauthorized("the access token has no usable subject");
  }
  if (payload.fid !== undefined && (typeof payload.fid !== "string" || !/^[A-Za-z0-9-]{1,64}$/.test(payload.fid))) {
    throw unauthorized("the access token's family id is not valid");
  }
  const { acc, mat, pv } = payload;
  if (acc !== undefined && (typeof acc !== "string" || acc.length === 0 || acc.length > 256)) {
    throw unauthorized("the access token's account is not valid");
  }
  // A limit we cannot read must not pass as no limit at all.
  if (mat !== undefined && (typeof mat !== "string" || !(mat in MATURITY_LIMITS))) {
    throw unauthorized("the access token's maturity limit is not valid");
  }
  if (pv !== undefined && (typeof pv !== "number" || !Number.isInteger(pv) || pv < 0)) {
    throw unauthorized("the access token's profile version is not valid");
  }
  return {
    sub: payload.sub,
    role: payload.role === "admin" ? "admin" : "user",
    account: typeof acc === "string" ? acc : payload.sub,
    ...(typeof mat === "string" ? { maturityLimit: mat } : {}),
    ...(typeof pv === "number" ? { profileVersion: pv } : {}),
    ...(typeof payload.fid === "string" ? { fid: payload.fid } : {}),
    ...(typeof payload.jti === "string" ? { jti: payload.jti } : {}),
    ...(typeof payload.exp === "number" ? { exp: payload.exp } : {}),
  };
}

/** The bearer token of a request: undefined when absent, a 401 when the header is malformed. */
function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9_.~+/=-]{1,8192})$/.exec(header.trim());
  if (!match) throw unauthorized("the Authorization header must be 'Bearer <token>'");
  return match[1];
}

// ---- the family check ----

/** The caller's surface on their UserState (see src/durable/user-api.ts). */
export type UserApiStub = Rpc.Stub<UserApi>;

interface FamilyGate {
  /** The caller's UserApi, with every call pipelined behind the family check. */
  state: UserApiStub;
  /** Settles when the check is done: rejects with the 401 when the family is revoked. */
  checked: Promise<void>;
  /** Releases the handle on the user's object (held otherwise until the request context ends). */
  close(): void;
}

const gates = new WeakMap<Context<App>, FamilyGate>();

/** Symbol.dispose (in workerd; not yet in this TypeScript lib). */
const DISPOSE = (Symbol as unknown as { dispose: symbol }).dispose;
type RpcHandle = Record<symbol, (() => void) | undefined>;

/** The check could not be made (the user's object did not answer): refuse rather than guess. */
const checkUnavailable = () =>
  new HttpProblem(503, "token-check-unavailable", "the access token could not be checked right now; retry", {
    headers: { "retry-after": "1" },
  });

/**
 * Starts the family check of a token we issued (tokens without `fid`, from an outside identity
 * provider or the dev token script, have no family), and for a read the user's read budget
 * (src/read-limits.ts). The check is the user's Durable Object answering `authorize` (or
 * `admitRead` for a read without a family): a Set lookup and a token bucket there, and no
 * Postgres. The same answer says whether the token's profile settings (its maturity limit) are
 * still current. Calls made through `gate.state` are pipelined on it (Cap'n Proto promise
 * pipelining), so on routes that call the user's object anyway it adds no round trip, and a
 * refused call never runs.
 */
function openGate(c: Context<App>, caller: Caller, readRule: BucketRule | null): FamilyGate | null {
  if (!caller.fid && !readRule) return null;
  const early = readRule ? refusedRecently(userReadKey(caller.sub)) : null;
  if (early) throw early;
  const object = c.env.USER_STATE.get(c.env.USER_STATE.idFromName(caller.sub));
  const access = caller.fid
    ? object.authorize(caller.fid, caller.profileVersion ?? 0, readRule)
    : object.admitRead(readRule as BucketRule);
  let handle: RpcHandle | null = null;
  const checked = Promise.resolve(access).then(
    (resolved) => {
      if (resolved === null) throw revokedProblem();
      if (resolved === "stale") throw staleProblem();
      // A refusal is a plain value; on the surface's stub this property is a pipelined promise, never `true`.
      if ((resolved as { refused?: unknown }).refused === true) {
        throw readRefused(userReadKey(caller.sub), (resolved as Refusal).retry_after_seconds ?? 1);
      }
      handle = resolved as unknown as RpcHandle;
    },
    (error: unknown) => {
      console.error("family check failed", String(error));
      throw isStorageUnavailable(error) ? storageUnavailableProblem() : checkUnavailable();
    },
  );
  checked.catch(() => {}); // awaited later by the middleware; not an unhandled rejection meanwhile
  const close = () => {
    (handle as RpcHandle | null)?.[DISPOSE]?.();
    handle = null;
  };
  // Calls on the pending answer are pipelined: they run on the object right after the check.
  const gate = { state: access as unknown as UserApiStub, checked, close };
  gates.set(c, gate);
  return gate;
}

/**
 * The 401 (revoked) or 503 (not checked) of this request's family check, or null when it passed
 * or there is none. A call pipelined on a refused check fails with an RPC TypeError; the app's
 * error handler asks this to answer with the reason instead of a 500.
 */
export async function familyCheckProblem(c: Context<App>): Promise<HttpProblem | null> {
  const gate = gates.get(c);
  if (!gate) return null;
  return gate.checked.then(
    () => null,
    (problem: HttpProblem) => problem,
  );
}

/**
 * The family check on its own, awaited: for a route that verifies a token itself and then hands
 * the request to the user's object whole (the WebSocket upgrade, which cannot ride an RPC handle).
 */
export async function requireActiveFamily(env: Env, caller: Caller): Promise<void> {
  if (!caller.fid) return;
  let revoked: boolean;
  try {
    revoked = await env.USER_STATE.get(env.USER_STATE.idFromName(caller.sub)).familyRevoked(caller.fid);
  } catch (error) {
    console.error("family check failed", String(error));
    throw isStorageUnavailable(error) ? storageUnavailableProblem() : checkUnavailable();
  }
  if (revoked) throw revokedProblem();
}

/** The UserApi of a caller whose token has no family, opened on first use; released by `authenticate`. */
const direct = new WeakMap<Context<App>, { state: UserApiStub; close(): void }>();

/** The caller's UserApi, pipelined behind the family check when the token has a family. */
export function callerUserState(c: Context<App>): UserApiStub {
  const gate = gates.get(c) ?? direct.get(c);
  if (gate) return gate.state;
  const access = c.env.USER_STATE.get(c.env.USER_STATE.idFromName(c.var.caller.sub)).user();
  let handle: RpcHandle | null = null;
  // A failure reaches the caller through its pipelined call; the handle itself is only released.
  Promise.resolve(access).then(
    (resolved) => {
      handle = resolved as unknown as RpcHandle;
    },
    () => {},
  );
  const opened = {
    state: access as unknown as UserApiStub,
    close: () => {
      (handle as RpcHandle | null)?.[DISPOSE]?.();
      handle = null;
    },
  };
  direct.set(c, opened);
  return opened.state;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Verifies the token, then runs the handler under the family check:
 * - a safe method (GET), or a route whose effects all go through the user's Durable Object
 *   (`requireUserState`), runs alongside the check; its response is only released once the check
 *   passed, and its calls to the object are refused with the check;
 * - any other route waits for the check first, because it may change things elsewhere.
 */
async function authenticate(c: Context<App>, next: () => Promise<void>, token: string, ridesOnUserState: boolean) {
  // A route under two guarded patterns (`/sync/*` and `/sync/watchlist`) passes here twice: check once.
  if (c.get("caller")) return next();
  const config = configOf(c.env);
  const caller = await verifyAccessToken(config, token);
  c.set("caller", caller);
  const gate = openGate(c, caller, isRead(c) ? userReadRule(config) : null);
  if (!gate) {
    try {
      return await next();
    } finally {
      direct.get(c)?.close();
    }
  }
  try {
    if (!ridesOnUserState && !SAFE_METHODS.has(c.req.method)) {
      await gate.checked;
      return await next();
    }
    await next();
    try {
      await gate.checked;
    } catch (error) {
      c.res = undefined; // the handler's response must not leak a single header
      throw error;
    }
  } finally {
    gate.close();
  }
}

/** Requires a valid, unrevoked access token; the caller is `c.var.caller`. */
export const requireUser = createMiddleware<App>(async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  if (!token) throw unauthorized("an access token is required");
  await authenticate(c, next, token, false);
});

/**
 * `requireUser` for routes whose every effect goes through the caller's UserState (via
 * `userState(c)`): the family check rides on that call for every method, writes included.
 */
export const requireUserState = createMiddleware<App>(async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  if (!token) throw unauthorized("an access token is required");
  await authenticate(c, next, token, true);
});

/**
 * Accepts a request without a token (its reads count against the client address's budget); a
 * token that is present must be valid and unrevoked (its reads count against the user's).
 */
export const optionalUser = createMiddleware<App>(async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  if (!token) return addressReadLimit(c, next);
  await authenticate(c, next, token, false);
});

export const requireAdmin = createMiddleware<App>(async (c, next) => {
  if (c.var.caller?.role !== "admin") throw new HttpProblem(403, "forbidden", "this action needs the admin role");
  await next();
});
