/** SearchPublisher's storage, version by version. Append only: a released version is never edited. */
import type { Migration } from "../migrate";

/** The index versions KV keeps (the current one and those open cursors may still name). */
function publishedVersions(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE published (
      version TEXT PRIMARY KEY,
      built_at INTEGER NOT NULL,
      items INTEGER NOT NULL,
      snapshot_bytes INTEGER NOT NULL,
      published_at INTEGER NOT NULL
    )`);
}

export const searchPublisherMigrations: readonly Migration[] = [
  { version: 1, name: "published versions", up: publishedVersions },
];
