import { makeEvent } from "../../contracts/events";
import type { PlayItem } from "../../contracts/sync";
import type { CatalogFacts } from "../../domain/catalog-facts";
import type { StoreContext } from "./context";

export interface NewPlay {
  play_id: string;
  content_id: string;
  series_id: string | null;
  watched_at: number;
  device_id: string | null;
  hlc: string;
}

interface PlayRow extends NewPlay {
  deleted: number;
  removed_at: number | null;
  [key: string]: SqlStorageValue;
}

export interface PlayFilter {
  kind?: "movie" | "episode" | undefined;
  /** epoch ms, inclusive */
  start?: number | undefined;
  /** epoch ms, inclusive */
  end?: number | undefined;
}

/** Counts and the latest play of each content. */
export interface PlayTally {
  plays: number;
  last_play_at: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Every completed play of the user: one row each time an item was finished, kept when the item
 * is watched again, removed (a tombstone, for sync) when the user unwatches or clears it. A play
 * id names one finish: reporting it again changes nothing.
 */
export class PlayStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly ctx: StoreContext & { facts: () => CatalogFacts },
  ) {}

  /** Records a play unless its id is known; returns whether it is new. Call inside the write's transaction. */
  record(play: NewPlay): boolean {
    const known = this.sql.exec("SELECT 1 FROM plays WHERE play_id = ?", play.play_id).toArray().length > 0;
    if (known) return false;
    this.sql.exec(
      `INSERT INTO plays (play_id, content_id, series_id, watched_at, device_id, hlc, deleted)
       VALUES (?, ?, ?, ?, ?, ?, 0)`,
      play.play_id,
      play.content_id,
      play.series_id,
      play.watched_at,
      play.device_id,
      play.hlc,
    );
    this.ctx.changes.record("play", play.play_id, play.hlc, Date.now());
    this.emit(play);
    return true;
  }

  /** Removes the plays of one content (unwatched, cleared) recorded before `hlc`. */
  removeFor(contentId: string, hlc: string, now = Date.now()): number {
    const ids = this.sql
      .exec<{ play_id: string }>(
        "SELECT play_id FROM plays WHERE content_id = ? AND deleted = 0 AND hlc < ?",
        contentId,
        hlc,
      )
      .toArray();
    for (const { play_id } of ids) this.tombstone(play_id, hlc, now);
    return ids.length;
  }

  /** Removes every play recorded before `hlc` (history cleared). */
  removeAll(hlc: string, now = Date.now()): number {
    const ids = this.sql.exec<{ play_id: string }>("SELECT play_id FROM plays WHERE deleted = 0").toArray();
    for (const { play_id } of ids) this.tombstone(play_id, hlc, now);
    return ids.length;
  }

  /** Forgets removed plays after `maxAgeMs`: a device away longer than that gets a full state. */
  collectTombstones(now: number, maxAgeMs: number): number {
    return this.sql.exec("DELETE FROM plays WHERE deleted = 1 AND removed_at <= ?", now - maxAgeMs).rowsWritten;
  }

  /** When the oldest removed play may be forgotten, or null when there is none. */
  tombstoneDeadline(maxAgeMs: number): number | null {
    const row = this.sql.exec<{ t: number | null }>("SELECT min(removed_at) AS t FROM plays WHERE deleted = 1").one();
    return row.t === null ? null : row.t + maxAgeMs;
  }

  private tombstone(playId: string, hlc: string, now: number): void {
    this.sql.exec("UPDATE plays SET deleted = 1, hlc = ?, removed_at = ? WHERE play_id = ?", hlc, now, playId);
    this.ctx.changes.record("play", playId, hlc, now);
  }

  tally(contentId: string): PlayTally {
    return this.sql
      .exec<{ plays: number; last_play_at: number | null }>(
        "SELECT count(*) AS plays, max(watched_at) AS last_play_at FROM plays WHERE content_id = ? AND deleted = 0",
        contentId,
      )
      .one();
  }

  /** content id → tally, for the episodes of one series. */
  tallyBySeries(seriesId: string): Map<string, PlayTally> {
    const rows = this.sql
      .exec<{ content_id: string; plays: number; last_play_at: number }>(
        `SELECT content_id, count(*) AS plays, max(watched_at) AS last_play_at FROM plays
         WHERE series_id = ? AND deleted = 0 GROUP BY content_id`,
        seriesId,
      )
      .toArray();
    return new Map(rows.map((r) => [r.content_id, { plays: r.plays, last_play_at: r.last_play_at }]));
  }

  item(playId: string): PlayItem | null {
    const row = this.sql.exec<PlayRow>("SELECT * FROM plays WHERE play_id = ?", playId).toArray()[0];
    return row && !row.deleted ? toItem(row) : null;
  }

  all(): PlayItem[] {
    return this.sql
      .exec<PlayRow>("SELECT * FROM plays WHERE deleted = 0 ORDER BY watched_at DESC, play_id")
      .toArray()
      .map(toItem);
  }

  /** Most recent first. */
  page(filter: PlayFilter & { limit: number; after?: { t: number; p: string } | null | undefined }): {
    items: PlayItem[];
    next: { t: number; p: string } | null;
  } {
    const where = ["deleted = 0"];
    const args: SqlStorageValue[] = [];
    if (filter.kind === "movie") where.push("series_id IS NULL");
    if (filter.kind === "episode") where.push("series_id IS NOT NULL");
    if (filter.start !== undefined) {
      where.push("watched_at >= ?");
      args.push(filter.start);
    }
    if (filter.end !== undefined) {
      where.push("watched_at <= ?");
      args.push(filter.end);
    }
    if (filter.after) {
      where.push("(watched_at < ? OR (watched_at = ? AND play_id > ?))");
      args.push(filter.after.t, filter.after.t, filter.after.p);
    }
    const rows = this.sql
      .exec<PlayRow>(
        `SELECT * FROM plays WHERE ${where.join(" AND ")} ORDER BY watched_at DESC, play_id LIMIT ?`,
        ...args,
        filter.limit + 1,
      )
      .toArray();
    const page = rows.slice(0, filter.limit);
    const last = page.at(-1);
    return {
      items: page.map(toItem),
      next: rows.length > filter.limit && last ? { t: last.watched_at, p: last.play_id } : null,
    };
  }

  /** Plays recorded before their content was known as an episode get its series. */
  adoptSeries(facts: CatalogFacts): Set<string> {
    const touched = new Set<string>();
    const rows = this.sql
      .exec<{ content_id: string }>("SELECT DISTINCT content_id FROM plays WHERE series_id IS NULL")
      .toArray();
    for (const { content_id } of rows) {
      const episode = facts.episode(content_id);
      if (!episode) continue;
      this.sql.exec("UPDATE plays SET series_id = ? WHERE content_id = ?", episode.series_id, content_id);
      touched.add(episode.series_id);
    }
    return touched;
  }

  /** Emits every live play again (an operator's repair); the consumer ignores ones it has. */
  reemitAll(): number {
    const rows = this.sql.exec<PlayRow>("SELECT * FROM plays WHERE deleted = 0").toArray();
    for (const row of rows) this.emit(row);
    return rows.length;
  }

  private emit(play: NewPlay): void {
    const episode = play.series_id ? this.ctx.facts().episode(play.content_id) : null;
    this.ctx.outbox.append(
      makeEvent(
        "play-completed",
        this.ctx.userId,
        play.hlc,
        {
          play_id: play.play_id,
          content_id: play.content_id,
          series_id: play.series_id,
          season_number: episode?.season ?? null,
          episode_number: episode?.episode ?? null,
          watched_at: iso(play.watched_at),
          device_id: play.device_id,
        },
        new Date(),
      ),
    );
  }

  count(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM plays WHERE deleted = 0").one().n;
  }

  exists(playId: string): boolean {
    return this.sql.exec("SELECT 1 FROM plays WHERE play_id = ? AND deleted = 0", playId).toArray().length > 0;
  }
}

function toItem(row: PlayRow): PlayItem {
  return {
    play_id: row.play_id,
    content_id: row.content_id,
    series_id: row.series_id,
    watched_at: iso(row.watched_at),
    device_id: row.device_id,
  };
}
