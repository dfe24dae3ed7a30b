/** RateLimiter's storage, version by version. Append only: a released version is never edited. */
import type { Migration } from "../migrate";

/** Version 1 is the schema objects had before versions were kept, so existing buckets adopt it unchanged. */
function bucketTable(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS bucket (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      tokens REAL NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
}

export const rateLimiterMigrations: readonly Migration[] = [{ version: 1, name: "token bucket", up: bucketTable }];
