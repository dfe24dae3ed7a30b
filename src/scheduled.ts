import { cleanupTokens } from "./accounts/cleanup";
import { rebuildFacts } from "./catalog/facts-store";
import type { Config } from "./config";
import { withDatabase } from "./db/client";
import { deleteExpiredEvents } from "./db/event-log";
import type { Env } from "./env";
import { purgeSyncMirror } from "./events/sync-mirror";
import { rebuildModel } from "./recommendations/model-store";
import { scheduledReindex } from "./search/store";

/** The per-minute cron (wrangler.toml): webhook deliveries due for a retry. */
export const WEBHOOK_CRON = "* * * * *";

/**
 * The hourly cron's jobs (wrangler.toml), run side by side: a job that fails is logged and the
 * others still finish; the run then fails, so the platform records it.
 */
export async function runScheduledJobs(config: Config, env: Env, now = new Date()): Promise<Record<string, string>> {
  const jobs: [string, () => Promise<string>][] = [
    [
      "token cleanup",
      async () => {
        const removed = await cleanupTokens(config, now);
        return `${removed.refreshTokens} refresh tokens, ${removed.tokenFamilies} token families`;
      },
    ],
    ["sync mirror purge", async () => `${await purgeSyncMirror(config, now)} removed watchlist tags`],
    [
      "event log retention",
      async () =>
        `${await withDatabase(config, (db) => deleteExpiredEvents(db, config.EVENT_LOG_RETENTION_DAYS, now))} events older than ${config.EVENT_LOG_RETENTION_DAYS} days`,
    ],
    [
      // For catalog changes made outside the admin import (a seed, SQL).
      "catalog facts",
      async () => {
        const facts = await rebuildFacts(env, config);
        return `${facts.version}${facts.changed ? " (new)" : ""}, ${facts.series} series`;
      },
    ],
    [
      "search reindex",
      async () => {
        const r = await scheduledReindex(env, config);
        const outcome = !r.changed ? "unchanged" : r.published ? "published" : "a newer build won";
        return `${r.version} (${outcome}, ${r.items} items), ${r.swept.length} orphaned snapshots deleted`;
      },
    ],
    [
      "recommendation model rebuild",
      async () => {
        const r = await rebuildModel(env, config);
        return `${r.version} (${r.changed ? "new" : "unchanged"}): ${r.users} users, ${r.titles} titles, ${r.snapshot_bytes} bytes, built in ${r.build_ms} ms`;
      },
    ],
  ];
  const results = await Promise.allSettled(jobs.map(([, job]) => job()));
  const report: Record<string, string> = {};
  let failed = 0;
  results.forEach((result, i) => {
    const name = jobs[i]?.[0] ?? `job ${i}`;
    if (result.status === "fulfilled") {
      report[name] = result.value;
      console.log(`${name}: ${result.value}`);
    } else {
      failed++;
      report[name] = `failed: ${String(result.reason)}`;
      console.error(`${name} failed:`, result.reason);
    }
  });
  if (failed > 0) throw new Error(`${failed} of ${jobs.length} scheduled jobs failed`);
  return report;
}
