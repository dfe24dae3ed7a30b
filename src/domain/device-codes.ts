/**
 * Codes of the OAuth 2.0 Device Authorization Grant (RFC 8628): the user code a person types on
 * a phone, and the device code the TV polls with.
 */
import { toBase64Url } from "./passwords";

/**
 * RFC 8628 §6.1: twenty consonants and no digits. Without vowels no word is spelled by chance,
 * and without digits nothing reads as something else (no O/0, I/1, Z/2 to tell apart).
 */
export const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
export const USER_CODE_LENGTH = 8;

/** An unbiased random user code: 20^8 ≈ 2.6 × 10^10 codes (34.6 bits). */
export function newUserCode(random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  let code = "";
  while (code.length < USER_CODE_LENGTH) {
    for (const byte of random(new Uint8Array(16))) {
      // 240 = 12 × 20: bytes from 240 up would favour the first letters.
      if (byte >= 240) continue;
      code += USER_CODE_ALPHABET[byte % 20];
      if (code.length === USER_CODE_LENGTH) break;
    }
  }
  return code;
}

/**
 * What a person typed, as the code it means: case, spaces and dashes do not matter (RFC 8628
 * §6.1). Null when it cannot be a user code at all.
 */
export function normalizeUserCode(typed: string): string | null {
  const code = typed.toUpperCase().replace(/[\s-]/g, "");
  if (code.length !== USER_CODE_LENGTH) return null;
  for (const ch of code) if (!USER_CODE_ALPHABET.includes(ch)) return null;
  return code;
}

/** "WDJBMJHT" → "WDJB-MJHT": easier to read off a TV screen. */
export function displayUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/**
 * The device code names its user code (where its record lives) and carries 256 random bits
 * that only the device holds; only their SHA-256 is stored.
 */
export function newDeviceCode(userCode: string): { deviceCode: string; secret: string } {
  const secret = toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  return { deviceCode: `${userCode}.${secret}`, secret };
}

export const DEVICE_CODE_PATTERN = new RegExp(`^[${USER_CODE_ALPHABET}]{${USER_CODE_LENGTH}}\\.[A-Za-z0-9_-]{43}$`);

export function parseDeviceCode(deviceCode: string): { userCode: string; secret: string } | null {
  if (!DEVICE_CODE_PATTERN.test(deviceCode)) return null;
  const [userCode, secret] = deviceCode.split(".") as [string, string];
  return { userCode, secret };
}

/**
 * RFC 8628 §3.5, one poll: pending until the user acts; a poll sooner than the interval after
 * the previous one is `slow_down`, and the interval grows by 5 s for this and every later poll.
 */
export type PollAnswer =
  | { kind: "pending"; error: "authorization_pending" | "slow_down"; interval: number }
  | { kind: "denied" }
  | { kind: "expired" }
  | { kind: "used" }
  | { kind: "approved"; accountId: string; profileId: string };

export type DeviceGrantStatus = "pending" | "approved" | "denied" | "used";

export interface DeviceGrant {
  status: DeviceGrantStatus;
  expiresAt: number;
  interval: number;
  lastPollAt: number | null;
  accountId: string | null;
  profileId: string | null;
}

/** Polls may arrive a little early (timers and networks are not exact): a fifth of the interval, at most 1 s. */
export const pollTolerance = (intervalSeconds: number) => Math.min(1000, intervalSeconds * 200);

/** The answer to one poll, and the grant as it is after it. */
export function poll(grant: DeviceGrant, now: number): { answer: PollAnswer; grant: DeviceGrant } {
  if (grant.status === "used") return { answer: { kind: "used" }, grant };
  if (now >= grant.expiresAt) return { answer: { kind: "expired" }, grant };
  if (grant.status === "denied") return { answer: { kind: "denied" }, grant };
  if (grant.status === "approved" && grant.accountId && grant.profileId) {
    return {
      answer: { kind: "approved", accountId: grant.accountId, profileId: grant.profileId },
      grant: { ...grant, lastPollAt: now, status: "used" },
    };
  }
  const tooSoon =
    grant.lastPollAt !== null && now - grant.lastPollAt < grant.interval * 1000 - pollTolerance(grant.interval);
  if (tooSoon) {
    const slower = { ...grant, interval: grant.interval + 5, lastPollAt: now };
    return { answer: { kind: "pending", error: "slow_down", interval: slower.interval }, grant: slower };
  }
  return {
    answer: { kind: "pending", error: "authorization_pending", interval: grant.interval },
    grant: { ...grant, lastPollAt: now },
  };
}
