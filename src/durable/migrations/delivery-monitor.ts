/** DeliveryMonitor's storage, version by version. Append only: a released version is never edited. */
import type { Migration } from "../migrate";

/** The last backlog each user's object reported per delivery target. */
function backlogTable(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE backlog (
      user_id TEXT NOT NULL,
      target TEXT NOT NULL,
      pending INTEGER NOT NULL,
      oldest_at INTEGER,
      attempts INTEGER NOT NULL,
      failures INTEGER NOT NULL,
      last_error TEXT,
      reported_at INTEGER NOT NULL,
      PRIMARY KEY (target, user_id)
    )`);
  sql.exec("CREATE INDEX backlog_behind ON backlog (target, oldest_at) WHERE pending > 0");
}

export const deliveryMonitorMigrations: readonly Migration[] = [
  { version: 1, name: "per-user target backlog", up: backlogTable },
];
