/**
 * UserState's storage, version by version. Append only: a version that has been released is
 * never edited; a change of schema is a new entry at the end (see docs/durable-objects.md).
 */
import type { Migration } from "../migrate";

/**
 * Version 1 is the schema objects had before versions were kept, statement for statement, so a
 * deployed object (which holds these tables already) adopts it without any change.
 */
function initialSchema(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  // change log
  sql.exec(`CREATE TABLE IF NOT EXISTS changes (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      kind TEXT NOT NULL,
      key TEXT NOT NULL,
      hlc TEXT NOT NULL,
      at INTEGER NOT NULL
    )`);
  sql.exec("CREATE INDEX IF NOT EXISTS changes_key ON changes (kind, key)");
  sql.exec(`CREATE TABLE IF NOT EXISTS change_log_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      horizon INTEGER NOT NULL
    )`);
  sql.exec("INSERT OR IGNORE INTO change_log_state (id, horizon) VALUES (1, 0)");
  // outbox
  sql.exec(`CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      body TEXT NOT NULL,
      at INTEGER NOT NULL
    )`);
  sql.exec(`CREATE TABLE IF NOT EXISTS outbox_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      attempts INTEGER NOT NULL,
      next_at INTEGER NOT NULL
    )`);
  sql.exec("INSERT OR IGNORE INTO outbox_state (id, attempts, next_at) VALUES (1, 0, 0)");
  // token families
  sql.exec(`CREATE TABLE IF NOT EXISTS revoked_families (
      family_id TEXT PRIMARY KEY,
      reason TEXT NOT NULL,
      revoked_at INTEGER NOT NULL
    )`);
  // experiment exposures
  sql.exec(`CREATE TABLE IF NOT EXISTS experiment_exposures (
      experiment_id TEXT PRIMARY KEY,
      variant TEXT NOT NULL,
      bucket INTEGER NOT NULL,
      first_at INTEGER NOT NULL,
      at INTEGER NOT NULL
    )`);
  // playback: sessions and progress registers
  sql.exec(`CREATE TABLE IF NOT EXISTS sessions (
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
    )`);
  sql.exec("CREATE INDEX IF NOT EXISTS sessions_open ON sessions (updated_at) WHERE ended_at IS NULL");
  sql.exec(`CREATE TABLE IF NOT EXISTS progress (
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
    )`);
  sql.exec(
    "CREATE INDEX IF NOT EXISTS progress_recent ON progress (last_watched_at DESC, content_id) WHERE deleted = 0",
  );
  sql.exec("CREATE INDEX IF NOT EXISTS progress_dirty ON progress (dirty_since) WHERE dirty_since IS NOT NULL");
  // sync: watchlist OR-Set, devices, applied op ids
  sql.exec(`CREATE TABLE IF NOT EXISTS watchlist (
      tag TEXT PRIMARY KEY,
      content_id TEXT NOT NULL,
      added_hlc TEXT,
      removed_hlc TEXT,
      removed_seq INTEGER,
      removed_at INTEGER
    )`);
  sql.exec("CREATE INDEX IF NOT EXISTS watchlist_content ON watchlist (content_id)");
  sql.exec("CREATE INDEX IF NOT EXISTS watchlist_tombstones ON watchlist (removed_seq) WHERE removed_hlc IS NOT NULL");
  sql.exec(`CREATE TABLE IF NOT EXISTS devices (
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
    )`);
  sql.exec(`CREATE TABLE IF NOT EXISTS applied_ops (op_id TEXT PRIMARY KEY, at INTEGER NOT NULL)`);
  sql.exec("CREATE INDEX IF NOT EXISTS applied_ops_at ON applied_ops (at)");
}

/**
 * Each outbox row keeps its UTF-8 size, so the alarm sizes queue batches (and status reports the
 * backlog in bytes) without encoding every pending event again on every attempt.
 */
function outboxByteSize(sql: SqlStorage): void {
  sql.exec("ALTER TABLE outbox ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0");
  sql.exec("UPDATE outbox SET bytes = length(CAST(body AS BLOB))");
}

/**
 * A deleted device leaves a tombstone with its stamp and its last record, so a re-emit repeats
 * the deletion when its event was lost; tombstones go after the tombstone window.
 */
function deviceTombstones(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE device_tombstones (
      device_id TEXT PRIMARY KEY,
      hlc TEXT NOT NULL,
      deleted_at INTEGER NOT NULL,
      data TEXT NOT NULL
    )`);
  sql.exec("CREATE INDEX device_tombstones_age ON device_tombstones (deleted_at)");
}

/**
 * Series-aware viewing: each progress register knows its series; every finish is a play (kept
 * when the item is watched again); ratings and "hidden from continue watching" flags are
 * last-writer-wins registers like progress; each series the user watches keeps its Next Up
 * choice, recomputed when its episodes' records or the catalog's episode list change. Registers
 * already watched become one play each, at their last watch, so nobody's history loses a finish.
 */
function viewingRecord(sql: SqlStorage): void {
  sql.exec("ALTER TABLE progress ADD COLUMN series_id TEXT");
  sql.exec(
    "CREATE INDEX progress_series ON progress (series_id, last_watched_at) WHERE series_id IS NOT NULL AND deleted = 0",
  );
  // Continue watching reads unfinished items newest first, past thousands of finished episodes.
  sql.exec(
    "CREATE INDEX progress_unfinished ON progress (last_watched_at DESC, content_id) WHERE deleted = 0 AND watched = 0",
  );
  sql.exec(`CREATE TABLE plays (
      play_id TEXT PRIMARY KEY,
      content_id TEXT NOT NULL,
      series_id TEXT,
      watched_at INTEGER NOT NULL,
      device_id TEXT,
      hlc TEXT NOT NULL,
      deleted INTEGER NOT NULL DEFAULT 0,
      removed_at INTEGER
    )`);
  sql.exec("CREATE INDEX plays_removed ON plays (removed_at) WHERE deleted = 1");
  sql.exec("CREATE INDEX plays_recent ON plays (watched_at DESC, play_id) WHERE deleted = 0");
  sql.exec("CREATE INDEX plays_content ON plays (content_id, watched_at) WHERE deleted = 0");
  sql.exec("CREATE INDEX plays_series ON plays (series_id, content_id) WHERE series_id IS NOT NULL AND deleted = 0");
  sql.exec(
    `INSERT INTO plays (play_id, content_id, series_id, watched_at, device_id, hlc, deleted)
     SELECT 'finished:' || content_id, content_id, NULL, last_watched_at, device_id, hlc, 0
     FROM progress WHERE watched = 1 AND deleted = 0`,
  );
  sql.exec(`CREATE TABLE ratings (
      content_id TEXT PRIMARY KEY,
      rating INTEGER,
      rated_at INTEGER NOT NULL,
      hlc TEXT NOT NULL
    )`);
  sql.exec("CREATE INDEX ratings_recent ON ratings (rated_at DESC, content_id) WHERE rating IS NOT NULL");
  sql.exec(`CREATE TABLE hidden (
      content_id TEXT PRIMARY KEY,
      hidden INTEGER NOT NULL,
      hidden_at INTEGER NOT NULL,
      hlc TEXT NOT NULL
    )`);
  sql.exec(`CREATE TABLE series_watch (
      series_id TEXT PRIMARY KEY,
      last_watched_at INTEGER NOT NULL,
      activity_hlc TEXT NOT NULL,
      next_id TEXT,
      next_reason TEXT,
      special_next_id TEXT,
      special_next_reason TEXT,
      signature TEXT NOT NULL
    )`);
  sql.exec(
    "CREATE INDEX series_watch_next ON series_watch (last_watched_at DESC, series_id) WHERE next_id IS NOT NULL",
  );
  sql.exec(
    "CREATE INDEX series_watch_special ON series_watch (last_watched_at DESC, series_id) WHERE special_next_id IS NOT NULL",
  );
}

/**
 * The outbox delivers to several targets (the mirror's queue and each subscriber queue): each
 * has its own cursor, attempts and backoff, so one refusing holds back no other; a row goes once
 * every target has passed it. Rows keep their type so a target's filter needs no JSON parsing.
 * The mirror (`EVENTS`) starts where the outbox stood, with its backoff as it was.
 */
function outboxTargets(sql: SqlStorage): void {
  sql.exec("ALTER TABLE outbox ADD COLUMN type TEXT NOT NULL DEFAULT ''");
  sql.exec("UPDATE outbox SET type = coalesce(json_extract(body, '$.type'), '')");
  sql.exec(`CREATE TABLE outbox_targets (
      target TEXT PRIMARY KEY,
      cursor INTEGER NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_at INTEGER NOT NULL DEFAULT 0,
      failures INTEGER NOT NULL DEFAULT 0,
      last_error TEXT,
      reported INTEGER NOT NULL DEFAULT 0
    )`);
  sql.exec(
    `INSERT INTO outbox_targets (target, cursor, attempts, next_at)
     SELECT 'EVENTS', 0, attempts, next_at FROM outbox_state`,
  );
  sql.exec("DROP TABLE outbox_state");
}

export const userStateMigrations: readonly Migration[] = [
  { version: 1, name: "initial schema", up: initialSchema },
  { version: 2, name: "outbox row byte size", up: outboxByteSize },
  { version: 3, name: "device tombstones", up: deviceTombstones },
  { version: 4, name: "viewing record: series, plays, ratings, hidden items", up: viewingRecord },
  { version: 5, name: "outbox delivery targets", up: outboxTargets },
];
