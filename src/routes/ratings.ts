import { z } from "@hono/zod-openapi";
import { requireUserState } from "../auth";
import { unwrap } from "../contracts/outcomes";
import { ratingItemSchema } from "../contracts/sync";
import { encodeCursor } from "../domain/cursor";
import { requireKnownContent } from "./known-content";
import {
  deviceHeader,
  guardedRouter,
  json,
  pageCursor,
  pageOf,
  pageQuery,
  removedOr404,
  resourceId,
  userRoute,
  userState,
} from "./router";

const ratingBody = z
  .object({
    rating: z
      .number()
      .int("a whole number from 1 to 10")
      .min(1)
      .max(10)
      .openapi({ example: 8, description: "1 (worst) to 10 (best)" }),
  })
  .openapi("RatingInput");

const contentParams = z.object({ content_id: resourceId("content_id") });

export const ratingRoutes = guardedRouter(["/ratings", "/ratings/*"], requireUserState)
  .openapi(
    userRoute("Ratings", "put", "/ratings/{content_id}", "Rate a film, a series or an episode", {
      description:
        "One rating per item, 1-10; a new rating replaces the old. Ratings reach the user's other devices, " +
        "Postgres (`rating-changed` events) and the preference profile, where they outweigh viewing.",
      request: { params: contentParams, headers: deviceHeader, body: { content: json(ratingBody), required: true } },
      responses: { 200: { description: "The rating", content: json(ratingItemSchema) } },
    }),
    async (c) => {
      const origin = c.req.valid("header")["x-device-id"] ?? null;
      const { content_id } = c.req.valid("param");
      await requireKnownContent(c, content_id);
      return c.json(unwrap(await userState(c).rate(content_id, c.req.valid("json").rating, origin)), 200);
    },
  )
  .openapi(
    userRoute("Ratings", "delete", "/ratings/{content_id}", "Remove a rating", {
      request: { params: contentParams, headers: deviceHeader },
      responses: { 204: { description: "Removed" } },
    }),
    async (c) => {
      const origin = c.req.valid("header")["x-device-id"] ?? null;
      return removedOr404(c, "rating", await userState(c).unrate(c.req.valid("param").content_id, origin));
    },
  )
  .openapi(
    userRoute("Ratings", "get", "/ratings", "The user's ratings, most recently rated first", {
      request: { query: pageQuery },
      responses: { 200: { description: "A page", content: json(pageOf(ratingItemSchema).openapi("RatingsPage")) } },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const page = await userState(c).ratings({ limit, after: pageCursor(cursor, { t: "number", c: "string" }) });
      return c.json(
        { items: page.items.map(({ hlc: _hlc, ...item }) => item), next_cursor: page.next && encodeCursor(page.next) },
        200,
      );
    },
  );
