/**
 * The Postgres mirror of the watchlist OR-Set and the device registry. Every write is guarded
 * in SQL, so redelivered or late records never take a row back in time.
 */
import { sql } from "drizzle-orm";
import { type Queryable, run } from "./client";

/** One tag of one watchlist element, its stamps joined over the batch. */
export interface WatchlistTagRecord {
  userId: string;
  contentId: string;
  tag: string;
  addedHlc: string | null;
  removedHlc: string | null;
  /** The latest `occurred_at` of the events that carried the tag: a purge may refuse older ones. */
  occurredAt: string;
}

/** A device record at its greatest HLC in the batch. */
export interface DeviceRecord {
  userId: string;
  deviceId: string;
  deviceType: string;
  platform: string;
  capabilities: Record<string, unknown>;
  appVersion: string;
  deviceName: string;
  lastSeen: string;
  isOnline: boolean;
  deleted: boolean;
  hlc: string;
}

/** The time in an encoded HLC, as SQL (its first 15 digits are Unix milliseconds). */
const hlcTime = (column: string) =>
  `CASE WHEN ${column} IS NULL THEN NULL ELSE to_timestamp(left(${column}, 15)::bigint / 1000.0) END`;

/** The watchlist mirror's purge watermark, as SQL: rows of older events may not be inserted. */
const WATCHLIST_MIRROR = "watchlist";

/**
 * The same join as the OR-Set: the earliest add stamp, the latest remove stamp, removed forever.
 * A tag with no row is only inserted when no purge could have removed it: its events are newer
 * than the purge watermark, or it is live. Returns rows changed.
 */
export async function upsertWatchlistTags(db: Queryable, tags: readonly WatchlistTagRecord[]): Promise<number> {
  const col = <T>(pick: (t: WatchlistTagRecord) => T) => sql.param(tags.map(pick));
  const { rowCount } = await run(
    db,
    sql`
      INSERT INTO watchlist_entries AS w (user_id, content_id, tag, added_hlc, removed_hlc, removed, added_at, removed_at)
      SELECT v.user_id, v.content_id, v.tag, v.added_hlc, v.removed_hlc, v.removed_hlc IS NOT NULL,
        ${sql.raw(hlcTime("v.added_hlc"))}, ${sql.raw(hlcTime("v.removed_hlc"))}
      FROM unnest(
        ${col((t) => t.userId)}::text[], ${col((t) => t.contentId)}::text[], ${col((t) => t.tag)}::text[],
        ${col((t) => t.addedHlc)}::text[], ${col((t) => t.removedHlc)}::text[],
        ${col((t) => t.occurredAt)}::timestamptz[]
      ) AS v(user_id, content_id, tag, added_hlc, removed_hlc, occurred_at)
      WHERE EXISTS (SELECT 1 FROM watchlist_entries e WHERE e.user_id = v.user_id AND e.tag = v.tag)
        OR NOT EXISTS (
          SELECT 1 FROM sync_mirror_purges p WHERE p.mirror = ${WATCHLIST_MIRROR}
            AND (v.occurred_at < p.purged_before
              OR (v.removed_hlc IS NOT NULL AND ${sql.raw(hlcTime("v.removed_hlc"))} < p.purged_before))
        )
      ON CONFLICT (user_id, tag) DO UPDATE SET
        added_hlc = CASE WHEN w.added_hlc IS NULL OR excluded.added_hlc COLLATE "C" < w.added_hlc COLLATE "C"
          THEN coalesce(excluded.added_hlc, w.added_hlc) ELSE w.added_hlc END,
        added_at = CASE WHEN w.added_hlc IS NULL OR excluded.added_hlc COLLATE "C" < w.added_hlc COLLATE "C"
          THEN coalesce(excluded.added_at, w.added_at) ELSE w.added_at END,
        removed_hlc = CASE WHEN w.removed_hlc IS NULL OR excluded.removed_hlc COLLATE "C" > w.removed_hlc COLLATE "C"
          THEN coalesce(excluded.removed_hlc, w.removed_hlc) ELSE w.removed_hlc END,
        removed = w.removed OR excluded.removed,
        removed_at = coalesce(w.removed_at, excluded.removed_at),
        updated_at = now()
      WHERE (excluded.added_hlc IS NOT NULL AND (w.added_hlc IS NULL OR excluded.added_hlc COLLATE "C" < w.added_hlc COLLATE "C"))
         OR (excluded.removed_hlc IS NOT NULL AND (w.removed_hlc IS NULL OR excluded.removed_hlc COLLATE "C" > w.removed_hlc COLLATE "C"))
    `,
  );
  return rowCount;
}

/** Devices by (user, device), newest HLC wins; `last_seen` never goes back. Returns rows changed. */
export async function upsertDevices(db: Queryable, devices: readonly DeviceRecord[]): Promise<number> {
  const col = <T>(pick: (d: DeviceRecord) => T) => sql.param(devices.map(pick));
  const { rowCount } = await run(
    db,
    sql`
      INSERT INTO devices AS d (user_id, device_id, device_type, platform, capabilities, app_version, device_name,
        last_seen, is_online, active, hlc, updated_at)
      SELECT v.user_id, v.device_id, v.device_type, v.platform, v.capabilities::jsonb, v.app_version, v.device_name,
        v.last_seen, v.is_online, NOT v.deleted, v.hlc, now()
      FROM unnest(
        ${col((d) => d.userId)}::text[], ${col((d) => d.deviceId)}::text[], ${col((d) => d.deviceType)}::text[],
        ${col((d) => d.platform)}::text[], ${col((d) => JSON.stringify(d.capabilities))}::text[],
        ${col((d) => d.appVersion)}::text[], ${col((d) => d.deviceName)}::text[],
        ${col((d) => d.lastSeen)}::timestamptz[], ${col((d) => d.isOnline)}::bool[],
        ${col((d) => d.deleted)}::bool[], ${col((d) => d.hlc)}::text[]
      ) AS v(user_id, device_id, device_type, platform, capabilities, app_version, device_name, last_seen, is_online,
        deleted, hlc)
      ON CONFLICT (user_id, device_id) DO UPDATE SET
        device_type = excluded.device_type, platform = excluded.platform, capabilities = excluded.capabilities,
        app_version = excluded.app_version, device_name = excluded.device_name,
        last_seen = greatest(d.last_seen, excluded.last_seen), is_online = excluded.is_online,
        active = excluded.active, hlc = excluded.hlc, updated_at = now()
      WHERE d.hlc COLLATE "C" < excluded.hlc COLLATE "C"
    `,
  );
  return rowCount;
}

/**
 * Deletes removed watchlist tags whose last change is older than `before`, after raising the
 * purge watermark to it. The table is locked against the consumer's writes meanwhile, so a batch
 * either ran before (its rows are judged by age like any other) or sees the new watermark.
 * Run inside a transaction. Returns the rows deleted.
 */
export async function purgeRemovedWatchlistTags(db: Queryable, before: Date): Promise<number> {
  await db.execute(sql`LOCK TABLE watchlist_entries IN SHARE ROW EXCLUSIVE MODE`);
  await db.execute(sql`
    INSERT INTO sync_mirror_purges (mirror, purged_before, ran_at) VALUES (${WATCHLIST_MIRROR}, ${before}, now())
    ON CONFLICT (mirror) DO UPDATE SET purged_before = greatest(sync_mirror_purges.purged_before, excluded.purged_before),
      ran_at = now()
  `);
  const { rowCount } = await run(db, sql`DELETE FROM watchlist_entries WHERE removed AND updated_at < ${before}`);
  return rowCount;
}
