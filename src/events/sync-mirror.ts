import type { Config } from "../config";
import type { TypedEnvelope } from "../contracts/events";
import { inTransaction, type Queryable } from "../db/client";
import {
  type DeviceRecord,
  purgeRemovedWatchlistTags,
  upsertDevices,
  upsertWatchlistTags,
  type WatchlistTagRecord,
} from "../db/sync-mirror";
import { joinEntry, type OrSetEntry } from "../domain/or-set";

type WatchlistChanged = TypedEnvelope<"watchlist-changed">;
type DeviceChanged = TypedEnvelope<"device-changed">;

/**
 * The batch's watchlist and device events, coalesced in memory before they are written to the
 * Postgres mirror (src/db/sync-mirror.ts): watchlist tags joined as the OR-Set joins them,
 * devices to their greatest HLC.
 */
export class SyncMirror {
  private readonly tags = new Map<string, { userId: string; entry: OrSetEntry; occurredAt: string }>();
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
      const occurredAt =
        seen && Date.parse(seen.occurredAt) > Date.parse(event.occurred_at) ? seen.occurredAt : event.occurred_at;
      try {
        this.tags.set(key, { userId: event.user_id, entry: joinEntry(seen?.entry, incoming), occurredAt });
      } catch {
        // The object refuses a reused tag; an event claiming one anyway keeps the first element.
      }
    }
  }

  /** Writes the batch; returns the rows that changed. */
  async apply(db: Queryable): Promise<number> {
    let rows = 0;
    if (this.tags.size > 0) {
      const tags = [...this.tags.values()].map(
        ({ userId, entry, occurredAt }): WatchlistTagRecord => ({
          userId,
          contentId: entry.element,
          tag: entry.tag,
          addedHlc: entry.added,
          removedHlc: entry.removed,
          occurredAt,
        }),
      );
      rows += await upsertWatchlistTags(db, tags);
    }
    if (this.devices.size > 0) {
      const devices = [...this.devices.values()].map(
        (e): DeviceRecord => ({
          userId: e.user_id,
          deviceId: e.data.device_id,
          deviceType: e.data.device_type,
          platform: e.data.platform,
          capabilities: e.data.capabilities,
          appVersion: e.data.app_version,
          deviceName: e.data.device_name,
          lastSeen: e.data.last_seen,
          isOnline: e.data.is_online,
          deleted: e.data.deleted,
          hlc: e.hlc,
        }),
      );
      rows += await upsertDevices(db, devices);
    }
    return rows;
  }
}

/**
 * Run by the hourly cron: removed watchlist tags leave the mirror once they are older than the
 * tombstone window (the user's object has forgotten them by then too). Returns the rows deleted.
 */
export function purgeSyncMirror(config: Config, now = new Date()): Promise<number> {
  const before = new Date(now.getTime() - config.TOMBSTONE_MAX_AGE_SECONDS * 1000);
  return inTransaction(config, (tx) => purgeRemovedWatchlistTags(tx, before));
}
