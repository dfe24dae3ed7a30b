import { cleanupTokens } from "./accounts/cleanup";
import type { Config } from "./config";
import type { Env } from "./env";
import { purgeSyncMirror } from "./events/sync-mirror";
import { scheduledReindex } from "./search/store";

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
      "search reindex",
      async () => {
        const r = await scheduledReindex(env, config);
        const outcome = !r.changed ? "unchanged" : r.published ? "published" : "a newer build won";
        return `${r.version} (${outcome}, ${r.items} items), ${r.swept.length} orphaned snapshots deleted`;
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
