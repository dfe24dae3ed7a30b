/**
 * The sync document: what `GET /sync` answers and what the sync socket pushes. The types are
 * what the user's Durable Object returns; the zod schemas describe the same shapes for the
 * WebSocket protocol's published JSON Schema (see ./sync-socket.ts).
 */
import { z } from "zod";
import { DEVICE_TYPES, type DeviceType } from "../domain/device";
import { HLC_PATTERN } from "../domain/hlc";

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
}

export type OpStatus = "applied" | "duplicate" | "stale";

export interface OpsResult {
  results: { op_id: string; status: OpStatus }[];
  cursor: string;
  hlc: string;
}

// ---- the same shapes as zod schemas ----

const timestamp = z.iso.datetime({ offset: true });
const hlc = z.string().regex(HLC_PATTERN);

export const watchlistItemSchema = z.object({
  content_id: z.string(),
  added_at: timestamp,
  tags: z.array(z.string()).describe("live tags; a remove names the ones it observed"),
});

export const progressItemSchema = z.object({
  content_id: z.string(),
  resume_position_seconds: z.number().nullable().describe("null when the rules say start over"),
  position_seconds: z.number(),
  duration_seconds: z.number(),
  completion_percentage: z.number().min(0).max(100),
  watched: z.boolean(),
  playback_state: z.enum(["playing", "paused", "stopped"]),
  device_id: z.string().nullable(),
  last_watched_at: timestamp.nullable(),
  hlc: hlc.nullable().describe("the LWW stamp of the register"),
});

export const deviceSchema = z.object({
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
});

const section = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    removed: z.array(z.string()).describe("keys that no longer exist"),
  });

export const syncDocumentSchema = z.object({
  cursor: z.string().describe("pass as `since` next time"),
  full: z.boolean(),
  reason: z
    .enum(["initial", "gc", "unknown-cursor"])
    .nullable()
    .describe("why the state is full (no cursor, cursor older than a garbage collection, …)"),
  hlc: hlc.describe("the server clock; merge it into the client's HLC"),
  watchlist: section(watchlistItemSchema),
  progress: section(progressItemSchema),
  devices: section(deviceSchema),
});
