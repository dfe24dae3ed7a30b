import { lt, sql } from "drizzle-orm";
import type { Config } from "../config";
import { withDatabase } from "../db/client";
import { refreshTokens, tokenFamilies } from "../db/schema";

/**
 * Run by the Worker's scheduled() handler (hourly cron in wrangler.toml): deletes refresh tokens
 * past their expiry (a spent one is kept until then, to recognize a replay), and token families
 * TOKEN_RETENTION_DAYS after they stopped being usable (revoked or expired).
 */
export async function cleanupTokens(config: Config, now = new Date()) {
  const retentionStart = new Date(now.getTime() - config.TOKEN_RETENTION_DAYS * 86_400_000);
  return withDatabase(config, async (db) => {
    const tokens = await db
      .delete(refreshTokens)
      .where(lt(refreshTokens.expiresAt, now))
      .returning({ tokenHash: refreshTokens.tokenHash });
    const families = await db
      .delete(tokenFamilies)
      .where(sql`least(${tokenFamilies.revokedAt}, ${tokenFamilies.expiresAt}) < ${retentionStart}`)
      .returning({ id: tokenFamilies.id });
    return { refreshTokens: tokens.length, tokenFamilies: families.length };
  });
}
