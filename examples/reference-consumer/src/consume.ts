import { Validator } from "@cfworker/json-schema";
// The contract Media Gateway publishes (GET /events/schema.json); a team outside this repository copies it.
import schema from "../../../docs/events.schema.json";

const validator = new Validator(schema as object, "2020-12", false);
const versions = schema["x-versions"] as Record<string, number>;

interface Envelope {
  event_id: string;
  type: string;
  version: number;
  user_id: string;
  hlc: string;
  data: Record<string, unknown>;
}

export interface ConsumeReport {
  applied: number;
  duplicates: number;
  skipped: number;
  invalid: number;
}

const TABLES = [
  "CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY, deliveries INTEGER NOT NULL DEFAULT 1)",
  `CREATE TABLE IF NOT EXISTS progress (user_id TEXT, content_id TEXT, hlc TEXT NOT NULL,
     position_seconds REAL NOT NULL, watched INTEGER NOT NULL, deleted INTEGER NOT NULL, PRIMARY KEY (user_id, content_id))`,
  `CREATE TABLE IF NOT EXISTS watchlist (user_id TEXT, content_id TEXT, hlc TEXT NOT NULL,
     present INTEGER NOT NULL, PRIMARY KEY (user_id, content_id))`,
];

/** The consumer's tables, made on first use (a real deployment would use `wrangler d1 migrations`). */
export async function createTables(db: D1Database): Promise<void> {
  await db.batch(TABLES.map((t) => db.prepare(t)));
}

/**
 * Applies messages: each one checked against the published schema, applied once per
 * `event_id`, and per key only when its `hlc` is greater than the one kept (so redeliveries,
 * replays and late arrivals change nothing). Types it does not use or know are acknowledged.
 */
export async function consume(db: D1Database, messages: readonly { body: unknown }[]): Promise<ConsumeReport> {
  const report: ConsumeReport = { applied: 0, duplicates: 0, skipped: 0, invalid: 0 };
  await createTables(db);
  for (const { body } of messages) {
    const event = body as Envelope;
    const known = versions[event?.type];
    if (known === undefined || event.version > known) {
      report.skipped++; // a type or version newer than this consumer: acknowledge and move on
      continue;
    }
    if (!validator.validate(body).valid) {
      report.invalid++;
      continue;
    }
    const apply = write(db, event);
    if (!apply) {
      report.skipped++;
      continue;
    }
    // Seen already (a redelivery or a replay): only counted.
    const again = await db
      .prepare("UPDATE seen SET deliveries = deliveries + 1 WHERE event_id = ?")
      .bind(event.event_id)
      .run();
    if (again.meta.changes > 0) {
      report.duplicates++;
      continue;
    }
    // The write and the mark in one transaction: seen means applied.
    await db.batch([apply, db.prepare("INSERT OR IGNORE INTO seen (event_id) VALUES (?)").bind(event.event_id)]);
    report.applied++;
  }
  return report;
}

/** The write that keeps the greatest `hlc` per key, or null for a type this consumer does not keep. */
function write(db: D1Database, e: Envelope): D1PreparedStatement | null {
  // Byte-wise comparison of HLC strings is their order (SQLite's default BINARY collation).
  const guard = (table: string) => `WHERE excluded.hlc > ${table}.hlc`;
  if (e.type === "progress-changed") {
    return db
      .prepare(
        `INSERT INTO progress VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, content_id) DO UPDATE SET
         hlc = excluded.hlc, position_seconds = excluded.position_seconds, watched = excluded.watched,
         deleted = excluded.deleted ${guard("progress")}`,
      )
      .bind(
        e.user_id,
        e.data.content_id,
        e.hlc,
        e.data.position_seconds,
        e.data.watched ? 1 : 0,
        e.data.deleted ? 1 : 0,
      );
  }
  if (e.type === "watchlist-changed") {
    return db
      .prepare(
        `INSERT INTO watchlist VALUES (?, ?, ?, ?) ON CONFLICT (user_id, content_id) DO UPDATE SET
         hlc = excluded.hlc, present = excluded.present ${guard("watchlist")}`,
      )
      .bind(e.user_id, e.data.content_id, e.hlc, e.data.present ? 1 : 0);
  }
  return null;
}
