import { makeEvent } from "../../contracts/events";
import type { PlaybackState, ProgressItem } from "../../contracts/sync";
import { encodeHlc, type Hlc } from "../../domain/hlc";
import { type ProgressRegister, progressWins, resolveProgressWrite } from "../../domain/progress-register";
import { completionPercentage, completionRate, type ResumeRules, resumePosition } from "../../domain/resume";
import type { StoreContext } from "./context";

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

export interface HistoryPage {
  items: ProgressItem[];
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
}

export interface PlaybackContext extends StoreContext {
  rules: ResumeRules;
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
    const hlc = encodeHlc(write.hlc);
    const next = resolveProgressWrite({ ...write, hlc }, this.ctx.rules);
    if (!progressWins(current && registerOf(current), next)) return false;
    const dirtySince = opts.flushNow ? null : (current?.dirty_since ?? write.at);
    this.sql.exec(
      `INSERT INTO progress (content_id, position, duration, state, watched, device_id, hlc, last_watched_at, deleted, dirty_since)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (content_id) DO UPDATE SET position = excluded.position, duration = excluded.duration,
         state = excluded.state, watched = excluded.watched, device_id = excluded.device_id, hlc = excluded.hlc,
         last_watched_at = excluded.last_watched_at, deleted = excluded.deleted, dirty_since = excluded.dirty_since`,
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
    );
    this.ctx.changes.record("progress", write.content_id, hlc, Date.now());
    if (opts.flushNow) this.emitProgress(write.content_id);
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

  /** Most recent first; `status` filters by watched; `inProgressOnly` keeps only resumable items. */
  history(opts: {
    status?: "in_progress" | "completed" | undefined;
    resumableOnly?: boolean;
    limit: number;
    after?: { t: number; c: string } | null | undefined;
  }): HistoryPage {
    const where = ["deleted = 0"];
    const args: SqlStorageValue[] = [];
    if (opts.status === "completed") where.push("watched = 1");
    if (opts.status === "in_progress" || opts.resumableOnly) where.push("watched = 0");
    if (opts.after) {
      where.push("(last_watched_at < ? OR (last_watched_at = ? AND content_id > ?))");
      args.push(opts.after.t, opts.after.t, opts.after.c);
    }
    const items: ProgressItem[] = [];
    let last: ProgressRow | undefined;
    let more = false;
    // Resumability depends on the rules, not a column: filter while reading, page by page.
    const cursor = this.sql.exec<ProgressRow>(
      `SELECT * FROM progress WHERE ${where.join(" AND ")} ORDER BY last_watched_at DESC, content_id ASC`,
      ...args,
    );
    for (const row of cursor) {
      const item = this.toItem(row);
      if (opts.resumableOnly && item.resume_position_seconds === null) continue;
      if (items.length === opts.limit) {
        more = true;
        break;
      }
      items.push(item);
      last = row;
    }
    return { items, next_cursor: more && last ? { t: last.last_watched_at, c: last.content_id } : null };
  }

  markWatched(contentId: string, watched: boolean, now: number): ProgressItem | null {
    const current = this.progressRow(contentId);
    const hlc = this.ctx.clock.tick();
    if (watched) {
      const duration = current?.duration ?? 0;
      this.writeProgress(
        {
          content_id: contentId,
          position: duration,
          duration,
          state: "stopped",
          device_id: current?.device_id ?? null,
          watched: true,
          at: now,
          hlc,
        },
        { flushNow: true },
      );
      return this.progress(contentId);
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

  /** Emits every register again as it stands (live or removed), at its own HLC: replays change nothing. */
  reemitAll(): number {
    const rows = this.sql.exec<{ content_id: string }>("SELECT content_id FROM progress ORDER BY content_id").toArray();
    for (const { content_id } of rows) this.emitProgress(content_id);
    return rows.length;
  }

  private emitProgress(contentId: string): void {
    const row = this.progressRow(contentId);
    if (!row) return;
    const item = this.toItem(row);
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
