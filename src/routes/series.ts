import { z } from "@hono/zod-openapi";
import { requireUserState } from "../auth";
import { unwrap } from "../contracts/outcomes";
import { notFound } from "../contracts/problems";
import { encodeCursor } from "../domain/cursor";
import { historyItemSchema, publicItem, viewableItems } from "./history";
import { requireKnownContent } from "./known-content";
import { requireViewable } from "./maturity";
import {
  cursorQuery,
  deviceHeader,
  guardedRouter,
  json,
  limitQuery,
  pageCursor,
  pageOf,
  problem,
  resourceId,
  userRoute,
  userState,
} from "./router";

const REASONS = ["in_progress", "next_episode", "new_season", "new_episode"] as const;

const reasonSchema = z.enum(REASONS).openapi({
  description:
    "in_progress: started and not finished; next_episode: after the last one finished; " +
    "new_season: the first of the next season; new_episode: added to the catalog since the last one was finished",
});

const nextUpItemSchema = z
  .object({
    series_id: z.string(),
    series_title: z.string(),
    content_id: z.string().describe("the episode to play"),
    title: z.string(),
    season_number: z.number().int(),
    episode_number: z.number().int(),
    resume_position_seconds: z.number().nullable().describe("where to start; null to start from the beginning"),
    reason: reasonSchema,
    last_watched_at: z.iso.datetime({ offset: true }).describe("the series' latest activity"),
  })
  .openapi("NextUpItem");

const continueItemSchema = historyItemSchema
  .extend({
    reason: reasonSchema.nullable().describe("for a series card, why this episode; null for a film"),
    season_number: z.number().int().nullable().describe("for an episode, its season; null for a film"),
    episode_number: z.number().int().nullable(),
  })
  .openapi("ContinueWatchingItem");

const seriesProgressSchema = z
  .object({
    series_id: z.string(),
    episodes: z.number().int().describe("episodes in the catalog, specials (season 0) left out"),
    completed: z.number().int().describe("of those, episodes with a completed play"),
    percent: z.number().min(0).max(100),
    last_watched_at: z.iso.datetime({ offset: true }).nullable(),
    next_episode: z.union([nextUpItemSchema, z.null()]).describe("the Next Up episode; null when there is none"),
    seasons: z.array(
      z.object({
        season_number: z.number().int(),
        episodes: z.number().int(),
        completed: z.number().int(),
        items: z.array(
          z.object({
            content_id: z.string(),
            episode_number: z.number().int(),
            watched: z.boolean(),
            plays: z.number().int(),
            last_watched_at: z.iso.datetime({ offset: true }).nullable(),
          }),
        ),
      }),
    ),
  })
  .openapi("SeriesProgress");

const hiddenSchema = z
  .object({
    content_id: z.string(),
    card_id: z.string().describe("what is hidden: the film, or the episode's series"),
    hidden: z.boolean(),
    hidden_at: z.iso.datetime({ offset: true }).nullable(),
  })
  .openapi("HiddenCard");

const contentParams = z.object({ content_id: resourceId("content_id") });
const seriesParams = z.object({ series_id: resourceId("series_id") });

const cardCursor = (cursor: string | undefined) => pageCursor(cursor, { t: "number", k: "string" });

export const seriesRoutes = guardedRouter(
  ["/next-up", "/continue-watching", "/continue-watching/*", "/series/*"],
  requireUserState,
)
  .openapi(
    userRoute("Series", "get", "/next-up", "The episode to play now, for each series the user watches", {
      description:
        "Most recently watched series first. The episode in progress, or the first one not finished after the " +
        "most recently finished one (into the next season; specials only with include_specials). A finished " +
        "series leaves the list until the catalog adds an episode. Series hidden from continue watching are left out.",
      request: {
        query: z.object({
          series_id: resourceId("series_id")
            .optional()
            .openapi({ param: { name: "series_id", in: "query" } }),
          include_specials: z
            .enum(["true", "false"])
            .default("false")
            .transform((v) => v === "true")
            .openapi({ description: "let specials (season 0) be Next Up" }),
          limit: limitQuery,
          cursor: cursorQuery,
        }),
      },
      responses: { 200: { description: "A page", content: json(pageOf(nextUpItemSchema).openapi("NextUpPage")) } },
    }),
    async (c) => {
      const { series_id, include_specials, limit, cursor } = c.req.valid("query");
      const page = await userState(c).nextUp({
        includeSpecials: include_specials,
        seriesId: series_id,
        limit,
        after: cardCursor(cursor),
      });
      return c.json(
        { items: await viewableItems(c, page.items), next_cursor: page.next && encodeCursor(page.next) },
        200,
      );
    },
  )
  .openapi(
    userRoute("Playback", "get", "/continue-watching", "What to resume, most recent first", {
      description:
        "Films in progress beside one card per series, its Next Up episode (`group=series`, the default), or " +
        "every item in progress (`group=none`). Hidden cards are left out until their next position report.",
      request: {
        query: z.object({
          group: z.enum(["series", "none"]).default("series"),
          limit: limitQuery,
          cursor: cursorQuery,
        }),
      },
      responses: {
        200: { description: "A page", content: json(pageOf(continueItemSchema).openapi("ContinueWatchingPage")) },
      },
    }),
    async (c) => {
      const { group, limit, cursor } = c.req.valid("query");
      const page = await userState(c).continueWatching({ group, limit, after: cardCursor(cursor) });
      const items = (await viewableItems(c, page.items)).map(publicItem);
      return c.json({ items, next_cursor: page.next && encodeCursor(page.next) }, 200);
    },
  )
  .openapi(
    userRoute("Playback", "put", "/continue-watching/{content_id}/hidden", "Hide from continue watching", {
      description:
        "The progress and the resume point are kept. An episode hides its series' card. The card comes back by " +
        "itself on its next position report (of any episode, for a series), or with DELETE.",
      request: { params: contentParams, headers: deviceHeader },
      responses: { 200: { description: "Hidden", content: json(hiddenSchema) } },
    }),
    async (c) => {
      const origin = c.req.valid("header")["x-device-id"] ?? null;
      const { content_id } = c.req.valid("param");
      await requireKnownContent(c, content_id);
      const result = unwrap(await userState(c).setHidden(content_id, true, origin));
      return c.json(result as NonNullable<typeof result>, 200);
    },
  )
  .openapi(
    userRoute("Playback", "delete", "/continue-watching/{content_id}/hidden", "Show a hidden card again", {
      request: { params: contentParams, headers: deviceHeader },
      responses: { 204: { description: "Shown again" } },
    }),
    async (c) => {
      const origin = c.req.valid("header")["x-device-id"] ?? null;
      const result = unwrap(await userState(c).setHidden(c.req.valid("param").content_id, false, origin));
      if (!result) throw notFound("hidden card");
      return c.body(null, 204);
    },
  )
  .openapi(
    userRoute("Series", "get", "/series/{series_id}/progress", "How far the user is through a series", {
      description:
        "Per season and overall: episodes in the catalog, completed, percentage; each episode's watched flag, " +
        "plays and last watched time; the Next Up episode.",
      request: { params: seriesParams },
      responses: {
        200: { description: "Progress", content: json(seriesProgressSchema) },
        403: problem("The series is above the profile's maturity limit"),
      },
    }),
    async (c) => {
      const { series_id } = c.req.valid("param");
      await requireViewable(c, series_id);
      const progress = await userState(c).seriesProgress(series_id);
      if (!progress) throw notFound("series");
      return c.json(progress, 200);
    },
  );
