import { DurableObject, RpcTarget } from "cloudflare:workers";
import type { Config } from "../config";
import { decodeCursor, encodeCursor } from "../domain/cursor";
import { decodeHlc, encodeHlc, type Hlc, HlcClock } from "../domain/hlc";
import type { SyncOp } from "../domain/sync-replica";
import { type BucketState, takeToken } from "../domain/token-bucket";
import { configOf, type Env } from "../env";
import { type EventEnvelope, makeEvent, PROFILE_JOB_EVENTS, type ProfileJobKind } from "../events/envelope";
import { type Outcome, type Refusal, RefusedError, refusal, toProblem } from "../outcome";
import { problemResponse } from "../problem";
import { ChangeLog } from "./change-log";
import { type Exposure, ExposureStore } from "./exposures";
import { Outbox } from "./outbox";
import { type PlaybackState, PlaybackStore, type ProgressItem } from "./playback";
import { RevokedFamilies } from "./revocations";
import { type Device, type DeviceInput, type OpStatus, SyncStore, type WatchlistItem } from "./sync";

/** The server replica's node id in every HLC it stamps. */
export const SERVER_NODE = "server";

/** Set by the Worker on the WebSocket upgrade it forwards: the verified user, never the client's word. */
export const VERIFIED_USER_HEADER = "x-verified-user";
/** Set by the Worker when the client offered this subprotocol (browsers pass the token that way). */
export const WS_PROTOCOL_HEADER = "x-websocket-protocol";

/** Per-socket state, kept in the socket's attachment so it survives hibernation. */
interface SocketAttachment {
  deviceId: string | null;
  connectedAt: number;
}

export interface SyncSection<T> {
  items: T[];
  /** Keys that no longer exist (removed from the watchlist, progress cleared, device deleted). */
  removed: string[];
}

/** What `GET /sync` answers and what a socket receives: a full state or the changes after a cursor. */
export interface SyncDocument {
  cursor: string;
  full: boolean;
  /** Why the state is full: no cursor, a cursor from before a garbage collection, or one this log never issued. */
  reason: "initial" | "gc" | "unknown-cursor" | null;
  /** The server's clock: a client merges it into its own so its next stamps come after everything it saw. */
  hlc: string;
  watchlist: SyncSection<WatchlistItem>;
  progress: SyncSection<ProgressItem>;
  devices: SyncSection<Device>;
}

export interface OpsResult {
  results: { op_id: string; status: OpStatus }[];
  cursor: string;
  hlc: string;
}

interface WriteOptions<T> {
  /** Rate-limit tokens the write costs; 0 for the object's own bookkeeping. */
  cost?: number;
  /** The device that made the change: its own sockets are not sent the push. */
  origin?: string | null | ((value: T) => string | null);
}

/**
 * One user's live state: sessions, progress registers, watchlist, devices, the change log and
 * the event outbox, in the object's SQLite storage. One instance per user (`idFromName(sub)`), so
 * every write for a user is serialized here and reads see the user's own writes. Connected
 * devices hold hibernatable WebSockets; every change is pushed to the user's other devices.
 */
export class UserState extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly config: Config;
  private readonly outbox: Outbox;
  private readonly changes: ChangeLog;
  private readonly clock: HlcClock;
  private userId = "";
  private playbackStore: PlaybackStore | null = null;
  private syncStore: SyncStore | null = null;
  private bucket: BucketState | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.config = configOf(env);
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    this.changes = new ChangeLog(this.sql);
    this.outbox = new Outbox(this.sql, this.config.OUTBOX_LINGER_MS);
    const saved = this.meta("hlc");
    this.clock = new HlcClock(
      SERVER_NODE,
      saved ? decodeHlc(saved) : null,
      Date.now,
      this.config.SYNC_MAX_CLOCK_DRIFT_SECONDS * 1000,
    );
    this.userId = this.meta("user_id") ?? "";
    // Answered by the runtime without waking the object: keep-alives cost nothing.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  // ---- RPC: playback ----

  async createSession(
    userId: string,
    input: { content_id: string; device_id: string; duration_seconds: number; quality?: string | null },
  ) {
    return this.write(userId, (now) => this.playback.createSession(input, now), { origin: input.device_id });
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
    return this.write(userId, (now) => this.playback.updatePosition(id, input, now), {
      origin: (s) => (s && s !== "ended" ? s.device_id : null),
    });
  }

  async endSession(userId: string, id: string) {
    return this.write(userId, (now) => this.playback.endSession(id, now, "ended"), {
      origin: (s) => s?.device_id ?? null,
    });
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

  // ---- RPC: personalization jobs (issue 6) ----

  /** Queues a profile rebuild or an adapter training through the outbox; the queue consumer runs it. */
  async requestProfileJob(userId: string, kind: ProfileJobKind) {
    return this.write(userId, (now) => {
      const job = { job_id: crypto.randomUUID(), kind, requested_at: new Date(now).toISOString() };
      const hlc = encodeHlc(this.tick());
      this.outbox.append(makeEvent(PROFILE_JOB_EVENTS[kind], userId, hlc, { job_id: job.job_id }, new Date(now)));
      return job;
    });
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
    // Never rate limited: a revocation must always get through.
    const outcome = await this.write(userId, (now) => this.revokedFamilies.revoke(familyId, reason, now), { cost: 0 });
    return !outcome.refused && outcome.value;
  }

  /** Records that the user saw a variant; true (and an `experiment-exposure` event) only when it is news. */
  async recordExposure(userId: string, exposure: Exposure): Promise<boolean> {
    // Free: reading a variant is not a write the user asked for, and repeats change nothing.
    const outcome = await this.write(userId, (now) => this.exposures.record(exposure, now), { cost: 0 });
    return !outcome.refused && outcome.value;
  }

  /** A no-op round trip: the floor every per-user request pays. */
  /**
   * Puts the current state of every progress register, watchlist element and device in the
   * outbox again (issue 7: an operator's repair when Postgres lost events). Not rate limited.
   */
  async reemit(userId: string) {
    return this.write(userId, (now) => ({ progress: this.playback.reemitAll(), ...this.sync.reemitAll(now) }), {
      cost: 0,
    });
  }

  async ping(): Promise<number> {
    return Date.now();
  }

  // ---- RPC: sync ----

  /** Full state, or what changed after `since`; a registered device's sync point moves up. */
  async syncState(userId: string, since: number | null, deviceId: string | null): Promise<SyncDocument> {
    this.bind(userId);
    const doc = this.buildState(since);
    if (deviceId) {
      const head = this.changes.head;
      this.transaction(() => this.sync.recordSynced(deviceId, head));
      await this.scheduleAlarm();
    }
    return doc;
  }

  async watchlist(userId: string, opts: Parameters<SyncStore["watchlist"]>[0]) {
    this.bind(userId);
    return this.sync.watchlist(opts);
  }

  async addToWatchlist(userId: string, contentId: string, origin: string | null) {
    return this.write(userId, (now) => this.sync.addToWatchlist(contentId, now), { origin });
  }

  async removeFromWatchlist(userId: string, contentId: string, origin: string | null) {
    return this.write(userId, (now) => this.sync.removeFromWatchlist(contentId, now), { origin });
  }

  async progressPage(userId: string, opts: Parameters<PlaybackStore["progressPage"]>[0]) {
    this.bind(userId);
    return this.playback.progressPage(opts);
  }

  /**
   * A last-writer-wins write to the progress register sessions share. A client stamp orders
   * the write (and is merged into the server clock); without one the server stamps it now.
   */
  async putProgress(
    userId: string,
    contentId: string,
    input: {
      position_seconds: number;
      duration_seconds: number;
      state: PlaybackState;
      hlc?: string | undefined;
      device_id?: string | undefined;
    },
  ): Promise<Outcome<{ applied: boolean; progress: ProgressItem | null }>> {
    const remote = input.hlc ? decodeHlc(input.hlc) : null;
    if (remote && !this.clock.accepts(remote)) return this.driftRefusal("hlc");
    return this.write(
      userId,
      (now) => {
        const stamp = remote ?? this.clock.tick();
        if (remote) this.clock.receive(remote);
        const applied = this.playback.writeProgress(
          {
            content_id: contentId,
            position: input.position_seconds,
            duration: input.duration_seconds,
            state: input.state,
            device_id: input.device_id ?? null,
            at: Math.min(now, stamp.ms),
            hlc: stamp,
          },
          { flushNow: true },
        );
        return { applied, progress: this.playback.progress(contentId) };
      },
      { origin: input.device_id ?? null },
    );
  }

  /** A batch of offline ops: all applied in one transaction, or none (any refusal rolls back). */
  async applyOps(userId: string, batch: { device_id: string | null; ops: SyncOp[] }): Promise<Outcome<OpsResult>> {
    for (const [i, op] of batch.ops.entries()) {
      if (!this.clock.accepts(decodeHlc(op.hlc))) return this.driftRefusal(`ops.${i}.hlc`);
    }
    const cost = Math.ceil(batch.ops.length / this.config.SYNC_OPS_PER_TOKEN);
    return this.write(
      userId,
      (now) => {
        const results = batch.ops.map((op) => {
          this.clock.receive(decodeHlc(op.hlc));
          return { op_id: op.op_id, status: this.sync.applyOp(op, now, batch.device_id) };
        });
        return { results, cursor: encodeCursor({ s: this.changes.head }), hlc: encodeHlc(this.clock.current) };
      },
      { cost, origin: batch.device_id },
    );
  }

  async registerDevice(userId: string, deviceId: string, input: DeviceInput) {
    return this.write(userId, (now) => this.sync.registerDevice(deviceId, input, now), { origin: deviceId });
  }

  async heartbeat(userId: string, deviceId: string) {
    return this.write(
      userId,
      (now) => (this.sync.markSeen(deviceId, now) ? this.sync.device(deviceId, now, this.connectedDevices()) : null),
      { origin: deviceId },
    );
  }

  async deleteDevice(userId: string, deviceId: string) {
    return this.write(userId, (now) => this.sync.deleteDevice(deviceId, now));
  }

  async devices(userId: string, opts: { limit: number; after?: string | null }) {
    this.bind(userId);
    return this.sync.devices(opts, Date.now(), this.connectedDevices());
  }

  /** Outbox depth, alarm and storage figures, for health checks and tests. */
  async status() {
    return {
      outbox: this.outbox.size,
      alarm: await this.ctx.storage.getAlarm(),
      hlc: encodeHlc(this.clock.current),
      changes: { head: this.changes.head, horizon: this.changes.horizon, rows: this.changes.size },
      sockets: this.ctx.getWebSockets().length,
      ...(this.userId ? { sync: this.sync.stats() } : {}),
    };
  }

  // ---- WebSocket: the upgrade the Worker forwards, then hibernatable handlers ----

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const userId = request.headers.get(VERIFIED_USER_HEADER);
    if (url.pathname !== "/sync/ws" || !userId || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return problemResponse(toProblem(refusal(400, "bad-request", "expected a WebSocket upgrade")).toProblem());
    }
    const deviceId = url.searchParams.get("device_id");
    const sinceText = url.searchParams.get("since");
    // Connecting marks the device online: a write like any other, rate limited against reconnect storms.
    const seen = await this.write(userId, (now) => (deviceId ? this.sync.markSeen(deviceId, now) : false), {
      origin: deviceId,
    });
    if (seen.refused) {
      const problem = toProblem(seen);
      return problemResponse(problem.toProblem(), problem.extra.headers);
    }
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ deviceId, connectedAt: Date.now() } satisfies SocketAttachment);
    const since = sinceText === null ? null : Number(sinceText);
    server.send(
      JSON.stringify(
        since === null
          ? { type: "hello", cursor: encodeCursor({ s: this.changes.head }), hlc: encodeHlc(this.clock.current) }
          : { type: "sync", ...this.buildState(since) },
      ),
    );
    await this.scheduleAlarm();
    const protocol = request.headers.get(WS_PROTOCOL_HEADER);
    return new Response(null, {
      status: 101,
      webSocket: client,
      headers: protocol ? { "sec-websocket-protocol": protocol } : {},
    });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const socket = ws.deserializeAttachment() as SocketAttachment | null;
    let parsed: { type?: unknown; cursor?: unknown } | null = null;
    try {
      if (typeof message === "string" && message.length <= 4096) parsed = JSON.parse(message);
    } catch {}
    const seq = typeof parsed?.cursor === "string" ? decodeCursor(parsed.cursor, { s: "number" })?.s : undefined;
    if (seq === undefined || (parsed?.type !== "ack" && parsed?.type !== "resume") || seq > this.changes.head) {
      ws.send(JSON.stringify({ type: "error", detail: 'send {"type":"ack"|"resume","cursor":"<cursor>"}' }));
      return;
    }
    if (parsed.type === "resume") ws.send(JSON.stringify({ type: "sync", ...this.buildState(seq) }));
    const deviceId = socket?.deviceId;
    if (deviceId && parsed.type === "ack") {
      await this.write(
        this.userId,
        (now) => {
          this.sync.recordSynced(deviceId, seq);
          this.sync.markSeen(deviceId, now);
        },
        { cost: 0, origin: deviceId },
      );
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    await this.socketGone(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.socketGone(ws, 1011);
  }

  private async socketGone(ws: WebSocket, code: number): Promise<void> {
    try {
      // 1005/1006 describe a close without a frame; they cannot be sent back.
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {}
    const deviceId = (ws.deserializeAttachment() as SocketAttachment | null)?.deviceId;
    // The device was here until now; the alarm marks it offline after the offline window.
    if (deviceId && this.userId) {
      await this.write(this.userId, (now) => this.sync.markSeen(deviceId, now), { cost: 0, origin: deviceId });
    }
  }

  // ---- the alarm: outbox drain, idle sessions, history write-through, presence, GC ----

  override async alarm(): Promise<void> {
    const now = Date.now();
    const idleMs = this.config.SESSION_IDLE_SECONDS * 1000;
    const before = this.changes.head;
    if (this.userId) {
      this.transaction(() => {
        for (const id of this.playback.idleSessionIds(now, idleMs)) this.playback.endSession(id, now, "idle");
        this.playback.flushDirty(now, this.config.HISTORY_FLUSH_SECONDS * 1000);
        this.sync.expirePresence(now, this.connectedDevices());
        this.collectGarbage(now);
      });
      this.push(before, null);
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

  private get sync(): SyncStore {
    if (!this.syncStore) {
      this.syncStore = new SyncStore(this.sql, {
        userId: this.userId,
        offlineMs: this.config.DEVICE_OFFLINE_SECONDS * 1000,
        maxDevices: this.config.SYNC_MAX_DEVICES,
        emit: (event: EventEnvelope) => this.outbox.append(event),
        changed: (kind, key, hlc) => this.recordChange(kind, key, hlc),
        tick: () => this.tick(),
        writeProgress: (write) => this.playback.writeProgress(write, { flushNow: true }),
      });
    }
    return this.syncStore;
  }

  /**
   * Runs one mutation in one SQLite transaction, pushes its changes to the user's other
   * devices, and makes sure the alarm will drain its events. Rate limited per user: a refusal
   * (429, or one the mutation throws as RefusedError) is returned, and nothing is written.
   */
  private async write<T>(
    userId: string,
    mutation: (now: number) => T,
    opts: WriteOptions<T> = {},
  ): Promise<Outcome<T>> {
    this.bind(userId);
    const now = Date.now();
    const limited = this.takeWriteTokens(opts.cost ?? 1, now);
    if (limited) return limited;
    const before = this.changes.head;
    let value: T;
    try {
      value = this.transaction(() => mutation(now));
    } catch (error) {
      if (error instanceof RefusedError) return error.refusal;
      throw error;
    }
    this.push(before, typeof opts.origin === "function" ? opts.origin(value) : (opts.origin ?? null));
    await this.scheduleAlarm();
    return { refused: false, value };
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

  private recordChange(kind: "progress" | "watchlist" | "device", key: string, hlc: string): number {
    return this.changes.record(kind, key, hlc, Date.now());
  }

  /** The per-user write budget (token bucket, kept in storage so a restart does not refill it). */
  private takeWriteTokens(cost: number, now: number): Refusal | null {
    if (cost <= 0) return null;
    const rule = { perSecond: this.config.RATE_LIMIT_WRITES_PER_MINUTE / 60, burst: this.config.RATE_LIMIT_BURST };
    if (!this.bucket) {
      const saved = this.meta("write_bucket");
      this.bucket = saved ? (JSON.parse(saved) as BucketState) : null;
    }
    const decision = takeToken(this.bucket, now, rule, Math.min(cost, rule.burst));
    this.bucket = decision.state;
    this.setMeta("write_bucket", JSON.stringify(decision.state));
    if (decision.allowed) return null;
    return refusal(429, "rate-limited", "too many writes for this user; slow down", {
      retry_after_seconds: decision.retryAfterSeconds,
    });
  }

  private driftRefusal(path: string): Refusal {
    const hours = this.config.SYNC_MAX_CLOCK_DRIFT_SECONDS / 3600;
    return refusal(400, "clock-drift", `an HLC is more than ${hours} h ahead of the server's clock`, {
      errors: [{ path, message: "clock too far in the future" }],
    });
  }

  /** The full state, or the current state of every key changed after `since`. */
  private buildState(since: number | null): SyncDocument {
    const now = Date.now();
    const head = this.changes.head;
    const connected = this.connectedDevices();
    const reason: SyncDocument["reason"] =
      since === null ? "initial" : since > head ? "unknown-cursor" : since < this.changes.horizon ? "gc" : null;
    const doc: SyncDocument = {
      cursor: encodeCursor({ s: head }),
      full: reason !== null,
      reason,
      hlc: encodeHlc(this.clock.current),
      watchlist: { items: [], removed: [] },
      progress: { items: [], removed: [] },
      devices: { items: [], removed: [] },
    };
    if (!this.userId) return doc;
    if (reason !== null) {
      doc.watchlist.items = this.sync.allWatchlist();
      doc.progress.items = this.playback
        .allProgress()
        .filter((p) => !p.deleted)
        .map(({ deleted: _deleted, ...item }) => item);
      doc.devices.items = this.sync.allDevices(now, connected);
      return doc;
    }
    for (const change of this.changes.since(since as number)) {
      if (change.kind === "watchlist") {
        const item = this.sync.watchlistItem(change.key);
        if (item) doc.watchlist.items.push(item);
        else doc.watchlist.removed.push(change.key);
      } else if (change.kind === "progress") {
        const item = this.playback.progress(change.key);
        if (item) doc.progress.items.push(item);
        else doc.progress.removed.push(change.key);
      } else {
        const item = this.sync.device(change.key, now, connected);
        if (item) doc.devices.items.push(item);
        else doc.devices.removed.push(change.key);
      }
    }
    return doc;
  }

  /** Sends the changes after `afterSeq` to every socket except the originating device's. */
  private push(afterSeq: number, origin: string | null): void {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0 || this.changes.head <= afterSeq) return;
    const message = JSON.stringify({ type: "change", ...this.buildState(afterSeq) });
    for (const ws of sockets) {
      const socket = ws.deserializeAttachment() as SocketAttachment | null;
      if (origin !== null && socket?.deviceId === origin) continue;
      try {
        ws.send(message);
      } catch {
        // A socket closing right now: its close handler cleans up.
      }
    }
  }

  /** Devices with an open socket: online whatever their last heartbeat. */
  private connectedDevices(): Set<string> {
    const ids = new Set<string>();
    for (const ws of this.ctx.getWebSockets()) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      const deviceId = (ws.deserializeAttachment() as SocketAttachment | null)?.deviceId;
      if (deviceId) ids.add(deviceId);
    }
    return ids;
  }

  /** Tombstones every device has synced past (or too old to wait for), and change rows of keys gone since. */
  private collectGarbage(now: number): void {
    const maxAgeMs = this.config.TOMBSTONE_MAX_AGE_SECONDS * 1000;
    this.sync.collectTombstones(now, maxAgeMs);
    this.changes.prune(
      (kind, key) =>
        kind === "watchlist"
          ? !this.sync.hasWatchlistEntries(key)
          : kind === "device"
            ? this.sync.device(key, now, new Set()) === null
            : false,
      this.sync.stableSeq(),
      now - maxAgeMs,
    );
  }

  /** The object is named after its user; remember who that is and refuse anyone else. */
  private bind(userId: string): void {
    if (this.userId === userId) return;
    if (this.userId) throw new Error("user state addressed with another user's id");
    this.userId = userId;
    this.setMeta("user_id", userId);
    this.playbackStore = null;
    this.exposureStore = null;
    this.syncStore = null;
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
      const presence = this.sync.presenceDeadline(this.connectedDevices());
      if (presence !== null) candidates.push(presence);
      const gc = this.sync.gcDeadline(Date.now(), this.config.TOMBSTONE_MAX_AGE_SECONDS * 1000);
      if (gc !== null) candidates.push(gc);
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
// Not forwarded: the runtime's entry points (fetch is the WebSocket upgrade, which goes to the stub).
const LIFECYCLE = new Set(["constructor", "fetch", "alarm", "webSocketMessage", "webSocketClose", "webSocketError"]);
for (const name of Object.getOwnPropertyNames(UserState.prototype)) {
  const descriptor = Object.getOwnPropertyDescriptor(UserState.prototype, name);
  if (LIFECYCLE.has(name) || typeof descriptor?.value !== "function") continue;
  Object.defineProperty(UserAccess.prototype, name, {
    value(this: UserAccess, ...args: unknown[]) {
      return (this.state as unknown as Record<string, (...a: unknown[]) => unknown>)[name]?.(...args);
    },
  });
}
