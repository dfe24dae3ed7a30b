/**
 * `npm run dlq:replay -- [--url http://127.0.0.1:8787] [--ids 3,4] [--limit 100] [--dry-run] [--list]`
 *
 * Sends the pending dead letters back to the EVENTS queue through the Worker's admin endpoint,
 * oldest first, page by page until every pending one was examined; bodies that still do not
 * decode stay pending and are listed. With --list, only prints the pending dead letters. The admin token is
 * ADMIN_TOKEN, or one minted with JWT_SECRET (the local development secret by default).
 */
import { parseArgs } from "node:util";
import { SignJWT } from "jose";
import { LOCAL_DEV_JWT_SECRET, parseConfig } from "../src/config";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: process.env.GATEWAY_URL ?? "http://127.0.0.1:8787" },
    ids: { type: "string" },
    limit: { type: "string", default: "100" },
    "dry-run": { type: "boolean", default: false },
    list: { type: "boolean", default: false },
  },
});

async function adminToken(): Promise<string> {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
  const config = parseConfig({ ...process.env, JWT_SECRET: process.env.JWT_SECRET ?? LOCAL_DEV_JWT_SECRET });
  let jwt = new SignJWT({ role: "admin" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject("dlq-replay")
    .setIssuedAt()
    .setExpirationTime("10m");
  if (config.JWT_ISSUER) jwt = jwt.setIssuer(config.JWT_ISSUER);
  if (config.JWT_AUDIENCE) jwt = jwt.setAudience(config.JWT_AUDIENCE);
  return jwt.sign(new TextEncoder().encode(config.JWT_SECRET));
}

async function call(token: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${values.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

const token = await adminToken();
if (values.list) {
  let cursor: string | null = null;
  let count = 0;
  do {
    const page: any = await call(
      token,
      "GET",
      `/api/v1/admin/dead-letters?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
    );
    for (const item of page.items) {
      count++;
      console.log(`#${item.id}  ${item.received_at}  ${item.queue}  ${item.reason.slice(0, 120)}`);
      console.log(`      ${JSON.stringify(item.body).slice(0, 200)}`);
    }
    cursor = page.next_cursor;
  } while (cursor);
  console.log(`${count} pending dead letter(s)`);
} else {
  const ids = values.ids?.split(",").map((id) => Number(id.trim()));
  const limit = Number(values.limit);
  let replayed = 0;
  let afterId = 0;
  const malformed = new Map<number, string>();
  for (;;) {
    const report: any = await call(token, "POST", "/api/v1/admin/dead-letters/replay", {
      ...(ids ? { ids } : {}),
      after_id: afterId,
      limit,
      dry_run: values["dry-run"],
    });
    const verb = values["dry-run"] ? "would replay" : "replayed";
    for (const r of report.replayed) console.log(`${verb} #${r.id} ${r.type} ${r.event_id}`);
    for (const m of report.still_malformed) malformed.set(m.id, m.reason);
    replayed += report.replayed.length;
    if (report.last_id === null) break;
    afterId = report.last_id;
  }
  for (const [id, reason] of malformed) console.log(`kept #${id}: still malformed: ${reason.slice(0, 200)}`);
  console.log(`${replayed} ${values["dry-run"] ? "to replay" : "replayed"}, ${malformed.size} still malformed`);
}
