import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { CURRENT_KEY, type CurrentRecord, SNAPSHOT_PREFIX, snapshotKey } from "../search/store";
import { MigratedStorage } from "./migrate";
import { searchPublisherMigrations } from "./migrations/search-publisher";

/** A built snapshot, already stored in KV under its version, asking to become the live one. */
export interface SnapshotCandidate {
  version: string;
  /** When its build read the catalog (ms): the later read wins. */
  built_at: number;
  items: number;
  snapshot_bytes: number;
}

export interface PublishDecision {
  /** The candidate is the live version now (or already was). */
  published: boolean;
  current: string;
  previous: string[];
  /** Snapshots deleted from KV: versions past the retention, or a candidate that lost. */
  deleted: string[];
}

interface PublishedRow {
  version: string;
  built_at: number;
  items: number;
  snapshot_bytes: number;
  published_at: number;
  [key: string]: SqlStorageValue;
}

/**
 * The one writer of the search index's "current" record in KV (one object, named "search"). KV
 * has no compare-and-swap, so two reindexes running at once could each overwrite the other's
 * record and leave a snapshot nobody names; here publishes are decided one at a time: the build
 * that read the catalog last wins whatever order they finish in, a build that lost has its
 * snapshot deleted, and the versions before the live one stay in KV for `kept` more publishes so
 * that open result cursors remain valid.
 */
export class SearchPublisher extends DurableObject<Env> {
  private readonly storage: MigratedStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.storage = new MigratedStorage(ctx, searchPublisherMigrations, "SearchPublisher", () => {});
  }

  async publish(candidate: SnapshotCandidate, kept: number): Promise<PublishDecision> {
    this.storage.check();
    // KV calls inside: other publishes wait until this one has written its record.
    return this.ctx.blockConcurrencyWhile(() => this.decide(candidate, kept));
  }

  /**
   * Deletes snapshots no published version names that are older than `graceMs` (a build that
   * stored its snapshot and then died before publishing). Returns the versions deleted.
   */
  async sweep(graceMs: number, now = Date.now()): Promise<string[]> {
    this.storage.check();
    return this.ctx.blockConcurrencyWhile(async () => {
      const kept = new Set((await this.published()).map((r) => r.version));
      const deleted: string[] = [];
      let cursor: string | undefined;
      do {
        const page: KVNamespaceListResult<{ built_at?: number }> = await this.env.SEARCH_KV.list({
          prefix: SNAPSHOT_PREFIX,
          ...(cursor ? { cursor } : {}),
        });
        for (const key of page.keys) {
          const version = key.name.slice(SNAPSHOT_PREFIX.length);
          const builtAt = key.metadata?.built_at ?? 0;
          if (kept.has(version) || builtAt > now - graceMs) continue;
          await this.env.SEARCH_KV.delete(key.name);
          deleted.push(version);
        }
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor);
      return deleted;
    });
  }

  private async decide(candidate: SnapshotCandidate, kept: number): Promise<PublishDecision> {
    const sql = this.ctx.storage.sql;
    const rows = await this.published();
    const current = rows[0];
    const wins =
      !current ||
      candidate.built_at > current.built_at ||
      (candidate.built_at === current.built_at && candidate.version >= current.version);
    if (!wins || candidate.version === current?.version) {
      if (current && candidate.version !== current.version) {
        // Built from an older read of the catalog and finished late: it never was live, so no
        // cursor names it; its snapshot goes unless a retained version is the same content.
        const retained = rows.some((r) => r.version === candidate.version);
        if (!retained) await this.env.SEARCH_KV.delete(snapshotKey(candidate.version));
        return {
          published: false,
          current: current.version,
          previous: rows.slice(1).map((r) => r.version),
          deleted: retained ? [] : [candidate.version],
        };
      }
      // The live version again (an unchanged catalog): make sure KV names it.
      const live = current as PublishedRow;
      await this.writeRecord(live, rows.slice(1));
      return { published: true, current: live.version, previous: rows.slice(1).map((r) => r.version), deleted: [] };
    }
    const now = Date.now();
    const next: PublishedRow = { ...candidate, published_at: now };
    const ordered = [next, ...rows.filter((r) => r.version !== candidate.version)];
    const retained = ordered.slice(0, kept + 1);
    const dropped = ordered.slice(kept + 1);
    this.ctx.storage.transactionSync(() => {
      sql.exec(
        `INSERT INTO published (version, built_at, items, snapshot_bytes, published_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (version) DO UPDATE SET built_at = excluded.built_at, items = excluded.items,
           snapshot_bytes = excluded.snapshot_bytes, published_at = excluded.published_at`,
        next.version,
        next.built_at,
        next.items,
        next.snapshot_bytes,
        next.published_at,
      );
      for (const r of dropped) sql.exec("DELETE FROM published WHERE version = ?", r.version);
    });
    // The record first, then the deletions: a reader never finds a record naming a deleted snapshot.
    await this.writeRecord(next, retained.slice(1));
    for (const r of dropped) await this.env.SEARCH_KV.delete(snapshotKey(r.version));
    return {
      published: true,
      current: next.version,
      previous: retained.slice(1).map((r) => r.version),
      deleted: dropped.map((r) => r.version),
    };
  }

  private async writeRecord(current: PublishedRow, previous: PublishedRow[]): Promise<void> {
    const record: CurrentRecord = {
      version: current.version,
      built_at: new Date(current.built_at).toISOString(),
      items: current.items,
      snapshot_bytes: current.snapshot_bytes,
      previous: previous.map((r) => r.version),
    };
    await this.env.SEARCH_KV.put(CURRENT_KEY, JSON.stringify(record));
  }

  /**
   * The retained versions, newest first. An object that has never published adopts what KV
   * names (a record written before this object existed), so those versions are kept and later
   * deleted like any other.
   */
  private async published(): Promise<PublishedRow[]> {
    const sql = this.ctx.storage.sql;
    const read = () => sql.exec<PublishedRow>("SELECT * FROM published ORDER BY built_at DESC, version DESC").toArray();
    const rows = read();
    if (rows.length > 0) return rows;
    const record = await this.env.SEARCH_KV.get<CurrentRecord>(CURRENT_KEY, "json");
    if (!record) return rows;
    const builtAt = Date.parse(record.built_at) || 0;
    [record.version, ...record.previous].forEach((version, i) => {
      sql.exec(
        "INSERT OR IGNORE INTO published (version, built_at, items, snapshot_bytes, published_at) VALUES (?, ?, ?, ?, ?)",
        version,
        builtAt - i,
        i === 0 ? record.items : 0,
        i === 0 ? record.snapshot_bytes : 0,
        Date.now(),
      );
    });
    return read();
  }
}
