import type { Config } from "../config";
import { deleteExpiredTokens } from "../db/accounts";
import { withDatabase } from "../db/client";

/**
 * Run by the Worker's scheduled() handler (hourly cron in wrangler.toml): deletes refresh tokens
 * past their expiry (a spent one is kept until then, to recognize a replay), and token families
 * TOKEN_RETENTION_DAYS after they stopped being usable (revoked or expired).
 */
export async function cleanupTokens(config: Config, now = new Date()) {
  const retentionStart = new Date(now.getTime() - config.TOKEN_RETENTION_DAYS * 86_400_000);
  return withDatabase(config, (db) => deleteExpiredTokens(db, now, retentionStart));
}
