import { z } from "@hono/zod-openapi";
import { requireUserState } from "../auth";
import { unwrap } from "../contracts/outcomes";
import { HttpProblem, notFound } from "../contracts/problems";
import { playItemSchema, progressItemSchema } from "../contracts/sync";
import { encodeCursor } from "../domain/cursor";
import type { AppContext } from "../env";
import { historyTransferRoutes } from "./history-transfer";
import { contentNotFound, isKnownContent, requireKnownContent } from "./known-content";
import { requireViewable, viewableIds } from "./maturity";
import {
  cursorQuery,
  guardedRouter,
  json,
  limitQuery,
  pageCursor,
  pageOf,
  problem,
  removedOr404,
  resourceId,
  userRoute,
  userState,
} from "./router";

/** A progress register as history answers it: with its series and its completed plays. */
export const historyItemSchema = progressItemSchema
  .extend({
    series_id: z.string().nullable().describe("the episode's series; null for a film"),
    plays: z.number().int().min(0).describe("completed plays (finished, or marked watched)"),
  })
  .openapi("HistoryItem");

const pageSchema = pageOf(historyItemSchema).openapi("HistoryPage");
const playsPageSchema = pageOf(playItemSchema).openapi("PlaysPage");

const contentParams = z.object({ content_id: resourceId("content_id") });

type Item = z.infer<typeof historyItemSchema> & { hlc?: string | null };
export const publicItem = <T extends Item>({ hlc: _hlc, ...item }: T) => item;

const afterCursor = (cursor: string | undefined) => pageCursor(cursor, { t: "number", c: "string" });

const instant = (name: string) =>
  z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ description: `ISO-8601; ${name}`, example: "2026-01-31T20:00:00Z" });

/** Filters history and plays share: film or episode, and a time window (inclusive). */
const historyFilters = {
  kind: z.enum(["movie", "episode"]).optional().openapi({ description: "films or episodes only" }),
  start_at: instant("only what was watched at or after this time"),
  end_at: instant("only what was watched at or before this time"),
  limit: limitQuery,
  cursor: cursorQuery,
};

/** The filters as the user's object takes them; a window that ends before it starts is a 400. */
function window(query: {
  kind?: "movie" | "episode" | undefined;
  start_at?: string | undefined;
  end_at?: string | undefined;
}) {
  const start = query.start_at === undefined ? undefined : Date.parse(query.start_at);
  const end = query.end_at === undefined ? undefined : Date.parse(query.end_at);
  if (start !== undefined && end !== undefined && start > end) {
    throw new HttpProblem(400, "validation", "the query is not valid", {
      errors: [{ path: "end_at", message: "must not be before start_at" }],
    });
  }
  return { kind: query.kind, start, end };
}

const watchedBody = z
  .object({
    watched_at: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: "when it was watched (default now); the same time twice is one play" }),
  })
  .openapi("MarkWatched");

const seriesMarked = z
  .object({
    series_id: z.string(),
    season_number: z.number().int().nullable(),
    marked: z.number().int().describe("episodes marked watched"),
    next_up: z.unknown().nullable().describe("the series' Next Up item after the change (see NextUpItem)"),
  })
  .openapi("SeriesMarked");

/** The earliest `watched_at` accepted: before it a date is a typo, not a viewing. */
const EARLIEST_WATCH = Date.parse("1900-01-01T00:00:00Z");

/** The items a profile's maturity limit allows (a page may come out shorter). */
export async function viewableItems<T extends { content_id: string }>(c: AppContext, items: T[]): Promise<T[]> {
  const viewable = await viewableIds(
    c,
    items.map((item) => item.content_id),
  );
  return viewable ? items.filter((item) => viewable.has(item.content_id)) : items;
}

/** A page as the caller may see it: items above a profile's maturity limit are left out (the page may be shorter). */
async function viewablePage(c: AppContext, page: { items: Item[]; next_cursor: { t: number; c: string } | null }) {
  const items = await viewableItems(c, page.items);
  return { items: items.map(publicItem), next_cursor: page.next_cursor && encodeCursor(page.next_cursor) };
}

const base = guardedRouter(["/resume/*", "/history", "/history/*"], requireUserState);

export const historyRoutes = base
  // Import and export ride on this router's guard.
  .route("/", historyTransferRoutes)
  .openapi(
    userRoute("Playback", "get", "/resume/{content_id}", "Where to resume a movie or an episode", {
      description:
        "Content never played answers zeros and `resume_position_seconds: null`. 404 when the catalog does not " +
        "hold the id and the user has no progress on it (progress on content that left the catalog is still answered).",
      request: { params: contentParams },
      responses: {
        200: { description: "Resume point", content: json(historyItemSchema) },
        403: problem("Above the profile's maturity limit"),
      },
    }),
    async (c) => {
      const { content_id } = c.req.valid("param");
      await requireViewable(c, content_id);
      const [item, known] = await Promise.all([userState(c).resume(content_id), isKnownContent(c, content_id)]);
      if (item) return c.json(publicItem(item), 200);
      if (!known) throw contentNotFound([{ path: "content_id", id: content_id }]);
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
          series_id: null,
          plays: 0,
        },
        200,
      );
    },
  )
  .openapi(
    userRoute("History", "get", "/history", "Watch history, most recent first", {
      description: "Each item carries its `series_id` (null for a film) and `plays`, the completed plays.",
      request: {
        query: z.object({ status: z.enum(["in_progress", "completed"]).optional(), ...historyFilters }),
      },
      responses: { 200: { description: "A page", content: json(pageSchema) } },
    }),
    async (c) => {
      const { status, limit, cursor, ...filters } = c.req.valid("query");
      const page = await userState(c).history({ status, ...window(filters), limit, after: afterCursor(cursor) });
      return c.json(await viewablePage(c, page), 200);
    },
  )
  .openapi(
    userRoute("History", "get", "/history/plays", "Completed plays, most recent first", {
      description:
        "One row each time an item was finished (by the watched rule, by reaching its credits, or marked watched). " +
        "Watching an item again adds a play; the same play reported twice is one.",
      request: { query: z.object(historyFilters) },
      responses: { 200: { description: "A page", content: json(playsPageSchema) } },
    }),
    async (c) => {
      const { limit, cursor, ...filters } = c.req.valid("query");
      const after = pageCursor(cursor, { t: "number", p: "string" });
      const page = await userState(c).plays({ ...window(filters), limit, after });
      return c.json(
        { items: await viewableItems(c, page.items), next_cursor: page.next && encodeCursor(page.next) },
        200,
      );
    },
  )
  .openapi(
    userRoute(
      "History",
      "put",
      "/history/{content_id}/watched",
      "Mark watched (a film, an episode, a season or a series)",
      {
        description:
          "Records a play at `watched_at` (default now). An item already finished is not played again unless " +
          "`watched_at` names another time. A series id marks every episode, or with `season` one season. 404 " +
          "when the catalog does not hold the content.",
        request: {
          params: contentParams,
          query: z.object({
            season: z.coerce
              .number()
              .int()
              .min(0)
              .max(1000)
              .optional()
              .openapi({ description: "with a series id: only this season (0: specials)" }),
          }),
          body: { content: json(watchedBody), required: false },
        },
        responses: {
          200: {
            description: "The item, or the series summary",
            content: json(z.union([historyItemSchema, seriesMarked])),
          },
        },
      },
    ),
    async (c) => {
      const { content_id } = c.req.valid("param");
      await requireKnownContent(c, content_id);
      const { season } = c.req.valid("query");
      const body = c.req.valid("json");
      const at = body.watched_at === undefined ? undefined : Date.parse(body.watched_at);
      if (at !== undefined && (at > Date.now() + 60_000 || at < EARLIEST_WATCH)) {
        throw new HttpProblem(400, "validation", "the body is not valid", {
          errors: [{ path: "body.watched_at", message: "must be between 1900 and now" }],
        });
      }
      const result = unwrap(await userState(c).markWatched(content_id, true, { watched_at: at, season }));
      if (result.kind === "series") {
        const { kind: _kind, ...summary } = result;
        return c.json(summary, 200);
      }
      if (!result.item) throw notFound("history item");
      return c.json(publicItem(result.item), 200);
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
