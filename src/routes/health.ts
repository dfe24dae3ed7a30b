import { createRoute, z } from "@hono/zod-openapi";
import { ping, withDatabase } from "../db/client";
import { webhookBacklogSummary } from "../db/webhooks";
import { configOf } from "../env";
import { deliverySummary } from "../events/delivery";
import { router } from "./router";

const check = z.object({ ok: z.boolean(), latency_ms: z.number(), error: z.string().optional() });
const webhookSummary = z
  .object({
    webhooks: z.number().int().openapi({ description: "registered webhooks" }),
    pending: z.number().int().openapi({ description: "deliveries not yet delivered, all webhooks together" }),
    retrying: z.number().int().openapi({ description: "of those, deliveries that failed at least once" }),
    failed: z.number().int().openapi({ description: "deliveries out of retries (kept, replayable)" }),
    lag_seconds: z.number().nullable().openapi({ description: "age of the oldest undelivered delivery" }),
  })
  .openapi("WebhookHealth");
const delivery = z.object({
  target: z.string(),
  kind: z.enum(["mirror", "queue", "webhook"]),
  pending: z.number().int(),
  lag_seconds: z.number().int(),
  failures: z.number().int(),
});
const healthSchema = z
  .object({
    status: z.enum(["ok", "degraded"]),
    checks: z.record(z.string(), check),
    webhooks: webhookSummary.optional().openapi({ description: "absent when Postgres did not answer in time" }),
    deliveries: z.array(delivery).optional().openapi({
      description: "per event delivery target: events not delivered yet, the oldest's age, refused sends",
    }),
  })
  .openapi("Health");

/** The webhooks' backlog in one aggregate over undelivered rows; undefined when Postgres does not answer in time. */
async function webhookHealth(
  config: ReturnType<typeof configOf>,
  timeoutMs = 3000,
): Promise<z.infer<typeof webhookSummary> | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const summary = await Promise.race([
      withDatabase(config, webhookBacklogSummary),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      }),
    ]);
    if (!summary) return undefined;
    const { oldestPendingAt, ...counts } = summary;
    return {
      ...counts,
      lag_seconds: oldestPendingAt ? Math.max(0, Math.round((Date.now() - oldestPendingAt.getTime()) / 1000)) : null,
    };
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

async function timed(work: () => Promise<unknown>, timeoutMs = 3000): Promise<z.infer<typeof check>> {
  const started = Date.now();
  try {
    await Promise.race([
      work(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs)),
    ]);
    return { ok: true, latency_ms: Date.now() - started };
  } catch (error) {
    return {
      ok: false,
      latency_ms: Date.now() - started,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

export const healthRoutes = router().openapi(
  createRoute({
    method: "get",
    path: "/health",
    tags: ["Operations"],
    summary: "Liveness and dependency checks",
    description:
      "200 when every dependency answers; 503 with the failing checks otherwise. Writes are still accepted while Postgres is down.",
    responses: {
      200: { description: "Healthy", content: { "application/json": { schema: healthSchema } } },
      503: { description: "A dependency is down", content: { "application/json": { schema: healthSchema } } },
    },
  }),
  async (c) => {
    const config = configOf(c.env);
    let deliveries: z.infer<typeof delivery>[] | undefined;
    const [postgres, durableObjects, kv, webhooks, monitor] = await Promise.all([
      timed(() => withDatabase(config, ping)),
      timed(() => c.env.USER_STATE.get(c.env.USER_STATE.idFromName("__health__")).status()),
      timed(() => c.env.SEARCH_KV.get("__health__")),
      webhookHealth(config),
      // One object's summary: the users' objects report only targets that refuse them.
      timed(async () => {
        deliveries = (await deliverySummary(c.env, config)).map(({ target, kind, pending, lag_seconds, failures }) => ({
          target,
          kind,
          pending,
          lag_seconds,
          failures,
        }));
      }),
    ]);
    const checks = { postgres, durable_objects: durableObjects, kv, delivery_monitor: monitor };
    const ok = Object.values(checks).every((x) => x.ok);
    const status = ok ? ("ok" as const) : ("degraded" as const);
    return c.json(
      { status, checks, ...(webhooks ? { webhooks } : {}), ...(deliveries ? { deliveries } : {}) },
      ok ? 200 : 503,
    );
  },
);
