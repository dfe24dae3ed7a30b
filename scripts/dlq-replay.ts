/**
 * `npm run dlq:replay -- [--url http://127.0.0.1:8787] [--ids 3,4] [--limit 100] [--dry-run] [--list]`
 *
 * Sends the pending dead letters back to the EVENTS queue through the Worker's admin endpoint,
 * oldest first, page by page until every pending one was examined; bodies that still do not
 * decode stay pending and are listed. With --list, only prints the pending dead letters. The admin token is
 * ADMIN_TOKEN, or one minted with JWT_SECRET (the local development secret by default).
 */
import { parseArgs } from "node:util";
import { adminCall, adminToken } from "./admin-client";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: process.env.GATEWAY_URL ?? "http://127.0.0.1:8787" },
    ids: { type: "string" },
    limit: { type: "string", default: "100" },
    "dry-run": { type: "boolean", default: false },
    list: { type: "boolean", default: false },
  },
});

const token = await adminToken();
const call = (token: string, method: string, path: string, body?: unknown) =>
  adminCall(values.url, token, method, path, body);
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
