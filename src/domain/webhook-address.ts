/**
 * Which webhook URLs the service may call. A webhook must not turn the Worker into a way to reach
 * addresses its users cannot: private networks, link-local and cloud metadata, loopback. Checked
 * at registration and again before every delivery.
 *
 * A Worker cannot resolve a name before it fetches, so for a hostname only the name itself is
 * judged (localhost, single-label names, the .localhost/.local/.internal/.lan/.home.arpa
 * suffixes); a public name that resolves to a private address is not caught here. IP literals, in
 * every spelling the URL parser accepts (decimal, hex, IPv4-mapped IPv6), are judged by address.
 */

export type AddressVerdict = { ok: true; url: URL; loopback: boolean } | { ok: false; reason: string };

export interface AddressRules {
  /** Allows loopback (127.0.0.0/8, ::1, localhost) and plain http to it; nothing else private. */
  allowLoopback: boolean;
}

export const WEBHOOK_URL_MAX_LENGTH = 2048;

type Range = readonly [base: number, bits: number, what: string];

const ipv4 = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;

/** IPv4 ranges that are not the public internet (RFC 6890 and friends). */
const IPV4_REFUSED: readonly Range[] = [
  [ipv4(0, 0, 0, 0), 8, "a 'this network' address"],
  [ipv4(10, 0, 0, 0), 8, "a private address"],
  [ipv4(100, 64, 0, 0), 10, "a shared (carrier-grade NAT) address"],
  [ipv4(169, 254, 0, 0), 16, "a link-local address (cloud metadata lives here)"],
  [ipv4(172, 16, 0, 0), 12, "a private address"],
  [ipv4(192, 0, 0, 0), 24, "an IETF protocol address"],
  [ipv4(192, 0, 2, 0), 24, "a documentation address"],
  [ipv4(192, 88, 99, 0), 24, "a relay anycast address"],
  [ipv4(192, 168, 0, 0), 16, "a private address"],
  [ipv4(198, 18, 0, 0), 15, "a benchmarking address"],
  [ipv4(198, 51, 100, 0), 24, "a documentation address"],
  [ipv4(203, 0, 113, 0), 24, "a documentation address"],
  [ipv4(224, 0, 0, 0), 4, "a multicast address"],
  [ipv4(240, 0, 0, 0), 4, "a reserved address"],
];
const IPV4_LOOPBACK: Range = [ipv4(127, 0, 0, 0), 8, "a loopback address"];

const inRange = (address: number, [base, bits]: Range) =>
  bits === 0 || address >>> (32 - bits) === base >>> (32 - bits);

/** The 32-bit value of a dotted IPv4 literal (as the URL parser normalizes it), or null. */
export function parseIpv4(host: string): number | null {
  const parts = host.split(".");
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

/** The eight 16-bit groups of an IPv6 literal (without brackets), or null. */
export function parseIpv6(host: string): number[] | null {
  let text = host.toLowerCase();
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = parseIpv4(dotted[2] as string);
    if (v4 === null) return null;
    text = `${dotted[1]}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  const out: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
    out.push(Number.parseInt(g, 16));
  }
  return out;
}

type Judged = { refused: string | null; loopback: boolean };

function judgeIpv4(address: number): Judged {
  if (inRange(address, IPV4_LOOPBACK)) return { refused: IPV4_LOOPBACK[2], loopback: true };
  if (address === ipv4(255, 255, 255, 255)) return { refused: "the broadcast address", loopback: false };
  const range = IPV4_REFUSED.find((r) => inRange(address, r));
  return { refused: range ? range[2] : null, loopback: false };
}

function judgeIpv6(g: number[]): Judged {
  const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, h6 = 0, h7 = 0] = g;
  const zeroHead = a === 0 && b === 0 && c === 0 && d === 0 && e === 0;
  const embedded = ((h6 << 16) | h7) >>> 0;
  if (zeroHead && f === 0 && h6 === 0 && h7 === 1) return { refused: "a loopback address", loopback: true };
  if (zeroHead && f === 0 && h6 === 0 && h7 === 0) return { refused: "the unspecified address", loopback: false };
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address.
  if (zeroHead && (f === 0xffff || f === 0)) return judgeIpv4(embedded);
  if (a === 0x64 && b === 0xff9b && c === 0 && d === 0 && e === 0 && f === 0) return judgeIpv4(embedded);
  if ((a & 0xfe00) === 0xfc00) return { refused: "a unique-local address", loopback: false };
  if ((a & 0xffc0) === 0xfe80) return { refused: "a link-local address", loopback: false };
  if ((a & 0xffc0) === 0xfec0) return { refused: "a site-local address", loopback: false };
  if ((a & 0xff00) === 0xff00) return { refused: "a multicast address", loopback: false };
  if (a === 0x2001 && b === 0x0db8) return { refused: "a documentation address", loopback: false };
  // 6to4 (2002::/16) embeds an IPv4 address in groups 1 and 2.
  if (a === 0x2002) return judgeIpv4(((b << 16) | c) >>> 0);
  return { refused: null, loopback: false };
}

const LOCAL_SUFFIXES = [".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet", ".corp"];

function judgeName(host: string): Judged {
  if (host === "localhost" || host.endsWith(".localhost")) return { refused: "a loopback name", loopback: true };
  if (!host.includes(".")) return { refused: "a single-label (intranet) name", loopback: false };
  const suffix = LOCAL_SUFFIXES.find((s) => host.endsWith(s));
  if (suffix) return { refused: `a private name (${suffix})`, loopback: false };
  return { refused: null, loopback: false };
}

/** Judges a webhook URL: an https URL of a public address, or loopback when the rules allow it. */
export function judgeWebhookUrl(text: string, rules: AddressRules): AddressVerdict {
  if (text.length > WEBHOOK_URL_MAX_LENGTH) {
    return { ok: false, reason: `must be at most ${WEBHOOK_URL_MAX_LENGTH} characters` };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: "is not a URL" };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { ok: false, reason: "must be an https URL" };
  if (url.username || url.password) return { ok: false, reason: "must not carry credentials" };
  // The URL parser has already normalized IPv4 spellings (0x7f.1, 2130706433) to dotted form.
  const host = url.hostname.replace(/\.$/, "").toLowerCase();
  if (host === "") return { ok: false, reason: "has no host" };
  let judged: Judged;
  if (host.startsWith("[") && host.endsWith("]")) {
    const groups = parseIpv6(host.slice(1, -1));
    if (!groups) return { ok: false, reason: "has an IPv6 address that cannot be read" };
    judged = judgeIpv6(groups);
  } else {
    const v4 = parseIpv4(host);
    judged = v4 !== null ? judgeIpv4(v4) : judgeName(host);
  }
  if (judged.loopback && rules.allowLoopback) return { ok: true, url, loopback: true };
  if (judged.refused) {
    return { ok: false, reason: `points to ${judged.refused}, which webhooks may not call` };
  }
  if (url.protocol !== "https:") return { ok: false, reason: "must be an https URL" };
  return { ok: true, url, loopback: false };
}
