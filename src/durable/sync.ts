import type { DeviceType } from "../domain/device";
import { decodeHlc, encodeHlc, type Hlc, laterHlc } from "../domain/hlc";
import {
  addEntry,
  effectiveElements,
  joinEntry,
  type OrSetEntry,
  removeEntry,
  sameEntry,
  TagConflictError,
} from "../domain/or-set";
import type { ProgressState, SyncOp } from "../domain/sync-replica";
import { type EventEnvelope, makeEvent } from "../events/envelope";
import { RefusedError, refusal } from "../outcome";
import type { ProgressWrite } from "./playback";

export interface WatchlistItem {
  content_id: string;
  /** When first added (the earliest live add's HLC time), the same on every replica. */
  added_at: string;
  /** The live tags: a client removing the item sends these as the tags it observed. */
  tags: string[];
}

/**
 * A free-form JSON object (device capabilities). Typed shallowly on purpose: a recursive JSON
 * type is too deep for the RPC stub types.
 */
export type JsonObject = Record<string, string | number | boolean | null | object>;

export interface DeviceInput {
  device_type: DeviceType;
  platform: string;
  capabilities: JsonObject;
  app_version: string;
  device_name: string;
}

export interface Device extends DeviceInput {
  device_id: string;
  is_online: boolean;
  last_seen: string;
  registered_at: string;
  updated_at: string;
}

export type OpStatus = "applied" | "duplicate" | "stale";

interface EntryRow {
  tag: string;
  content_id: string;
  added_hlc: string | null;
  removed_hlc: string | null;
  [key: string]: SqlStorageValue;
}

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

export interface SyncContext {
  userId: string;
  offlineMs: number;
  maxDevices: number;
  emit: (event: EventEnvelope) => void;
  /** Records a change in the user's change log; returns its seq. */
  changed: (kind: "watchlist" | "device", key: string, hlc: string) => number;
  tick: () => Hlc;
  /** Writes the shared progress register (the playback store's LWW register); true when it won. */
  writeProgress: (write: ProgressWrite) => boolean;
}

/** Applied op ids kept at most, whatever their age: duplicates older than this are rare and mostly harmless. */
const MAX_REMEMBERED_OPS = 20_000;

const iso = (ms: number) => new Date(ms).toISOString();
const toEntry = (row: EntryRow): OrSetEntry => ({
  tag: row.tag,
  element: row.content_id,
  added: row.added_hlc,
  removed: row.removed_hlc,
});

/**
 * The user's watchlist (an OR-Set, one row per tag), devices with presence, and the ids of the
 * ops already applied, in the Durable Object's SQLite. Merges follow src/domain/or-set.ts.
 */
export class SyncStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly ctx: SyncContext,
  ) {
    sql.exec(`CREATE TABLE IF NOT EXISTS watchlist (
      tag TEXT PRIMARY KEY,
      content_id TEXT NOT NULL,
      added_hlc TEXT,
      removed_hlc TEXT,
      removed_seq INTEGER,
      removed_at INTEGER
    )`);
    sql.exec("CREATE INDEX IF NOT EXISTS watchlist_content ON watchlist (content_id)");
    sql.exec(
      "CREATE INDEX IF NOT EXISTS watchlist_tombstones ON watchlist (removed_seq) WHERE removed_hlc IS NOT NULL",
    );
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

  // ---- watchlist ----

  /** Adds at this replica: a new tag, unless the item is already in the list (PUT is idempotent). */
  addToWatchlist(contentId: string, now: number): { item: WatchlistItem; created: boolean } {
    const existing = this.watchlistItem(contentId);
    if (existing) return { item: existing, created: false };
    const hlc = encodeHlc(this.ctx.tick());
    this.mergeEntries(contentId, [addEntry(contentId, hlc, hlc)], now);
    return { item: this.watchlistItem(contentId) as WatchlistItem, created: true };
  }

  /** Removes at this replica: tombstones the tags it holds. False when the item was not there. */
  removeFromWatchlist(contentId: string, now: number): boolean {
    const tags = this.watchlistItem(contentId)?.tags ?? [];
    if (tags.length === 0) return false;
    const hlc = encodeHlc(this.ctx.tick());
    this.mergeEntries(
      contentId,
      tags.map((tag) => removeEntry(contentId, tag, hlc)),
      now,
    );
    return true;
  }

  watchlistItem(contentId: string): WatchlistItem | null {
    const element = effectiveElements(this.entries(contentId))[0];
    return element ? { content_id: element.element, added_at: hlcTime(element.addedHlc), tags: element.tags } : null;
  }

  /** The effective watchlist, most recently added first, a page after (added_hlc, content_id). */
  watchlist(opts: { limit: number; after?: { h: string; c: string } | null }): {
    items: WatchlistItem[];
    next: { h: string; c: string } | null;
  } {
    const args: SqlStorageValue[] = [];
    let having = "";
    if (opts.after) {
      having = "HAVING min(added_hlc) < ? OR (min(added_hlc) = ? AND content_id > ?)";
      args.push(opts.after.h, opts.after.h, opts.after.c);
    }
    const rows = this.sql
      .exec<{ content_id: string; added: string; tags: string }>(
        `SELECT content_id, min(added_hlc) AS added, json_group_array(tag) AS tags FROM watchlist
         WHERE added_hlc IS NOT NULL AND removed_hlc IS NULL
         GROUP BY content_id ${having}
         ORDER BY added DESC, content_id ASC LIMIT ?`,
        ...args,
        opts.limit + 1,
      )
      .toArray();
    const page = rows.slice(0, opts.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({
        content_id: r.content_id,
        added_at: hlcTime(r.added),
        tags: (JSON.parse(r.tags) as string[]).sort(),
      })),
      next: rows.length > opts.limit && last ? { h: last.added, c: last.content_id } : null,
    };
  }

  allWatchlist(): WatchlistItem[] {
    const entries = this.sql
      .exec<EntryRow>("SELECT tag, content_id, added_hlc, removed_hlc FROM watchlist WHERE removed_hlc IS NULL")
      .toArray()
      .map(toEntry);
    return effectiveElements(entries).map((e) => ({
      content_id: e.element,
      added_at: hlcTime(e.addedHlc),
      tags: e.tags,
    }));
  }

  /**
   * Joins entries of one element into the stored set. A reused tag refuses the whole write
   * (the transaction rolls back). Records the change and its event when anything changed.
   */
  private mergeEntries(contentId: string, incoming: OrSetEntry[], now: number): boolean {
    const tombstoned: string[] = [];
    let changed = false;
    for (const entry of incoming) {
      const row = this.sql
        .exec<EntryRow>("SELECT tag, content_id, added_hlc, removed_hlc FROM watchlist WHERE tag = ?", entry.tag)
        .toArray()[0];
      const current = row ? toEntry(row) : undefined;
      let next: OrSetEntry;
      try {
        next = joinEntry(current, entry);
      } catch (error) {
        if (!(error instanceof TagConflictError)) throw error;
        throw new RefusedError(
          refusal(409, "tag-conflict", `tag ${error.tag} already names another watchlist item`, {
            errors: [{ path: "tag", message: "a tag names one add of one item" }],
          }),
        );
      }
      if (sameEntry(current, next)) continue;
      changed = true;
      if (next.removed !== null && current?.removed == null) tombstoned.push(next.tag);
      this.sql.exec(
        `INSERT INTO watchlist (tag, content_id, added_hlc, removed_hlc, removed_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (tag) DO UPDATE SET added_hlc = excluded.added_hlc, removed_hlc = excluded.removed_hlc,
           removed_at = coalesce(watchlist.removed_at, excluded.removed_at)`,
        next.tag,
        next.element,
        next.added,
        next.removed,
        next.removed === null ? null : now,
      );
    }
    if (!changed) return false;
    const entries = this.entries(contentId);
    const latest = entries.reduce<string | null>((max, e) => laterHlc(laterHlc(max, e.added), e.removed), null) ?? "";
    const seq = this.ctx.changed("watchlist", contentId, latest);
    // The seq of the change that tombstoned a tag: once every device has synced past it, it can go.
    for (const tag of tombstoned) this.sql.exec("UPDATE watchlist SET removed_seq = ? WHERE tag = ?", seq, tag);
    this.emitWatchlist(contentId, entries, latest, now);
    return true;
  }

  private emitWatchlist(contentId: string, entries: OrSetEntry[], latest: string, now: number): void {
    this.ctx.emit(
      makeEvent(
        "watchlist-changed",
        this.ctx.userId,
        latest,
        {
          content_id: contentId,
          present: entries.some((e) => e.added !== null && e.removed === null),
          entries: entries.map((e) => ({ tag: e.tag, added_hlc: e.added, removed_hlc: e.removed })),
        },
        new Date(now),
      ),
    );
  }

  /**
   * Emits every watchlist element and device again as they stand, so that a Postgres that lost
   * events (a restored backup, a local queue killed with its backlog) catches up. Watchlist tags
   * keep their stamps; devices get a new one, which only wins over older mirror rows.
   */
  reemitAll(now: number): { watchlist: number; devices: number } {
    const contents = this.sql
      .exec<{ content_id: string }>("SELECT DISTINCT content_id FROM watchlist ORDER BY content_id")
      .toArray();
    for (const { content_id } of contents) {
      const entries = this.entries(content_id);
      const latest = entries.reduce<string | null>((max, e) => laterHlc(laterHlc(max, e.added), e.removed), null) ?? "";
      this.emitWatchlist(content_id, entries, latest, now);
    }
    const devices = this.sql.exec<{ device_id: string }>("SELECT device_id FROM devices ORDER BY device_id").toArray();
    for (const { device_id } of devices) this.emitDevice(device_id, now, false);
    return { watchlist: contents.length, devices: devices.length };
  }

  private entries(contentId: string): OrSetEntry[] {
    return this.sql
      .exec<EntryRow>(
        "SELECT tag, content_id, added_hlc, removed_hlc FROM watchlist WHERE content_id = ? ORDER BY tag",
        contentId,
      )
      .toArray()
      .map(toEntry);
  }

  hasWatchlistEntries(contentId: string): boolean {
    return this.sql.exec("SELECT 1 FROM watchlist WHERE content_id = ? LIMIT 1", contentId).toArray().length > 0;
  }

  // ---- ops from offline clients ----

  /**
   * Applies one op. The caller has checked the batch (shape, clock drift) and runs the whole
   * batch in one transaction, so a refusal here undoes the ops before it too.
   */
  applyOp(op: SyncOp, now: number, deviceId: string | null): OpStatus {
    if (this.sql.exec("SELECT 1 FROM applied_ops WHERE op_id = ?", op.op_id).toArray().length > 0) return "duplicate";
    let changed: boolean;
    if (op.type === "watchlist.add") {
      changed = this.mergeEntries(op.content_id, [addEntry(op.content_id, op.tag, op.hlc)], now);
    } else if (op.type === "watchlist.remove") {
      changed = this.mergeEntries(
        op.content_id,
        op.tags.map((tag) => removeEntry(op.content_id, tag, op.hlc)),
        now,
      );
    } else {
      const hlc = decodeHlc(op.hlc);
      changed = this.ctx.writeProgress({
        content_id: op.content_id,
        position: op.position_seconds,
        duration: op.duration_seconds,
        state: op.state as ProgressState,
        device_id: deviceId,
        // When the device watched, but never later than now (its clock may run ahead).
        at: Math.min(now, hlc.ms),
        hlc,
      });
    }
    this.sql.exec("INSERT INTO applied_ops (op_id, at) VALUES (?, ?)", op.op_id, now);
    return changed ? "applied" : "stale";
  }

  // ---- devices and presence ----

  /** Registers or updates a device; registering counts as being seen. */
  registerDevice(id: string, input: DeviceInput, now: number): { device: Device; created: boolean } {
    const existing = this.deviceRow(id);
    if (!existing) {
      const count = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM devices").one().n;
      if (count >= this.ctx.maxDevices) {
        throw new RefusedError(
          refusal(409, "too-many-devices", `at most ${this.ctx.maxDevices} devices; remove one first`),
        );
      }
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
    this.deviceChanged(id, now, false);
    return { device: this.device(id, now, new Set()) as Device, created: !existing };
  }

  /**
   * The device was seen (heartbeat, socket). Coming online is a change pushed to the other
   * devices; staying online only writes `last_seen` through to Postgres now and then.
   */
  markSeen(id: string, now: number): boolean {
    const row = this.deviceRow(id);
    if (!row) return false;
    this.sql.exec("UPDATE devices SET last_seen = ?, online = 1 WHERE device_id = ?", now, id);
    if (row.online === 0) this.deviceChanged(id, now, false);
    else if (now - row.mirrored_at >= this.ctx.offlineMs / 2) this.emitDevice(id, now, false);
    return true;
  }

  deleteDevice(id: string, now: number): boolean {
    const row = this.deviceRow(id);
    if (!row) return false;
    const hlc = encodeHlc(this.ctx.tick());
    this.sql.exec("DELETE FROM devices WHERE device_id = ?", id);
    this.ctx.changed("device", id, hlc);
    this.ctx.emit(makeEvent("device-changed", this.ctx.userId, hlc, deviceData(row, false, true), new Date(now)));
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
      this.deviceChanged(id, now, false);
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

  device(id: string, now: number, connected: ReadonlySet<string>): Device | null {
    const row = this.deviceRow(id);
    return row ? this.toDevice(row, now, connected) : null;
  }

  devices(
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

  allDevices(now: number, connected: ReadonlySet<string>): Device[] {
    return this.sql
      .exec<DeviceRow>("SELECT * FROM devices ORDER BY device_id")
      .toArray()
      .map((r) => this.toDevice(r, now, connected));
  }

  // ---- garbage collection ----

  /**
   * The change seq every registered device has synced past (null: no device is registered, so
   * none can be holding anything back).
   */
  stableSeq(): number | null {
    return this.sql.exec<{ s: number | null }>("SELECT min(synced_seq) AS s FROM devices").one().s;
  }

  /**
   * Drops tombstones that are safe to forget: every registered device has synced past the
   * removal, or the removal is older than the retention. A remove whose add has not arrived
   * yet waits for the retention: the add is still on its way and must find its tombstone.
   */
  collectTombstones(now: number, maxAgeMs: number): { dropped: number; contents: string[] } {
    const stable = this.stableSeq();
    const rows = this.sql
      .exec<{ tag: string; content_id: string }>(
        `DELETE FROM watchlist WHERE removed_hlc IS NOT NULL AND (
           removed_at <= ? OR (added_hlc IS NOT NULL AND removed_seq IS NOT NULL AND (? IS NULL OR removed_seq <= ?))
         ) RETURNING tag, content_id`,
        now - maxAgeMs,
        stable,
        stable,
      )
      .toArray();
    const cutoff = now - maxAgeMs;
    this.sql.exec("DELETE FROM applied_ops WHERE at <= ?", cutoff);
    this.sql.exec(
      "DELETE FROM applied_ops WHERE op_id IN (SELECT op_id FROM applied_ops ORDER BY at DESC LIMIT -1 OFFSET ?)",
      MAX_REMEMBERED_OPS,
    );
    return { dropped: rows.length, contents: [...new Set(rows.map((r) => r.content_id))] };
  }

  /** When the next collection is due: now if a tombstone is already safe, else when one ages out. */
  gcDeadline(now: number, maxAgeMs: number): number | null {
    const stable = this.stableSeq();
    const safe = this.sql
      .exec(
        `SELECT 1 FROM watchlist WHERE removed_hlc IS NOT NULL AND added_hlc IS NOT NULL AND removed_seq IS NOT NULL
           AND (? IS NULL OR removed_seq <= ?) LIMIT 1`,
        stable,
        stable,
      )
      .toArray();
    if (safe.length > 0) return now;
    const oldest = this.sql
      .exec<{ t: number | null }>("SELECT min(removed_at) AS t FROM watchlist WHERE removed_hlc IS NOT NULL")
      .one().t;
    return oldest === null ? null : oldest + maxAgeMs;
  }

  stats(): { entries: number; tombstones: number; devices: number; remembered_ops: number } {
    const w = this.sql
      .exec<{ entries: number; tombstones: number | null }>(
        "SELECT count(*) AS entries, sum(removed_hlc IS NOT NULL) AS tombstones FROM watchlist",
      )
      .one();
    return {
      entries: w.entries,
      tombstones: w.tombstones ?? 0,
      devices: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM devices").one().n,
      remembered_ops: this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM applied_ops").one().n,
    };
  }

  // ---- internals ----

  private deviceChanged(id: string, now: number, deleted: boolean): void {
    const hlc = encodeHlc(this.ctx.tick());
    this.ctx.changed("device", id, hlc);
    this.emitDevice(id, now, deleted, hlc);
  }

  private emitDevice(id: string, now: number, deleted: boolean, hlc = encodeHlc(this.ctx.tick())): void {
    const row = this.deviceRow(id);
    if (!row) return;
    this.sql.exec("UPDATE devices SET mirrored_at = ? WHERE device_id = ?", now, id);
    this.ctx.emit(
      makeEvent("device-changed", this.ctx.userId, hlc, deviceData(row, row.online === 1, deleted), new Date(now)),
    );
  }

  private deviceRow(id: string): DeviceRow | undefined {
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

/** An HLC's wall time as ISO-8601: "when" in the order every replica agrees on. */
const hlcTime = (hlc: string) => iso(decodeHlc(hlc).ms);
