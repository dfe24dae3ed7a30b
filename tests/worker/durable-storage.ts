/** Durable Object storage as a test sees it: the migration ledger, table definitions, a reseed. */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import type { userStub } from "./helpers";

type Stub = ReturnType<typeof userStub>;

export const ledger = (stub: Stub) =>
  runInDurableObject(stub, (_instance, state) =>
    state.storage.sql
      .exec<{ version: number; name: string; applied_at: number }>(
        "SELECT version, name, applied_at FROM schema_migrations ORDER BY version",
      )
      .toArray(),
  );

/** The table's definition as SQLite keeps it (ALTER TABLE rewrites it). */
export const tableSql = (stub: Stub, table: string) =>
  runInDurableObject(
    stub,
    (_instance, state) =>
      state.storage.sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = ?", table).one().sql,
  );

/** Replaces the object's storage with `seed` (run on empty storage), then restarts the object. */
export async function reseed(stub: Stub, seed: (sql: SqlStorage) => void) {
  await runInDurableObject(stub, (_instance, state) => {
    const sql = state.storage.sql;
    const tables = sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .map((t) => t.name);
    for (const name of tables.filter((n) => !n.startsWith("sqlite_") && !n.startsWith("_cf_"))) {
      sql.exec(`DROP TABLE "${name}"`);
    }
    if (tables.includes("sqlite_sequence")) sql.exec("DELETE FROM sqlite_sequence");
    seed(sql);
  });
  await evictDurableObject(stub);
}
