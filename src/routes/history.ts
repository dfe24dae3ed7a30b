import { z } from "@hono/zod-openapi";
import { requireUserState } from "../auth";
import { unwrap } from "../contracts/outcomes";
import { notFound } from "../contracts/problems";
import { progressItemSchema } from "../contracts/sync";
import { encodeCursor } from "../domain/cursor";
import type { AppContext } from "../env";
import { requireViewable, viewableIds } from "./maturity";
import {
  cursorQuery,
  guardedRouter,
  json,
  limitQuery,
  pageCursor,
  pageOf,
  pageQuery,
  removedOr404,
  resourceId,
  userRoute,
  userState,
} from "./router";

const pageSchema = pageOf(progressItemSchema).openapi("ProgressPage");

const contentParams = z.object({ content_id: resourceId("content_id") });

type Item = z.infer<typeof progressItemSchema> & { hlc?: string | null };
const publicItem = ({ hlc: _hlc, ...item }: Item) => item;

const afterCursor = (cursor: string | undefined) => pageCursor(cursor, { t: "number", c: "string" });

/** A page as the caller may see it: items above a profile's maturity limit are left out (the page may be shorter). */
async function viewablePage(c: AppContext, page: { items: Item[]; next_cursor: { t: number; c: string } | null }) {
  const viewable = await viewableIds(
    c,
    page.items.map((item) => item.content_id),
  );
  const items = viewable ? page.items.filter((item) => viewable.has(item.content_id)) : page.items;
  return { items: items.map(publicItem), next_cursor: page.next_cursor && encodeCursor(page.next_cursor) };
}

const base = guardedRouter(["/resume/*", "/continue-watching", "/history", "/history/*"], requireUserState);

export const historyRoutes = base
  .openapi(
    userRoute("Playback", "get", "/resume/{content_id}", "Where to resume a movie or an episode", {
      request: { params: contentParams },
      responses: { 200: { description: "Resume point", content: json(progressItemSchema) } },
    }),
    async (c) => {
      const { content_id } = c.req.valid("param");
      await requireViewable(c, content_id);
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
    userRoute("Playback", "get", "/continue-watching", "Items in progress, most recent first", {
      request: { query: pageQuery },
      responses: { 200: { description: "A page", content: json(pageSchema) } },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const page = await userState(c).history({
        resumableOnly: true,
        limit,
        after: afterCursor(cursor),
      });
      return c.json(await viewablePage(c, page), 200);
    },
  )
  .openapi(
    userRoute("History", "get", "/history", "Watch history, most recent first", {
      request: {
        query: z.object({
          status: z.enum(["in_progress", "completed"]).optional(),
          limit: limitQuery,
          cursor: cursorQuery,
        }),
      },
      responses: { 200: { description: "A page", content: json(pageSchema) } },
    }),
    async (c) => {
      const { status, limit, cursor } = c.req.valid("query");
      const page = await userState(c).history({ status, limit, after: afterCursor(cursor) });
      return c.json(await viewablePage(c, page), 200);
    },
  )
  .openapi(
    userRoute("History", "put", "/history/{content_id}/watched", "Mark watched", {
      request: { params: contentParams },
      responses: { 200: { description: "The item", content: json(progressItemSchema) } },
    }),
    async (c) => {
      const item = unwrap(await userState(c).markWatched(c.req.valid("param").content_id, true));
      if (!item) throw notFound("history item");
      return c.json(publicItem(item), 200);
    },
  )
  .openapi(
    userRoute("History", "delete", "/history/{content_id}/watched", "Mark unwatched (the progress is removed)", {
      request: { params: contentParams },
      responses: { 204: { description: "Unwatched" } },
    }),
    async (c) => {
      unwrap(await userState(c).markWatched(c.req.valid("param").content_id, false));
      return c.body(null, 204);
    },
  )
  .openapi(
    userRoute("History", "delete", "/history/{content_id}", "Remove one item from the history", {
      request: { params: contentParams },
      responses: { 204: { description: "Removed" } },
    }),
    async (c) => removedOr404(c, "history item", await userState(c).clearHistoryItem(c.req.valid("param").content_id)),
  )
  .openapi(
    userRoute("History", "delete", "/history", "Clear the whole history", {
      responses: {
        200: { description: "Cleared", content: json(z.object({ removed: z.number().int() })) },
      },
    }),
    async (c) => {
      const removed = unwrap(await userState(c).clearHistory());
      return c.json({ removed }, 200);
    },
  );
