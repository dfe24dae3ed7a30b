import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  pgView,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import { DEVICE_TYPES } from "../domain/device";
import type { Allocation, VariantWeight } from "../domain/experiments";
import { MATURITY_LABELS } from "../domain/maturity";
import type { ProfileAnchor, ProfileWeights } from "../domain/profile";

/** One row per (user, content): the latest progress the user's Durable Object reported. */
export const watchHistory = pgTable(
  "watch_history",
  {
    userId: text("user_id").notNull(),
    contentId: text("content_id").notNull(),
    positionSeconds: doublePrecision("position_seconds").notNull(),
    durationSeconds: doublePrecision("duration_seconds").notNull(),
    completionPercentage: doublePrecision("completion_percentage").notNull(),
    watched: boolean("watched").notNull().default(false),
    deviceId: text("device_id"),
    /** false once the user cleared or unwatched it; kept so an older event cannot bring it back. */
    active: boolean("active").notNull().default(true),
    /** HLC of the write this row reflects: the guard that keeps the row from going back in time. */
    hlc: text("hlc").notNull(),
    lastWatchedAt: timestamp("last_watched_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("watch_history_user_content").on(t.userId, t.contentId),
    index("watch_history_user_recent").on(t.userId, t.lastWatchedAt.desc()).where(sql`${t.active}`),
    index("watch_history_content").on(t.contentId).where(sql`${t.active}`),
    // Trending: finished views in a recent window.
    index("watch_history_finished_recent").on(t.lastWatchedAt.desc()).where(sql`${t.active} and ${t.watched}`),
  ],
);

/** Per user, the HLC of the last "clear all": no progress older than it may come back. */
export const historyClears = pgTable("history_clears", {
  userId: text("user_id").primaryKey(),
  beforeHlc: text("before_hlc").notNull(),
  clearedAt: timestamp("cleared_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Messages no consumer could use: kept for a person to inspect and replay. */
export const deadLetters = pgTable(
  "dead_letters",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    queue: text("queue").notNull(),
    messageId: text("message_id").notNull(),
    reason: text("reason").notNull(),
    body: jsonb("body"),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
    replayedAt: timestamp("replayed_at", { withTimezone: true }),
  },
  (t) => [uniqueIndex("dead_letters_message").on(t.queue, t.messageId)],
);

/**
 * Every event the consumer applied, in commit order (`seq`), kept EVENT_LOG_RETENTION_DAYS for
 * consumers that catch up or replay. Appended at the end of the consumer's transaction under a
 * transaction advisory lock, so a `seq` never becomes visible after a greater one.
 */
export const eventLog = pgTable(
  "event_log",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    eventId: text("event_id").notNull(),
    type: text("type").notNull(),
    userId: text("user_id").notNull(),
    hlc: text("hlc").notNull(),
    envelope: jsonb("envelope").notNull(),
    loggedAt: timestamp("logged_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("event_log_event").on(t.eventId),
    index("event_log_logged_at").on(t.loggedAt),
    index("event_log_type").on(t.type, t.seq),
    index("event_log_user").on(t.userId, t.seq),
  ],
);

/** The catalog: movies, series and their episodes. */
export const content = pgTable(
  "content",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: ["movie", "series", "episode"] }).notNull(),
    title: text("title").notNull(),
    seriesId: text("series_id"),
    seasonNumber: integer("season_number"),
    episodeNumber: integer("episode_number"),
    year: integer("year"),
    genres: text("genres").array().notNull().default(sql`'{}'::text[]`),
    platforms: text("platforms").array().notNull().default(sql`'{}'::text[]`),
    rating: doublePrecision("rating"),
    votes: integer("votes").notNull().default(0),
    runtimeMinutes: integer("runtime_minutes"),
    maturityRating: text("maturity_rating"),
    director: text("director"),
    creditsStartSeconds: integer("credits_start_seconds"),
    /** When the item entered the catalog: an episode added after a viewer finished the series brings it back to Next Up. */
    addedAt: timestamp("added_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check("content_kind", sql`${t.kind} in ('movie', 'series', 'episode')`),
    index("content_popular").on(t.votes.desc(), t.id),
    index("content_series").on(t.seriesId, t.seasonNumber, t.episodeNumber).where(sql`${t.seriesId} is not null`),
    index("content_year").on(t.year),
    // The catalog listing filtered by kind, most popular first (GET /content?kind=...).
    index("content_kind_popular").on(t.kind, t.votes.desc(), t.id),
  ],
);

/**
 * One row per completed play (a finish by the watched rule or the credits, or a mark as watched),
 * mirrored from `play-completed` events; `active` turns false when the user unwatched or cleared it.
 */
export const plays = pgTable(
  "plays",
  {
    userId: text("user_id").notNull(),
    playId: text("play_id").notNull(),
    contentId: text("content_id").notNull(),
    seriesId: text("series_id"),
    watchedAt: timestamp("watched_at", { withTimezone: true }).notNull(),
    deviceId: text("device_id"),
    active: boolean("active").notNull().default(true),
    /** HLC of the play: a removal (unwatch, clear) newer than it deactivates it. */
    hlc: text("hlc").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.playId] }),
    index("plays_user_recent").on(t.userId, t.watchedAt.desc()).where(sql`${t.active}`),
    index("plays_user_content").on(t.userId, t.contentId),
    index("plays_recent").on(t.watchedAt).where(sql`${t.active}`),
  ],
);

/** A user's rating of one item, 1-10; null once removed (the row stays as the HLC guard). */
export const ratings = pgTable(
  "ratings",
  {
    userId: text("user_id").notNull(),
    contentId: text("content_id").notNull(),
    rating: integer("rating"),
    ratedAt: timestamp("rated_at", { withTimezone: true }).notNull(),
    hlc: text("hlc").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.contentId] }),
    check("ratings_range", sql`${t.rating} is null or ${t.rating} between 1 and 10`),
    index("ratings_content").on(t.contentId).where(sql`${t.rating} is not null`),
  ],
);

// ---- cross-device sync mirror (fed by watchlist-changed and device-changed events) ----
// Progress needs no table of its own: watch_history is the mirror of the progress registers.

/** One row per OR-Set tag: one add of one item to a user's watchlist, and its removal once observed. */
export const watchlistEntries = pgTable(
  "watchlist_entries",
  {
    userId: text("user_id").notNull(),
    contentId: text("content_id").notNull(),
    tag: text("tag").notNull(),
    /** HLC of the add; null while only a remove that observed the tag has been mirrored. */
    addedHlc: text("added_hlc"),
    /** HLC of the latest remove that observed the tag. */
    removedHlc: text("removed_hlc"),
    /** Once true, never false again: a removed tag stays removed (an add of the item makes a new tag). */
    removed: boolean("removed").notNull().default(false),
    addedAt: timestamp("added_at", { withTimezone: true }),
    removedAt: timestamp("removed_at", { withTimezone: true }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("watchlist_entries_user_tag").on(t.userId, t.tag),
    index("watchlist_entries_user_live").on(t.userId, t.contentId).where(sql`not ${t.removed}`),
    // The hourly purge finds removed tags by age.
    index("watchlist_entries_removed_age").on(t.updatedAt).where(sql`${t.removed}`),
  ],
);

/**
 * How far each mirror has been purged: removed watchlist tags last changed before `purged_before`
 * are gone, and a late event older than it may not bring one back.
 */
export const syncMirrorPurges = pgTable("sync_mirror_purges", {
  mirror: text("mirror").primaryKey(),
  purgedBefore: timestamp("purged_before", { withTimezone: true }).notNull(),
  ranAt: timestamp("ran_at", { withTimezone: true }).notNull().defaultNow(),
});

/** A user's registered devices with presence; `active` is false once the user removed the device. */
export const devices = pgTable(
  "devices",
  {
    userId: text("user_id").notNull(),
    deviceId: text("device_id").notNull(),
    deviceType: text("device_type", { enum: DEVICE_TYPES }).notNull(),
    platform: text("platform").notNull(),
    capabilities: jsonb("capabilities").notNull().default(sql`'{}'::jsonb`),
    appVersion: text("app_version").notNull(),
    deviceName: text("device_name").notNull(),
    lastSeen: timestamp("last_seen", { withTimezone: true }).notNull(),
    isOnline: boolean("is_online").notNull().default(false),
    active: boolean("active").notNull().default(true),
    /** HLC of the change this row reflects: the guard that keeps it from going back in time. */
    hlc: text("hlc").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("devices_user_device").on(t.userId, t.deviceId),
    check("devices_type", sql`${t.deviceType} in ('TV', 'Phone', 'Tablet', 'Web', 'Desktop')`),
    index("devices_online").on(t.userId).where(sql`${t.isOnline} and ${t.active}`),
  ],
);

/** The effective watchlist: items with at least one add no remove has observed. */
export const watchlistEffective = pgView("watchlist_effective", {
  userId: text("user_id").notNull(),
  contentId: text("content_id").notNull(),
  addedAt: timestamp("added_at", { withTimezone: true }),
  liveTags: integer("live_tags").notNull(),
}).as(sql`
  select user_id, content_id, min(added_at) as added_at, count(*)::int as live_tags
  from watchlist_entries
  where not removed and added_hlc is not null
  group by user_id, content_id
`);

const progressViewColumns = () => ({
  userId: text("user_id").notNull(),
  contentId: text("content_id").notNull(),
  positionSeconds: doublePrecision("position_seconds").notNull(),
  durationSeconds: doublePrecision("duration_seconds").notNull(),
  completionPercentage: doublePrecision("completion_percentage").notNull(),
  deviceId: text("device_id"),
  hlc: text("hlc").notNull(),
  lastWatchedAt: timestamp("last_watched_at", { withTimezone: true }).notNull(),
});

/** Content started and not finished: below 90 % and not marked watched. */
export const progressInProgress = pgView("progress_in_progress", progressViewColumns()).as(sql`
  select user_id, content_id, position_seconds, duration_seconds, completion_percentage, device_id, hlc, last_watched_at
  from watch_history
  where active and not watched and completion_percentage < 90
`);

/** Content finished: at least 90 %, or marked watched. */
export const progressCompleted = pgView("progress_completed", progressViewColumns()).as(sql`
  select user_id, content_id, position_seconds, duration_seconds, completion_percentage, device_id, hlc, last_watched_at
  from watch_history
  where active and (watched or completion_percentage >= 90)
`);

/** Per user: how many devices are online, of how many, which kinds, and when one was last seen. */
export const deviceOnlineSummary = pgView("device_online_summary", {
  userId: text("user_id").notNull(),
  onlineDevices: integer("online_devices").notNull(),
  devices: integer("devices").notNull(),
  onlineDeviceTypes: text("online_device_types").array().notNull(),
  lastSeen: timestamp("last_seen", { withTimezone: true }),
}).as(sql`
  select user_id,
    (count(*) filter (where is_online))::int as online_devices,
    count(*)::int as devices,
    coalesce(array_agg(device_type order by device_type) filter (where is_online), '{}') as online_device_types,
    max(last_seen) as last_seen
  from devices
  where active
  group by user_id
`);
// ---- Personalization (issue 6): preference profiles, per-user adapters, profile jobs ----

/** One row per user: the preference profile the consumer builds from the user's watch history. */
export const preferenceProfiles = pgTable("preference_profiles", {
  userId: text("user_id").primaryKey(),
  /** group → value → weight in [-1, 1], e.g. { genre: { Drama: 1, Horror: -0.4 } }. */
  weights: jsonb("weights").$type<ProfileWeights>().notNull(),
  /** Liked views kept to explain recommendations ("because you watched ..."). */
  anchors: jsonb("anchors").$type<ProfileAnchor[]>().notNull(),
  views: integer("views").notNull(),
  finished: integer("finished").notNull(),
  abandoned: integer("abandoned").notNull(),
  confidence: doublePrecision("confidence").notNull(),
  halfLifeDays: doublePrecision("half_life_days").notNull(),
  lastViewAt: timestamp("last_view_at", { withTimezone: true }),
  /** Goes up by one each time a rebuild changes the profile; a replayed rebuild changes nothing. */
  version: integer("version").notNull().default(1),
  builtAt: timestamp("built_at", { withTimezone: true }).notNull().defaultNow(),
});

/** One row per user: the logistic-regression adapter trained on the user's finished vs abandoned views. */
export const userAdapters = pgTable("user_adapters", {
  userId: text("user_id").primaryKey(),
  version: integer("version").notNull().default(1),
  bias: doublePrecision("bias").notNull(),
  /** feature key ("genre:Drama") → weight. */
  weights: jsonb("weights").$type<Record<string, number>>().notNull(),
  examples: integer("examples").notNull(),
  positives: integer("positives").notNull(),
  negatives: integer("negatives").notNull(),
  loss: doublePrecision("loss").notNull(),
  /** HLC of the training request: a later "clear history" removes the adapter, an earlier one must not. */
  requestHlc: text("request_hlc").notNull(),
  jobId: text("job_id").notNull(),
  trainedAt: timestamp("trained_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Profile rebuilds and adapter trainings the consumer has run, for the user to see. */
export const profileJobs = pgTable(
  "profile_jobs",
  {
    jobId: text("job_id").primaryKey(),
    userId: text("user_id").notNull(),
    kind: text("kind", { enum: ["profile-rebuild", "adapter-train"] }).notNull(),
    status: text("status", { enum: ["done", "skipped"] }).notNull(),
    detail: text("detail").notNull(),
    requestedAt: timestamp("requested_at", { withTimezone: true }).notNull(),
    finishedAt: timestamp("finished_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("profile_jobs_user_recent").on(t.userId, t.finishedAt.desc())],
);

// ---- Accounts, token families, experiments (issue 5) ----

/** Accounts that sign in with email and password; `id` is the `sub` of their access tokens. */
export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    /** Normalized (NFKC, trimmed, lower case): one account per address however it is typed. */
    email: text("email").notNull(),
    passwordHash: text("password_hash").notNull(),
    role: text("role", { enum: ["user", "admin"] })
      .notNull()
      .default("user"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("users_email").on(t.email), check("users_role", sql`${t.role} in ('user', 'admin')`)],
);

// ---- Households: the profiles of an account ----

/**
 * The people of an account. Each profile is a user in every per-user sense: its id is the `sub`
 * of its tokens and names its UserState. The owner's profile has the account's own id, so an
 * account from before profiles is its owner profile, with the same state and tokens.
 */
export const profiles = pgTable(
  "profiles",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** A label of the maturity scale (src/domain/maturity.ts); null: no limit. */
    maturityLimit: text("maturity_limit"),
    /** Hashed like a password; null: no PIN. */
    pinHash: text("pin_hash"),
    isOwner: boolean("is_owner").notNull().default(false),
    /** Goes up when the limit changes: tokens carrying an older version must be refreshed. */
    version: integer("version").notNull().default(1),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("profiles_account_name").on(t.accountId, sql`lower(${t.name})`),
    uniqueIndex("profiles_account_owner").on(t.accountId).where(sql`${t.isOwner}`),
    index("profiles_account").on(t.accountId, t.createdAt),
    check(
      "profiles_maturity_limit",
      sql`${t.maturityLimit} is null or ${t.maturityLimit} in (${sql.raw(MATURITY_LABELS.map((l) => `'${l}'`).join(", "))})`,
    ),
  ],
);

/**
 * Users (profiles) whose state was deleted: the queue consumer drops every later or late event
 * of theirs, so nothing of a deleted profile comes back in Postgres.
 */
export const erasedUsers = pgTable("erased_users", {
  userId: text("user_id").primaryKey(),
  erasedAt: timestamp("erased_at", { withTimezone: true }).notNull().defaultNow(),
});

/** One login and every token rotated from it; revoking it refuses all of them. */
export const tokenFamilies = pgTable(
  "token_families",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** The profile signed in, when it is not the account's own (owner) profile: its tokens' `sub`. */
    profileId: text("profile_id").references(() => profiles.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** The expiry of the family's newest refresh token: after it, nothing in the family is usable. */
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    /** logout, revoked-by-owner, revoked-by-admin, refresh-token-reuse */
    revokedReason: text("revoked_reason"),
  },
  (t) => [
    index("token_families_user").on(t.userId),
    index("token_families_expires").on(t.expiresAt),
    index("token_families_profile").on(t.profileId),
  ],
);

/** Refresh tokens, stored only as the SHA-256 of the token; a spent one is kept to detect replays. */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    familyId: text("family_id")
      .notNull()
      .references(() => tokenFamilies.id, { onDelete: "cascade" }),
    userId: text("user_id").notNull(),
    issuedAt: timestamp("issued_at", { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    spentAt: timestamp("spent_at", { withTimezone: true }),
  },
  (t) => [index("refresh_tokens_family").on(t.familyId), index("refresh_tokens_expires").on(t.expiresAt)],
);

/** A/B experiments: variants with weights and the bucket ranges they own (kept stable across edits). */
export const experiments = pgTable("experiments", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  variants: jsonb("variants").$type<VariantWeight[]>().notNull(),
  allocation: jsonb("allocation").$type<Allocation>().notNull(),
  active: boolean("active").notNull().default(true),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Who saw which variant, from `experiment-exposure` events; the latest exposure (by HLC) wins. */
export const experimentAssignments = pgTable(
  "experiment_assignments",
  {
    experimentId: text("experiment_id").notNull(),
    userId: text("user_id").notNull(),
    variant: text("variant").notNull(),
    bucket: integer("bucket").notNull(),
    firstExposedAt: timestamp("first_exposed_at", { withTimezone: true }).notNull(),
    exposedAt: timestamp("exposed_at", { withTimezone: true }).notNull(),
    hlc: text("hlc").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.experimentId, t.userId] }),
    index("experiment_assignments_variant").on(t.experimentId, t.variant),
    index("experiment_assignments_user").on(t.userId),
  ],
);

/** Curated spelling corrections for search: they override the automatic typo correction. */
export const spellCorrections = pgTable(
  "spell_corrections",
  {
    misspelled: text("misspelled").primaryKey(),
    corrected: text("corrected").notNull(),
    /** How often the misspelling was seen: the most frequent corrections are kept first. */
    frequency: integer("frequency").notNull().default(0),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [check("spell_corrections_differ", sql`${t.misspelled} <> ${t.corrected}`)],
);

// ---- Webhooks (Standard Webhooks): endpoints and their deliveries ----

/**
 * An endpoint a user registered for their own events (`own`), or an admin for everyone's (`all`).
 * `secret` is the signing key (base64), shown to its owner once as `whsec_` + key.
 */
export const webhooks = pgTable(
  "webhooks",
  {
    id: text("id").primaryKey(),
    /** The profile (token subject) that registered it; an account owner's also hears the account's profiles. */
    ownerId: text("owner_id").notNull(),
    scope: text("scope", { enum: ["own", "all"] })
      .notNull()
      .default("own"),
    url: text("url").notNull(),
    /** Event type names, or ["*"] for every type. */
    events: jsonb("events").$type<string[]>().notNull(),
    secret: text("secret").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("webhooks_owner").on(t.ownerId, t.createdAt),
    index("webhooks_scope_all").on(t.scope).where(sql`${t.scope} = 'all'`),
    check("webhooks_scope", sql`${t.scope} in ('own', 'all')`),
  ],
);

/**
 * One event to one webhook: queued in the consumer's batch transaction (once per pair), tried
 * until delivered, or failed once the retry window is over, and kept for replay.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    webhookId: text("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    eventId: text("event_id").notNull(),
    type: text("type").notNull(),
    userId: text("user_id").notNull(),
    /** The event envelope, sent as the body. */
    envelope: jsonb("envelope").notNull(),
    status: text("status", { enum: ["pending", "delivered", "failed"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    /** When the next try is due; while one is under way, when its lease runs out. */
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().defaultNow(),
    lastStatusCode: integer("last_status_code"),
    lastError: text("last_error"),
    lastAttemptAt: timestamp("last_attempt_at", { withTimezone: true }),
    queuedAt: timestamp("queued_at", { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_event").on(t.webhookId, t.eventId),
    index("webhook_deliveries_recent").on(t.webhookId, t.id),
    index("webhook_deliveries_due").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    // What /health and the listings count: the rows not delivered, however many were delivered.
    index("webhook_deliveries_undelivered").on(t.webhookId).where(sql`${t.status} <> 'delivered'`),
    check("webhook_deliveries_status", sql`${t.status} in ('pending', 'delivered', 'failed')`),
  ],
);
