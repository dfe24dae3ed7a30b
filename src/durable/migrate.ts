/**
 * Durable Object storage migrations. Each object class keeps one ordered, append-only list
 * (src/durable/migrations/); the object applies what it has not applied yet before it takes
 * its first event, and keeps the applied versions in its own SQLite (`schema_migrations`).
 */
import { storageUnavailable } from "../contracts/outcomes";

export interface Migration {
  /** 1, 2, 3…: the migration's place in its list. A released version is never edited or reused. */
  version: number;
  /** What it does, in a few words; kept in storage beside the version. */
  name: string;
  /** Runs inside the transaction that records the version: it either completes or leaves nothing. */
  up(sql: SqlStorage): void;
}

export interface MigrationResult {
  /** The version the object was on (0: storage from before versions were kept, or none at all). */
  from: number;
  to: number;
}

const LEDGER = "schema_migrations";

/** The newest version applied to this storage; 0 when it has no ledger yet. */
export function appliedVersion(sql: SqlStorage): number {
  const ledger = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", LEDGER).toArray();
  if (ledger.length === 0) return 0;
  return sql.exec<{ v: number | null }>(`SELECT max(version) AS v FROM ${LEDGER}`).one().v ?? 0;
}

/** Throws unless the list is 1, 2, 3… in order with names: a mistake in a list fails every test. */
export function checkMigrationList(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration #${i + 1} has version ${m.version}; versions are 1, 2, 3…`);
    if (!m.name) throw new Error(`migration ${m.version} has no name`);
  });
}

/**
 * Applies every migration after the stored version in one transaction: the object reaches the
 * newest version or stays exactly where it was. Storage written by a newer release (a version
 * this list does not have) is refused rather than run against code that does not know it.
 */
export function migrate(storage: DurableObjectStorage, migrations: readonly Migration[]): MigrationResult {
  checkMigrationList(migrations);
  const sql = storage.sql;
  const from = appliedVersion(sql);
  const to = migrations.length;
  if (from > to) throw new Error(`storage is at version ${from}, newer than this release's ${to}`);
  if (from === to) return { from, to };
  storage.transactionSync(() => {
    sql.exec(`CREATE TABLE IF NOT EXISTS ${LEDGER} (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    for (const migration of migrations.slice(from)) {
      migration.up(sql);
      sql.exec(
        `INSERT INTO ${LEDGER} (version, name, applied_at) VALUES (?, ?, ?)`,
        migration.version,
        migration.name,
        Date.now(),
      );
    }
  });
  return { from, to };
}

/**
 * Migrates an object's storage at construction, before any request, alarm or socket message
 * reaches it (`blockConcurrencyWhile`). A failure is kept, not thrown: the object then answers
 * every call with the storage-unavailable error (a 503 at the Worker) instead of running on a
 * schema it does not expect; its data stays on the old version until a release that migrates.
 */
export class MigratedStorage {
  private failure: Error | null = null;

  constructor(ctx: DurableObjectState, migrations: readonly Migration[], className: string, onReady: () => void) {
    void ctx.blockConcurrencyWhile(async () => {
      try {
        const { from, to } = migrate(ctx.storage, migrations);
        // A new object starts at 0 and says nothing; an object from an older release says what changed.
        if (from > 0 && from !== to) console.log(`${className}: storage migrated from version ${from} to ${to}`);
        onReady();
      } catch (error) {
        this.failure = error instanceof Error ? error : new Error(String(error));
        console.error(`${className}: storage migration failed; answering 503:`, this.failure.message);
      }
    });
  }

  get failed(): boolean {
    return this.failure !== null;
  }

  /** Throws the storage-unavailable error when the migration failed. */
  check(): void {
    if (this.failure) throw storageUnavailable(this.failure.message);
  }
}
