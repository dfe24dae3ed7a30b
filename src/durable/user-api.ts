import { RpcTarget } from "cloudflare:workers";
import { currentCatalogFacts } from "../catalog/facts-store";
import type { Config } from "../config";
import { makeEvent, PROFILE_JOB_EVENTS, type ProfileJobKind } from "../contracts/events";
import { type Outcome, type Refusal, refusal } from "../contracts/outcomes";
import type { DeviceInput, OpsResult, PlaybackState, ProgressItem, SyncDocument } from "../contracts/sync";
import type { CatalogFacts } from "../domain/catalog-facts";
import { encodeCursor } from "../domain/cursor";
import { decodeHlc, encodeHlc } from "../domain/hlc";
import type { SyncOp } from "../domain/sync-replica";
import type { Env } from "../env";
import type { AlarmPlan } from "./alarm-plan";
import { appliedVersion } from "./migrate";
import type { ReadBudget } from "./read-budget";
import type { SocketHub } from "./socket-hub";
import type { UserStores } from "./stores";
import type { ContinueWatching, NextUpItem } from "./stores/continue-watching";
import type { Exposure } from "./stores/exposures";
import { type HistoryItem, type ImportedView, importedViewKey, type PlaybackStore } from "./stores/playback";
import type { Watchlist } from "./stores/watchlist";
import { buildSyncDocument } from "./sync-document";
import type { WriteOptions, WritePipeline } from "./write-pipeline";

/** What marking watched answers: the item, or for a series how many episodes and its Next Up. */
export type MarkResult =
  | { kind: "item"; item: HistoryItem | null }
  | { kind: "series"; series_id: string; season_number: number | null; marked: number; next_up: NextUpItem | null };

/** The parts of one user's object that its surface works with. */
export interface UserParts {
  storage: DurableObjectStorage;
  reads: ReadBudget;
  stores: UserStores;
  pipeline: WritePipeline;
  hub: SocketHub;
  alarms: AlarmPlan;
  config: Config;
  /** The current catalog facts, adopted by the stores (loaded once per isolate, re-checked every few seconds). */
  catalog: () => Promise<CatalogFacts>;
}

/**
 * What the Worker calls on a user's object: every method a route uses, declared here and only
 * here. Handed out by `UserState.user()` and `UserState.authorize()`; its calls run on the
 * object, for the object's own user (its name), so no method takes a user id. Reads answer
 * values; writes answer an Outcome (a refusal travels as a value: error classes do not cross RPC).
 */
export class UserApi extends RpcTarget {
  readonly #parts: UserParts;

  constructor(parts: UserParts) {
    super();
    this.#parts = parts;
  }

  // ---- playback ----

  async createSession(input: {
    content_id: string;
    device_id: string;
    duration_seconds: number;
    quality?: string | null;
  }) {
    await this.#parts.catalog();
    return this.#write((now) => this.#playback.createSession(input, now), { origin: input.device_id });
  }

  async getSession(id: string) {
    return this.#playback.getSession(id);
  }

  async updatePosition(id: string, input: { position_seconds: number; playback_state?: PlaybackState | undefined }) {
    await this.#parts.catalog();
    return this.#write((now) => this.#playback.updatePosition(id, input, now), {
      origin: (s) => (s && s !== "ended" ? s.device_id : null),
    });
  }

  async endSession(id: string) {
    await this.#parts.catalog();
    return this.#write((now) => this.#playback.endSession(id, now, "ended"), { origin: (s) => s?.device_id ?? null });
  }

  async resume(contentId: string) {
    await this.#parts.catalog();
    return this.#playback.historyItem(contentId);
  }

  async history(opts: Parameters<PlaybackStore["history"]>[0]) {
    // The kind filter reads each register's series, which newer catalog facts may fill in.
    await this.#parts.catalog();
    return this.#playback.history(opts);
  }

  /**
   * Marks one item watched (a play at `watched_at`, or now) or unwatched (progress and plays
   * removed). A series id marks every episode of it, or of one season; null when there is nothing
   * to unwatch, a refusal when the series has no such season.
   */
  async markWatched(
    contentId: string,
    watched: boolean,
    opts: { watched_at?: number | undefined; season?: number | undefined } = {},
  ): Promise<Outcome<MarkResult>> {
    const facts = await this.#parts.catalog();
    const series = facts.series(contentId);
    if (!series) {
      if (opts.season !== undefined) {
        return refusal(400, "validation", "`season` applies to a series id", {
          errors: [{ path: "season", message: "the content is not a series" }],
        });
      }
      return this.#write<MarkResult>((now) => ({
        kind: "item",
        item: this.#playback.markWatched(contentId, watched, now, opts.watched_at),
      }));
    }
    const episodes = series.episodes.filter((e) => opts.season === undefined || e.season === opts.season);
    if (episodes.length === 0) return refusal(404, "not-found", `season ${opts.season} is not in the catalog`);
    return this.#write<MarkResult>((now) => {
      this.#parts.stores.seriesWatch.batch(() => {
        for (const episode of episodes) this.#playback.markWatched(episode.id, watched, now, opts.watched_at);
      });
      const next = this.#parts.stores.continueWatching.nextUp({
        includeSpecials: false,
        seriesId: series.id,
        limit: 1,
      });
      return {
        kind: "series",
        series_id: series.id,
        season_number: opts.season ?? null,
        marked: episodes.length,
        next_up: next.items[0] ?? null,
      };
    });
  }

  async clearHistoryItem(contentId: string) {
    await this.#parts.catalog();
    return this.#write((now) => this.#playback.clear(contentId, now));
  }

  async clearHistory() {
    return this.#write((now) => this.#playback.clearAll(now));
  }

  /**
   * Views of the user's history from elsewhere, with their plays and ratings; one rate-limit
   * token per SYNC_OPS_PER_TOKEN views. A rating is written at its view's time unless the user
   * rated the item since (the same file again changes nothing).
   */
  async importHistory(views: ImportedView[]) {
    await this.#parts.catalog();
    const { stores, config } = this.#parts;
    const cost = Math.max(1, Math.ceil(views.length / config.SYNC_OPS_PER_TOKEN));
    return this.#write(
      () => {
        // Counted per view that changed anything: its register, a play, or its rating.
        const changed = this.#playback.importViews(views);
        const rated = new Map<string, ImportedView>();
        for (const view of views) {
          const seen = rated.get(view.content_id);
          if (view.rating !== null && (!seen || view.watched_at >= seen.watched_at)) rated.set(view.content_id, view);
        }
        for (const view of rated.values()) {
          const current = stores.ratings.get(view.content_id);
          if (current && Date.parse(current.rated_at) >= view.watched_at) continue;
          if (stores.ratings.write(view.content_id, view.rating, stores.clock.tick(), view.watched_at)) {
            changed.add(view);
          }
        }
        return { imported: new Set([...changed].map(importedViewKey)).size };
      },
      { cost },
    );
  }

  /** Everything the object holds of the user's: history (every live register), plays, ratings, watchlist, devices. */
  async exportData() {
    await this.#parts.catalog();
    const { stores, hub } = this.#parts;
    return {
      history: stores.playback.allProgress().filter((p) => !p.deleted),
      plays: stores.plays.all(),
      ratings: stores.ratings.all(),
      watchlist: stores.watchlist.all(),
      devices: stores.devices.all(Date.now(), hub.connectedDevices()),
    };
  }

  // ---- series, plays, ratings, hidden cards ----

  async nextUp(opts: Parameters<ContinueWatching["nextUp"]>[0]) {
    await this.#parts.catalog();
    return this.#parts.stores.continueWatching.nextUp(opts);
  }

  async continueWatching(opts: Parameters<ContinueWatching["page"]>[0]) {
    await this.#parts.catalog();
    return this.#parts.stores.continueWatching.page(opts);
  }

  /** Per season and overall, with the Next Up episode; null when the catalog has no such series. */
  async seriesProgress(seriesId: string) {
    await this.#parts.catalog();
    const { stores } = this.#parts;
    const progress = stores.seriesWatch.progress(seriesId);
    if (!progress) return null;
    const { series: _series, next: _next, ...rest } = progress;
    const next = stores.continueWatching.nextUp({ includeSpecials: false, seriesId, limit: 1 }).items[0] ?? null;
    return { ...rest, next_episode: next };
  }

  async plays(opts: Parameters<UserStores["plays"]["page"]>[0]) {
    await this.#parts.catalog();
    return this.#parts.stores.plays.page(opts);
  }

  /**
   * Hides a card from continue watching (and Next Up), or shows it again. An episode hides its
   * series' card. Answers the card's key, or null when unhiding a card that was not hidden.
   */
  async setHidden(contentId: string, hidden: boolean, origin: string | null) {
    await this.#parts.catalog();
    const { stores } = this.#parts;
    return this.#write(
      (now) => {
        const key = stores.continueWatching.cardKey(contentId);
        if (!hidden && !stores.hidden.item(key)) return null;
        stores.hidden.write(key, hidden, stores.clock.tick(), now);
        return { content_id: contentId, card_id: key, hidden, hidden_at: hidden ? new Date(now).toISOString() : null };
      },
      { origin },
    );
  }

  async rate(contentId: string, rating: number, origin: string | null) {
    const { stores } = this.#parts;
    return this.#write(
      (now) => {
        stores.ratings.write(contentId, rating, stores.clock.tick(), now);
        const { hlc: _hlc, ...item } = stores.ratings.get(contentId) as NonNullable<
          ReturnType<typeof stores.ratings.get>
        >;
        return item;
      },
      { origin },
    );
  }

  /** Removes a rating; false when there was none. */
  async unrate(contentId: string, origin: string | null) {
    const { stores } = this.#parts;
    return this.#write(
      (now) => stores.ratings.has(contentId) && stores.ratings.write(contentId, null, stores.clock.tick(), now),
      { origin },
    );
  }

  async ratings(opts: Parameters<UserStores["ratings"]["page"]>[0]) {
    return this.#parts.stores.ratings.page(opts);
  }

  // ---- personalization jobs and experiment exposures ----

  /** Queues a profile rebuild or an adapter training through the outbox; the queue consumer runs it. */
  async requestProfileJob(kind: ProfileJobKind) {
    const { stores } = this.#parts;
    return this.#write((now) => {
      const job = { job_id: crypto.randomUUID(), kind, requested_at: new Date(now).toISOString() };
      const hlc = encodeHlc(stores.clock.tick());
      stores.outbox.append(
        makeEvent(PROFILE_JOB_EVENTS[kind], stores.userId, hlc, { job_id: job.job_id }, new Date(now)),
      );
      return job;
    });
  }

  /** Records that the user saw a variant; true (and an `experiment-exposure` event) only when it is news. */
  async recordExposure(exposure: Exposure): Promise<boolean> {
    // Free: reading a variant is not a write the user asked for, and repeats change nothing.
    const outcome = await this.#write((now) => this.#parts.stores.exposures.record(exposure, now), { cost: 0 });
    return !outcome.refused && outcome.value;
  }

  // ---- sync ----

  /** Full state, or what changed after `since`; a registered device's sync point moves up. */
  async syncState(since: number | null, deviceId: string | null): Promise<SyncDocument> {
    const { stores, hub, pipeline, alarms } = this.#parts;
    const doc = buildSyncDocument(stores, since, hub.connectedDevices());
    if (deviceId) {
      const head = stores.changes.head;
      pipeline.transaction(() => stores.devices.recordSynced(deviceId, head));
      await alarms.schedule();
    }
    return doc;
  }

  async watchlist(opts: Parameters<Watchlist["page"]>[0]) {
    return this.#parts.stores.watchlist.page(opts);
  }

  async addToWatchlist(contentId: string, origin: string | null) {
    return this.#write((now) => this.#parts.stores.watchlist.add(contentId, now), { origin });
  }

  async removeFromWatchlist(contentId: string, origin: string | null) {
    return this.#write((now) => this.#parts.stores.watchlist.remove(contentId, now), { origin });
  }

  async progressPage(opts: Parameters<PlaybackStore["progressPage"]>[0]) {
    return this.#playback.progressPage(opts);
  }

  /**
   * A last-writer-wins write to the progress register sessions share. A client stamp orders
   * the write (and is merged into the server clock); without one the server stamps it now.
   */
  async putProgress(
    contentId: string,
    input: {
      position_seconds: number;
      duration_seconds: number;
      state: PlaybackState;
      hlc?: string | undefined;
      device_id?: string | undefined;
    },
  ): Promise<Outcome<{ applied: boolean; progress: ProgressItem | null }>> {
    await this.#parts.catalog();
    const { clock } = this.#parts.stores;
    const remote = input.hlc ? decodeHlc(input.hlc) : null;
    if (remote && !clock.accepts(remote)) return this.#driftRefusal("hlc");
    return this.#write(
      (now) => {
        const stamp = remote ?? clock.tick();
        if (remote) clock.receive(remote);
        const applied = this.#playback.writeProgress(
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
        return { applied, progress: this.#playback.progress(contentId) };
      },
      { origin: input.device_id ?? null },
    );
  }

  /** A batch of offline ops: all applied in one transaction, or none (any refusal rolls back). */
  async applyOps(batch: { device_id: string | null; ops: SyncOp[] }): Promise<Outcome<OpsResult>> {
    const { stores, config } = this.#parts;
    for (const [i, op] of batch.ops.entries()) {
      if (!stores.clock.accepts(decodeHlc(op.hlc))) return this.#driftRefusal(`ops.${i}.hlc`);
    }
    const cost = Math.ceil(batch.ops.length / config.SYNC_OPS_PER_TOKEN);
    await this.#parts.catalog();
    return this.#write(
      (now) => {
        const results = stores.seriesWatch.batch(() =>
          batch.ops.map((op) => {
            stores.clock.receive(decodeHlc(op.hlc));
            return { op_id: op.op_id, status: stores.ops.apply(op, now, batch.device_id) };
          }),
        );
        return { results, cursor: encodeCursor({ s: stores.changes.head }), hlc: encodeHlc(stores.clock.current) };
      },
      { cost, origin: batch.device_id },
    );
  }

  // ---- devices ----

  async registerDevice(deviceId: string, input: DeviceInput) {
    return this.#write((now) => this.#parts.stores.devices.register(deviceId, input, now), { origin: deviceId });
  }

  async heartbeat(deviceId: string) {
    const { devices } = this.#parts.stores;
    return this.#write(
      (now) =>
        devices.markSeen(deviceId, now) ? devices.get(deviceId, now, this.#parts.hub.connectedDevices()) : null,
      { origin: deviceId },
    );
  }

  async deleteDevice(deviceId: string) {
    return this.#write((now) => this.#parts.stores.devices.delete(deviceId, now));
  }

  async devices(opts: { limit: number; after?: string | null }) {
    return this.#parts.stores.devices.page(opts, Date.now(), this.#parts.hub.connectedDevices());
  }

  /** The object's own figures (outbox, alarm, change log, sockets, sync state). */
  async status() {
    return objectStatus(this.#parts);
  }

  /** A no-op round trip: the floor every per-user request pays. */
  async ping(): Promise<number> {
    return Date.now();
  }

  // ---- internals (#private: not reachable over RPC) ----

  get #playback(): PlaybackStore {
    return this.#parts.stores.playback;
  }

  #write<T>(mutation: (now: number) => T, opts?: WriteOptions<T>): Promise<Outcome<T>> {
    return this.#parts.pipeline.write(mutation, opts);
  }

  #driftRefusal(path: string): Refusal {
    const hours = this.#parts.config.SYNC_MAX_CLOCK_DRIFT_SECONDS / 3600;
    return refusal(400, "clock-drift", `an HLC is more than ${hours} h ahead of the server's clock`, {
      errors: [{ path, message: "clock too far in the future" }],
    });
  }
}

/**
 * The object's way to the catalog facts: the isolate's current version, adopted by the stores
 * (in one transaction) the first time this object sees it.
 */
export function catalogFacts(env: Env, config: Config, stores: UserStores, pipeline: WritePipeline) {
  return async (): Promise<CatalogFacts> => {
    const facts = await currentCatalogFacts(env, config);
    if (facts !== stores.facts) pipeline.transaction(() => stores.adoptFacts(facts));
    return facts;
  };
}

/** Outbox depth, alarm, deadlines, storage and sync figures, for health checks and tests. */
export async function objectStatus({ storage, stores, hub, alarms }: UserParts) {
  return {
    outbox: stores.outbox.size,
    outbox_bytes: stores.outbox.bytes,
    targets: stores.outbox.backlog(),
    alarm: await storage.getAlarm(),
    deadlines: alarms.next(),
    storage_version: appliedVersion(storage.sql),
    hlc: encodeHlc(stores.clock.current),
    changes: { head: stores.changes.head, horizon: stores.changes.horizon, rows: stores.changes.size },
    sockets: hub.size,
    ...(stores.userId ? { sync: stores.stats() } : {}),
  };
}
