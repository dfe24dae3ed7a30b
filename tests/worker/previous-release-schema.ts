/**
 * The storage schema of the release before Durable Object migrations existed, statement for
 * statement as its stores ran it in their constructors (there was no ledger of versions). An
 * object seeded with it is an object that release created.
 */
export const PREVIOUS_RELEASE_SCHEMA = [
  "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
  `CREATE TABLE IF NOT EXISTS changes (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      kind TEXT NOT NULL,
      key TEXT NOT NULL,
      hlc TEXT NOT NULL,
      at INTEGER NOT NULL
    )`,
  "CREATE INDEX IF NOT EXISTS changes_key ON changes (kind, key)",
  `CREATE TABLE IF NOT EXISTS change_log_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      horizon INTEGER NOT NULL
    )`,
  "INSERT OR IGNORE INTO change_log_state (id, horizon) VALUES (1, 0)",
  `CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      body TEXT NOT NULL,
      at INTEGER NOT NULL
    )`,
  `CREATE TABLE IF NOT EXISTS outbox_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      attempts INTEGER NOT NULL,
      next_at INTEGER NOT NULL
    )`,
  "INSERT OR IGNORE INTO outbox_state (id, attempts, next_at) VALUES (1, 0, 0)",
  `CREATE TABLE IF NOT EXISTS revoked_families (
      family_id TEXT PRIMARY KEY,
      reason TEXT NOT NULL,
      revoked_at INTEGER NOT NULL
    )`,
  `CREATE TABLE IF NOT EXISTS experiment_exposures (
      experiment_id TEXT PRIMARY KEY,
      variant TEXT NOT NULL,
      bucket INTEGER NOT NULL,
      first_at INTEGER NOT NULL,
      at INTEGER NOT NULL
    )`,
  `CREATE TABLE IF NOT EXISTS sessions (
      id TEXT PRIMARY KEY,
      content_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      position REAL NOT NULL,
      duration REAL NOT NULL,
      state TEXT NOT NULL,
      quality TEXT,
      started_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      ended_at INTEGER
    )`,
  "CREATE INDEX IF NOT EXISTS sessions_open ON sessions (updated_at) WHERE ended_at IS NULL",
  `CREATE TABLE IF NOT EXISTS progress (
      content_id TEXT PRIMARY KEY,
      position REAL NOT NULL,
      duration REAL NOT NULL,
      state TEXT NOT NULL,
      watched INTEGER NOT NULL,
      device_id TEXT,
      hlc TEXT NOT NULL,
      last_watched_at INTEGER NOT NULL,
      deleted INTEGER NOT NULL DEFAULT 0,
      dirty_since INTEGER
    )`,
  "CREATE INDEX IF NOT EXISTS progress_recent ON progress (last_watched_at DESC, content_id) WHERE deleted = 0",
  "CREATE INDEX IF NOT EXISTS progress_dirty ON progress (dirty_since) WHERE dirty_since IS NOT NULL",
  `CREATE TABLE IF NOT EXISTS watchlist (
      tag TEXT PRIMARY KEY,
      content_id TEXT NOT NULL,
      added_hlc TEXT,
      removed_hlc TEXT,
      removed_seq INTEGER,
      removed_at INTEGER
    )`,
  "CREATE INDEX IF NOT EXISTS watchlist_content ON watchlist (content_id)",
  "CREATE INDEX IF NOT EXISTS watchlist_tombstones ON watchlist (removed_seq) WHERE removed_hlc IS NOT NULL",
  `CREATE TABLE IF NOT EXISTS devices (
      device_id TEXT PRIMARY KEY,
      device_type TEXT NOT NULL,
      platform TEXT NOT NULL,
      capabilities TEXT NOT NULL,
      app_version TEXT NOT NULL,
      device_name TEXT NOT NULL,
      registered_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      last_seen INTEGER NOT NULL,
      online INTEGER NOT NULL,
      mirrored_at INTEGER NOT NULL,
      synced_seq INTEGER NOT NULL DEFAULT 0
    )`,
  `CREATE TABLE IF NOT EXISTS applied_ops (op_id TEXT PRIMARY KEY, at INTEGER NOT NULL)`,
  "CREATE INDEX IF NOT EXISTS applied_ops_at ON applied_ops (at)",
];
