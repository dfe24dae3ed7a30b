import { makeEvent } from "../../contracts/events";
import { RefusedError, refusal } from "../../contracts/outcomes";
import type { WatchlistItem } from "../../contracts/sync";
import { decodeHlc, encodeHlc, laterHlc } from "../../domain/hlc";
import {
  addEntry,
  effectiveElements,
  joinEntry,
  type OrSetEntry,
  removeEntry,
  sameEntry,
  TagConflictError,
} from "../../domain/or-set";
import type { StoreContext } from "./context";
import type { Devices } from "./devices";

interface EntryRow {
  tag: string;
  content_id: string;
  added_hlc: string | null;
  removed_hlc: string | null;
  [key: string]: SqlStorageValue;
}

export interface WatchlistContext extends StoreContext {
  /** Tombstones wait until every registered device has synced past them. */
  devices: Devices;
}

const toEntry = (row: EntryRow): OrSetEntry => ({
  tag: row.tag,
  element: row.content_id,
  added: row.added_hlc,
  removed: row.removed_hlc,
});

/** An HLC's wall time as ISO-8601: "when" in the order every replica agrees on. */
const hlcTime = (hlc: string) => new Date(decodeHlc(hlc).ms).toISOString();

/**
 * The user's watchlist, an OR-Set with one row per tag, in the Durable Object's SQLite. Merges
 * follow src/domain/or-set.ts.
 */
export class Watchlist {
  constructor(
    private readonly sql: SqlStorage,
    private readonly ctx: WatchlistContext,
  ) {}

  /** Adds at this replica: a new tag, unless the item is already in the list (PUT is idempotent). */
  add(contentId: string, now: number): { item: WatchlistItem; created: boolean } {
    const existing = this.item(contentId);
    if (existing) return { item: existing, created: false };
    const hlc = encodeHlc(this.ctx.clock.tick());
    this.merge(contentId, [addEntry(contentId, hlc, hlc)], now);
    return { item: this.item(contentId) as WatchlistItem, created: true };
  }

  /** Removes at this replica: tombstones the tags it holds. False when the item was not there. */
  remove(contentId: string, now: number): boolean {
    const tags = this.item(contentId)?.tags ?? [];
    if (tags.length === 0) return false;
    const hlc = encodeHlc(this.ctx.clock.tick());
    this.merge(
      contentId,
      tags.map((tag) => removeEntry(contentId, tag, hlc)),
      now,
    );
    return true;
  }

  /** A remote add (an op from an offline client); true when it changed anything. */
  applyAdd(contentId: string, tag: string, hlc: string, now: number): boolean {
    return this.merge(contentId, [addEntry(contentId, tag, hlc)], now);
  }

  /** A remote remove of the tags the client observed; true when it changed anything. */
  applyRemove(contentId: string, tags: readonly string[], hlc: string, now: number): boolean {
    return this.merge(
      contentId,
      tags.map((tag) => removeEntry(contentId, tag, hlc)),
      now,
    );
  }

  item(contentId: string): WatchlistItem | null {
    const element = effectiveElements(this.entries(contentId))[0];
    return element ? { content_id: element.element, added_at: hlcTime(element.addedHlc), tags: element.tags } : null;
  }

  /** The effective watchlist, most recently added first, a page after (added_hlc, content_id). */
  page(opts: { limit: number; after?: { h: string; c: string } | null }): {
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

  all(): WatchlistItem[] {
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

  /** Whether any tag (live or tombstoned) of the item is still stored. */
  hasEntries(contentId: string): boolean {
    return this.sql.exec("SELECT 1 FROM watchlist WHERE content_id = ? LIMIT 1", contentId).toArray().length > 0;
  }

  /**
   * Emits every element again as it stands, tags with their own stamps, so that a Postgres that
   * lost events catches up; a replay changes nothing there.
   */
  reemitAll(now: number): number {
    const contents = this.sql
      .exec<{ content_id: string }>("SELECT DISTINCT content_id FROM watchlist ORDER BY content_id")
      .toArray();
    for (const { content_id } of contents) {
      const entries = this.entries(content_id);
      this.emit(content_id, entries, latestStamp(entries), now);
    }
    return contents.length;
  }

  // ---- garbage collection ----

  /**
   * Drops tombstones that are safe to forget: every registered device has synced past the
   * removal, or the removal is older than the retention. A remove whose add has not arrived
   * yet waits for the retention: the add is still on its way and must find its tombstone.
   */
  collectTombstones(now: number, maxAgeMs: number): { dropped: number; contents: string[] } {
    const stable = this.ctx.devices.stableSeq();
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
    return { dropped: rows.length, contents: [...new Set(rows.map((r) => r.content_id))] };
  }

  /** When the next collection is due: now if a tombstone is already safe, else when one ages out. */
  gcDeadline(now: number, maxAgeMs: number): number | null {
    const stable = this.ctx.devices.stableSeq();
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

  stats(): { entries: number; tombstones: number } {
    const w = this.sql
      .exec<{ entries: number; tombstones: number | null }>(
        "SELECT count(*) AS entries, sum(removed_hlc IS NOT NULL) AS tombstones FROM watchlist",
      )
      .one();
    return { entries: w.entries, tombstones: w.tombstones ?? 0 };
  }

  // ---- internals ----

  /**
   * Joins entries of one element into the stored set. A reused tag refuses the whole write
   * (the transaction rolls back). Records the change and its event when anything changed.
   */
  private merge(contentId: string, incoming: OrSetEntry[], now: number): boolean {
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
    const latest = latestStamp(entries);
    const seq = this.ctx.changes.record("watchlist", contentId, latest, Date.now());
    // The seq of the change that tombstoned a tag: once every device has synced past it, it can go.
    for (const tag of tombstoned) this.sql.exec("UPDATE watchlist SET removed_seq = ? WHERE tag = ?", seq, tag);
    this.emit(contentId, entries, latest, now);
    return true;
  }

  private emit(contentId: string, entries: OrSetEntry[], latest: string, now: number): void {
    this.ctx.outbox.append(
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

  private entries(contentId: string): OrSetEntry[] {
    return this.sql
      .exec<EntryRow>(
        "SELECT tag, content_id, added_hlc, removed_hlc FROM watchlist WHERE content_id = ? ORDER BY tag",
        contentId,
      )
      .toArray()
      .map(toEntry);
  }
}

/** The greatest stamp among an element's adds and removes. */
const latestStamp = (entries: OrSetEntry[]) =>
  entries.reduce<string | null>((max, e) => laterHlc(laterHlc(max, e.added), e.removed), null) ?? "";
