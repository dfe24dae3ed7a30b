import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { inject } from "vitest";
import type { UserApiStub } from "../../src/auth";
import { LOCAL_DEV_JWT_SECRET, parseConfig } from "../../src/config";
import { type Database, withDatabase } from "../../src/db/client";
import { checkedFetch } from "./contract-harness";

const secret = new TextEncoder().encode(LOCAL_DEV_JWT_SECRET);

export async function tokenFor(sub: string, opts: { role?: "admin"; expiresIn?: string; key?: Uint8Array } = {}) {
  return new SignJWT({ ...(opts.role ? { role: opts.role } : {}) })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? "15m")
    .sign(opts.key ?? secret);
}

/** A fresh user with a token: tests never share users, so they can run side by side. */
export async function newUser(prefix = "user") {
  const id = `${prefix}-${crypto.randomUUID()}`;
  const token = await tokenFor(id);
  return { id, token, api: client(token) };
}

export type Client = ReturnType<typeof client>;

/** Calls the Worker's own fetch handler, as a client app would; every answer is checked against the OpenAPI document. */
export function client(token: string | null) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
    };
    const sent = body === undefined ? null : typeof body === "string" ? body : JSON.stringify(body);
    if (sent !== null) init.body = sent;
    const { res, text } = await checkedFetch(new Request(`http://gateway.test${path}`, init), sent);
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, headers: res.headers, json, text };
  };
  return {
    get: (path: string, headers?: Record<string, string>) => call("GET", path, undefined, headers),
    post: (path: string, body?: unknown, headers?: Record<string, string>) => call("POST", path, body ?? {}, headers),
    put: (path: string, body?: unknown) => call("PUT", path, body),
    patch: (path: string, body?: unknown) => call("PATCH", path, body),
    delete: (path: string) => call("DELETE", path),
    raw: call,
  };
}

export const testConfig = () => parseConfig(env as unknown as Record<string, unknown>);

export function db<T>(work: (db: Database) => Promise<T>): Promise<T> {
  return withDatabase(testConfig(), work);
}

/** Cuts or restores the database connection (the test proxy's outage switch). */
export async function setDatabase(state: "down" | "up") {
  const res = await fetch(`http://${inject("dbProxy")}/__control/${state}`, { method: "POST" });
  if (res.status !== 204) throw new Error(`proxy control answered ${res.status}`);
}

export async function eventually<T>(
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await probe();
  }
  return last;
}

export const userStub = (userId: string) => env.USER_STATE.get(env.USER_STATE.idFromName(userId));

/** Calls the user's own surface on their object directly (no token), releasing the handle after. */
export async function withUserApi<T>(userId: string, call: (api: UserApiStub) => Promise<T>): Promise<T> {
  const api = (await userStub(userId).user()) as unknown as UserApiStub;
  try {
    return await call(api);
  } finally {
    (api as unknown as Record<symbol, (() => void) | undefined>)[
      (Symbol as unknown as { dispose: symbol }).dispose
    ]?.();
  }
}
