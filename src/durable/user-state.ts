import { DurableObject } from "cloudflare:workers";
import type { Config } from "../config";
import type { EventEnvelope } from "../contracts/events";
import { isStorageUnavailable, profileDeleted, type Refusal, storageUnavailableProblem } from "../contracts/outcomes";
import { problemResponse } from "../contracts/problems";
import { VERIFIED_USER_HEADER } from "../contracts/sync-socket";
import type { BucketRule } from "../domain/token-bucket";
import { configOf, type Env } from "../env";
import { deliveryMonitor } from "../events/delivery";
import { AlarmPlan } from "./alarm-plan";
import { benchOutbox } from "./bench-outbox";
import { MigratedStorage } from "./migrate";
import { userStateMigrations } from "./migrations/user-state";
import { ReadBudget } from "./read-budget";
import { SocketHub } from "./socket-hub";
import { UserStores } from "./stores";
import { notAnUpgrade, onClientMessage, onSocketGone, openSyncSocket } from "./sync-socket";
import { catalogFacts, objectStatus, UserApi, type UserParts } from "./user-api";
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
   * changed since it was issued, a refusal when a read is over the user's read budget, else the
   * user's surface, on which the Worker pipelines its real call (so on null, "stale" or a refusal
   * it never runs).
   */
  async authorize(
    familyId: string,
    profileVersion = 0,
    readRule: BucketRule | null = null,
  ): Promise<UserApi | Refusal | null | "stale"> {
    if (await this.familyRevoked(familyId)) return null;
    const parts = this.#userParts();
    if (!parts.stores.profile.current(profileVersion)) return "stale";
    return (readRule && parts.reads.take(readRule)) || new UserApi(parts);
  }

  /** The same gate for a read with a token that has no family: the read budget only. */
  async admitRead(readRule: BucketRule): Promise<UserApi | Refusal> {
    const parts = this.#userParts();
    return parts.reads.take(readRule) ?? new UserApi(parts);
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
    const { stores, pipeline, catalog } = this.#userParts();
    await catalog();
    return pipeline.write((now) => stores.reemitAll(now), { cost: 0 });
  }

  /** `npm run bench -- events` (BENCH_ROUTES): events through the outbox to the mirror alone or every target. */
  async benchOutbox(opts: { events: number; fanout: boolean }) {
    if (!this.#config.BENCH_ROUTES) throw new Error("BENCH_ROUTES is off");
    const { stores } = this.#userParts();
    const queueOf = (target: string) => this.env[target] as Queue<EventEnvelope> | undefined;
    return benchOutbox(this.ctx.storage.sql, stores.userId, this.#config, queueOf, opts);
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
      return notAnUpgrade();
    }
    let parts: UserParts;
    try {
      parts = this.#userParts();
    } catch (error) {
      if (!isStorageUnavailable(error)) throw error;
      const problem = storageUnavailableProblem();
      return problemResponse(problem.toProblem(), problem.extra.headers);
    }
    if (verified !== parts.stores.userId) throw new Error("user state addressed with another user's id");
    return openSyncSocket(parts, request, url);
  }

  override async webSocketMessage(ws: WebSocket, frame: string | ArrayBuffer): Promise<void> {
    if (!this.#parts) {
      ws.send(JSON.stringify({ type: "error", code: "unavailable", detail: "this user's state cannot be opened" }));
      return;
    }
    await onClientMessage(this.#parts, ws, frame);
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    if (this.#parts) await onSocketGone(this.#parts, ws, code);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    if (this.#parts) await onSocketGone(this.#parts, ws, 1011);
  }

  override async alarm(): Promise<void> {
    if (!this.#parts) {
      // Storage is on a version this release cannot use: keep the outbox waiting, and come back.
      await this.ctx.storage.setAlarm(Date.now() + UNAVAILABLE_ALARM_RETRY_MS);
      return;
    }
    // An idle session's end may finish an item: its credits marker and series must be known.
    await this.#parts.catalog();
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
    const alarms = new AlarmPlan({
      storage,
      stores,
      hub,
      config,
      queue: (target) => this.env[target] as Queue<EventEnvelope> | undefined,
      report: (backlogs) => deliveryMonitor(this.env).report(userId, backlogs),
    });
    const pipeline = new WritePipeline({ storage, stores, hub, alarms, config });
    const catalog = catalogFacts(this.env, config, stores, pipeline);
    return { storage, reads: new ReadBudget(), stores, hub, alarms, pipeline, config, catalog };
  }
}
