/**
 * Webhook deliveries (Standard Webhooks): which webhooks hear an event, how a delivery is signed
 * and sent, and the runner that tries due deliveries (after each consumer batch, and every minute
 * from the cron).
 */
import type { Config } from "../config";
import type { EventEnvelope } from "../contracts/events";
import { type Queryable, withDatabase } from "../db/client";
import { erasedAmong } from "../db/profiles";
import {
  type ClaimedDelivery,
  claimDueDeliveries,
  markAttemptFailed,
  markDelivered,
  pruneDeliveries,
  queueDeliveries,
  type WebhookTarget,
  webhooksFor,
} from "../db/webhooks";
import { judgeWebhookUrl } from "../domain/webhook-address";
import { afterFailure, type RetryPolicy } from "../domain/webhook-retry";

export const SECRET_PREFIX = "whsec_";

/** A new signing key: 32 random bytes, base64 (the secret shown to the user is `whsec_` + this). */
export function newSigningKey(): string {
  return base64(crypto.getRandomValues(new Uint8Array(32)));
}

function base64(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

const keys = new Map<string, Promise<CryptoKey>>();

function signingKey(keyBase64: string): Promise<CryptoKey> {
  let key = keys.get(keyBase64);
  if (!key) {
    const raw = Uint8Array.from(atob(keyBase64), (c) => c.charCodeAt(0));
    key = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    if (keys.size > 1000) keys.clear();
    keys.set(keyBase64, key);
  }
  return key;
}

/** `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)): the `webhook-signature` header. */
export async function signWebhook(keyBase64: string, id: string, timestamp: number, body: string): Promise<string> {
  const mac = await crypto.subtle.sign(
    "HMAC",
    await signingKey(keyBase64),
    new TextEncoder().encode(`${id}.${timestamp}.${body}`),
  );
  return `v1,${base64(new Uint8Array(mac))}`;
}

/** The body of a delivery: the envelope with its fields in the published order. */
export function deliveryBody(e: EventEnvelope): string {
  const { event_id, type, version, user_id, occurred_at, hlc, data } = e;
  return JSON.stringify({ event_id, type, version, user_id, occurred_at, hlc, data });
}

// ---- fan-out, in the consumer's batch transaction ----

/** Whether a webhook hears an event: its types, and whose events they are. */
export function webhookHears(target: WebhookTarget, event: EventEnvelope, accountOf: Map<string, string>): boolean {
  if (!target.events.includes("*") && !target.events.includes(event.type)) return false;
  if (target.scope === "all") return true;
  return target.ownerId === event.user_id || target.ownerId === accountOf.get(event.user_id);
}

/**
 * Queues one delivery per (webhook, event) that matches, in the caller's transaction, so a batch
 * that commits has queued its deliveries and one that rolls back has queued none. Events of
 * deleted profiles are not delivered. Answers how many deliveries are new.
 */
export async function queueWebhookDeliveries(tx: Queryable, events: readonly EventEnvelope[]): Promise<number> {
  if (events.length === 0) return 0;
  const { targets, accountOf } = await webhooksFor(tx, [...new Set(events.map((e) => e.user_id))]);
  if (targets.length === 0) return 0;
  const rows: { webhookId: string; event: EventEnvelope }[] = [];
  for (const event of events) {
    for (const target of targets)
      if (webhookHears(target, event, accountOf)) rows.push({ webhookId: target.id, event });
  }
  if (rows.length === 0) return 0;
  const erased = await erasedAmong(tx, [...new Set(rows.map((r) => r.event.user_id))]);
  return queueDeliveries(
    tx,
    rows.filter((r) => r.event.type === "profile-deleted" || !erased.has(r.event.user_id)),
  );
}

// ---- sending ----

export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
}

/**
 * One POST of a delivery: signed, bounded by the timeout, redirects not followed (a redirect is a
 * failure), the answer's body never read. The address is judged again first: a URL accepted
 * under other settings is not called.
 */
export async function sendDelivery(
  config: Config,
  delivery: Pick<ClaimedDelivery, "eventId" | "envelope" | "url" | "secret">,
  now: Date,
): Promise<AttemptOutcome> {
  const verdict = judgeWebhookUrl(delivery.url, { allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK });
  if (!verdict.ok) return { ok: false, statusCode: null, error: `not sent: the URL ${verdict.reason}` };
  const body = deliveryBody(delivery.envelope);
  const timestamp = Math.floor(now.getTime() / 1000);
  const headers = {
    "content-type": "application/json",
    "user-agent": "media-gateway-webhooks/1",
    "webhook-id": delivery.eventId,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signWebhook(delivery.secret, delivery.eventId, timestamp, body),
  };
  try {
    const res = await fetch(verdict.url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(config.WEBHOOK_TIMEOUT_MS),
    });
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) return { ok: true, statusCode: res.status, error: null };
    const what = res.status >= 300 && res.status < 400 ? "a redirect (not followed)" : `status ${res.status}`;
    return { ok: false, statusCode: res.status, error: `the endpoint answered ${what}` };
  } catch (error) {
    const name = (error as { name?: string }).name;
    const timedOut = name === "TimeoutError" || name === "AbortError";
    return {
      ok: false,
      statusCode: null,
      error: timedOut ? `no answer in ${config.WEBHOOK_TIMEOUT_MS} ms` : `request failed: ${String(error)}`,
    };
  }
}

export const retryPolicy = (config: Config): RetryPolicy => ({
  baseSeconds: config.WEBHOOK_RETRY_BASE_SECONDS,
  maxDelaySeconds: config.WEBHOOK_RETRY_MAX_DELAY_SECONDS,
  windowSeconds: config.WEBHOOK_RETRY_WINDOW_SECONDS,
});

export interface DeliveryRunReport {
  attempted: number;
  delivered: number;
  retrying: number;
  failed: number;
}

const CONCURRENCY = 8;

/**
 * Tries due deliveries, `limit` at most, `CONCURRENCY` at a time; each attempt is recorded as
 * delivered, due again after its backoff, or failed once the retry window is over.
 */
export async function deliverDueWebhooks(
  config: Config,
  opts: { limit?: number; now?: () => Date } = {},
): Promise<DeliveryRunReport> {
  const now = opts.now ?? (() => new Date());
  const report: DeliveryRunReport = { attempted: 0, delivered: 0, retrying: 0, failed: 0 };
  await withDatabase(config, async (db) => {
    const leaseSeconds = Math.ceil(config.WEBHOOK_TIMEOUT_MS / 1000) + 60;
    const claimed = await claimDueDeliveries(db, { now: now(), leaseSeconds, limit: opts.limit ?? 100 });
    const queue = [...claimed];
    const policy = retryPolicy(config);
    const worker = async () => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        report.attempted++;
        const outcome = await sendDelivery(config, d, now());
        const at = now();
        if (outcome.ok) {
          report.delivered++;
          await markDelivered(db, d.id, outcome.statusCode ?? 200, at);
          continue;
        }
        const next = afterFailure(policy, d.attempts, d.queuedAt, at);
        if (next.kind === "retry") report.retrying++;
        else report.failed++;
        await markAttemptFailed(db, d.id, {
          statusCode: outcome.statusCode,
          error: outcome.error ?? "failed",
          retryAt: next.kind === "retry" ? next.at : null,
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
  });
  return report;
}

/** The per-minute cron's job: retries due deliveries, then drops those past retention. */
export async function runWebhookRetries(config: Config, now = new Date()): Promise<string> {
  let total: DeliveryRunReport = { attempted: 0, delivered: 0, retrying: 0, failed: 0 };
  // A few rounds, so a backlog drains faster than 100 a minute; each round is bounded by the timeout.
  for (let round = 0; round < 5; round++) {
    const r = await deliverDueWebhooks(config);
    total = {
      attempted: total.attempted + r.attempted,
      delivered: total.delivered + r.delivered,
      retrying: total.retrying + r.retrying,
      failed: total.failed + r.failed,
    };
    if (r.attempted < 100) break;
  }
  const before = new Date(now.getTime() - config.WEBHOOK_DELIVERY_RETENTION_DAYS * 86_400_000);
  const pruned = await withDatabase(config, (db) => pruneDeliveries(db, before));
  return `${total.attempted} attempted, ${total.delivered} delivered, ${total.retrying} to retry, ${total.failed} failed, ${pruned} old deliveries deleted`;
}
