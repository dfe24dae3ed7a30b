import { eq } from "drizzle-orm";
import { users } from "../../src/db/schema";
import { client, db } from "./helpers";

/** A client address of its own for each caller, so the per-address login limit never couples tests. */
export function freshAddress(): string {
  const b = crypto.getRandomValues(new Uint8Array(4));
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}

export const anonymous = client(null);

export async function register(email: string, password: string, address = freshAddress()) {
  return anonymous.post("/api/v1/auth/register", { email, password }, { "cf-connecting-ip": address });
}

export async function login(email: string, password: string, address = freshAddress()) {
  return anonymous.post("/api/v1/auth/login", { email, password }, { "cf-connecting-ip": address });
}

export async function refresh(refreshToken: string) {
  return anonymous.post("/api/v1/auth/refresh", { refresh_token: refreshToken });
}

export interface Account {
  email: string;
  password: string;
  userId: string;
  accessToken: string;
  refreshToken: string;
  familyId: string;
  api: ReturnType<typeof client>;
}

/** Registers a fresh account (optionally promoted to admin in Postgres) and signs it in. */
export async function newAccount(opts: { admin?: boolean } = {}): Promise<Account> {
  const email = `acct-${crypto.randomUUID()}@example.com`;
  const password = `pw-${crypto.randomUUID()}`;
  const registered = await register(email, password);
  if (registered.status !== 202) throw new Error(`register answered ${registered.status}: ${registered.text}`);
  if (opts.admin) await db((d) => d.update(users).set({ role: "admin" }).where(eq(users.email, email)));
  const res = await login(email, password);
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${res.text}`);
  return {
    email,
    password,
    userId: res.json.user_id,
    accessToken: res.json.access_token,
    refreshToken: res.json.refresh_token,
    familyId: res.json.family_id,
    api: client(res.json.access_token),
  };
}
