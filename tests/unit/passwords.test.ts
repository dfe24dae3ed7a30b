import { describe, expect, it } from "vitest";
import {
  constantTimeEqual,
  hashPassword,
  normalizeEmail,
  PBKDF2_ITERATIONS,
  parsePasswordHash,
  verifyPassword,
  verifyPasswordOrDummy,
} from "../../src/domain/passwords";

describe("password hashing", () => {
  it("verifies the right password and refuses a wrong one", async () => {
    const stored = await hashPassword("correct horse battery staple");
    expect(stored.startsWith(`pbkdf2-sha256$${PBKDF2_ITERATIONS}$`)).toBe(true);
    expect(await verifyPassword("correct horse battery staple", stored)).toBe(true);
    expect(await verifyPassword("correct horse battery stapler", stored)).toBe(false);
    expect(await verifyPassword("", stored)).toBe(false);
  });

  it("salts every hash: the same password never gives the same stored string", async () => {
    const [a, b] = await Promise.all([hashPassword("same password"), hashPassword("same password")]);
    expect(a).not.toBe(b);
  });

  it("treats composed and decomposed accents as the same password (NFKC)", async () => {
    const stored = await hashPassword("caf\u00e9-au-lait", 1000);
    expect(await verifyPassword("cafe\u0301-au-lait", stored)).toBe(true);
  });

  it("refuses malformed stored hashes and ones asking for more work than the runtime allows", async () => {
    const good = await hashPassword("pw-12345678", 1000);
    const [scheme, , salt, hash] = good.split("$");
    for (const bad of [
      "",
      "plain-text-password",
      `${scheme}$1000$${salt}`,
      `sha1$1000$${salt}$${hash}`,
      `${scheme}$0$${salt}$${hash}`,
      `${scheme}$600000$${salt}$${hash}`,
      `${scheme}$1000$${salt}$${hash}$extra`,
      `${scheme}$1000$${salt}$not*base64`,
    ]) {
      expect(parsePasswordHash(bad)).toBeNull();
      expect(await verifyPassword("pw-12345678", bad)).toBe(false);
    }
  });

  it("does the same PBKDF2 work for an unknown account as for a wrong password", async () => {
    const stored = await hashPassword("the real one");
    const time = async (work: () => Promise<unknown>) => {
      const started = performance.now();
      await work();
      return performance.now() - started;
    };
    await verifyPasswordOrDummy("warm-up", null);
    const unknown: number[] = [];
    const wrong: number[] = [];
    for (let i = 0; i < 7; i++) {
      unknown.push(await time(() => verifyPasswordOrDummy("guess", null)));
      wrong.push(await time(() => verifyPasswordOrDummy("guess", stored)));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[3] as number;
    expect(await verifyPasswordOrDummy("the real one", null)).toBe(false);
    expect(median(unknown) / median(wrong)).toBeGreaterThan(0.5);
    expect(median(unknown) / median(wrong)).toBeLessThan(2);
  });

  it("compares bytes without an early exit", () => {
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2]))).toBe(false);
  });

  it("normalizes emails: case, spaces and compatibility forms", () => {
    expect(normalizeEmail("  Ada.Lovelace@Example.COM ")).toBe("ada.lovelace@example.com");
    expect(normalizeEmail("ｅｘ@example.com")).toBe("ex@example.com");
  });
});
