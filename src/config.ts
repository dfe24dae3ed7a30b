import { z } from "zod";
import { eventDataSchemas } from "./contracts/events";

/**
 * Every setting the service reads, with its default. The Worker parses its bindings with this
 * schema; the local stack and the scripts parse process.env with it, so a bad value stops
 * startup with the same message everywhere.
 */
const seconds = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const percent = (fallback: number) => z.coerce.number().min(0).max(100).default(fallback);
const optionalUrl = z.preprocess((v) => (v === "" ? undefined : v), z.string().url().optional());

/** A subscriber queue: its producer binding (wrangler.toml) and the event types it gets ("*": all). */
const eventSubscriber = z
  .object({
    binding: z
      .string()
      .regex(/^[A-Z][A-Z0-9_]*$/, "must be a binding name (A-Z, 0-9, _)")
      .refine((b) => b !== "EVENTS", "EVENTS is the mirror's own queue"),
    types: z
      .array(
        z.string().refine((t) => t === "*" || Object.hasOwn(eventDataSchemas, t), 'must be an event type name or "*"'),
      )
      .min(1),
  })
  .strict();
export type EventSubscriber = z.infer<typeof eventSubscriber>;

/** EVENT_SUBSCRIBERS: a JSON list of subscribers, each binding once. */
const eventSubscribers = z.preprocess(
  (v) => {
    if (typeof v !== "string") return v;
    if (v.trim() === "") return [];
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  },
  z
    .array(eventSubscriber)
    .max(20)
    .refine((list) => new Set(list.map((s) => s.binding)).size === list.length, "each binding at most once")
    .default([]),
);

export const configSchema = z
  .object({
    JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    JWT_JWKS_URL: optionalUrl,
    JWT_ISSUER: z.string().min(1).optional(),
    JWT_AUDIENCE: z.string().min(1).optional(),
    ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(900),
    REFRESH_TOKEN_TTL_SECONDS: z.coerce
      .number()
      .int()
      .min(3600)
      .default(30 * 86_400),

    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
      .optional(),
    /** host:port of the WebSocket-to-TCP proxy the Neon driver uses locally; unset on Neon. */
    DB_WS_PROXY: z
      .string()
      .regex(/^[\w.-]+:\d+$/, "must be host:port")
      .optional(),

    RESUME_MIN_SECONDS: seconds(30),
    RESUME_MAX_PERCENT: percent(95),
    WATCHED_PERCENT: percent(90),
    SESSION_IDLE_SECONDS: z.coerce.number().int().min(10).default(1800),
    /** How often a playing session's progress is written through to Postgres. */
    HISTORY_FLUSH_SECONDS: z.coerce.number().int().min(0).default(300),
    /** Events wait this long for others to share one queue send (fewer, fuller batches). */
    OUTBOX_LINGER_MS: z.coerce.number().int().min(0).max(10_000).default(250),
    OUTBOX_MAX_BACKOFF_SECONDS: z.coerce.number().int().min(1).default(300),
    QUEUE_RETRY_DELAY_SECONDS: z.coerce.number().int().min(0).max(43_200).default(30),
    DEVICE_OFFLINE_SECONDS: z.coerce.number().int().min(10).default(300),
    TOMBSTONE_MAX_AGE_SECONDS: z.coerce
      .number()
      .int()
      .min(60)
      .default(30 * 86_400),
    RATE_LIMIT_WRITES_PER_MINUTE: z.coerce.number().int().min(1).default(600),
    RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(120),
    PROFILE_HALF_LIFE_DAYS: z.coerce.number().positive().default(30),
    /** Reads per user (token bucket in the user's object): a burst, then this many per minute; 0: no limit. */
    RATE_LIMIT_READS_PER_MINUTE: z.coerce.number().min(0).default(1200),
    RATE_LIMIT_READ_BURST: z.coerce.number().int().min(1).default(300),
    /** Anonymous reads (search, autocomplete, catalog) per client address; 0: no limit. */
    READ_IP_PER_MINUTE: z.coerce.number().min(0).default(3000),
    READ_IP_BURST: z.coerce.number().int().min(1).default(600),

    // Accounts and experiments (issue 5).
    /** Login/register attempts per client address: a burst, then this many per minute. */
    AUTH_IP_BURST: z.coerce.number().int().min(1).default(20),
    AUTH_IP_PER_MINUTE: z.coerce.number().min(0.01).default(10),
    /** Login/register attempts per account (email), whatever the address: a burst, then this many per hour. */
    AUTH_ACCOUNT_BURST: z.coerce.number().int().min(1).default(10),
    AUTH_ACCOUNT_PER_HOUR: z.coerce.number().min(0.01).default(20),
    /** Token families and refresh tokens are deleted this long after they stopped being usable. */
    TOKEN_RETENTION_DAYS: z.coerce.number().int().min(0).default(30),
    /** How long an isolate serves experiment definitions from memory before reloading them. */
    EXPERIMENT_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
    /** Exposes /api/v1/_bench/ping (a bare Durable Object round trip) and /_bench/outbox for `npm run bench`. */
    BENCH_ROUTES: z
      .enum(["true", "false"])
      .default("false")
      .transform((v) => v === "true"),

    // ---- cross-device sync ----
    /** Ops per POST /sync/ops batch; a bigger batch is refused whole. */
    SYNC_MAX_OPS_PER_BATCH: z.coerce.number().int().min(1).max(5000).default(500),
    /** A client HLC further ahead of the server's wall clock than this is refused. */
    SYNC_MAX_CLOCK_DRIFT_SECONDS: z.coerce.number().int().min(1).default(86_400),
    /** Registered devices per user; registering one more is refused. */
    SYNC_MAX_DEVICES: z.coerce.number().int().min(1).default(50),
    /** Ops in a batch that cost one rate-limit token (a request costs at least one). */
    SYNC_OPS_PER_TOKEN: z.coerce.number().int().min(1).default(10),
    // Recommendations (issue 6)
    /** How long an isolate keeps the catalog's feature vectors before reloading them from Postgres. */
    RECOMMEND_CATALOG_TTL_SECONDS: z.coerce.number().int().min(1).default(300),
    /** At most this many items of one genre in any ten consecutive recommendations. */
    RECOMMEND_MAX_PER_GENRE: z.coerce.number().int().min(1).max(10).default(4),
    /** How often an isolate asks KV whether a new shared recommendation model was published. */
    RECOMMEND_MODEL_CHECK_SECONDS: z.coerce.number().min(0).max(3600).default(5),
    /** How long an isolate reuses a trending list before asking Postgres again. */
    TRENDING_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
    // Search and discovery
    /** How often an isolate asks KV whether a new search index version was published. */
    SEARCH_VERSION_CHECK_SECONDS: z.coerce.number().min(0).max(3600).default(5),
    /** Index versions kept in KV after a newer one lands, so open result cursors stay valid. */
    SEARCH_SNAPSHOTS_KEPT: z.coerce.number().int().min(1).max(20).default(3),
    /** One play from watch history counts as this many votes in popularity. */
    SEARCH_PLAY_WEIGHT: z.coerce.number().min(0).default(1000),
    /** How long an isolate reuses a user's genre affinity for personalized search. */
    SEARCH_AFFINITY_CACHE_SECONDS: seconds(60),
    /**
     * Edge cache lifetime of autocomplete responses. The cache key carries the index version, so a
     * new catalog is never hidden behind it; 5 minutes keeps over 80 % of keystrokes cached.
     */
    AUTOCOMPLETE_CACHE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
    // ---- households and TV sign-in ----
    /** Profiles per account, the owner's included. */
    PROFILES_MAX: z.coerce.number().int().min(1).max(100).default(6),
    /** PIN attempts per profile: a burst, then this many per hour. */
    PIN_ATTEMPTS_BURST: z.coerce.number().int().min(1).default(5),
    PIN_ATTEMPTS_PER_HOUR: z.coerce.number().min(0.01).default(10),
    /** Whether limited profiles see content without a rating (or with one off the scale). */
    MATURITY_ALLOW_UNRATED: z
      .enum(["true", "false"])
      .default("false")
      .transform((v) => v === "true"),
    /** Lifetime of a TV sign-in code (RFC 8628 `expires_in`). */
    DEVICE_CODE_TTL_SECONDS: z.coerce.number().int().min(30).max(3600).default(600),
    /** Seconds a TV waits between polls (RFC 8628 `interval`); polling sooner is `slow_down`. */
    DEVICE_CODE_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(60).default(5),
    /** Codes a client address may ask for: a burst, then this many per hour. */
    DEVICE_CODE_BURST: z.coerce.number().int().min(1).default(10),
    DEVICE_CODE_PER_HOUR: z.coerce.number().min(0.01).default(30),
    /** User codes an account (and, separately, a client address) may try to approve: a burst, then this many per hour. */
    DEVICE_APPROVE_BURST: z.coerce.number().int().min(1).default(10),
    DEVICE_APPROVE_PER_HOUR: z.coerce.number().min(0.01).default(20),
    // Series and the viewing record
    /** How often an isolate (a user's object above all) asks KV for a new version of the catalog facts. */
    CATALOG_FACTS_CHECK_SECONDS: z.coerce.number().min(0).max(3600).default(5),
    // ---- webhooks (Standard Webhooks) ----
    /** Lets webhooks call loopback (127.0.0.0/8, ::1, localhost), over plain http too; true for the local stack. */
    WEBHOOK_ALLOW_LOOPBACK: z
      .enum(["true", "false"])
      .default("false")
      .transform((v) => v === "true"),
    /** A delivery with no answer in this time is a failed attempt. */
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(10_000),
    /** The first retry's wait; each next one doubles, up to WEBHOOK_RETRY_MAX_DELAY_SECONDS. */
    WEBHOOK_RETRY_BASE_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
    WEBHOOK_RETRY_MAX_DELAY_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .default(4 * 3600),
    /** How long after an event was queued its delivery is still retried; then it is failed (and kept). */
    WEBHOOK_RETRY_WINDOW_SECONDS: z.coerce.number().int().min(0).default(86_400),
    /** Webhooks per user. */
    WEBHOOK_MAX_PER_USER: z.coerce.number().int().min(1).max(100).default(10),
    /** Delivered and failed deliveries are deleted this long after their last change. */
    WEBHOOK_DELIVERY_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
    // ---- event subscribers and the event log ----
    /** Subscriber queues the outbox also delivers to: `[{"binding":"EVENTS_ANALYTICS","types":["*"]}]`. */
    EVENT_SUBSCRIBERS: eventSubscribers,
    /** Days the event log (`event_log`) keeps an applied event for reads and replays. */
    EVENT_LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(365).default(7),
  })
  .superRefine((c, ctx) => {
    if (c.WATCHED_PERCENT > c.RESUME_MAX_PERCENT) {
      ctx.addIssue({
        code: "custom",
        path: ["WATCHED_PERCENT"],
        message: "must not exceed RESUME_MAX_PERCENT",
      });
    }
    if (!c.JWT_SECRET && !c.JWT_JWKS_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["JWT_SECRET"],
        message: "set JWT_SECRET (HS256) or JWT_JWKS_URL (an outside identity provider)",
      });
    }
  });

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses settings from any record of strings; throws a ConfigError naming every bad variable. */
export function parseConfig(source: Record<string, unknown>): Config {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = source[key];
    if (typeof value === "string" || typeof value === "number") picked[key] = value;
  }
  const result = configSchema.safeParse(picked);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  return result.data;
}

/** The subscriber queues of the local stack and the tests (their producers are in wrangler.toml). */
export const LOCAL_EVENT_SUBSCRIBERS = JSON.stringify([
  { binding: "EVENTS_ANALYTICS", types: ["*"] },
  { binding: "EVENTS_SCROBBLER", types: ["progress-changed", "play-completed", "watchlist-changed"] },
] satisfies EventSubscriber[]);

/** The secret the local stack, the token script and the tests share. Never used in production. */
export const LOCAL_DEV_JWT_SECRET = "local-development-secret-not-for-production-use";
