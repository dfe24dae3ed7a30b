import { DurableObject, RpcTarget } from "cloudflare:workers";
import type { Config } from "../config";
import { decodeHlc, encodeHlc, type Hlc, HlcClock } from "../domain/hlc";
import { configOf, type Env } from "../env";
import type { EventEnvelope } from "../events/envelope";
import { type Exposure, ExposureStore } from "./exposures";
import { Outbox } from "./outbox";
import { type PlaybackState, PlaybackStore } from "./playback";
import { RevokedFamilies } from "./revocations";

/** The server replica's node id in every HLC it stamps. */
export const SERVER_NODE = "server";

/**
 * One user's live state: sessions, progress registers, the change log and the event outbox, in
 * the object's SQLite storage. One instance per user (`idFromName(sub)`), so every write for a
 * user is serialized here and reads see the user's own writes.
 */
export class UserState extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly config: Config;
  private readonly outbox: Outbox;
  private readonly clock: HlcClock;
  private userId = "";
  private playbackStore: PlaybackStore | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.config = configOf(env);
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    this.sql.exec(`CREATE TABLE IF NOT EXISTS changes (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      kind TEXT NOT NULL,
      key TEXT NOT NULL,
      hlc TEXT NOT NULL,
      at INTEGER NOT NULL
    )`);
    this.sql.exec("CREATE INDEX IF NOT EXISTS changes_key ON changes (kind, key)");
    this.outbox = new Outbox(this.sql);
    const saved = this.meta("hlc");
    this.clock = new HlcClock(SERVER_NODE, saved ? decodeHlc(saved) : null);
    this.userId = this.meta("user_id") ?? "";
  }

  // ---- RPC: playback ----

  async createSession(
    userId: string,
    input: { content_id: string; device_id: string; duration_seconds: number; quality?: string | null },
  ) {
    return this.write(userId, (now) => this.playback.createSession(input, now));
  }

  async getSession(userId: string, id: string) {
    this.bind(userId);
    return this.playback.getSession(id);
  }

  async updatePosition(
    userId: string,
    id: string,
    input: { position_seconds: number; playback_state?: PlaybackState | undefined },
  ) {
    return this.write(userId, (now) => this.playback.updatePosition(id, input, now));
  }

  async endSession(userId: string, id: string) {
    return this.write(userId, (now) => this.playback.endSession(id, now, "ended"));
  }

  async resume(userId: string, contentId: string) {
    this.bind(userId);
    return this.playback.progress(contentId);
  }

  async history(userId: string, opts: Parameters<PlaybackStore["history"]>[0]) {
    this.bind(userId);
    return this.playback.history(opts);
  }

  async markWatched(userId: string, contentId: string, watched: boolean) {
    return this.write(userId, (now) => this.playback.markWatched(contentId, watched, now));
  }

  async clearHistoryItem(userId: string, contentId: string) {
    return this.write(userId, (now) => this.playback.clear(contentId, now));
  }

  async clearHistory(userId: string) {
    return this.write(userId, (now) => this.playback.clearAll(now));
  }

  // ---- RPC: token families and experiment exposures ----

  /**
   * The gate every request with one of our access tokens passes: null when the token's family is
   * revoked (an answer, not an exception: a replayed token must not count as an error here),
   * otherwise a handle whose calls run on this object. The Worker pipelines its real call on that
   * handle, so the check costs no extra round trip, and on null the pipelined call never runs.
   */
  async authorize(userId: string, familyId: string): Promise<UserAccess | null> {
    this.bind(userId);
    if (this.revokedFamilies.has(familyId)) return null;
    return new UserAccess(this);
  }

  async familyRevoked(userId: string, familyId: string): Promise<boolean> {
    this.bind(userId);
    return this.revokedFamilies.has(familyId);
  }

  /** Every token of the family is refused from the next request on; false when it already was. */
  async revokeFamily(userId: string, familyId: string, reason: string): Promise<boolean> {
    return this.write(userId, (now) => this.revokedFamilies.revoke(familyId, reason, now));
  }

  /** Records that the user saw a variant; true (and an `experiment-exposure` event) only when it is news. */
  async recordExposure(userId: string, exposure: Exposure): Promise<boolean> {
    return this.write(userId, (now) => this.exposures.record(exposure, now));
  }

  /** Outbox depth and alarm, for health checks and tests. */
  async status() {
    return { outbox: this.outbox.size, alarm: await this.ctx.storage.getAlarm(), hlc: encodeHlc(this.clock.current) };
  }

  // ---- the alarm: outbox drain, idle sessions, history write-through ----

  override async alarm(): Promise<void> {
    const now = Date.now();
    const idleMs = this.config.SESSION_IDLE_SECONDS * 1000;
    if (this.userId) {
      this.transaction(() => {
        for (const id of this.playback.idleSessionIds(now, idleMs)) this.playback.endSession(id, now, "idle");
        this.playback.flushDirty(now, this.config.HISTORY_FLUSH_SECONDS * 1000);
      });
    }
    const due = this.outbox.nextAt();
    if (due !== null && due <= now) {
      await this.outbox.drain(this.env.EVENTS, now, this.config.OUTBOX_MAX_BACKOFF_SECONDS);
    }
    await this.scheduleAlarm();
  }

  // ---- internals ----

  private revokedFamiliesStore: RevokedFamilies | null = null;
  private exposureStore: ExposureStore | null = null;

  private get revokedFamilies(): RevokedFamilies {
    this.revokedFamiliesStore ??= new RevokedFamilies(this.sql);
    return this.revokedFamiliesStore;
  }

  private get exposures(): ExposureStore {
    this.exposureStore ??= new ExposureStore(this.sql, {
      userId: this.userId,
      emit: (event) => this.outbox.append(event),
      hlc: () => encodeHlc(this.tick()),
    });
    return this.exposureStore;
  }

  private get playback(): PlaybackStore {
    if (!this.playbackStore) {
      this.playbackStore = new PlaybackStore(this.sql, {
        userId: this.userId,
        rules: {
          minSeconds: this.config.RESUME_MIN_SECONDS,
          maxPercent: this.config.RESUME_MAX_PERCENT,
          watchedPercent: this.config.WATCHED_PERCENT,
        },
        emit: (event: EventEnvelope) => this.outbox.append(event),
        changed: (kind, key, hlc) => this.recordChange(kind, key, hlc),
        tick: () => this.tick(),
      });
    }
    return this.playbackStore;
  }

  /** Runs one mutation in one SQLite transaction, then makes sure the alarm will drain it. */
  private async write<T>(userId: string, mutation: (now: number) => T): Promise<T> {
    this.bind(userId);
    const result = this.transaction(() => mutation(Date.now()));
    await this.scheduleAlarm();
    return result;
  }

  private transaction<T>(work: () => T): T {
    return this.ctx.storage.transactionSync(() => {
      const result = work();
      this.setMeta("hlc", encodeHlc(this.clock.current));
      return result;
    });
  }

  private tick(): Hlc {
    return this.clock.tick();
  }

  private recordChange(kind: string, key: string, hlc: string): void {
    this.sql.exec("INSERT INTO changes (kind, key, hlc, at) VALUES (?, ?, ?, ?)", kind, key, hlc, Date.now());
  }

  /** The object is named after its user; remember who that is and refuse anyone else. */
  private bind(userId: string): void {
    if (this.userId === userId) return;
    if (this.userId) throw new Error("user state addressed with another user's id");
    this.userId = userId;
    this.setMeta("user_id", userId);
    this.playbackStore = null;
    this.exposureStore = null;
  }

  private async scheduleAlarm(): Promise<void> {
    const candidates: number[] = [];
    const outboxAt = this.outbox.nextAt();
    if (outboxAt !== null) candidates.push(outboxAt);
    if (this.userId) {
      const idle = this.playback.nextIdleDeadline(this.config.SESSION_IDLE_SECONDS * 1000);
      if (idle !== null) candidates.push(idle);
      const flush = this.playback.nextFlushDeadline(this.config.HISTORY_FLUSH_SECONDS * 1000);
      if (flush !== null) candidates.push(flush);
    }
    if (candidates.length === 0) return;
    const next = Math.max(Date.now(), Math.min(...candidates));
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }

  private meta(key: string): string | null {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row?.value ?? null;
  }

  private setMeta(key: string, value: string): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }
}

/**
 * What `authorize` hands back: every method of UserState, running on the object that checked
 * the family. Built from UserState's prototype, so methods added to UserState are there too.
 */
export class UserAccess extends RpcTarget {
  constructor(readonly state: UserState) {
    super();
  }
}
const LIFECYCLE = new Set(["constructor", "alarm", "webSocketMessage", "webSocketClose", "webSocketError"]);
for (const name of Object.getOwnPropertyNames(UserState.prototype)) {
  const descriptor = Object.getOwnPropertyDescriptor(UserState.prototype, name);
  if (LIFECYCLE.has(name) || typeof descriptor?.value !== "function") continue;
  Object.defineProperty(UserAccess.prototype, name, {
    value(this: UserAccess, ...args: unknown[]) {
      return (this.state as unknown as Record<string, (...a: unknown[]) => unknown>)[name]?.(...args);
    },
  });
}
