import { createRoute, z } from "@hono/zod-openapi";
import { requireAdmin, requireUser } from "../auth";
import { unwrap } from "../contracts/outcomes";
import { HttpProblem } from "../contracts/problems";
import { withDatabase } from "../db/client";
import { decodeCursor, encodeCursor } from "../domain/cursor";
import { listDeadLetters, replayDeadLetters } from "../events/replay";
import { cursorQuery, errorResponses, limitQuery, router } from "./router";

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

const deadLetterSchema = z
  .object({
    id: z.number().int(),
    queue: z.string(),
    message_id: z.string(),
    reason: z.string(),
    body: z.unknown().openapi({ description: "the message as it arrived" }),
    received_at: z.string().openapi({ format: "date-time" }),
    replayed_at: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("DeadLetter");

const replayBody = z
  .object({
    ids: z
      .array(z.number().int().min(1))
      .min(1)
      .max(500)
      .optional()
      .openapi({ description: "only these dead letters" }),
    after_id: z.number().int().min(0).default(0).openapi({ description: "continue after this id (last_id)" }),
    limit: z.number().int().min(1).max(500).default(100).openapi({ description: "examine at most this many" }),
    dry_run: z.boolean().default(false).openapi({ description: "report what would be replayed; send nothing" }),
  })
  .openapi("DeadLetterReplay");

const replayReport = z
  .object({
    replayed: z.array(z.object({ id: z.number().int(), event_id: z.string(), type: z.string() })),
    still_malformed: z.array(z.object({ id: z.number().int(), reason: z.string() })),
    dry_run: z.boolean(),
    last_id: z.number().int().nullable().openapi({ description: "the greatest id examined; null when none" }),
  })
  .openapi("DeadLetterReplayReport");

const adminErrors = {
  ...errorResponses,
  403: errorResponses[401],
  503: { description: "Postgres is unreachable", content: { "application/problem+json": { schema: z.unknown() } } },
};

async function database<T>(config: Parameters<typeof withDatabase>[0], work: Parameters<typeof withDatabase<T>>[1]) {
  try {
    return await withDatabase(config, work);
  } catch (error) {
    if (error instanceof HttpProblem) throw error;
    console.error("dead letters: database error", error);
    throw new HttpProblem(503, "database-unavailable", "the database is unreachable; try again later", {
      headers: { "retry-after": "30" },
    });
  }
}

const base = router();
base.use("/admin/dead-letters", requireUser, requireAdmin);
base.use("/admin/dead-letters/*", requireUser, requireAdmin);
base.use("/admin/users/*", requireUser, requireAdmin);

const reemitReport = z
  .object({
    user_id: z.string(),
    progress: z.number().int().openapi({ description: "progress registers emitted again" }),
    watchlist: z.number().int().openapi({ description: "watchlist items emitted again" }),
    devices: z.number().int().openapi({ description: "devices emitted again" }),
  })
  .openapi("ReemitReport");

/**
 * Operators' repairs of the event stream: inspect the messages no consumer could use and send
 * them back to the queue; have a user's object emit its whole state again.
 */
export const eventRecoveryRoutes = base
  .openapi(
    createRoute({
      method: "get",
      path: "/admin/dead-letters",
      security: [{ bearer: [] }],
      tags: ["Operations"],
      summary: "Dead letters, oldest first (admin)",
      request: {
        query: z.object({
          limit: limitQuery,
          cursor: cursorQuery,
          pending: z.enum(["true", "false"]).default("true").openapi({ description: "hide replayed ones" }),
        }),
      },
      responses: {
        200: {
          description: "A page",
          content: json(z.object({ items: z.array(deadLetterSchema), next_cursor: z.string().nullable() })),
        },
        ...adminErrors,
      },
    }),
    async (c) => {
      const { limit, cursor, pending } = c.req.valid("query");
      const after = cursor === undefined ? { i: 0 } : decodeCursor(cursor, { i: "number" });
      if (!after)
        throw new HttpProblem(400, "bad-cursor", "the cursor is not one this API issued", {
          errors: [{ path: "cursor", message: "invalid cursor" }],
        });
      const page = await database(c.var.config, (db) =>
        listDeadLetters(db, { afterId: after.i, limit, pendingOnly: pending === "true" }),
      );
      const last = page.items[page.items.length - 1];
      return c.json({ items: page.items, next_cursor: page.more && last ? encodeCursor({ i: last.id }) : null }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/admin/dead-letters/replay",
      security: [{ bearer: [] }],
      tags: ["Operations"],
      summary: "Send pending dead letters back to the EVENTS queue (admin)",
      description:
        "Oldest first. Bodies that still do not decode stay pending and are listed in `still_malformed`. " +
        "Safe to repeat: the consumer is idempotent.",
      request: { body: { content: json(replayBody), required: true } },
      responses: { 200: { description: "What was replayed", content: json(replayReport) }, ...adminErrors },
    }),
    async (c) => {
      const { ids, after_id, limit, dry_run } = c.req.valid("json");
      const report = await database(c.var.config, (db) =>
        replayDeadLetters(db, c.env.EVENTS, { ids, afterId: after_id, limit, dryRun: dry_run }),
      );
      return c.json(report, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/admin/users/{user_id}/reemit",
      security: [{ bearer: [] }],
      tags: ["Operations"],
      summary: "Emit a user's whole state again (admin)",
      description:
        "Every progress register, watchlist item and device of the user goes through the outbox again, so that a " +
        "Postgres that lost events (restored from an older backup, or a local queue killed with its backlog) catches " +
        "up. Safe to repeat: the consumer keeps the newest by HLC.",
      request: {
        params: z.object({
          user_id: z
            .string()
            .min(1)
            .max(256)
            .openapi({ param: { name: "user_id", in: "path" }, example: "user-42", description: "the token subject" }),
        }),
      },
      responses: { 200: { description: "What was emitted", content: json(reemitReport) }, ...adminErrors },
    }),
    async (c) => {
      const { user_id } = c.req.valid("param");
      const stub = c.env.USER_STATE.get(c.env.USER_STATE.idFromName(user_id));
      const counts = unwrap(await stub.reemit());
      return c.json({ user_id, ...counts }, 200);
    },
  );
