/**
 * The sync document: what `GET /sync` answers and what the sync socket pushes. The types are
 * what the user's Durable Object returns; the zod schemas describe the same shapes for the HTTP
 * routes (their OpenAPI components) and for the sync socket's JSON Schema (./sync-socket.ts).
 */
import { z } from "@hono/zod-openapi";
import { DEVICE_TYPES, type DeviceType } from "../domain/device";

/** The server replica's node id in every HLC it stamps; a client stamp may not use it. */
export const SERVER_NODE = "server";

export type PlaybackState = "playing" | "paused" | "stopped";

export interface WatchlistItem {
  content_id: string;
  /** When first added (the earliest live add's HLC time), the same on every replica. */
  added_at: string;
  /** The live tags: a client removing the item sends these as the tags it observed. */
  tags: string[];
}

/** One progress register as a client sees it (resume rules applied). */
export interface ProgressItem {
  content_id: string;
  resume_position_seconds: number | null;
  position_seconds: number;
  duration_seconds: number;
  completion_percentage: number;
  watched: boolean;
  playback_state: PlaybackState;
  device_id: string | null;
  last_watched_at: string | null;
  hlc: string | null;
}

/** One completed play: each time an item was finished. */
export interface PlayItem {
  play_id: string;
  content_id: string;
  /** The episode's series; null for a film (or content the catalog does not know as an episode). */
  series_id: string | null;
  watched_at: string;
  device_id: string | null;
}

/** The user's rating of one item. */
export interface RatingItem {
  content_id: string;
  rating: number;
  rated_at: string;
  /** The LWW stamp of the rating. */
  hlc: string;
}

/** A card hidden from continue watching (a film's id, or a series' id for all of its episodes). */
export interface HiddenItem {
  content_id: string;
  hidden_at: string;
  /** The hide holds while this stamp is newer than the card's latest progress write. */
  hlc: string;
}

/**
 * A free-form JSON object (device capabilities). Typed shallowly on purpose: a recursive JSON
 * type is too deep for the RPC stub types.
 */
export type JsonObject = Record<string, string | number | boolean | null | object>;

export interface DeviceInput {
  device_type: DeviceType;
  platform: string;
  capabilities: JsonObject;
  app_version: string;
  device_name: string;
}

export interface Device extends DeviceInput {
  device_id: string;
  is_online: boolean;
  last_seen: string;
  registered_at: string;
  updated_at: string;
}

export interface SyncSection<T> {
  items: T[];
  /** Keys that no longer exist (removed from the watchlist, progress cleared, device deleted). */
  removed: string[];
}

export type SyncReason = "initial" | "gc" | "unknown-cursor";

/** A full state or the changes after a cursor. */
export interface SyncDocument {
  cursor: string;
  full: boolean;
  /** Why the state is full: no cursor, a cursor from before a garbage collection, or one this log never issued. */
  reason: SyncReason | null;
  /** The server's clock: a client merges it into its own so its next stamps come after everything it saw. */
  hlc: string;
  watchlist: SyncSection<WatchlistItem>;
  progress: SyncSection<ProgressItem>;
  devices: SyncSection<Device>;
  ratings: SyncSection<RatingItem>;
  hidden: SyncSection<HiddenItem>;
  plays: SyncSection<PlayItem>;
}

export type OpStatus = "applied" | "duplicate" | "stale";

export interface OpsResult {
  results: { op_id: string; status: OpStatus }[];
  cursor: string;
  hlc: string;
}

// ---- the same shapes as zod schemas (named for the OpenAPI document) ----

const timestamp = z.iso.datetime({ offset: true });

/** One progress register as playback and history answer it. */
export const progressItemSchema = z
  .object({
    content_id: z.string(),
    resume_position_seconds: z.number().nullable().describe("null when the rules say start over"),
    position_seconds: z.number(),
    duration_seconds: z.number(),
    completion_percentage: z.number().min(0).max(100),
    watched: z.boolean(),
    playback_state: z.enum(["playing", "paused", "stopped"]),
    device_id: z.string().nullable(),
    last_watched_at: timestamp.nullable(),
  })
  .openapi("ProgressItem");

/** A progress register as sync answers it: with its last-writer-wins stamp. */
export const syncProgressSchema = progressItemSchema
  .extend({ hlc: z.string().nullable().describe("the LWW stamp of the register") })
  .openapi("SyncProgress");

export const watchlistItemSchema = z
  .object({
    content_id: z.string(),
    added_at: timestamp,
    tags: z.array(z.string()).describe("live tags; a remove names the ones it observed"),
  })
  .openapi("WatchlistItem");

export const deviceSchema = z
  .object({
    device_id: z.string(),
    device_type: z.enum(DEVICE_TYPES),
    platform: z.string(),
    capabilities: z.record(z.string(), z.unknown()),
    app_version: z.string(),
    device_name: z.string(),
    is_online: z.boolean(),
    last_seen: timestamp,
    registered_at: timestamp,
    updated_at: timestamp,
  })
  .openapi("Device");

export const playItemSchema = z
  .object({
    play_id: z.string(),
    content_id: z.string(),
    series_id: z.string().nullable().describe("the episode's series; null for a film"),
    watched_at: timestamp,
    device_id: z.string().nullable(),
  })
  .openapi("Play");

export const ratingItemSchema = z
  .object({
    content_id: z.string(),
    rating: z.number().int().min(1).max(10),
    rated_at: timestamp,
  })
  .openapi("Rating");

const syncRatingSchema = ratingItemSchema
  .extend({ hlc: z.string().describe("the LWW stamp of the rating") })
  .openapi("SyncRating");

const hiddenItemSchema = z
  .object({
    content_id: z.string().describe("a film's id, or a series' id (every episode of it)"),
    hidden_at: timestamp,
    hlc: z
      .string()
      .describe("the hide holds while this stamp is newer than the latest progress write of the film or series"),
  })
  .openapi("HiddenItem");

const section = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    removed: z.array(z.string()).describe("keys that no longer exist"),
  });

export const syncDocumentSchema = z
  .object({
    cursor: z.string().describe("pass as `since` next time"),
    full: z.boolean(),
    reason: z
      .enum(["initial", "gc", "unknown-cursor"])
      .nullable()
      .describe("why the state is full (no cursor, cursor older than a garbage collection, …)"),
    hlc: z.string().describe("the server clock; merge it into the client's HLC"),
    watchlist: section(watchlistItemSchema),
    progress: section(syncProgressSchema),
    devices: section(deviceSchema),
    ratings: section(syncRatingSchema),
    hidden: section(hiddenItemSchema).describe("cards hidden from continue watching; `removed` lists unhidden ones"),
    plays: section(playItemSchema).describe("completed plays; `removed` lists plays unwatched or cleared"),
  })
  .openapi("SyncDocument");
