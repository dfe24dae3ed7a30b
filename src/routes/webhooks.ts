/**
 * Webhooks (Standard Webhooks): a user registers endpoints that hear their own events (an
 * admin's may hear everyone's), sees them with their backlog, and lists recent deliveries.
 *
 * A webhook belongs to the profile (token subject) that registered it: only that profile lists
 * or deletes it. It hears the events whose `user_id` is that profile; the account owner's
 * webhooks also hear the events of every profile of the account (the owner manages them).
 */
import { z } from "@hono/zod-openapi";
import { requireUser } from "../auth";
import { eventDataSchemas } from "../contracts/events";
import { HttpProblem, notFound } from "../contracts/problems";
import {
  countWebhooks,
  createWebhook,
  type DeliveryView,
  deleteWebhook,
  listDeliveries,
  listWebhooks,
  ownWebhook,
  type WebhookBacklog,
  type WebhookRecord,
  webhookBacklogs,
} from "../db/webhooks";
import { encodeCursor } from "../domain/cursor";
import { judgeWebhookUrl, WEBHOOK_URL_MAX_LENGTH } from "../domain/webhook-address";
import { newSigningKey, SECRET_PREFIX } from "../events/webhooks";
import {
  guardedRouter,
  json,
  pageCursor,
  pageOf,
  pageQuery,
  problem,
  resourceId,
  unavailableResponse,
  userRoute,
  withPostgres,
} from "./router";

const EVENT_TYPES = Object.keys(eventDataSchemas) as [string, ...string[]];

const eventsField = z
  .array(z.enum(["*", ...EVENT_TYPES]))
  .min(1)
  .max(EVENT_TYPES.length)
  .refine((list) => !list.includes("*") || list.length === 1, { message: '"*" stands alone: ["*"]' })
  .refine((list) => new Set(list).size === list.length, { message: "each type once" })
  .openapi({ description: 'event type names, or ["*"] for every type', example: ["progress-changed"] });

const createBody = z
  .object({
    url: z.string().min(1).max(WEBHOOK_URL_MAX_LENGTH).openapi({ example: "https://example.com/hooks/media" }),
    events: eventsField,
    scope: z
      .enum(["own", "all"])
      .default("own")
      .openapi({ description: "`all` (admins only): every user's events; `own` (default): the caller's" }),
  })
  .strict()
  .openapi("CreateWebhook");

const webhookFields = {
  id: z.string().openapi({ example: "wh_3f9c0a7d2b1e4c5f8a6d9e0b" }),
  url: z.string(),
  events: z.array(z.string()),
  scope: z.enum(["own", "all"]),
  created_at: z.string().openapi({ format: "date-time" }),
};

const createdSchema = z
  .object({
    ...webhookFields,
    secret: z.string().openapi({
      description: "`whsec_` + base64(key): the signing secret, shown only in this answer",
      example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }),
  })
  .openapi("CreatedWebhook");

const webhookSchema = z
  .object({
    ...webhookFields,
    pending: z.number().int().openapi({ description: "deliveries not yet delivered (queued or waiting to retry)" }),
    retrying: z.number().int().openapi({ description: "of those, deliveries that failed at least once" }),
    failed: z.number().int().openapi({ description: "deliveries that ran out of retries (kept, replayable)" }),
    lag_seconds: z
      .number()
      .nullable()
      .openapi({ description: "age of the oldest undelivered delivery; null when none is waiting" }),
  })
  .openapi("Webhook");

const webhookList = z
  .object({
    items: z.array(webhookSchema),
    next_cursor: z.null().openapi({ description: "always null: a user has at most WEBHOOK_MAX_PER_USER webhooks" }),
  })
  .openapi("Webhooks");

const deliverySchema = z
  .object({
    event_id: z.string().openapi({ description: "also the `webhook-id` header of the request" }),
    type: z.string(),
    status: z.enum(["delivered", "retrying", "failed"]).openapi({
      description: "`retrying`: not delivered yet (attempts 0: the first try is queued); `failed`: out of retries",
    }),
    attempts: z.number().int(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    queued_at: z.string().openapi({ format: "date-time" }),
    next_attempt_at: z.string().nullable().openapi({ format: "date-time", description: "set while retrying" }),
    delivered_at: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("WebhookDelivery");

const idParams = z.object({ id: resourceId("id", "wh_3f9c0a7d2b1e4c5f8a6d9e0b") });

function presentWebhook(w: WebhookRecord, backlog: WebhookBacklog | undefined, now: number) {
  return {
    id: w.id,
    url: w.url,
    events: w.events,
    scope: w.scope,
    created_at: w.createdAt.toISOString(),
    pending: backlog?.pending ?? 0,
    retrying: backlog?.retrying ?? 0,
    failed: backlog?.failed ?? 0,
    lag_seconds: backlog?.oldestPendingAt
      ? Math.max(0, Math.round((now - backlog.oldestPendingAt.getTime()) / 1000))
      : null,
  };
}

function presentDelivery(d: DeliveryView): z.infer<typeof deliverySchema> {
  const status = d.status === "pending" ? "retrying" : d.status;
  return {
    event_id: d.eventId,
    type: d.type,
    status,
    attempts: d.attempts,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    queued_at: d.queuedAt.toISOString(),
    next_attempt_at: status === "retrying" ? d.nextAttemptAt.toISOString() : null,
    delivered_at: d.deliveredAt ? d.deliveredAt.toISOString() : null,
  };
}

const newWebhookId = () =>
  `wh_${[...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;

export const webhookRoutes = guardedRouter(["/webhooks", "/webhooks/*"], requireUser)
  .openapi(
    userRoute("Webhooks", "post", "/webhooks", "Register a webhook", {
      description:
        "Deliveries follow the Standard Webhooks specification: a POST of the event envelope with `webhook-id` " +
        "(the event_id), `webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of " +
        "`id.timestamp.body` with the key of `secret`). The webhook hears the caller's own events " +
        '(an account owner\'s: every profile of the account); an admin may ask for `scope: "all"`. ' +
        "The URL must be https to a public address (see docs/webhooks.md); at most WEBHOOK_MAX_PER_USER per user.",
      request: { body: { content: json(createBody), required: true } },
      responses: {
        201: { description: "Registered; `secret` is shown only here", content: json(createdSchema) },
        403: problem('`scope: "all"` needs the admin role'),
        409: problem("The caller has WEBHOOK_MAX_PER_USER webhooks already"),
        422: problem("The URL is refused (not https, a private or loopback address, credentials in it)"),
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const caller = c.var.caller;
      const config = c.var.config;
      const body = c.req.valid("json");
      if (body.scope === "all" && caller.role !== "admin") {
        throw new HttpProblem(403, "admin-only", 'only an admin may register a webhook with scope "all"');
      }
      const verdict = judgeWebhookUrl(body.url, { allowLoopback: config.WEBHOOK_ALLOW_LOOPBACK });
      if (!verdict.ok) {
        throw new HttpProblem(422, "webhook-url-refused", `the URL ${verdict.reason}`, {
          errors: [{ path: "url", message: verdict.reason }],
        });
      }
      const key = newSigningKey();
      const created = await withPostgres(c, "webhooks", async (db) => {
        if ((await countWebhooks(db, caller.sub)) >= config.WEBHOOK_MAX_PER_USER) {
          throw new HttpProblem(
            409,
            "too-many-webhooks",
            `a user may have at most ${config.WEBHOOK_MAX_PER_USER} webhooks; delete one first`,
          );
        }
        return createWebhook(db, {
          id: newWebhookId(),
          ownerId: caller.sub,
          scope: body.scope,
          url: verdict.url.toString(),
          events: body.events,
          secret: key,
        });
      });
      return c.json(
        {
          id: created.id,
          url: created.url,
          events: created.events,
          scope: created.scope,
          created_at: created.createdAt.toISOString(),
          secret: `${SECRET_PREFIX}${key}`,
        },
        201,
      );
    },
  )
  .openapi(
    userRoute("Webhooks", "get", "/webhooks", "The caller's webhooks, with their backlog", {
      description:
        "Secrets are never listed. Each webhook carries its backlog: `pending` (not yet delivered), `retrying`, " +
        "`failed` (out of retries, kept) and `lag_seconds` (age of the oldest undelivered delivery).",
      responses: {
        200: { description: "The webhooks, oldest first", content: json(webhookList) },
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const caller = c.var.caller;
      const { items, backlogs } = await withPostgres(c, "webhooks", async (db) => {
        const items = await listWebhooks(db, caller.sub);
        return {
          items,
          backlogs: await webhookBacklogs(
            db,
            items.map((w) => w.id),
          ),
        };
      });
      const now = Date.now();
      return c.json({ items: items.map((w) => presentWebhook(w, backlogs.get(w.id), now)), next_cursor: null }, 200);
    },
  )
  .openapi(
    userRoute("Webhooks", "delete", "/webhooks/{id}", "Delete a webhook and its deliveries", {
      description: "Nothing more is sent to it, retries included. Another user's webhook is a 404.",
      request: { params: idParams },
      responses: { 204: { description: "Deleted" }, 503: unavailableResponse },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const deleted = await withPostgres(c, "webhooks", (db) => deleteWebhook(db, c.var.caller.sub, id));
      if (!deleted) throw notFound("webhook");
      return c.body(null, 204);
    },
  )
  .openapi(
    userRoute("Webhooks", "get", "/webhooks/{id}/deliveries", "A webhook's recent deliveries, newest first", {
      description:
        "One per event sent to the webhook: its status (`delivered`, `retrying`, `failed`), attempts, the last " +
        "answer's status code or error. Kept WEBHOOK_DELIVERY_RETENTION_DAYS. Another user's webhook is a 404.",
      request: { params: idParams, query: pageQuery },
      responses: { 200: { description: "A page", content: json(pageOf(deliverySchema)) }, 503: unavailableResponse },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { limit, cursor } = c.req.valid("query");
      const before = pageCursor(cursor, { d: "number" });
      const page = await withPostgres(c, "webhooks", async (db) => {
        if (!(await ownWebhook(db, c.var.caller.sub, id))) throw notFound("webhook");
        return listDeliveries(db, id, { beforeId: before?.d ?? null, limit });
      });
      const last = page.items[page.items.length - 1];
      return c.json(
        {
          items: page.items.map(presentDelivery),
          next_cursor: page.more && last ? encodeCursor({ d: last.id }) : null,
        },
        200,
      );
    },
  );
