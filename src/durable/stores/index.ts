/**
 * Every store of one user's object, wired once: stores that need another hold it directly
 * (the watchlist asks the devices how far they synced; applied ops write the watchlist and the
 * playback registers). Tables exist before this runs: the object's migrations made them.
 */
import type { Config } from "../../config";
import { makeEvent } from "../../contracts/events";
import { SERVER_NODE } from "../../contracts/sync";
import { CatalogFacts } from "../../domain/catalog-facts";
import { encodeHlc } from "../../domain/hlc";
import { AppliedOps } from "./applied-ops";
import { ChangeLog } from "./change-log";
import type { StoreContext } from "./context";
import { ContinueWatching } from "./continue-watching";
import { Devices } from "./devices";
import { ExposureStore } from "./exposures";
import { HiddenStore } from "./hidden";
import { Meta, ServerClock } from "./meta";
import { MIRROR_TARGET, Outbox, type OutboxTarget } from "./outbox";
import { PlaybackStore } from "./playback";
import { PlayStore } from "./plays";
import { ProfileStatus } from "./profile";
import { RatingStore } from "./ratings";
import { RevokedFamilies } from "./revocations";
import { SeriesWatch } from "./series-watch";
import { Watchlist } from "./watchlist";

/** The mirror's queue, then every subscriber queue of the configuration. */
export function outboxTargets(config: Config): OutboxTarget[] {
  return [
    { name: MIRROR_TARGET, types: ["*"] },
    ...config.EVENT_SUBSCRIBERS.map((s) => ({ name: s.binding, types: s.types })),
  ];
}

export class UserStores {
  readonly meta: Meta;
  readonly clock: ServerClock;
  readonly outbox: Outbox;
  readonly changes: ChangeLog;
  readonly playback: PlaybackStore;
  readonly watchlist: Watchlist;
  readonly devices: Devices;
  readonly ops: AppliedOps;
  readonly revokedFamilies: RevokedFamilies;
  readonly exposures: ExposureStore;
  readonly plays: PlayStore;
  readonly ratings: RatingStore;
  readonly hidden: HiddenStore;
  readonly seriesWatch: SeriesWatch;
  readonly continueWatching: ContinueWatching;
  /** The catalog facts in hand (series, episode order, credits); the object refreshes them before its work. */
  #facts = CatalogFacts.empty();
  readonly profile: ProfileStatus;

  constructor(
    private readonly sql: SqlStorage,
    readonly userId: string,
    private readonly config: Config,
  ) {
    this.meta = new Meta(sql);
    this.clock = new ServerClock(this.meta, SERVER_NODE, config.SYNC_MAX_CLOCK_DRIFT_SECONDS * 1000);
    this.outbox = new Outbox(sql, config.OUTBOX_LINGER_MS, outboxTargets(config));
    this.changes = new ChangeLog(sql);
    const context: StoreContext = { userId, outbox: this.outbox, changes: this.changes, clock: this.clock };
    const facts = () => this.#facts;
    const rules = {
      minSeconds: config.RESUME_MIN_SECONDS,
      maxPercent: config.RESUME_MAX_PERCENT,
      watchedPercent: config.WATCHED_PERCENT,
    };
    this.plays = new PlayStore(sql, { ...context, facts });
    this.seriesWatch = new SeriesWatch(sql, { facts, plays: this.plays });
    this.playback = new PlaybackStore(sql, {
      ...context,
      rules,
      facts,
      plays: this.plays,
      seriesWatch: this.seriesWatch,
    });
    this.ratings = new RatingStore(sql, context);
    this.hidden = new HiddenStore(sql, context);
    this.continueWatching = new ContinueWatching({
      playback: this.playback,
      seriesWatch: this.seriesWatch,
      hidden: this.hidden,
      facts,
      rules,
    });
    this.devices = new Devices(sql, {
      ...context,
      offlineMs: config.DEVICE_OFFLINE_SECONDS * 1000,
      maxDevices: config.SYNC_MAX_DEVICES,
    });
    this.watchlist = new Watchlist(sql, { ...context, devices: this.devices });
    this.ops = new AppliedOps(sql, {
      watchlist: this.watchlist,
      playback: this.playback,
      ratings: this.ratings,
      hidden: this.hidden,
      continueWatching: this.continueWatching,
    });
    this.revokedFamilies = new RevokedFamilies(sql);
    this.exposures = new ExposureStore(sql, context);
    this.profile = new ProfileStatus(this.meta);
  }

  /**
   * Deletes everything of the user's (the profile was deleted): its state, its change log and the
   * events not sent yet, which describe state that no longer exists. One `profile-deleted` event
   * takes the deletion to Postgres. Kept: the clock (stamps never go back), revoked families, and
   * the mark that makes the object refuse every later token. Inside the write's transaction.
   */
  erase(now: number): { progress: number; watchlist: number; devices: number } | null {
    if (this.profile.erased) return null;
    const count = (table: string) => this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n;
    const erased = { progress: count("progress"), watchlist: count("watchlist"), devices: count("devices") };
    const head = this.changes.head;
    for (const table of [
      "sessions",
      "progress",
      "plays",
      "ratings",
      "hidden",
      "series_watch",
      "watchlist",
      "devices",
      "device_tombstones",
      "applied_ops",
      "experiment_exposures",
      "changes",
      "outbox",
    ]) {
      this.sql.exec(`DELETE FROM ${table}`);
    }
    // Cursors stay ordered: a client that synced before the deletion gets the (empty) full state.
    this.sql.exec("UPDATE change_log_state SET horizon = ?", head);
    const hlc = encodeHlc(this.clock.tick());
    const at = new Date(now);
    this.outbox.append(makeEvent("profile-deleted", this.userId, hlc, { erased_at: at.toISOString() }, at));
    this.profile.markErased(now);
    return erased;
  }

  get facts(): CatalogFacts {
    return this.#facts;
  }

  /**
   * Takes newer catalog facts. The first time a version is seen, registers and plays written
   * before their content was known as an episode get its series, and every series whose episode
   * list changed (a new episode, above all) gets its Next Up again. Call inside a transaction.
   */
  adoptFacts(facts: CatalogFacts): void {
    this.#facts = facts;
    if (!facts.known || this.meta.get("facts_version") === facts.version) return;
    const touched = new Set([
      ...this.playback.adoptSeries(facts),
      ...this.plays.adoptSeries(facts),
      ...this.seriesWatch.staleSeries(facts),
    ]);
    for (const seriesId of touched) this.seriesWatch.recompute(seriesId);
    this.meta.set("facts_version", facts.version);
  }

  /** Tombstones every device has synced past (or too old to wait for), old op ids, and change rows of keys gone since. */
  collectGarbage(now: number): void {
    const maxAgeMs = this.config.TOMBSTONE_MAX_AGE_SECONDS * 1000;
    this.watchlist.collectTombstones(now, maxAgeMs);
    this.devices.collectTombstones(now, maxAgeMs);
    this.plays.collectTombstones(now, maxAgeMs);
    this.ops.forget(now, maxAgeMs);
    this.changes.prune(
      (kind, key) =>
        kind === "watchlist"
          ? !this.watchlist.hasEntries(key)
          : kind === "device"
            ? this.devices.get(key, now, new Set()) === null
            : kind === "play"
              ? !this.plays.exists(key)
              : kind === "hidden"
                ? this.hidden.item(key) === null
                : kind === "rating"
                  ? !this.ratings.has(key)
                  : false,
      this.devices.stableSeq(),
      now - maxAgeMs,
    );
  }

  /** When the next collection is due (watchlist, device and play tombstones), or null. */
  gcDeadline(now: number): number | null {
    const maxAgeMs = this.config.TOMBSTONE_MAX_AGE_SECONDS * 1000;
    const due = [
      this.watchlist.gcDeadline(now, maxAgeMs),
      this.devices.tombstoneDeadline(maxAgeMs),
      this.plays.tombstoneDeadline(maxAgeMs),
    ];
    const known = due.filter((at): at is number => at !== null);
    return known.length === 0 ? null : Math.min(...known);
  }

  /** Puts the current state of every progress register, watchlist element and device in the outbox again. */
  reemitAll(now: number): { progress: number; watchlist: number; devices: number; plays: number; ratings: number } {
    return {
      progress: this.playback.reemitAll(),
      watchlist: this.watchlist.reemitAll(now),
      devices: this.devices.reemitAll(now),
      plays: this.plays.reemitAll(),
      ratings: this.ratings.reemitAll(),
    };
  }

  stats(): {
    entries: number;
    tombstones: number;
    devices: number;
    device_tombstones: number;
    remembered_ops: number;
  } {
    return {
      ...this.watchlist.stats(),
      devices: this.devices.count(),
      device_tombstones: this.devices.tombstoneCount(),
      remembered_ops: this.ops.count(),
    };
  }
}
