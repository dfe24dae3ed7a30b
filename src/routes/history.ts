import { createRoute, z } from "@hono/zod-openapi";
import { requireUserState } from "../auth";
import { unwrap } from "../contracts/outcomes";
import { HttpProblem, notFound } from "../contracts/problems";
import { decodeCursor, encodeCursor } from "../domain/cursor";
import { cursorQuery, errorResponses, limitQuery, resourceId, router, userState } from "./router";

export const progressItemSchema = z
  .object({
    content_id: z.string(),
    resume_position_seconds: z.number().nullable().openapi({ description: "null when the rules say start over" }),
    position_seconds: z.number(),
    duration_seconds: z.number(),
    completion_percentage: z.number().min(0).max(100),
    watched: z.boolean(),
    playback_state: z.enum(["playing", "paused", "stopped"]),
    device_id: z.string().nullable(),
    last_watched_at: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("ProgressItem");

const pageSchema = z
  .object({ items: z.array(progressItemSchema), next_cursor: z.string().nullable() })
  .openapi("ProgressPage");

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });
const contentParams = z.object({ content_id: resourceId("content_id") });

type Item = z.infer<typeof progressItemSchema> & { hlc?: string | null };
const publicItem = ({ hlc: _hlc, ...item }: Item) => item;

function afterCursor(cursor: string | undefined) {
  if (cursor === undefined) return null;
  const after = decodeCursor(cursor, { t: "number", c: "string" });
  if (!after)
    throw new HttpProblem(400, "bad-cursor", "the cursor is not one this API issued", {
      errors: [{ path: "cursor", message: "invalid cursor" }],
    });
  return after;
}

const base = router();
base.use("/resume/*", requireUserState);
base.use("/continue-watching", requireUserState);
base.use("/history", requireUserState);
base.use("/history/*", requireUserState);

export const historyRoutes = base
  .openapi(
    createRoute({
      method: "get",
      path: "/resume/{content_id}",
      security: [{ bearer: [] }],
      tags: ["Playback"],
      summary: "Where to resume a movie or an episode",
      request: { params: contentParams },
      responses: { 200: { description: "Resume point", content: json(progressItemSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { content_id } = c.req.valid("param");
      const item = await userState(c).resume(content_id);
      if (item) return c.json(publicItem(item), 200);
      return c.json(
        {
          content_id,
          resume_position_seconds: null,
          position_seconds: 0,
          duration_seconds: 0,
          completion_percentage: 0,
          watched: false,
          playback_state: "stopped" as const,
          device_id: null,
          last_watched_at: null,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/continue-watching",
      security: [{ bearer: [] }],
      tags: ["Playback"],
      summary: "Items in progress, most recent first",
      request: { query: z.object({ limit: limitQuery, cursor: cursorQuery }) },
      responses: { 200: { description: "A page", content: json(pageSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const page = await userState(c).history({
        resumableOnly: true,
        limit,
        after: afterCursor(cursor),
      });
      return c.json(
        { items: page.items.map(publicItem), next_cursor: page.next_cursor && encodeCursor(page.next_cursor) },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/history",
      security: [{ bearer: [] }],
      tags: ["History"],
      summary: "Watch history, most recent first",
      request: {
        query: z.object({
          status: z.enum(["in_progress", "completed"]).optional(),
          limit: limitQuery,
          cursor: cursorQuery,
        }),
      },
      responses: { 200: { description: "A page", content: json(pageSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { status, limit, cursor } = c.req.valid("query");
      const page = await userState(c).history({ status, limit, after: afterCursor(cursor) });
      return c.json(
        { items: page.items.map(publicItem), next_cursor: page.next_cursor && encodeCursor(page.next_cursor) },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "put",
      path: "/history/{content_id}/watched",
      security: [{ bearer: [] }],
      tags: ["History"],
      summary: "Mark watched",
      request: { params: contentParams },
      responses: { 200: { description: "The item", content: json(progressItemSchema) }, ...errorResponses },
    }),
    async (c) => {
      const item = unwrap(await userState(c).markWatched(c.req.valid("param").content_id, true));
      if (!item) throw notFound("history item");
      return c.json(publicItem(item), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/history/{content_id}/watched",
      security: [{ bearer: [] }],
      tags: ["History"],
      summary: "Mark unwatched (the progress is removed)",
      request: { params: contentParams },
      responses: { 204: { description: "Unwatched" }, ...errorResponses },
    }),
    async (c) => {
      unwrap(await userState(c).markWatched(c.req.valid("param").content_id, false));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/history/{content_id}",
      security: [{ bearer: [] }],
      tags: ["History"],
      summary: "Remove one item from the history",
      request: { params: contentParams },
      responses: { 204: { description: "Removed" }, ...errorResponses },
    }),
    async (c) => {
      const removed = unwrap(await userState(c).clearHistoryItem(c.req.valid("param").content_id));
      if (!removed) throw notFound("history item");
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/history",
      security: [{ bearer: [] }],
      tags: ["History"],
      summary: "Clear the whole history",
      responses: {
        200: { description: "Cleared", content: json(z.object({ removed: z.number().int() })) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const removed = unwrap(await userState(c).clearHistory());
      return c.json({ removed }, 200);
    },
  );
