import { z } from "@hono/zod-openapi";
import { optionalUser } from "../auth";
import { notFound } from "../contracts/problems";
import { type ContentRow, contentById, listContent, listEpisodes } from "../db/content";
import { encodeCursor } from "../domain/cursor";
import { callerMaturity, maturityFilter, requireViewableRow } from "./maturity";
import {
  cursorQuery,
  guardedRouter,
  ID_PATTERN,
  json,
  limitQuery,
  optionalUserRoute,
  pageCursor,
  pageOf,
  problem,
  resourceId,
  unavailableResponse,
  withPostgres,
} from "./router";

const KINDS = ["movie", "series", "episode"] as const;

export const contentItemSchema = z
  .object({
    id: z.string(),
    kind: z.enum(KINDS),
    title: z.string(),
    series_id: z.string().nullable(),
    season_number: z.number().int().nullable(),
    episode_number: z.number().int().nullable(),
    year: z.number().int().nullable(),
    genres: z.array(z.string()),
    platforms: z.array(z.string()),
    rating: z.number().nullable(),
    votes: z.number().int(),
    runtime_minutes: z.number().int().nullable(),
    maturity_rating: z.string().nullable(),
    director: z.string().nullable(),
    credits_start_seconds: z.number().int().nullable(),
    updated_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("ContentItem");

const contentPage = pageOf(contentItemSchema).openapi("ContentPage");

export function publicContent(row: ContentRow): z.infer<typeof contentItemSchema> {
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    series_id: row.seriesId,
    season_number: row.seasonNumber,
    episode_number: row.episodeNumber,
    year: row.year,
    genres: row.genres,
    platforms: row.platforms,
    rating: row.rating,
    votes: row.votes,
    runtime_minutes: row.runtimeMinutes,
    maturity_rating: row.maturityRating,
    director: row.director,
    credits_start_seconds: row.creditsStartSeconds,
    updated_at: row.updatedAt.toISOString(),
  };
}

const limited =
  "The bearer token is optional: a profile with a maturity limit gets only what its limit allows " +
  "(an invalid token is a 401). Anonymous reads count against the client address's read budget.";

// optionalUser charges every read: a signed-in caller's to their budget, an anonymous one's to the address.
export const contentRoutes = guardedRouter(["/content", "/content/*"], optionalUser)
  .openapi(
    optionalUserRoute("Catalog", "get", "/content/{id}", "One catalog item", {
      description: `${limited} An item above the limit is 403 \`maturity-restricted\`.`,
      request: { params: z.object({ id: resourceId("id") }) },
      responses: {
        200: { description: "The item", content: json(contentItemSchema) },
        403: problem("Above the caller's maturity limit"),
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await withPostgres(c, "catalog", (db) => contentById(db, id));
      if (!row) throw notFound("content");
      await requireViewableRow(c, row);
      if (c.var.caller) c.header("vary", "authorization");
      return c.json(publicContent(row), 200);
    },
  )
  .openapi(
    optionalUserRoute(
      "Catalog",
      "get",
      "/content",
      "The catalog, most popular first; or one series' episodes in order",
      {
        description: `${limited} Items above the limit are left out of every page.`,
        request: {
          query: z.object({
            kind: z.enum(KINDS).optional(),
            series_id: z
              .string()
              .regex(ID_PATTERN, "1-128 letters, digits or . _ : -")
              .optional()
              .openapi({ description: "list this series' episodes, by season and episode" }),
            limit: limitQuery,
            cursor: cursorQuery,
          }),
        },
        responses: { 200: { description: "A page", content: json(contentPage) }, 503: unavailableResponse },
      },
    ),
    async (c) => {
      const { kind, series_id, limit, cursor } = c.req.valid("query");
      const maturity = maturityFilter(callerMaturity(c));
      if (c.var.caller) c.header("vary", "authorization");
      if (series_id !== undefined) {
        const after = pageCursor(cursor, { s: "number", e: "number", i: "string" });
        const rows = await withPostgres(c, "catalog", (db) =>
          listEpisodes(db, {
            seriesId: series_id,
            limit: limit + 1,
            after: after && { season: after.s, episode: after.e, id: after.i },
            maturity,
          }),
        );
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        const next_cursor =
          rows.length > limit && last
            ? encodeCursor({ s: last.seasonNumber ?? 0, e: last.episodeNumber ?? 0, i: last.id })
            : null;
        return c.json({ items: page.map(publicContent), next_cursor }, 200);
      }
      const after = pageCursor(cursor, { v: "number", i: "string" });
      const rows = await withPostgres(c, "catalog", (db) =>
        listContent(db, { kind, limit: limit + 1, after: after && { votes: after.v, id: after.i }, maturity }),
      );
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      const next_cursor = rows.length > limit && last ? encodeCursor({ v: last.votes, i: last.id }) : null;
      return c.json({ items: page.map(publicContent), next_cursor }, 200);
    },
  );
