import { describe, expect, it } from "vitest";
import { judgeWebhookUrl, parseIpv6 } from "../../src/domain/webhook-address";
import { afterFailure, retrySchedule } from "../../src/domain/webhook-retry";

const strict = { allowLoopback: false };
const local = { allowLoopback: true };
const refused = (url: string, rules = strict) => {
  const verdict = judgeWebhookUrl(url, rules);
  return verdict.ok ? null : verdict.reason;
};

describe("webhook address rules", () => {
  it("takes https URLs of public addresses and names", () => {
    for (const url of [
      "https://hooks.example.com/media",
      "https://hooks.example.com:8443/x?y=1",
      "https://93.184.216.34/x",
      "https://[2606:4700:4700::1111]/x",
      "https://8.8.8.8/",
      "https://172.32.0.1/", // just outside 172.16.0.0/12
      "https://100.128.0.1/", // just outside 100.64.0.0/10
    ]) {
      expect(refused(url), url).toBeNull();
    }
  });

  it("refuses private, link-local, metadata, shared, reserved and multicast addresses in every spelling", () => {
    for (const url of [
      "https://10.0.0.1/",
      "https://10.255.255.255/",
      "https://172.16.0.1/",
      "https://172.31.255.255/",
      "https://192.168.1.1/",
      "https://169.254.169.254/latest/meta-data/",
      "https://100.64.0.1/",
      "https://0.0.0.0/",
      "https://224.0.0.1/",
      "https://255.255.255.255/",
      "https://198.18.0.1/",
      "https://0xa9.0xfe.0xa9.0xfe/", // 169.254.169.254 in hex
      "https://2852039166/", // 169.254.169.254 as one number
      "https://012.0.0.1/", // 10.0.0.1 in octal
      "https://[fd00::1]/",
      "https://[fc00::abcd]/",
      "https://[fe80::1]/",
      "https://[ff02::1]/",
      "https://[::]/",
      "https://[::ffff:10.0.0.1]/",
      "https://[::ffff:169.254.169.254]/",
      "https://[64:ff9b::a9fe:a9fe]/", // NAT64 of 169.254.169.254
      "https://[2002:c0a8:101::1]/", // 6to4 of 192.168.1.1
      "https://[2001:db8::1]/",
    ]) {
      expect(refused(url), url).not.toBeNull();
      // Loopback being allowed changes nothing for them.
      expect(refused(url, local), url).not.toBeNull();
    }
  });

  it("refuses loopback and local names unless loopback is allowed, and then only loopback", () => {
    const loopback = [
      "https://127.0.0.1/",
      "https://127.10.20.30/",
      "https://[::1]/",
      "https://[::ffff:127.0.0.1]/",
      "https://localhost/",
      "https://LOCALHOST./",
      "https://api.localhost/",
      "https://0x7f.1/",
      "https://2130706433/",
      "http://127.0.0.1:8080/hook",
      "http://localhost:3000/hook",
    ];
    for (const url of loopback) {
      expect(refused(url), url).toContain("loopback");
      expect(refused(url, local), url).toBeNull();
    }
    for (const url of [
      "https://metadata.google.internal/",
      "https://printer.local/",
      "https://nas.lan/",
      "https://router.home.arpa/",
      "https://intranet/",
    ]) {
      expect(refused(url), url).not.toBeNull();
      expect(refused(url, local), url).not.toBeNull();
    }
  });

  it("refuses what is not an https URL, carries credentials, or is too long", () => {
    expect(refused("not a url")).toBe("is not a URL");
    expect(refused("ftp://hooks.example.com/")).toContain("https");
    expect(refused("http://hooks.example.com/")).toContain("https");
    expect(refused("http://10.0.0.1/", local)).not.toBeNull();
    expect(refused("javascript:alert(1)")).toContain("https");
    expect(refused("https://user:secret@hooks.example.com/")).toContain("credentials");
    expect(refused(`https://hooks.example.com/${"a".repeat(2100)}`)).toContain("2048");
  });

  it("reads IPv6 literals, compressed or with an IPv4 tail", () => {
    expect(parseIpv6("::1")).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(parseIpv6("fe80::1:2")).toEqual([0xfe80, 0, 0, 0, 0, 0, 1, 2]);
    expect(parseIpv6("::ffff:10.0.0.1")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001]);
    expect(parseIpv6("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIpv6("1::2::3")).toBeNull();
    expect(parseIpv6("1:2:3")).toBeNull();
    expect(parseIpv6("12345::")).toBeNull();
  });
});

describe("webhook retry schedule", () => {
  const policy = { baseSeconds: 30, maxDelaySeconds: 4 * 3600, windowSeconds: 86_400 };

  it("doubles the wait from 30 s up to 4 h, for a day", () => {
    const schedule = retrySchedule(policy);
    expect(schedule.slice(0, 6)).toEqual([0, 30, 90, 210, 450, 930]);
    const gaps = schedule.slice(1).map((t, i) => t - (schedule[i] as number));
    expect(Math.max(...gaps)).toBe(4 * 3600);
    expect(schedule[schedule.length - 1]).toBeLessThanOrEqual(86_400);
    expect(schedule.length).toBeGreaterThan(10);
  });

  it("fails a delivery whose next try would fall past the window", () => {
    const queued = new Date("2026-01-01T00:00:00Z");
    const soon = afterFailure(policy, 1, queued, new Date("2026-01-01T00:00:01Z"));
    expect(soon).toEqual({ kind: "retry", at: new Date("2026-01-01T00:00:31Z") });
    const late = afterFailure(policy, 12, queued, new Date("2026-01-01T23:00:00Z"));
    expect(late).toEqual({ kind: "fail" });
  });
});
