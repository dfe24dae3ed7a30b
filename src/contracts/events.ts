import { z } from "zod";
import { DEVICE_TYPES } from "../domain/device";
import { HLC_PATTERN } from "../domain/hlc";

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the one character Postgres text cannot hold
const NO_NUL = /^[^\u0000]*$/;
/** Text Postgres can store (no NUL), so a decoded event never fails in SQL and blocks its batch. */
export const eventText = (max = 256) => z.string().min(1).max(max).regex(NO_NUL, "must not contain NUL");
/** Free text (may be empty) Postgres can store. */
export const eventString = z.string().max(4096).regex(NO_NUL, "must not contain NUL");
/** ISO-8601 UTC (or with an offset); Postgres' timestamptz takes it as is. */
export const eventTimestamp = z.iso.datetime({ offset: true });
/** Seconds as float8: finite, non-negative, no larger than ten years. */
const eventSeconds = z.number().min(0).max(315_360_000);

/**
 * The events on the EVENTS queue. Delivery is at least once: `event_id` is the idempotency key,
 * and per user, `hlc` orders events. Each type carries its own `version`; a consumer skips a type
 * it does not know or a version newer than it understands.
 */
const progressData = z.object({
  content_id: eventText(),
  position_seconds: eventSeconds,
  duration_seconds: eventSeconds,
  completion_percentage: z.number().min(0).max(100),
  watched: z.boolean(),
  state: z.enum(["playing", "paused", "stopped"]),
  device_id: eventText().nullable(),
  last_watched_at: eventTimestamp,
  /** true when the progress was removed (unwatched, cleared). */
  deleted: z.boolean(),
  /** The episode's series and place in it; absent or null for a film. */
  series_id: eventText().nullable().optional(),
  season_number: z.number().int().min(0).nullable().optional(),
  episode_number: z.number().int().min(0).nullable().optional(),
});

/** One completed play: the item was finished (watched rule, credits, or marked watched). */
const playData = z.object({
  /** Names the play: the same play reported twice carries the same id. */
  play_id: eventText(),
  content_id: eventText(),
  series_id: eventText().nullable(),
  season_number: z.number().int().min(0).nullable(),
  episode_number: z.number().int().min(0).nullable(),
  watched_at: eventTimestamp,
  device_id: eventText().nullable(),
});

/** A rating set or removed. */
const ratingData = z.object({
  content_id: eventText(),
  /** 1-10; null when the user removed the rating. */
  rating: z.number().int().min(1).max(10).nullable(),
  rated_at: eventTimestamp,
});

const sessionData = z.object({
  session_id: eventText(),
  content_id: eventText(),
  device_id: eventText(),
  position_seconds: eventSeconds,
  duration_seconds: eventSeconds,
  playback_state: z.enum(["playing", "paused", "stopped"]),
});

// ---- cross-device sync ----
const hlcText = z.string().regex(HLC_PATTERN);

/** One watchlist element after a change: every tag the object still holds, live or removed. */
const watchlistData = z.object({
  content_id: eventText(),
  /** Whether the element is in the effective watchlist. */
  present: z.boolean(),
  entries: z.array(
    z.object({
      tag: eventText(),
      /** null while only a remove that observed the tag has arrived. */
      added_hlc: hlcText.nullable(),
      /** null while the tag is live. */
      removed_hlc: hlcText.nullable(),
    }),
  ),
});

const deviceData = z.object({
  device_id: eventText(),
  device_type: z.enum(DEVICE_TYPES),
  platform: eventString,
  capabilities: z.record(z.string(), z.unknown()),
  app_version: eventString,
  device_name: eventString,
  last_seen: eventTimestamp,
  is_online: z.boolean(),
  /** true once the user removed the device. */
  deleted: z.boolean(),
});
// Personalization jobs (issue 6): asked for through the user's outbox, run by the queue consumer.
const profileJobData = z.object({ job_id: eventText(128) });
export type ProfileJobKind = "profile-rebuild" | "adapter-train";
export const PROFILE_JOB_EVENTS = {
  "profile-rebuild": "profile-rebuild-requested",
  "adapter-train": "adapter-train-requested",
} as const satisfies Record<ProfileJobKind, string>;

export const eventDataSchemas = {
  "session-created": { version: 1, data: sessionData },
  "position-updated": { version: 1, data: sessionData },
  "session-ended": {
    version: 1,
    data: sessionData.extend({
      completion_rate: z.number().min(0).max(1),
      reason: z.enum(["ended", "idle"]),
    }),
  },
  "progress-changed": { version: 1, data: progressData },
  "play-completed": { version: 1, data: playData },
  "rating-changed": { version: 1, data: ratingData },
  "history-cleared": { version: 1, data: z.object({ before_hlc: z.string().regex(HLC_PATTERN) }) },
  /** A user was first shown a variant of an experiment (again only if a weight change moved them). */
  "experiment-exposure": {
    version: 1,
    data: z.object({
      experiment_id: eventText(128),
      variant: eventText(64),
      bucket: z.number().int().min(0).max(9999),
      /** When the user was first exposed to this experiment, in any variant. */
      first_exposed_at: eventTimestamp,
    }),
  },
  "watchlist-changed": { version: 1, data: watchlistData },
  "device-changed": { version: 1, data: deviceData },
  "profile-rebuild-requested": { version: 1, data: profileJobData },
  /** A profile of a household was deleted: every row of its user goes, and later events of it are dropped. */
  "profile-deleted": { version: 1, data: z.object({ erased_at: eventTimestamp }) },
  "adapter-train-requested": { version: 1, data: profileJobData },
} as const;

export type EventType = keyof typeof eventDataSchemas;
export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]["data"]>;

export const envelopeSchema = z.object({
  event_id: eventText(128),
  type: z.string().min(1).max(64),
  version: z.number().int().min(1),
  user_id: eventText(256),
  occurred_at: eventTimestamp,
  hlc: z.string().regex(HLC_PATTERN),
  data: z.unknown(),
});

export type EventEnvelope = z.infer<typeof envelopeSchema>;

export type TypedEnvelope<T extends EventType> = Omit<EventEnvelope, "type" | "data"> & {
  type: T;
  data: EventData<T>;
};

export function makeEvent<T extends EventType>(
  type: T,
  userId: string,
  hlc: string,
  data: EventData<T>,
  now: Date = new Date(),
): TypedEnvelope<T> {
  return {
    event_id: crypto.randomUUID(),
    type,
    version: eventDataSchemas[type].version,
    user_id: userId,
    occurred_at: now.toISOString(),
    hlc,
    data,
  };
}

export type Decoded =
  | { kind: "event"; event: { [T in EventType]: TypedEnvelope<T> }[EventType] }
  | { kind: "skip"; reason: string }
  | { kind: "malformed"; reason: string };

/** Checks a message off the queue against the envelope and its type's schema. */
export function decodeEvent(body: unknown): Decoded {
  const envelope = envelopeSchema.safeParse(body);
  if (!envelope.success) return { kind: "malformed", reason: envelope.error.message };
  const { type, version } = envelope.data;
  const known = (eventDataSchemas as Record<string, { version: number; data: z.ZodType }>)[type];
  if (!known) return { kind: "skip", reason: `unknown type ${type}` };
  if (version > known.version) return { kind: "skip", reason: `${type} v${version} is newer than v${known.version}` };
  const data = known.data.safeParse(envelope.data.data);
  if (!data.success) return { kind: "malformed", reason: `${type}: ${data.error.message}` };
  return { kind: "event", event: { ...envelope.data, data: data.data } as never };
}
