import { z } from "@hono/zod-openapi";
import { requireAdmin, requireUser } from "../auth";
import { unwrap } from "../contracts/outcomes";
import { listDeadLetters } from "../db/dead-letters";
import { encodeCursor } from "../domain/cursor";
import { replayDeadLetters } from "../events/replay";
import {
  adminOnly,
  cursorQuery,
  guardedRouter,
  json,
  limitQuery,
  pageCursor,
  pageOf,
  userRoute,
  withPostgres,
} from "./router";

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

const base = guardedRouter(
  ["/admin/dead-letters", "/admin/dead-letters/*", "/admin/users/*"],
  requireUser,
  requireAdmin,
);

const reemitReport = z
  .object({
    user_id: z.string(),
    progress: z.number().int().openapi({ description: "progress registers emitted again" }),
    watchlist: z.number().int().openapi({ description: "watchlist items emitted again" }),
    devices: z.number().int().openapi({ description: "devices emitted again, and device deletions still remembered" }),
    plays: z.number().int().openapi({ description: "completed plays emitted again" }),
    ratings: z.number().int().openapi({ description: "ratings (and removed ratings) emitted again" }),
  })
  .openapi("ReemitReport");

/**
 * Operators' repairs of the event stream: inspect the messages no consumer could use and send
 * them back to the queue; have a user's object emit its whole state again.
 */
export const eventRecoveryRoutes = base
  .openapi(
    userRoute("Operations", "get", "/admin/dead-letters", "Dead letters, oldest first (admin)", {
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
          content: json(pageOf(deadLetterSchema)),
        },
        ...adminOnly,
      },
    }),
    async (c) => {
      const { limit, cursor, pending } = c.req.valid("query");
      const after = pageCursor(cursor, { i: "number" }) ?? { i: 0 };
      const page = await withPostgres(c, "dead-letters", (db) =>
        listDeadLetters(db, { afterId: after.i, limit, pendingOnly: pending === "true" }),
      );
      const last = page.items[page.items.length - 1];
      return c.json({ items: page.items, next_cursor: page.more && last ? encodeCursor({ i: last.id }) : null }, 200);
    },
  )
  .openapi(
    userRoute(
      "Operations",
      "post",
      "/admin/dead-letters/replay",
      "Send pending dead letters back to the EVENTS queue (admin)",
      {
        description:
          "Oldest first. Bodies that still do not decode stay pending and are listed in `still_malformed`. " +
          "Safe to repeat: the consumer is idempotent.",
        request: { body: { content: json(replayBody), required: false } },
        responses: { 200: { description: "What was replayed", content: json(replayReport) }, ...adminOnly },
      },
    ),
    async (c) => {
      // Without a body the validator hands over {} as it is: the schema gives the defaults.
      const { ids, after_id, limit, dry_run } = replayBody.parse(c.req.valid("json"));
      const report = await withPostgres(c, "dead-letters", (db) =>
        replayDeadLetters(db, c.env.EVENTS, { ids, afterId: after_id, limit, dryRun: dry_run }),
      );
      return c.json(report, 200);
    },
  )
  .openapi(
    userRoute("Operations", "post", "/admin/users/{user_id}/reemit", "Emit a user's whole state again (admin)", {
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
      responses: { 200: { description: "What was emitted", content: json(reemitReport) }, ...adminOnly },
    }),
    async (c) => {
      const { user_id } = c.req.valid("param");
      const stub = c.env.USER_STATE.get(c.env.USER_STATE.idFromName(user_id));
      const counts = unwrap(await stub.reemit());
      return c.json({ user_id, ...counts }, 200);
    },
  );
