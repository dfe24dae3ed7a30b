import { sql } from "drizzle-orm";
import type { TypedEnvelope } from "../contracts/events";
import type { Database } from "../db/client";
import { joinEntry, type OrSetEntry } from "../domain/or-set";

type Tx = Parameters<Parameters<Database["transaction"]>[0]>[0];
type WatchlistChanged = TypedEnvelope<"watchlist-changed">;
type DeviceChanged = TypedEnvelope<"device-changed">;

/** The time in an encoded HLC, as SQL (its first 15 digits are Unix milliseconds). */
const hlcTime = (column: string) =>
  `CASE WHEN ${column} IS NULL THEN NULL ELSE to_timestamp(left(${column}, 15)::bigint / 1000.0) END`;

/**
 * The Postgres mirror of the watchlist OR-Set and the device registry. A batch is coalesced in
 * memory first (watchlist tags joined as the OR-Set joins them, devices to their greatest HLC),
 * then written with guards in SQL, so redelivered or late events never take a row back in time.
 */
export class SyncMirror {
  private readonly tags = new Map<string, { userId: string; entry: OrSetEntry }>();
  private readonly devices = new Map<string, DeviceChanged>();

  get size(): number {
    return this.tags.size + this.devices.size;
  }

  add(event: WatchlistChanged | DeviceChanged): void {
    if (event.type === "device-changed") {
      const key = `${event.user_id}\u0000${event.data.device_id}`;
      const seen = this.devices.get(key);
      if (!seen || seen.hlc < event.hlc) this.devices.set(key, event);
      return;
    }
    for (const e of event.data.entries) {
      const key = `${event.user_id}\u0000${e.tag}`;
      const incoming: OrSetEntry = {
        tag: e.tag,
        element: event.data.content_id,
        added: e.added_hlc,
        removed: e.removed_hlc,
      };
      const seen = this.tags.get(key);
      try {
        this.tags.set(key, { userId: event.user_id, entry: joinEntry(seen?.entry, incoming) });
      } catch {
        // The object refuses a reused tag; an event claiming one anyway keeps the first element.
      }
    }
  }

  /** Writes the batch; returns the rows that changed. */
  async apply(tx: Tx): Promise<number> {
    let rows = 0;
    if (this.tags.size > 0) rows += await this.upsertTags(tx);
    if (this.devices.size > 0) rows += await this.upsertDevices(tx);
    return rows;
  }

  private async upsertTags(tx: Tx): Promise<number> {
    const list = [...this.tags.values()];
    const col = <T>(pick: (t: (typeof list)[number]) => T) => sql.param(list.map(pick));
    // The same join as the OR-Set: the earliest add stamp, the latest remove stamp, removed forever.
    const result = await tx.execute(sql`
      INSERT INTO watchlist_entries AS w (user_id, content_id, tag, added_hlc, removed_hlc, removed, added_at, removed_at)
      SELECT v.user_id, v.content_id, v.tag, v.added_hlc, v.removed_hlc, v.removed_hlc IS NOT NULL,
        ${sql.raw(hlcTime("v.added_hlc"))}, ${sql.raw(hlcTime("v.removed_hlc"))}
      FROM unnest(
        ${col((t) => t.userId)}::text[], ${col((t) => t.entry.element)}::text[], ${col((t) => t.entry.tag)}::text[],
        ${col((t) => t.entry.added)}::text[], ${col((t) => t.entry.removed)}::text[]
      ) AS v(user_id, content_id, tag, added_hlc, removed_hlc)
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
    `);
    return result.rowCount ?? 0;
  }

  private async upsertDevices(tx: Tx): Promise<number> {
    const list = [...this.devices.values()];
    const col = <T>(pick: (e: DeviceChanged) => T) => sql.param(list.map(pick));
    const result = await tx.execute(sql`
      INSERT INTO devices AS d (user_id, device_id, device_type, platform, capabilities, app_version, device_name,
        last_seen, is_online, active, hlc, updated_at)
      SELECT v.user_id, v.device_id, v.device_type, v.platform, v.capabilities::jsonb, v.app_version, v.device_name,
        v.last_seen, v.is_online, NOT v.deleted, v.hlc, now()
      FROM unnest(
        ${col((e) => e.user_id)}::text[], ${col((e) => e.data.device_id)}::text[], ${col((e) => e.data.device_type)}::text[],
        ${col((e) => e.data.platform)}::text[], ${col((e) => JSON.stringify(e.data.capabilities))}::text[],
        ${col((e) => e.data.app_version)}::text[], ${col((e) => e.data.device_name)}::text[],
        ${col((e) => e.data.last_seen)}::timestamptz[], ${col((e) => e.data.is_online)}::bool[],
        ${col((e) => e.data.deleted)}::bool[], ${col((e) => e.hlc)}::text[]
      ) AS v(user_id, device_id, device_type, platform, capabilities, app_version, device_name, last_seen, is_online,
        deleted, hlc)
      ON CONFLICT (user_id, device_id) DO UPDATE SET
        device_type = excluded.device_type, platform = excluded.platform, capabilities = excluded.capabilities,
        app_version = excluded.app_version, device_name = excluded.device_name,
        last_seen = greatest(d.last_seen, excluded.last_seen), is_online = excluded.is_online,
        active = excluded.active, hlc = excluded.hlc, updated_at = now()
      WHERE d.hlc COLLATE "C" < excluded.hlc COLLATE "C"
    `);
    return result.rowCount ?? 0;
  }
}
