/** DeviceAuthorization's storage, version by version. Append only: a released version is never edited. */
import type { Migration } from "../migrate";

/** One row: the device authorization that the object's user code names. */
function grantTable(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS device_grant (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      secret_hash TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      interval INTEGER NOT NULL,
      last_poll_at INTEGER,
      account_id TEXT,
      profile_id TEXT
    )`);
}

export const deviceAuthorizationMigrations: readonly Migration[] = [
  { version: 1, name: "device grant", up: grantTable },
];
