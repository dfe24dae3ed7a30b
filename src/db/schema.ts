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
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import type { Allocation, VariantWeight } from "../domain/experiments";

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

/** One login and every token rotated from it; revoking it refuses all of them. */
export const tokenFamilies = pgTable(
  "token_families",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    /** The expiry of the family's newest refresh token: after it, nothing in the family is usable. */
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    /** logout, revoked-by-owner, revoked-by-admin, refresh-token-reuse */
    revokedReason: text("revoked_reason"),
  },
  (t) => [index("token_families_user").on(t.userId), index("token_families_expires").on(t.expiresAt)],
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
