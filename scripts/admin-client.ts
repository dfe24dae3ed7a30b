/** The operator scripts' way in: an admin token and a JSON call to the Worker's admin routes. */
import { SignJWT } from "jose";
import { LOCAL_DEV_JWT_SECRET, parseConfig } from "../src/config";

/** ADMIN_TOKEN, or one minted with JWT_SECRET (the local development secret by default). */
export async function adminToken(): Promise<string> {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
  const config = parseConfig({ ...process.env, JWT_SECRET: process.env.JWT_SECRET ?? LOCAL_DEV_JWT_SECRET });
  let jwt = new SignJWT({ role: "admin" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("operator")
    .setIssuedAt()
    .setExpirationTime("10m");
  if (config.JWT_ISSUER) jwt = jwt.setIssuer(config.JWT_ISSUER);
  if (config.JWT_AUDIENCE) jwt = jwt.setAudience(config.JWT_AUDIENCE);
  return jwt.sign(new TextEncoder().encode(config.JWT_SECRET));
}

export async function adminCall(
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<any> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}
