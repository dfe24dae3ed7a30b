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
