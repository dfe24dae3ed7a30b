import type { Config } from "../config";
import { withDatabase } from "../db/client";
import { webhooksBehind } from "../db/webhooks";
import type { TargetSummary } from "../durable/delivery-monitor";
import { outboxTargets } from "../durable/stores";
import { MIRROR_TARGET } from "../durable/stores/outbox";
import type { Env } from "../env";

export interface DeliveryFigures extends Omit<TargetSummary, "target"> {
  target: string;
  kind: "mirror" | "queue" | "webhook";
  types: readonly string[];
}

/** The webhook dispatcher (one object): kicked when new deliveries are due (src/durable/webhook-dispatcher.ts). */
export const webhookDispatcher = (env: Env) =>
  env.WEBHOOK_DISPATCHER.get(env.WEBHOOK_DISPATCHER.idFromName("webhooks"));

/** The service-wide delivery monitor (one object). */
export const deliveryMonitor = (env: Env) => env.DELIVERY_MONITOR.get(env.DELIVERY_MONITOR.idFromName("events"));

/**
 * Every configured outbox target with what the users' objects reported of it: nothing reported
 * means nothing is behind.
 */
export async function deliverySummary(env: Env, config: Config): Promise<DeliveryFigures[]> {
  const reported = new Map((await deliveryMonitor(env).summary()).map((s) => [s.target, s]));
  const figures: DeliveryFigures[] = outboxTargets(config).map((t) => ({
    users_behind: 0,
    pending: 0,
    lag_seconds: 0,
    failures: 0,
    last_error: null,
    ...reported.get(t.name),
    target: t.name,
    kind: t.name === MIRROR_TARGET ? "mirror" : "queue",
    types: t.types,
  }));
  return figures;
}

/** How many webhooks the operator's view lists, furthest behind first. */
const WEBHOOKS_LISTED = 100;

/**
 * The webhooks with deliveries not delivered (retrying or failed), from Postgres; an empty list
 * when Postgres does not answer, so the queue targets are still shown in an outage.
 */
export async function webhookDeliveryFigures(config: Config): Promise<DeliveryFigures[]> {
  try {
    const behind = await withDatabase(config, (db) => webhooksBehind(db, WEBHOOKS_LISTED));
    const now = Date.now();
    return behind.map((w) => ({
      target: w.id,
      kind: "webhook" as const,
      types: w.events,
      users_behind: w.users,
      pending: w.pending,
      lag_seconds: w.oldestPendingAt ? Math.max(0, Math.round((now - w.oldestPendingAt.getTime()) / 1000)) : 0,
      failures: w.failed,
      last_error: w.lastError,
    }));
  } catch (error) {
    console.error("webhook delivery figures unavailable", error instanceof Error ? error.message : error);
    return [];
  }
}
