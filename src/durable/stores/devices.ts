import { makeEvent } from "../../contracts/events";
import { RefusedError, refusal } from "../../contracts/outcomes";
import type { Device, DeviceInput, JsonObject } from "../../contracts/sync";
import type { DeviceType } from "../../domain/device";
import { encodeHlc } from "../../domain/hlc";
import type { StoreContext } from "./context";

interface DeviceRow {
  device_id: string;
  device_type: DeviceType;
  platform: string;
  capabilities: string;
  app_version: string;
  device_name: string;
  registered_at: number;
  updated_at: number;
  last_seen: number;
  online: number;
  mirrored_at: number;
  synced_seq: number;
  [key: string]: SqlStorageValue;
}

export interface DevicesContext extends StoreContext {
  /** A device with no heartbeat and no socket for this long is offline. */
  offlineMs: number;
  maxDevices: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The user's devices with presence and sync points, in the Durable Object's SQLite. Presence is
 * `online` (kept by heartbeats, sockets and the alarm) and, between alarm runs, `last_seen`.
 */
export class Devices {
  constructor(
    private readonly sql: SqlStorage,
    private readonly ctx: DevicesContext,
  ) {}

  /** Registers or updates a device; registering counts as being seen. */
  register(id: string, input: DeviceInput, now: number): { device: Device; created: boolean } {
    const existing = this.row(id);
    if (!existing && this.count() >= this.ctx.maxDevices) {
      throw new RefusedError(
        refusal(409, "too-many-devices", `at most ${this.ctx.maxDevices} devices; remove one first`),
      );
    }
    this.sql.exec(
      `INSERT INTO devices (device_id, device_type, platform, capabilities, app_version, device_name,
         registered_at, updated_at, last_seen, online, mirrored_at, synced_seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, 0)
       ON CONFLICT (device_id) DO UPDATE SET device_type = excluded.device_type, platform = excluded.platform,
         capabilities = excluded.capabilities, app_version = excluded.app_version, device_name = excluded.device_name,
         updated_at = excluded.updated_at, last_seen = excluded.last_seen, online = 1, mirrored_at = excluded.mirrored_at`,
      id,
      input.device_type,
      input.platform,
      JSON.stringify(input.capabilities),
      input.app_version,
      input.device_name,
      now,
      now,
      now,
      now,
    );
    // A device registered again is live again: its next events are newer than the deletion.
    this.sql.exec("DELETE FROM device_tombstones WHERE device_id = ?", id);
    this.changed(id, now, false);
    return { device: this.get(id, now, new Set()) as Device, created: !existing };
  }

  /**
   * The device was seen (heartbeat, socket). Coming online is a change pushed to the other
   * devices; staying online only writes `last_seen` through to Postgres now and then.
   */
  markSeen(id: string, now: number): boolean {
    const row = this.row(id);
    if (!row) return false;
    this.sql.exec("UPDATE devices SET last_seen = ?, online = 1 WHERE device_id = ?", now, id);
    if (row.online === 0) this.changed(id, now, false);
    else if (now - row.mirrored_at >= this.ctx.offlineMs / 2) this.emit(id, now, false);
    return true;
  }

  delete(id: string, now: number): boolean {
    const row = this.row(id);
    if (!row) return false;
    const hlc = encodeHlc(this.ctx.clock.tick());
    const data = deviceData(row, false, true);
    this.sql.exec("DELETE FROM devices WHERE device_id = ?", id);
    this.sql.exec(
      `INSERT INTO device_tombstones (device_id, hlc, deleted_at, data) VALUES (?, ?, ?, ?)
       ON CONFLICT (device_id) DO UPDATE SET hlc = excluded.hlc, deleted_at = excluded.deleted_at, data = excluded.data`,
      id,
      hlc,
      now,
      JSON.stringify(data),
    );
    this.ctx.changes.record("device", id, hlc, Date.now());
    this.ctx.outbox.append(makeEvent("device-changed", this.ctx.userId, hlc, data, new Date(now)));
    return true;
  }

  /** Marks offline the devices not seen for the offline window that have no open socket. */
  expirePresence(now: number, connected: ReadonlySet<string>): string[] {
    const stale = this.sql
      .exec<{ device_id: string }>(
        "SELECT device_id FROM devices WHERE online = 1 AND last_seen <= ?",
        now - this.ctx.offlineMs,
      )
      .toArray()
      .map((r) => r.device_id)
      .filter((id) => !connected.has(id));
    for (const id of stale) {
      this.sql.exec("UPDATE devices SET online = 0 WHERE device_id = ?", id);
      this.changed(id, now, false);
    }
    return stale;
  }

  /** When the next online device without a socket goes stale, or null. */
  presenceDeadline(connected: ReadonlySet<string>): number | null {
    let next: number | null = null;
    for (const row of this.sql.exec<{ device_id: string; last_seen: number }>(
      "SELECT device_id, last_seen FROM devices WHERE online = 1",
    )) {
      if (connected.has(row.device_id)) continue;
      const at = row.last_seen + this.ctx.offlineMs;
      if (next === null || at < next) next = at;
    }
    return next;
  }

  /** The device has received every change up to `seq` (it pulled a delta or acked a push). */
  recordSynced(id: string, seq: number): void {
    this.sql.exec("UPDATE devices SET synced_seq = max(synced_seq, ?) WHERE device_id = ?", seq, id);
  }

  /**
   * The change seq every registered device has synced past (null: no device is registered, so
   * none can be holding anything back).
   */
  stableSeq(): number | null {
    return this.sql.exec<{ s: number | null }>("SELECT min(synced_seq) AS s FROM devices").one().s;
  }

  get(id: string, now: number, connected: ReadonlySet<string>): Device | null {
    const row = this.row(id);
    return row ? this.toDevice(row, now, connected) : null;
  }

  page(
    opts: { limit: number; after?: string | null },
    now: number,
    connected: ReadonlySet<string>,
  ): { items: Device[]; next: string | null } {
    const rows = this.sql
      .exec<DeviceRow>(
        "SELECT * FROM devices WHERE device_id > ? ORDER BY device_id LIMIT ?",
        opts.after ?? "",
        opts.limit + 1,
      )
      .toArray();
    const page = rows.slice(0, opts.limit);
    return {
      items: page.map((r) => this.toDevice(r, now, connected)),
      next: rows.length > opts.limit ? (page[page.length - 1]?.device_id ?? null) : null,
    };
  }

  all(now: number, connected: ReadonlySet<string>): Device[] {
    return this.sql
      .exec<DeviceRow>("SELECT * FROM devices ORDER BY device_id")
      .toArray()
      .map((r) => this.toDevice(r, now, connected));
  }

  count(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM devices").one().n;
  }

  /**
   * Emits every device again with a new stamp, which only wins over older mirror rows, and every
   * deletion still remembered at its own stamp, so a mirror that missed it loses the device.
   */
  reemitAll(now: number): number {
    const devices = this.sql.exec<{ device_id: string }>("SELECT device_id FROM devices ORDER BY device_id").toArray();
    for (const { device_id } of devices) this.emit(device_id, now, false);
    const tombstones = this.sql
      .exec<{ hlc: string; data: string }>("SELECT hlc, data FROM device_tombstones ORDER BY device_id")
      .toArray();
    for (const { hlc, data } of tombstones) {
      this.ctx.outbox.append(
        makeEvent("device-changed", this.ctx.userId, hlc, JSON.parse(data) as DeviceData, new Date(now)),
      );
    }
    return devices.length + tombstones.length;
  }

  /** Forgets deletions older than the tombstone window; returns how many. */
  collectTombstones(now: number, maxAgeMs: number): number {
    return this.sql.exec("DELETE FROM device_tombstones WHERE deleted_at <= ?", now - maxAgeMs).rowsWritten;
  }

  /** When the oldest deletion leaves the tombstone window, or null. */
  tombstoneDeadline(maxAgeMs: number): number | null {
    const oldest = this.sql.exec<{ t: number | null }>("SELECT min(deleted_at) AS t FROM device_tombstones").one().t;
    return oldest === null ? null : oldest + maxAgeMs;
  }

  tombstoneCount(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM device_tombstones").one().n;
  }

  // ---- internals ----

  private changed(id: string, now: number, deleted: boolean): void {
    const hlc = encodeHlc(this.ctx.clock.tick());
    this.ctx.changes.record("device", id, hlc, Date.now());
    this.emit(id, now, deleted, hlc);
  }

  private emit(id: string, now: number, deleted: boolean, hlc = encodeHlc(this.ctx.clock.tick())): void {
    const row = this.row(id);
    if (!row) return;
    this.sql.exec("UPDATE devices SET mirrored_at = ? WHERE device_id = ?", now, id);
    this.ctx.outbox.append(
      makeEvent("device-changed", this.ctx.userId, hlc, deviceData(row, row.online === 1, deleted), new Date(now)),
    );
  }

  private row(id: string): DeviceRow | undefined {
    return this.sql.exec<DeviceRow>("SELECT * FROM devices WHERE device_id = ?", id).toArray()[0];
  }

  private toDevice(row: DeviceRow, now: number, connected: ReadonlySet<string>): Device {
    // Between a device going quiet and the alarm marking it, the list already tells the truth.
    const online = row.online === 1 && (connected.has(row.device_id) || now - row.last_seen < this.ctx.offlineMs);
    return {
      device_id: row.device_id,
      device_type: row.device_type,
      platform: row.platform,
      capabilities: JSON.parse(row.capabilities) as JsonObject,
      app_version: row.app_version,
      device_name: row.device_name,
      is_online: online,
      last_seen: iso(row.last_seen),
      registered_at: iso(row.registered_at),
      updated_at: iso(row.updated_at),
    };
  }
}

type DeviceData = ReturnType<typeof deviceData>;

function deviceData(row: DeviceRow, online: boolean, deleted: boolean) {
  return {
    device_id: row.device_id,
    device_type: row.device_type,
    platform: row.platform,
    capabilities: JSON.parse(row.capabilities) as Record<string, unknown>,
    app_version: row.app_version,
    device_name: row.device_name,
    last_seen: iso(row.last_seen),
    is_online: online && !deleted,
    deleted,
  };
}
