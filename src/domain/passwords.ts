/**
 * Password hashing with PBKDF2-HMAC-SHA-256 from WebCrypto (the slow KDF workerd offers).
 * Stored as `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url), so the work factor of every
 * hash travels with it and can be raised later without breaking existing accounts.
 */

/**
 * 100,000 iterations: the most Cloudflare's runtime accepts (workerd refuses PBKDF2 above
 * 100,000, cloudflare/workerd#1346), measured at ~14 ms of CPU in workerd (bench/auth.ts) —
 * within the Workers Paid plan's CPU budget (30 s by default), not the Free plan's 10 ms.
 */
export const PBKDF2_ITERATIONS = 100_000;
/** A stored hash asking for more work than this is refused before any is done. */
export const PBKDF2_MAX_ITERATIONS = 100_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;
const SCHEME = "pbkdf2-sha256";

const encoder = new TextEncoder();

export function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  // NFKC: the same password typed on two keyboards (composed or decomposed accents) hashes the same.
  const key = await crypto.subtle.importKey("raw", encoder.encode(password.normalize("NFKC")), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations },
    key,
    HASH_BITS,
  );
  return new Uint8Array(bits);
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, iterations);
  return `${SCHEME}$${iterations}$${toBase64Url(salt)}$${toBase64Url(hash)}`;
}

/** Compares in time that depends only on the length, never on where the bytes differ. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

export function parsePasswordHash(stored: string): { iterations: number; salt: Uint8Array; hash: Uint8Array } | null {
  const [scheme, rounds, salt64, hash64, ...extra] = stored.split("$");
  if (scheme !== SCHEME || extra.length > 0 || !rounds || !/^\d{1,7}$/.test(rounds)) return null;
  const iterations = Number(rounds);
  if (iterations < 1 || iterations > PBKDF2_MAX_ITERATIONS) return null;
  const salt = fromBase64Url(salt64 ?? "");
  const hash = fromBase64Url(hash64 ?? "");
  if (!salt || salt.length < 8 || !hash || hash.length !== HASH_BITS / 8) return null;
  return { iterations, salt, hash };
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parsePasswordHash(stored);
  if (!parsed) return false;
  const candidate = await derive(password, parsed.salt, parsed.iterations);
  return constantTimeEqual(candidate, parsed.hash);
}

/** A hash no password is known to match, fixed so that the first unknown email costs no extra work. */
const DUMMY_HASH = "pbkdf2-sha256$100000$j9yti3pDk00Wv17MpBRFeg$ExgeD2XAoLK8CYa-DevPTxBsxNFGZFlgjutHQDvXI9I";

/**
 * Checks a password against an account that may not exist: with no stored hash, the same
 * PBKDF2 work is done against a dummy, so an unknown email costs the same time as a wrong password.
 */
export async function verifyPasswordOrDummy(password: string, stored: string | null): Promise<boolean> {
  if (stored !== null) return verifyPassword(password, stored);
  await verifyPassword(password, DUMMY_HASH);
  return false;
}

/** Emails compare case-insensitively, whatever the client's keyboard or autocorrect did. */
export function normalizeEmail(email: string): string {
  return email.normalize("NFKC").trim().toLowerCase();
}
