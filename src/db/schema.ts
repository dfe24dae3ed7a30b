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
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
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
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check("content_kind", sql`${t.kind} in ('movie', 'series', 'episode')`),
    index("content_popular").on(t.votes.desc(), t.id),
    index("content_series").on(t.seriesId, t.seasonNumber, t.episodeNumber).where(sql`${t.seriesId} is not null`),
    index("content_year").on(t.year),
  ],
);

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
