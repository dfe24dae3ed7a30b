import type { Context } from "hono";
import { type Config, parseConfig } from "./config";
import type { EventEnvelope } from "./contracts/events";
import type { DeliveryMonitor } from "./durable/delivery-monitor";
import type { DeviceAuthorization } from "./durable/device-authorization";
import type { RateLimiter } from "./durable/rate-limiter";
import type { SearchPublisher } from "./durable/search-publisher";
import type { UserState } from "./durable/user-state";
import type { WebhookDispatcher } from "./durable/webhook-dispatcher";

/** The Worker's bindings: what wrangler.toml declares plus the variables of `configSchema`. */
export interface Env {
  USER_STATE: DurableObjectNamespace<UserState>;
  /** Token buckets for login and register, one object per client address or account. */
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  /** The one writer of the search index's live version in KV (one object, "search"). */
  SEARCH_PUBLISHER: DurableObjectNamespace<SearchPublisher>;
  /** TV sign-ins by code (RFC 8628), one object per user code. */
  DEVICE_AUTH: DurableObjectNamespace<DeviceAuthorization>;
  /** The service-wide view of event delivery per target (one object, "events"). */
  DELIVERY_MONITOR: DurableObjectNamespace<DeliveryMonitor>;
  WEBHOOK_DISPATCHER: DurableObjectNamespace<WebhookDispatcher>;
  EVENTS: Queue<EventEnvelope>;
  SEARCH_KV: KVNamespace;
  ASSETS: Fetcher;
  [variable: string]: unknown;
}

/** The authenticated caller, set by the auth middleware. */
export interface Caller {
  /** The profile: a user in every per-user sense. */
  sub: string;
  role: "user" | "admin";
  /** The account the profile belongs to (the subject itself for a token without `acc`). */
  account: string;
  /** The profile's maturity limit (a label of src/domain/maturity.ts); absent: no limit. */
  maturityLimit?: string;
  /** The version of the profile's settings the token was issued with. */
  profileVersion?: number;
  fid?: string;
  jti?: string;
  exp?: number;
}

export interface App {
  Bindings: Env;
  /** `read`: a POST route that only reads, charged to the read budget (src/read-limits.ts). */
  Variables: { config: Config; caller: Caller; read?: boolean };
}

export type AppContext = Context<App>;

const cache = new WeakMap<object, Config>();

/** Parses the bindings once per isolate and environment object. */
export function configOf(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    config = parseConfig(env as Record<string, unknown>);
    cache.set(env, config);
  }
  return config;
}
