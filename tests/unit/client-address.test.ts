import { describe, expect, it } from "vitest";
import { addressKey } from "../../src/domain/client-address";

describe("addressKey", () => {
  it("keeps an IPv4 address whole", () => {
    expect(addressKey("203.0.113.7")).toBe("203.0.113.7");
  });

  it("groups IPv6 addresses by their /64, however they are written", () => {
    const key = addressKey("2001:db8:85a3:0:8a2e:370:7334:1");
    expect(addressKey("2001:0db8:85a3:0000:ffff:ffff:ffff:ffff")).toBe(key);
    expect(addressKey("2001:DB8:85A3::1")).toBe(key);
    expect(key).toBe("2001:db8:85a3:0::/64");
    expect(addressKey("2001:db8:85a4::1")).not.toBe(key);
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
  });
});
