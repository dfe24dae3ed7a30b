import type { CatalogFacts, SeriesFact } from "../../domain/catalog-facts";
import {
  type EpisodeRecord,
  type NextUpReason,
  nextUp,
  type SeriesProgress,
  seriesProgress,
} from "../../domain/next-up";
import type { PlayStore } from "./plays";

/** Rows read per query while walking Next Up. */
const CHUNK = 32;

interface SeriesWatchRow {
  series_id: string;
  last_watched_at: number;
  activity_hlc: string;
  next_id: string | null;
  next_reason: NextUpReason | null;
  special_next_id: string | null;
  special_next_reason: NextUpReason | null;
  signature: string;
  [key: string]: SqlStorageValue;
}

/** One series' Next Up as stored: the episode, why, and the series' latest activity. */
export interface SeriesNext {
  series_id: string;
  content_id: string;
  reason: NextUpReason;
  last_watched_at: number;
  activity_hlc: string;
}

/**
 * Each series the user watches, with its Next Up choice (with and without specials) kept ready:
 * recomputed from the series' episode records whenever one of them changes, and when the
 * catalog's episode list for the series changes (its signature), so reading Next Up or continue
 * watching is one indexed query however many series and plays the user has.
 */
export class SeriesWatch {
  /** Series to recompute once the current batch of writes is over (see `batch`). */
  #deferred: Set<string> | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly deps: { facts: () => CatalogFacts; plays: PlayStore },
  ) {}

  /** The episode records of one series: progress registers and plays, by content id. */
  records(seriesId: string): Map<string, EpisodeRecord & { hlc: string }> {
    const tallies = this.deps.plays.tallyBySeries(seriesId);
    const records = new Map<string, EpisodeRecord & { hlc: string }>();
    const rows = this.sql
      .exec<{
        content_id: string;
        watched: number;
        position: number;
        duration: number;
        last_watched_at: number;
        hlc: string;
      }>(
        `SELECT content_id, watched, position, duration, last_watched_at, hlc FROM progress
         WHERE series_id = ? AND deleted = 0`,
        seriesId,
      )
      .toArray();
    for (const row of rows) {
      const tally = tallies.get(row.content_id);
      records.set(row.content_id, {
        content_id: row.content_id,
        watched: row.watched === 1,
        position: row.position,
        duration: row.duration,
        last_watched_at: row.last_watched_at,
        hlc: row.hlc,
        plays: tally?.plays ?? 0,
        last_play_at: tally?.last_play_at ?? null,
      });
    }
    for (const [contentId, tally] of tallies) {
      if (records.has(contentId)) continue;
      const at = tally.last_play_at ?? 0;
      records.set(contentId, {
        content_id: contentId,
        watched: true,
        position: 0,
        duration: 0,
        last_watched_at: at,
        hlc: "",
        ...tally,
      });
    }
    return records;
  }

  /**
   * Runs many writes (a season marked watched, a batch of offline ops) and recomputes each series
   * they touched once, at the end, instead of after every write.
   */
  batch<T>(work: () => T): T {
    if (this.#deferred) return work();
    this.#deferred = new Set();
    try {
      return work();
    } finally {
      const touched = this.#deferred;
      this.#deferred = null;
      for (const seriesId of touched) this.recompute(seriesId);
    }
  }

  /** Recomputes one series' row from its records and the catalog (removing it when nothing is left). */
  recompute(seriesId: string): void {
    if (this.#deferred) {
      this.#deferred.add(seriesId);
      return;
    }
    const series = this.deps.facts().series(seriesId);
    const records = this.records(seriesId);
    if (!series && !this.deps.facts().known) return;
    if (!series || records.size === 0) {
      this.sql.exec("DELETE FROM series_watch WHERE series_id = ?", seriesId);
      return;
    }
    let last = 0;
    let hlc = "";
    for (const r of records.values()) {
      last = Math.max(last, r.last_watched_at, r.last_play_at ?? 0);
      if (r.hlc > hlc) hlc = r.hlc;
    }
    const plain = nextUp(series, records, { includeSpecials: false });
    const special = nextUp(series, records, { includeSpecials: true });
    this.sql.exec(
      `INSERT INTO series_watch (series_id, last_watched_at, activity_hlc, next_id, next_reason, special_next_id,
         special_next_reason, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (series_id) DO UPDATE SET last_watched_at = excluded.last_watched_at,
         activity_hlc = excluded.activity_hlc, next_id = excluded.next_id, next_reason = excluded.next_reason,
         special_next_id = excluded.special_next_id, special_next_reason = excluded.special_next_reason,
         signature = excluded.signature`,
      seriesId,
      last,
      hlc,
      plain?.episode.id ?? null,
      plain?.reason ?? null,
      special?.episode.id ?? null,
      special?.reason ?? null,
      series.signature,
    );
  }

  /**
   * After a plain position report on the episode already chosen (no finish, no play): only the
   * activity moves. Anything else recomputes the series.
   */
  touch(seriesId: string, contentId: string, at: number, hlc: string, structural: boolean): void {
    if (!structural && !this.#deferred) {
      const row = this.row(seriesId);
      if (row && row.next_id === contentId && row.special_next_id === contentId) {
        this.sql.exec(
          "UPDATE series_watch SET last_watched_at = max(last_watched_at, ?), activity_hlc = max(activity_hlc, ?) WHERE series_id = ?",
          at,
          hlc,
          seriesId,
        );
        return;
      }
    }
    this.recompute(seriesId);
  }

  /** Series whose stored choice was made from another episode list than the catalog's now, or never made. */
  staleSeries(facts: CatalogFacts): string[] {
    const changed = this.sql
      .exec<{ series_id: string; signature: string }>("SELECT series_id, signature FROM series_watch")
      .toArray()
      .filter((r) => facts.series(r.series_id)?.signature !== r.signature)
      .map((r) => r.series_id);
    const missing = this.sql
      .exec<{ series_id: string }>(
        `SELECT DISTINCT series_id FROM progress WHERE series_id IS NOT NULL AND deleted = 0
         AND series_id NOT IN (SELECT series_id FROM series_watch)`,
      )
      .toArray()
      .map((r) => r.series_id);
    return [...changed, ...missing];
  }

  /**
   * Next Up, most recently watched series first, after a cursor. Read in chunks, so a caller may
   * run other queries between items.
   */
  *choices(opts: {
    includeSpecials: boolean;
    seriesId?: string | undefined;
    after?: { t: number; s: string } | null | undefined;
  }): Generator<SeriesNext> {
    const [id, reason] = opts.includeSpecials ? ["special_next_id", "special_next_reason"] : ["next_id", "next_reason"];
    let after = opts.after ?? null;
    for (;;) {
      const where = [`${id} IS NOT NULL`];
      const args: SqlStorageValue[] = [];
      if (opts.seriesId) {
        where.push("series_id = ?");
        args.push(opts.seriesId);
      }
      if (after) {
        where.push("(last_watched_at < ? OR (last_watched_at = ? AND series_id > ?))");
        args.push(after.t, after.t, after.s);
      }
      const rows = this.sql
        .exec<SeriesWatchRow>(
          `SELECT * FROM series_watch WHERE ${where.join(" AND ")} ORDER BY last_watched_at DESC, series_id LIMIT ?`,
          ...args,
          CHUNK,
        )
        .toArray();
      for (const row of rows) {
        yield {
          series_id: row.series_id,
          content_id: row[id] as string,
          reason: row[reason] as NextUpReason,
          last_watched_at: row.last_watched_at,
          activity_hlc: row.activity_hlc,
        };
      }
      const last = rows.at(-1);
      if (rows.length < CHUNK || !last) return;
      after = { t: last.last_watched_at, s: last.series_id };
    }
  }

  /** The series' progress per season, with its Next Up; null when the catalog has no such series. */
  progress(seriesId: string): (SeriesProgress & { series: SeriesFact; next: SeriesNext | null }) | null {
    const series = this.deps.facts().series(seriesId);
    if (!series) return null;
    const progress = seriesProgress(series, this.records(seriesId));
    const next = this.choices({ includeSpecials: false, seriesId }).next();
    return { ...progress, series, next: next.done ? null : next.value };
  }

  /** The activity HLC of a series (the latest progress write of any of its episodes). */
  activity(seriesId: string): string {
    return this.row(seriesId)?.activity_hlc ?? "";
  }

  private row(seriesId: string): SeriesWatchRow | undefined {
    return this.sql.exec<SeriesWatchRow>("SELECT * FROM series_watch WHERE series_id = ?", seriesId).toArray()[0];
  }
}
