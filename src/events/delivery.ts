import type { Config } from "../config";
import type { TargetSummary } from "../durable/delivery-monitor";
import { outboxTargets } from "../durable/stores";
import { MIRROR_TARGET } from "../durable/stores/outbox";
import type { Env } from "../env";

export interface DeliveryFigures extends Omit<TargetSummary, "target"> {
  target: string;
  kind: "mirror" | "queue" | "webhook";
  types: readonly string[];
}

/** The service-wide delivery monitor (one object). */
export const deliveryMonitor = (env: Env) => env.DELIVERY_MONITOR.get(env.DELIVERY_MONITOR.idFromName("events"));

/**
 * Every configured outbox target with what the users' objects reported of it: nothing reported
 * means nothing is behind.
 * Webhooks add their own entries (`kind: "webhook"`) here.
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
