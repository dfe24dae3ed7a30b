import { z } from "@hono/zod-openapi";
import { requireAdmin, requireUser } from "../auth";
import { eventDataSchemas } from "../contracts/events";
import { HttpProblem } from "../contracts/problems";
import { readEventLog } from "../db/event-log";
import { encodeCursor } from "../domain/cursor";
import { deliverySummary, webhookDeliveryFigures } from "../events/delivery";
import { replayEventLog, resolveReplayTarget } from "../events/replay";
import { adminOnly, cursorQuery, guardedRouter, json, pageCursor, problem, userRoute, withPostgres } from "./router";

/** Events one log read answers at most. */
export const MAX_LOG_PAGE = 1000;
/** Events one replay call examines at most; `next_cursor` continues the range. */
export const MAX_REPLAY_EVENTS = 10_000;

const CURSOR_SHAPE = { s: "number" } as const;
const logCursor = (text: string | undefined, path: string) => pageCursor(text, CURSOR_SHAPE, path)?.s ?? null;

const envelopeSchema = z
  .object({
    event_id: z.string(),
    type: z.string(),
    version: z.number().int(),
    user_id: z.string(),
    occurred_at: z.string().openapi({ format: "date-time" }),
    hlc: z.string(),
    data: z.unknown().openapi({ description: "per type: see /events/schema.json" }),
  })
  .openapi("EventEnvelope");

const eventType = z
  .string()
  .refine((t) => Object.hasOwn(eventDataSchemas, t), "not an event type")
  .openapi({ description: "an event type name" });

const logQuery = z.object({
  after: cursorQuery.openapi({ description: "continue after this cursor (next_cursor); absent: from the oldest kept" }),
  type: eventType.optional(),
  user_id: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LOG_PAGE).default(100),
});

const logPage = z
  .object({
    items: z.array(envelopeSchema),
    next_cursor: z.string().nullable().openapi({
      description: "pass as `after` to read on (also to poll for newer events); null only when nothing was ever read",
    }),
  })
  .openapi("EventLogPage");

const replayBody = z
  .object({
    target: z.string().min(1).max(128).openapi({ description: "a subscriber binding (EVENT_SUBSCRIBERS)" }),
    after: z
      .string()
      .max(512)
      .optional()
      .openapi({ description: "replay after this cursor; absent: from the oldest kept" }),
    until: z
      .string()
      .max(512)
      .optional()
      .openapi({ description: "up to and including this cursor; absent: to the newest" }),
    user_id: z.string().min(1).max(256).optional().openapi({ description: "only this user's events" }),
    limit: z.number().int().min(1).max(MAX_REPLAY_EVENTS).default(MAX_REPLAY_EVENTS).openapi({
      description: "examine at most this many logged events; `next_cursor` continues",
    }),
  })
  .strict()
  .openapi("EventReplay");

const replayReport = z
  .object({
    target: z.string(),
    sent: z.number().int().openapi({ description: "events sent to the target" }),
    passed_over: z.number().int().openapi({ description: "events of the range outside the target's types" }),
    next_cursor: z
      .string()
      .nullable()
      .openapi({ description: "the rest of the range continues after this; null when done" }),
  })
  .openapi("EventReplayReport");

const deliveryTarget = z
  .object({
    target: z.string(),
    kind: z.enum(["mirror", "queue", "webhook"]),
    types: z.array(z.string()),
    users_behind: z.number().int(),
    pending: z.number().int().openapi({ description: "events written and not yet delivered to the target" }),
    lag_seconds: z.number().int().openapi({ description: "age of the oldest event not yet delivered" }),
    failures: z.number().int().openapi({ description: "refused sends reported by the users' objects" }),
    last_error: z.string().nullable(),
  })
  .openapi("DeliveryTarget");

const base = guardedRouter(["/admin/events", "/admin/events/*", "/admin/subscribers"], requireUser, requireAdmin);

/** The replayable event log and the delivery targets, for operators and consumer teams (admin). */
export const eventLogRoutes = base
  .openapi(
    userRoute("Operations", "get", "/admin/events", "The event log in commit order (admin)", {
      description:
        "Every event the service's consumer applied, kept EVENT_LOG_RETENTION_DAYS, oldest first. " +
        "Read from no cursor to start at the oldest kept, then pass `next_cursor` as `after`.",
      request: { query: logQuery },
      responses: { 200: { description: "A page of the log", content: json(logPage) }, ...adminOnly },
    }),
    async (c) => {
      const { after, type, user_id, limit } = c.req.valid("query");
      const from = logCursor(after, "after") ?? 0;
      const page = await withPostgres(c, "event-log", (db) =>
        readEventLog(db, { after: from, type: type ?? null, userId: user_id ?? null, limit }),
      );
      const last = page[page.length - 1]?.seq ?? (after === undefined ? null : from);
      return c.json(
        { items: page.map((e) => e.envelope), next_cursor: last === null ? null : encodeCursor({ s: last }) },
        200,
      );
    },
  )
  .openapi(
    userRoute("Operations", "post", "/admin/events/replay", "Send a range of the event log to a target again (admin)", {
      description:
        "The logged events in (`after`, `until`] of the target's types, in log order. The target is a subscriber " +
        "queue's binding or a webhook id; a webhook is sent only the events its owner may hear, as new deliveries. " +
        "Safe to repeat: consumers are idempotent by `event_id`.",
      request: { body: { content: json(replayBody), required: true } },
      responses: {
        200: { description: "What was sent", content: json(replayReport) },
        ...adminOnly,
        404: problem("Unknown target"),
        422: problem("`until` is before `after`"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const after = logCursor(body.after, "after") ?? 0;
      const until = logCursor(body.until, "until");
      if (until !== null && until < after) throw new HttpProblem(422, "bad-range", "`until` is before `after`");
      const config = c.get("config");
      const report = await withPostgres(c, "event-log", async (db) => {
        const target = await resolveReplayTarget(c.env, config, db, body.target);
        if (!target) throw new HttpProblem(404, "unknown-target", `unknown target: ${body.target}`);
        return replayEventLog(db, target, { after, until, userId: body.user_id ?? null, limit: body.limit });
      });
      const next = report.more && report.last_seq !== null ? encodeCursor({ s: report.last_seq }) : null;
      return c.json(
        { target: report.target, sent: report.sent, passed_over: report.passed_over, next_cursor: next },
        200,
      );
    },
  )
  .openapi(
    userRoute("Operations", "get", "/admin/subscribers", "Event delivery per target (admin)", {
      description:
        "The mirror's queue and every subscriber queue: their types, and from the users' objects, how many events " +
        "are not delivered yet, the oldest's age and the refused sends. Then the webhooks behind (at most 100, " +
        "oldest undelivered first): their undelivered deliveries, the oldest's age, the failed ones and the last error.",
      responses: {
        200: { description: "Every target", content: json(z.object({ items: z.array(deliveryTarget) })) },
        ...adminOnly,
      },
    }),
    async (c) => {
      const config = c.get("config");
      const [queues, webhooks] = await Promise.all([deliverySummary(c.env, config), webhookDeliveryFigures(config)]);
      return c.json({ items: [...queues, ...webhooks] }, 200);
    },
  );
