import { createMiddleware } from "hono/factory";
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { Config } from "./config";
import { type App, type Caller, configOf } from "./env";
import { HttpProblem } from "./problem";

const jwksCache = new Map<string, JWTVerifyGetKey>();
const secretCache = new Map<string, Uint8Array>();

function unauthorized(detail: string): HttpProblem {
  return new HttpProblem(401, "unauthorized", detail, {
    headers: { "www-authenticate": 'Bearer realm="media-gateway"' },
  });
}

/**
 * Verifies an access token: HS256 with JWT_SECRET, or the keys of JWT_JWKS_URL for an outside
 * identity provider. Only the expected algorithms are accepted (never `none`).
 */
export async function verifyAccessToken(config: Config, token: string): Promise<Caller> {
  const options = {
    ...(config.JWT_ISSUER ? { issuer: config.JWT_ISSUER } : {}),
    ...(config.JWT_AUDIENCE ? { audience: config.JWT_AUDIENCE } : {}),
    requiredClaims: ["sub", "exp"],
  };
  let payload: JWTPayload;
  try {
    if (config.JWT_JWKS_URL) {
      let keys = jwksCache.get(config.JWT_JWKS_URL);
      if (!keys) {
        keys = createRemoteJWKSet(new URL(config.JWT_JWKS_URL));
        jwksCache.set(config.JWT_JWKS_URL, keys);
      }
      ({ payload } = await jwtVerify(token, keys, { ...options, algorithms: ["RS256", "ES256", "EdDSA", "PS256"] }));
    } else {
      const secret = config.JWT_SECRET as string;
      let key = secretCache.get(secret);
      if (!key) {
        key = new TextEncoder().encode(secret);
        secretCache.set(secret, key);
      }
      ({ payload } = await jwtVerify(token, key, { ...options, algorithms: ["HS256"] }));
    }
  } catch (error) {
    const code = (error as { code?: string }).code ?? "";
    throw unauthorized(code === "ERR_JWT_EXPIRED" ? "the access token has expired" : "the access token is not valid");
  }
  if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 256) {
    throw unauthorized("the access token has no usable subject");
  }
  return {
    sub: payload.sub,
    role: payload.role === "admin" ? "admin" : "user",
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

/** Requires a valid access token; the caller is `c.var.caller`. */
export const requireUser = createMiddleware<App>(async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  if (!token) throw unauthorized("an access token is required");
  c.set("caller", await verifyAccessToken(configOf(c.env), token));
  await next();
});

/** Accepts a request without a token; a token that is present must be valid. */
export const optionalUser = createMiddleware<App>(async (c, next) => {
  const token = bearer(c.req.header("authorization"));
  if (token) c.set("caller", await verifyAccessToken(configOf(c.env), token));
  await next();
});

export const requireAdmin = createMiddleware<App>(async (c, next) => {
  if (c.var.caller?.role !== "admin") throw new HttpProblem(403, "forbidden", "this action needs the admin role");
  await next();
});
