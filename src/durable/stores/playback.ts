import { makeEvent } from "../../contracts/events";
import type { PlaybackState, ProgressItem } from "../../contracts/sync";
import type { CatalogFacts } from "../../domain/catalog-facts";
import { encodeHlc, type Hlc } from "../../domain/hlc";
import { type ProgressRegister, progressWins, resolveProgressWrite } from "../../domain/progress-register";
import { completionPercentage, completionRate, type ResumeRules, resumePosition } from "../../domain/resume";
import { playId } from "../../domain/sync-replica";
import type { StoreContext } from "./context";
import type { PlayFilter, PlayStore } from "./plays";
import type { SeriesWatch } from "./series-watch";

export interface Session {
  id: string;
  user_id: string;
  content_id: string;
  device_id: string;
  position_seconds: number;
  duration_seconds: number;
  playback_state: PlaybackState;
  quality: string | null;
  started_at: string;
  updated_at: string;
  ended_at: string | null;
}

/** A progress register as history answers it: with its series and its completed plays. */
export interface HistoryItem extends ProgressItem {
  series_id: string | null;
  plays: number;
}

export interface HistoryPage {
  items: HistoryItem[];
  next_cursor: { t: number; c: string } | null;
}

interface SessionRow {
  id: string;
  content_id: string;
  device_id: string;
  position: number;
  duration: number;
  state: PlaybackState;
  quality: string | null;
  started_at: number;
  updated_at: number;
  ended_at: number | null;
  [key: string]: SqlStorageValue;
}

interface ProgressRow {
  content_id: string;
  position: number;
  duration: number;
  state: PlaybackState;
  watched: number;
  device_id: string | null;
  hlc: string;
  last_watched_at: number;
  deleted: number;
  dirty_since: number | null;
  series_id: string | null;
  [key: string]: SqlStorageValue;
}

/** A progress write: what the LWW register stores for one content. */
export interface ProgressWrite {
  content_id: string;
  position: number;
  duration: number;
  state: PlaybackState;
  device_id: string | null;
  watched?: boolean;
  deleted?: boolean;
  at: number;
  hlc: Hlc;
  /**
   * A play the write reports in its own right (marked watched at a given time, a play from an
   * offline device): recorded once by its id, whether or not the write wins the register.
   * Without it, a write that finishes the current viewing records a play.
   */
  play?: { id: string; at: number } | undefined;
}

/** One view of an imported history, matched to a content id. */
export interface ImportedView {
  content_id: string;
  /** Epoch ms. */
  watched_at: number;
  /** Finished; else the position says how far. */
  completed: boolean;
  position_seconds: number | null;
  duration_seconds: number | null;
  /** 1-10, or null: no rating in the file. */
  rating: number | null;
}

/** One view of a file: a line repeated (same content, same time) is the same view. */
export const importedViewKey = (view: ImportedView) => `${view.content_id}\u0000${view.watched_at}`;

/** An imported finish is one play, whichever file or call carries it again. */
const importedPlayId = (view: ImportedView) => `import:${view.content_id}:${view.watched_at}`;

export interface PlaybackContext extends StoreContext {
  rules: ResumeRules;
  /** The catalog facts in hand: series of an episode, credits markers. */
  facts: () => CatalogFacts;
  plays: PlayStore;
  seriesWatch: SeriesWatch;
}

/** A stored row as the register it holds. */
const registerOf = (row: ProgressRow): ProgressRegister => ({
  position: row.position,
  duration: row.duration,
  state: row.state,
  device_id: row.device_id,
  watched: row.watched === 1,
  deleted: row.deleted === 1,
  at: row.last_watched_at,
  hlc: row.hlc,
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The user's playback sessions and progress registers, stored in the Durable Object's SQLite.
 * Progress is one last-writer-wins register per content (a movie or an episode), ordered by HLC,
 * shared by sessions and by sync writes.
 */
export class PlaybackStore {
  constructor(
    private readonly sql: SqlStorage,
    private readonly ctx: PlaybackContext,
  ) {}

  // ---- sessions ----

  createSession(
    input: { content_id: string; device_id: string; duration_seconds: number; quality?: string | null },
    now: number,
  ): { session: Session; resume_position_seconds: number | null } {
    const id = crypto.randomUUID();
    this.sql.exec(
      `INSERT INTO sessions (id, content_id, device_id, position, duration, state, quality, started_at, updated_at)
       VALUES (?, ?, ?, 0, ?, 'playing', ?, ?, ?)`,
      id,
      input.content_id,
      input.device_id,
      input.duration_seconds,
      input.quality ?? null,
      now,
      now,
    );
    const session = this.getSession(id) as Session;
    const hlc = encodeHlc(this.ctx.clock.tick());
    this.ctx.outbox.append(
      makeEvent("session-created", this.ctx.userId, hlc, this.sessionData(session), new Date(now)),
    );
    const progress = this.progressRow(input.content_id);
    if (progress && !progress.deleted && progress.watched) {
      // A rewatch: a new viewing from 0; the plays of the earlier ones stay.
      this.writeProgress(
        {
          content_id: input.content_id,
          position: 0,
          duration: input.duration_seconds || progress.duration,
          state: "playing",
          device_id: input.device_id,
          watched: false,
          at: now,
          hlc: this.ctx.clock.tick(),
        },
        { flushNow: false },
      );
      return { session, resume_position_seconds: null };
    }
    const resume =
      progress && !progress.deleted
        ? resumePosition(progress.position, progress.duration || input.duration_seconds, this.ctx.rules)
        : null;
    return { session, resume_position_seconds: resume };
  }

  getSession(id: string): Session | null {
    const row = this.sql.exec<SessionRow>("SELECT * FROM sessions WHERE id = ?", id).toArray()[0];
    return row ? this.toSession(row) : null;
  }

  /** Returns null for an unknown session, "ended" for one that is over. */
  updatePosition(
    id: string,
    input: { position_seconds: number; playback_state?: PlaybackState | undefined },
    now: number,
  ): Session | null | "ended" {
    const row = this.sql.exec<SessionRow>("SELECT * FROM sessions WHERE id = ?", id).toArray()[0];
    if (!row) return null;
    if (row.ended_at !== null) return "ended";
    const state = input.playback_state ?? row.state;
    this.sql.exec(
      "UPDATE sessions SET position = ?, state = ?, updated_at = ? WHERE id = ?",
      input.position_seconds,
      state,
      now,
      id,
    );
    const session = this.getSession(id) as Session;
    const hlc = this.ctx.clock.tick();
    this.ctx.outbox.append(
      makeEvent("position-updated", this.ctx.userId, encodeHlc(hlc), this.sessionData(session), new Date(now)),
    );
    // A pause or a stop is a natural checkpoint: write it through; plain playing reports are batched.
    this.writeProgress(
      {
        content_id: row.content_id,
        position: input.position_seconds,
        duration: row.duration,
        state,
        device_id: row.device_id,
        at: now,
        hlc,
      },
      { flushNow: state !== "playing" },
    );
    return session;
  }

  endSession(id: string, now: number, reason: "ended" | "idle"): Session | null {
    const row = this.sql.exec<SessionRow>("SELECT * FROM sessions WHERE id = ?", id).toArray()[0];
    if (!row) return null;
    if (row.ended_at !== null) return this.toSession(row);
    this.sql.exec("UPDATE sessions SET state = 'stopped', ended_at = ?, updated_at = ? WHERE id = ?", now, now, id);
    const session = this.getSession(id) as Session;
    const hlc = this.ctx.clock.tick();
    this.ctx.outbox.append(
      makeEvent(
        "session-ended",
        this.ctx.userId,
        encodeHlc(hlc),
        { ...this.sessionData(session), completion_rate: completionRate(row.position, row.duration), reason },
        new Date(now),
      ),
    );
    // The session's final position is the last one it reported; an idle end happens later in
    // wall time but must not count as watching.
    this.writeProgress(
      {
        content_id: row.content_id,
        position: row.position,
        duration: row.duration,
        state: "stopped",
        device_id: row.device_id,
        at: reason === "idle" ? row.updated_at : now,
        hlc,
      },
      { flushNow: true },
    );
    return session;
  }

  /** Open sessions whose last update is older than `idleMs`. */
  idleSessionIds(now: number, idleMs: number): string[] {
    return this.sql
      .exec<{ id: string }>(
        "SELECT id FROM sessions WHERE ended_at IS NULL AND updated_at <= ? ORDER BY updated_at",
        now - idleMs,
      )
      .toArray()
      .map((r) => r.id);
  }

  nextIdleDeadline(idleMs: number): number | null {
    const row = this.sql
      .exec<{ t: number | null }>("SELECT min(updated_at) AS t FROM sessions WHERE ended_at IS NULL")
      .one();
    return row.t === null ? null : row.t + idleMs;
  }

  // ---- progress (LWW register per content) ----

  /**
   * Applies a write if it wins the register (src/domain/progress-register.ts: the greatest HLC,
   * then the greater value), so the register is the same whatever order writes arrive in.
   * Returns whether it won.
   */
  writeProgress(write: ProgressWrite, opts: { flushNow: boolean }): boolean {
    const current = this.progressRow(write.content_id);
    const facts = this.ctx.facts();
    const seriesId = facts.episode(write.content_id)?.series_id ?? current?.series_id ?? null;
    const hlc = encodeHlc(write.hlc);
    // A play older than a removal of the item (unwatched, cleared) stays removed.
    const removedSince = current?.deleted === 1 && current.hlc > hlc;
    const explicitPlay =
      write.play && !write.deleted && !removedSince
        ? this.ctx.plays.record({
            play_id: write.play.id,
            content_id: write.content_id,
            series_id: seriesId,
            watched_at: write.play.at,
            device_id: write.device_id,
            hlc,
          })
        : false;
    const next = resolveProgressWrite({ ...write, hlc }, this.ctx.rules, facts.creditsStart(write.content_id));
    if (!progressWins(current && registerOf(current), next)) {
      if (explicitPlay && seriesId) this.ctx.seriesWatch.recompute(seriesId);
      return false;
    }
    // Finishing is a checkpoint like a pause: written through at once.
    const finishing = next.watched && !(current?.watched && !current.deleted);
    const flushNow = opts.flushNow || finishing || explicitPlay;
    const dirtySince = flushNow ? null : (current?.dirty_since ?? write.at);
    this.sql.exec(
      `INSERT INTO progress (content_id, position, duration, state, watched, device_id, hlc, last_watched_at, deleted, dirty_since, series_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (content_id) DO UPDATE SET position = excluded.position, duration = excluded.duration,
         state = excluded.state, watched = excluded.watched, device_id = excluded.device_id, hlc = excluded.hlc,
         last_watched_at = excluded.last_watched_at, deleted = excluded.deleted, dirty_since = excluded.dirty_since,
         series_id = excluded.series_id`,
      write.content_id,
      next.position,
      next.duration,
      next.state,
      next.watched ? 1 : 0,
      next.device_id,
      hlc,
      next.at,
      next.deleted ? 1 : 0,
      dirtySince,
      seriesId,
    );
    this.ctx.changes.record("progress", write.content_id, hlc, Date.now());
    let played = explicitPlay;
    if (finishing && !write.play) {
      played = this.ctx.plays.record({
        play_id: crypto.randomUUID(),
        content_id: write.content_id,
        series_id: seriesId,
        watched_at: write.at,
        device_id: write.device_id,
        hlc,
      });
    }
    const removed = next.deleted ? this.ctx.plays.removeFor(write.content_id, hlc) > 0 : false;
    if (flushNow) this.emitProgress(write.content_id);
    if (seriesId) {
      const structural = played || removed || next.deleted || next.watched !== (current?.watched === 1);
      this.ctx.seriesWatch.touch(seriesId, write.content_id, next.at, hlc, structural || !current);
    }
    return true;
  }

  /** Writes through to Postgres the registers that changed more than `afterMs` ago. */
  flushDirty(now: number, afterMs: number): number {
    const due = this.sql
      .exec<{ content_id: string }>(
        "SELECT content_id FROM progress WHERE dirty_since IS NOT NULL AND dirty_since <= ?",
        now - afterMs,
      )
      .toArray();
    for (const { content_id } of due) {
      this.sql.exec("UPDATE progress SET dirty_since = NULL WHERE content_id = ?", content_id);
      this.emitProgress(content_id);
    }
    return due.length;
  }

  nextFlushDeadline(afterMs: number): number | null {
    const row = this.sql
      .exec<{ t: number | null }>("SELECT min(dirty_since) AS t FROM progress WHERE dirty_since IS NOT NULL")
      .one();
    return row.t === null ? null : row.t + afterMs;
  }

  progress(contentId: string): ProgressItem | null {
    const row = this.progressRow(contentId);
    return row && !row.deleted ? this.toItem(row) : null;
  }

  /** One item as history and resume answer it (with its series and plays); null when there is none. */
  historyItem(contentId: string): HistoryItem | null {
    const row = this.progressRow(contentId);
    return row && !row.deleted ? this.toHistoryItem(row) : null;
  }

  /** Registers, live and deleted, for sync. */
  allProgress(): (ProgressItem & { deleted: boolean })[] {
    return this.sql
      .exec<ProgressRow>("SELECT * FROM progress ORDER BY content_id")
      .toArray()
      .map((row) => ({ ...this.toItem(row), deleted: row.deleted === 1 }));
  }

  /** Live registers by content id, a page after `after`, for the sync API. */
  progressPage(opts: { limit: number; after?: string | null }): { items: ProgressItem[]; next: string | null } {
    const rows = this.sql
      .exec<ProgressRow>(
        "SELECT * FROM progress WHERE deleted = 0 AND content_id > ? ORDER BY content_id LIMIT ?",
        opts.after ?? "",
        opts.limit + 1,
      )
      .toArray();
    const page = rows.slice(0, opts.limit);
    return {
      items: page.map((row) => this.toItem(row)),
      next: rows.length > opts.limit ? (page[page.length - 1]?.content_id ?? null) : null,
    };
  }

  /**
   * Most recent first; `status` filters by watched, `kind` by film or episode, `start`/`end` by
   * last watched time; `resumableOnly` keeps only what continue watching offers, `skip` leaves
   * out what the caller does not want (hidden items).
   */
  history(
    opts: PlayFilter & {
      status?: "in_progress" | "completed" | undefined;
      resumableOnly?: boolean;
      skip?: (item: HistoryItem) => boolean;
      limit: number;
      after?: { t: number; c: string } | null | undefined;
    },
  ): HistoryPage {
    const where = ["deleted = 0"];
    const args: SqlStorageValue[] = [];
    if (opts.status === "completed") where.push("watched = 1");
    if (opts.status === "in_progress" || opts.resumableOnly) where.push("watched = 0");
    if (opts.kind === "movie") where.push("series_id IS NULL");
    if (opts.kind === "episode") where.push("series_id IS NOT NULL");
    if (opts.start !== undefined) {
      where.push("last_watched_at >= ?");
      args.push(opts.start);
    }
    if (opts.end !== undefined) {
      where.push("last_watched_at <= ?");
      args.push(opts.end);
    }
    if (opts.after) {
      where.push("(last_watched_at < ? OR (last_watched_at = ? AND content_id > ?))");
      args.push(opts.after.t, opts.after.t, opts.after.c);
    }
    const items: HistoryItem[] = [];
    let last: ProgressRow | undefined;
    let more = false;
    // Resumability depends on the rules, not a column: filter while reading, page by page.
    const cursor = this.sql.exec<ProgressRow>(
      `SELECT * FROM progress WHERE ${where.join(" AND ")} ORDER BY last_watched_at DESC, content_id ASC`,
      ...args,
    );
    for (const row of cursor) {
      const item = { ...this.toItem(row), series_id: row.series_id, plays: 0 };
      if (opts.resumableOnly && item.resume_position_seconds === null) continue;
      if (opts.skip?.(item)) continue;
      if (items.length === opts.limit) {
        more = true;
        break;
      }
      items.push(item);
      last = row;
    }
    // Plays are counted once the page is known (the cursor above is read lazily).
    for (const item of items) item.plays = this.ctx.plays.tally(item.content_id).plays;
    return { items, next_cursor: more && last ? { t: last.last_watched_at, c: last.content_id } : null };
  }

  /**
   * Marks watched (a play, at `watchedAt` when given, else now) or unwatched (progress and plays
   * removed). Without `watchedAt`, an item already finished is not played again: a retry counts
   * once. With it, the play is named by the time, so the same report twice is one play.
   */
  markWatched(contentId: string, watched: boolean, now: number, watchedAt?: number): HistoryItem | null {
    const current = this.progressRow(contentId);
    const hlc = this.ctx.clock.tick();
    if (watched) {
      const duration = current?.duration ?? 0;
      const already = current !== undefined && !current.deleted && current.watched === 1;
      this.writeProgress(
        {
          content_id: contentId,
          position: duration,
          duration,
          state: "stopped",
          device_id: current?.device_id ?? null,
          watched: true,
          at: watchedAt ?? now,
          hlc,
          play:
            watchedAt !== undefined
              ? { id: playId(contentId, watchedAt), at: watchedAt }
              : already
                ? undefined
                : { id: crypto.randomUUID(), at: now },
        },
        { flushNow: true },
      );
      return this.historyItem(contentId);
    }
    if (!current || current.deleted) return null;
    this.remove(contentId, now, hlc);
    return null;
  }

  /** Removes one item's progress; returns false when there was none. */
  clear(contentId: string, now: number): boolean {
    const current = this.progressRow(contentId);
    if (!current || current.deleted) return false;
    this.remove(contentId, now, this.ctx.clock.tick());
    return true;
  }

  clearAll(now: number): number {
    const live = this.sql.exec<{ content_id: string }>("SELECT content_id FROM progress WHERE deleted = 0").toArray();
    const hlc = this.ctx.clock.tick();
    const encoded = encodeHlc(hlc);
    this.sql.exec(
      "UPDATE progress SET deleted = 1, watched = 0, dirty_since = NULL, hlc = ?, last_watched_at = ? WHERE deleted = 0",
      encoded,
      now,
    );
    for (const { content_id } of live) this.ctx.changes.record("progress", content_id, encoded, Date.now());
    this.ctx.plays.removeAll(encoded);
    this.sql.exec("DELETE FROM series_watch");
    this.ctx.outbox.append(
      makeEvent("history-cleared", this.ctx.userId, encoded, { before_hlc: encoded }, new Date(now)),
    );
    return live.length;
  }

  private remove(contentId: string, now: number, hlc: Hlc): void {
    const current = this.progressRow(contentId);
    this.writeProgress(
      {
        content_id: contentId,
        position: 0,
        duration: current?.duration ?? 0,
        state: "stopped",
        device_id: null,
        watched: false,
        deleted: true,
        at: now,
        hlc,
      },
      { flushNow: true },
    );
  }

  /**
   * Views from the user's history elsewhere, each at its own time. A view is written unless the
   * register already holds this title at that time or later, so importing the same file again
   * writes nothing, and nothing the user did here since is overwritten. A title listed twice
   * counts at its latest view. Returns how many registers were written.
   */
  importViews(views: readonly ImportedView[]): Set<ImportedView> {
    // One view per (content, time): a file that repeats a line says it once; a finish wins over a position.
    const distinct = new Map<string, ImportedView>();
    for (const view of views) {
      const key = importedViewKey(view);
      const seen = distinct.get(key);
      if (!seen || (view.completed && !seen.completed)) distinct.set(key, view);
    }
    const latest = new Map<string, ImportedView>();
    for (const view of distinct.values()) {
      const seen = latest.get(view.content_id);
      if (!seen || view.watched_at >= seen.watched_at) latest.set(view.content_id, view);
    }
    const changed = new Set<ImportedView>();
    for (const view of latest.values()) {
      const current = this.progressRow(view.content_id);
      if (current && !current.deleted && current.last_watched_at >= view.watched_at) {
        if (view.completed && this.recordImportedPlay(view)) changed.add(view);
        continue;
      }
      const duration = view.duration_seconds ?? current?.duration ?? 0;
      const won = this.writeProgress(
        {
          content_id: view.content_id,
          position: view.completed ? duration : (view.position_seconds ?? 0),
          duration,
          state: "stopped",
          device_id: null,
          ...(view.completed ? { watched: true, play: { id: importedPlayId(view), at: view.watched_at } } : {}),
          at: view.watched_at,
          hlc: this.ctx.clock.tick(),
        },
        { flushNow: true },
      );
      if (won) changed.add(view);
    }
    // Every other finish in the file is a play of its own (a film seen twice is two plays).
    for (const view of distinct.values()) {
      if (view.completed && latest.get(view.content_id) !== view && this.recordImportedPlay(view)) changed.add(view);
    }
    return changed;
  }

  /** An imported finish older than what the register holds: a play only (the register stays). */
  private recordImportedPlay(view: ImportedView): boolean {
    const seriesId = this.ctx.facts().episode(view.content_id)?.series_id ?? null;
    const recorded = this.ctx.plays.record({
      play_id: importedPlayId(view),
      content_id: view.content_id,
      series_id: seriesId,
      watched_at: view.watched_at,
      device_id: null,
      hlc: encodeHlc(this.ctx.clock.tick()),
    });
    if (recorded && seriesId) this.ctx.seriesWatch.recompute(seriesId);
    return recorded;
  }

  /** Emits every register again as it stands (live or removed), at its own HLC: replays change nothing. */
  reemitAll(): number {
    const rows = this.sql.exec<{ content_id: string }>("SELECT content_id FROM progress ORDER BY content_id").toArray();
    for (const { content_id } of rows) this.emitProgress(content_id);
    return rows.length;
  }

  /** Registers written before their content was known as an episode get its series; returns the series touched. */
  adoptSeries(facts: CatalogFacts): Set<string> {
    const touched = new Set<string>();
    const rows = this.sql
      .exec<{ content_id: string }>("SELECT content_id FROM progress WHERE series_id IS NULL AND deleted = 0")
      .toArray();
    for (const { content_id } of rows) {
      const episode = facts.episode(content_id);
      if (!episode) continue;
      this.sql.exec("UPDATE progress SET series_id = ? WHERE content_id = ?", episode.series_id, content_id);
      touched.add(episode.series_id);
    }
    return touched;
  }

  private emitProgress(contentId: string): void {
    const row = this.progressRow(contentId);
    if (!row) return;
    const item = this.toItem(row);
    const episode = row.series_id ? this.ctx.facts().episode(row.content_id) : null;
    this.ctx.outbox.append(
      makeEvent(
        "progress-changed",
        this.ctx.userId,
        row.hlc,
        {
          content_id: row.content_id,
          position_seconds: row.position,
          duration_seconds: row.duration,
          completion_percentage: item.completion_percentage,
          watched: item.watched,
          state: row.state,
          device_id: row.device_id,
          last_watched_at: new Date(row.last_watched_at).toISOString(),
          deleted: row.deleted === 1,
          series_id: row.series_id,
          season_number: episode?.season ?? null,
          episode_number: episode?.episode ?? null,
        },
        new Date(),
      ),
    );
  }

  private progressRow(contentId: string): ProgressRow | undefined {
    return this.sql.exec<ProgressRow>("SELECT * FROM progress WHERE content_id = ?", contentId).toArray()[0];
  }

  private toItem(row: ProgressRow): ProgressItem {
    const watched = row.watched === 1;
    return {
      content_id: row.content_id,
      resume_position_seconds:
        watched || row.deleted ? null : resumePosition(row.position, row.duration, this.ctx.rules),
      position_seconds: row.position,
      duration_seconds: row.duration,
      completion_percentage: watched && row.duration === 0 ? 100 : completionPercentage(row.position, row.duration),
      watched,
      playback_state: row.state,
      device_id: row.device_id,
      last_watched_at: iso(row.last_watched_at),
      hlc: row.hlc,
    };
  }

  private toHistoryItem(row: ProgressRow): HistoryItem {
    return { ...this.toItem(row), series_id: row.series_id, plays: this.ctx.plays.tally(row.content_id).plays };
  }

  private toSession(row: SessionRow): Session {
    return {
      id: row.id,
      user_id: this.ctx.userId,
      content_id: row.content_id,
      device_id: row.device_id,
      position_seconds: row.position,
      duration_seconds: row.duration,
      playback_state: row.state,
      quality: row.quality,
      started_at: iso(row.started_at) as string,
      updated_at: iso(row.updated_at) as string,
      ended_at: iso(row.ended_at),
    };
  }

  private sessionData(s: Session) {
    return {
      session_id: s.id,
      content_id: s.content_id,
      device_id: s.device_id,
      position_seconds: s.position_seconds,
      duration_seconds: s.duration_seconds,
      playback_state: s.playback_state,
    };
  }
}
