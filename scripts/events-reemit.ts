/**
 * `npm run events:reemit -- [--url http://127.0.0.1:8787] <user_id>...`: each user's Durable
 * Object emits its whole state again (progress, watchlist, devices), so that a Postgres that lost
 * events (restored from an older backup, or the local stack's queue killed with its backlog)
 * catches up. Safe to repeat. The admin token is ADMIN_TOKEN or one minted with JWT_SECRET.
 */
import { parseArgs } from "node:util";
import { adminCall, adminToken } from "./admin-client";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { url: { type: "string", default: process.env.GATEWAY_URL ?? "http://127.0.0.1:8787" } },
});
if (positionals.length === 0) {
  console.error("usage: npm run events:reemit -- [--url <base>] <user_id>...");
  process.exit(2);
}
const token = await adminToken();
for (const userId of positionals) {
  const report = await adminCall(values.url, token, "POST", `/api/v1/admin/users/${encodeURIComponent(userId)}/reemit`);
  console.log(
    `${userId}: ${report.progress} progress, ${report.watchlist} watchlist, ${report.devices} devices emitted again`,
  );
}
