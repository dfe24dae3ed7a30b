import { describe, expect, it } from "vitest";
import {
  type DeviceGrant,
  displayUserCode,
  newDeviceCode,
  newUserCode,
  normalizeUserCode,
  parseDeviceCode,
  poll,
  USER_CODE_ALPHABET,
} from "../../src/domain/device-codes";

const grant = (over: Partial<DeviceGrant> = {}): DeviceGrant => ({
  status: "pending",
  expiresAt: 600_000,
  interval: 5,
  lastPollAt: null,
  accountId: null,
  profileId: null,
  ...over,
});

describe("user codes", () => {
  it("are 8 letters without vowels or digits, every letter about as likely", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const code = newUserCode();
      expect(code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
      for (const ch of code) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    expect(counts.size).toBe(USER_CODE_ALPHABET.length);
    // 16,000 letters over 20: about 800 each.
    for (const n of counts.values()) expect(Math.abs(n - 800)).toBeLessThan(130);
  });

  it("are read whatever the case, spaces and dashes, and refused when they cannot be a code", () => {
    expect(normalizeUserCode("wdjb-mjht")).toBe("WDJBMJHT");
    expect(normalizeUserCode(" WDJB MJHT ")).toBe("WDJBMJHT");
    expect(normalizeUserCode("WDJB-MJH")).toBeNull();
    expect(normalizeUserCode("WDJB-MJH0")).toBeNull();
    expect(normalizeUserCode("AEIOUBCD")).toBeNull();
    expect(displayUserCode("WDJBMJHT")).toBe("WDJB-MJHT");
  });

  it("travel inside the device code with 256 secret bits", () => {
    const { deviceCode, secret } = newDeviceCode("WDJBMJHT");
    expect(parseDeviceCode(deviceCode)).toEqual({ userCode: "WDJBMJHT", secret });
    expect(secret).toHaveLength(43);
    expect(parseDeviceCode("WDJBMJHT.short")).toBeNull();
    expect(parseDeviceCode(`wdjbmjht.${secret}`)).toBeNull();
  });
});

describe("polling (RFC 8628 §3.5)", () => {
  it("is authorization_pending until the person acts, at the interval", () => {
    const first = poll(grant(), 1000);
    expect(first.answer).toEqual({ kind: "pending", error: "authorization_pending", interval: 5 });
    const second = poll(first.grant, 6000);
    expect(second.answer).toMatchObject({ error: "authorization_pending", interval: 5 });
  });

  it("answers slow_down to a poll sooner than the interval, and adds 5 s for this and every later poll", () => {
    const first = poll(grant(), 1000);
    const fast = poll(first.grant, 2000);
    expect(fast.answer).toEqual({ kind: "pending", error: "slow_down", interval: 10 });
    // 8 s later is enough at 5 s, too soon at 10 s.
    expect(poll(fast.grant, 10_000).answer).toMatchObject({ error: "slow_down", interval: 15 });
    expect(poll(fast.grant, 12_500).answer).toMatchObject({ error: "authorization_pending", interval: 10 });
  });

  it("forgives a poll a little early (timers are not exact), not a poll much too early", () => {
    const first = poll(grant(), 0);
    expect(poll(first.grant, 4_200).answer).toMatchObject({ error: "authorization_pending" });
    expect(poll(first.grant, 3_900).answer).toMatchObject({ error: "slow_down" });
  });

  it("answers the approval once; after that the code is used", () => {
    const approved = grant({ status: "approved", accountId: "acct", profileId: "kid", lastPollAt: 1000 });
    const taken = poll(approved, 1200);
    expect(taken.answer).toEqual({ kind: "approved", accountId: "acct", profileId: "kid" });
    expect(poll(taken.grant, 20_000).answer).toEqual({ kind: "used" });
  });

  it("answers access_denied once denied and expired_token once expired, whatever the timing", () => {
    expect(poll(grant({ status: "denied", lastPollAt: 1000 }), 1001).answer).toEqual({ kind: "denied" });
    expect(poll(grant({ status: "approved", accountId: "a", profileId: "p" }), 600_000).answer).toEqual({
      kind: "expired",
    });
  });
});
