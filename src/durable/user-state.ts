import { DurableObject } from "cloudflare:workers";
import type { Config } from "../config";
import {
  isStorageUnavailable,
  profileDeleted,
  refusal,
  storageUnavailableProblem,
  toProblem,
} from "../contracts/outcomes";
import { problemResponse } from "../contracts/problems";
import { parseClientMessage, VERIFIED_USER_HEADER, WS_PROTOCOL_HEADER } from "../contracts/sync-socket";
import { decodeCursor, encodeCursor } from "../domain/cursor";
import { encodeHlc } from "../domain/hlc";
import { configOf, type Env } from "../env";
import { AlarmPlan } from "./alarm-plan";
import { MigratedStorage } from "./migrate";
import { userStateMigrations } from "./migrations/user-state";
import { SocketHub } from "./socket-hub";
import { UserStores } from "./stores";
import { buildSyncDocument } from "./sync-document";
import { objectStatus, UserApi, type UserParts } from "./user-api";
import { WritePipeline } from "./write-pipeline";

/** While storage cannot be opened, the alarm comes back this often (a fixed release then migrates). */
const UNAVAILABLE_ALARM_RETRY_MS = 60_000;

/**
 * One user's live state (sessions, progress, watchlist, devices, change log, event outbox) in
 * the object's SQLite, one object per user (`idFromName(sub)`): every write for a user is
 * serialized here and reads see the user's own writes. The class is the runtime's entry points
 * plus a small RPC surface; the user-facing calls live on `UserApi`, handed out by `user()` and
 * `authorize()`. Storage is migrated before the first event (./migrations/user-state.ts).
 */
export class UserState extends DurableObject<Env> {
  // #private: none of it is reachable over RPC.
  readonly #config: Config;
  readonly #storage: MigratedStorage;
  #parts: UserParts | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = configOf(env);
    this.#storage = new MigratedStorage(ctx, userStateMigrations, "UserState", () => {
      this.#parts = this.#assemble();
    });
  }

  // ---- RPC ----

  /** The user's surface, for a caller with no token family to check (admin tools, tokens from elsewhere). */
  async user(): Promise<UserApi> {
    return new UserApi(this.#userParts());
  }

  /**
   * The gate every request with one of our tokens passes, answered as a value (a replayed token is no error
   * here): null when its family is revoked or the profile deleted, "stale" when the profile's settings
   * changed since it was issued, else the user's surface, on which the Worker pipelines its real call.
   */
  async authorize(familyId: string, profileVersion = 0): Promise<UserApi | null | "stale"> {
    if (await this.familyRevoked(familyId)) return null;
    const parts = this.#userParts();
    return parts.stores.profile.current(profileVersion) ? new UserApi(parts) : "stale";
  }

  async familyRevoked(familyId: string): Promise<boolean> {
    const { revokedFamilies, profile } = this.#userParts(true).stores;
    return profile.erased || revokedFamilies.has(familyId);
  }

  /** Tokens issued with an older version of the profile's settings must be refreshed. Not rate limited. */
  async raiseProfileVersion(version: number): Promise<boolean> {
    const { stores, pipeline } = this.#userParts();
    const outcome = await pipeline.write(() => stores.profile.raiseVersion(version), { cost: 0 });
    return !outcome.refused && outcome.value;
  }

  /** The profile was deleted: everything of it goes, its sockets close, no token opens it again. */
  async erase() {
    const { stores, pipeline, hub } = this.#userParts(true);
    const outcome = await pipeline.write((now) => stores.erase(now), { cost: 0 });
    hub.closeAll(4003, "profile deleted");
    return outcome;
  }

  /** Every token of the family is refused from the next request on; false when it already was. */
  async revokeFamily(familyId: string, reason: string): Promise<boolean> {
    const { stores, pipeline } = this.#userParts(true);
    // Never rate limited: a revocation must always get through.
    const outcome = await pipeline.write((now) => stores.revokedFamilies.revoke(familyId, reason, now), { cost: 0 });
    return !outcome.refused && outcome.value;
  }

  /**
   * Puts the current state of every progress register, watchlist element and device in the
   * outbox again: an operator's repair when Postgres lost events. Not rate limited.
   */
  async reemit() {
    const { stores, pipeline } = this.#userParts();
    return pipeline.write((now) => stores.reemitAll(now), { cost: 0 });
  }

  /** Outbox depth, alarm, storage and sync figures, for health checks and tests. */
  async status() {
    return objectStatus(this.#ready());
  }

  // ---- WebSocket: the upgrade the Worker forwards, then hibernatable handlers ----

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const verified = request.headers.get(VERIFIED_USER_HEADER);
    if (url.pathname !== "/sync/ws" || !verified || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return problemResponse(toProblem(refusal(400, "bad-request", "expected a WebSocket upgrade")).toProblem());
    }
    let parts: UserParts;
    try {
      parts = this.#userParts();
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      const problem = storageUnavailableProblem();
      return problemResponse(problem.toProblem(), problem.extra.headers);
    }
    const { stores, hub, pipeline, alarms } = parts;
    if (verified !== stores.userId) throw new Error("user state addressed with another user's id");
    const deviceId = url.searchParams.get("device_id");
    const sinceText = url.searchParams.get("since");
    // Connecting marks the device online: a write like any other, rate limited against reconnect storms.
    const seen = await pipeline.write((now) => (deviceId ? stores.devices.markSeen(deviceId, now) : false), {
      origin: deviceId,
    });
    if (seen.refused) {
      const problem = toProblem(seen);
      return problemResponse(problem.toProblem(), problem.extra.headers);
    }
    const { client, server } = hub.accept(deviceId);
    const since = sinceText === null ? null : Number(sinceText);
    hub.send(
      server,
      since === null
        ? { type: "hello", cursor: encodeCursor({ s: stores.changes.head }), hlc: encodeHlc(stores.clock.current) }
        : { type: "sync", ...buildSyncDocument(stores, since, hub.connectedDevices()) },
    );
    await alarms.schedule();
    const protocol = request.headers.get(WS_PROTOCOL_HEADER);
    return new Response(null, {
      status: 101,
      webSocket: client,
      headers: protocol ? { "sec-websocket-protocol": protocol } : {},
    });
  }

  override async webSocketMessage(ws: WebSocket, frame: string | ArrayBuffer): Promise<void> {
    if (!this.#parts) {
      ws.send(JSON.stringify({ type: "error", code: "unavailable", detail: "this user's state cannot be opened" }));
      return;
    }
    const { stores, hub, pipeline } = this.#parts;
    const message = parseClientMessage(frame);
    if (message.type === "error") return hub.send(ws, message);
    const seq = decodeCursor(message.cursor, { s: "number" })?.s;
    if (seq === undefined || seq > stores.changes.head) {
      return hub.send(ws, {
        type: "error",
        code: "bad-cursor",
        detail: "the cursor is not one this user's change log issued",
        errors: [{ path: "cursor", message: "invalid cursor" }],
      });
    }
    if (message.type === "resume") {
      hub.send(ws, { type: "sync", ...buildSyncDocument(stores, seq, hub.connectedDevices()) });
      return;
    }
    const deviceId = hub.attachment(ws)?.deviceId;
    if (!deviceId) return;
    await pipeline.write(
      (now) => {
        stores.devices.recordSynced(deviceId, seq);
        stores.devices.markSeen(deviceId, now);
      },
      { cost: 0, origin: deviceId },
    );
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    await this.#socketGone(ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.#socketGone(ws, 1011);
  }

  /** The device was here until now; the alarm marks it offline after the offline window. */
  async #socketGone(ws: WebSocket, code: number): Promise<void> {
    if (!this.#parts) return;
    const { stores, hub, pipeline } = this.#parts;
    const deviceId = hub.closed(ws, code);
    if (deviceId && stores.userId) {
      await pipeline.write((now) => stores.devices.markSeen(deviceId, now), { cost: 0, origin: deviceId });
    }
  }

  override async alarm(): Promise<void> {
    if (!this.#parts) {
      // Storage is on a version this release cannot use: keep the outbox waiting, and come back.
      await this.ctx.storage.setAlarm(Date.now() + UNAVAILABLE_ALARM_RETRY_MS);
      return;
    }
    await this.#parts.alarms.run(this.#parts.pipeline);
  }

  // ---- internals (#private) ----

  /** The object's parts; throws the storage-unavailable error when the migration failed. */
  #ready(): UserParts {
    this.#storage.check();
    return this.#parts as UserParts;
  }

  /** The parts, for calls that act as the user: the object must know whose it is, and it must not be erased. */
  #userParts(evenErased = false): UserParts {
    const parts = this.#ready();
    if (!parts.stores.userId) throw new Error("user state without a name: address it with idFromName(user id)");
    if (parts.stores.profile.erased && !evenErased) throw profileDeleted();
    return parts;
  }

  /**
   * Builds the stores and the machinery around them, once storage is migrated. The user is the
   * object's name; an instance woken by an alarm after a restart may not be told its name, so
   * the name is also kept in storage the first time it is seen.
   */
  #assemble(): UserParts {
    const sql = this.ctx.storage.sql;
    const saved = sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'user_id'").toArray()[0]?.value;
    const userId = this.ctx.id.name ?? saved ?? "";
    if (this.ctx.id.name && saved !== this.ctx.id.name) {
      sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('user_id', ?)", this.ctx.id.name);
    }
    const { storage } = this.ctx;
    const config = this.#config;
    const stores = new UserStores(sql, userId, config);
    const hub = new SocketHub(this.ctx);
    const alarms = new AlarmPlan({ storage, stores, hub, config, queue: () => this.env.EVENTS });
    const pipeline = new WritePipeline({ storage, stores, hub, alarms, config });
    return { storage, stores, hub, alarms, pipeline, config };
  }
}
