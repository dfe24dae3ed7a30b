import { createRoute, z } from "@hono/zod-openapi";
import type { Config } from "../config";
import { HttpProblem, notFound } from "../contracts/problems";
import { type Database, withDatabase } from "../db/client";
import { type ContentRow, contentById, listContent, listEpisodes } from "../db/content";
import { decodeCursor, encodeCursor } from "../domain/cursor";
import { cursorQuery, errorResponses, ID_PATTERN, limitQuery, resourceId, router } from "./router";

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

const contentPage = z
  .object({ items: z.array(contentItemSchema), next_cursor: z.string().nullable() })
  .openapi("ContentPage");

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

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

/** Postgres being unreachable during catalog work is a 503 the client may retry, not a 500. */
export async function orUnavailable<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof HttpProblem) throw error;
    console.error("catalog database unavailable", error);
    throw new HttpProblem(503, "catalog-unavailable", "the catalog database is not reachable; retry shortly", {
      headers: { "retry-after": "5" },
    });
  }
}

/** A catalog read or write. */
export const withCatalog = <T>(config: Config, work: (db: Database) => Promise<T>) =>
  orUnavailable(() => withDatabase(config, work));

const badCursor = () =>
  new HttpProblem(400, "bad-cursor", "the cursor is not one this API issued", {
    errors: [{ path: "cursor", message: "invalid cursor" }],
  });

export const contentRoutes = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/content/{id}",
      tags: ["Catalog"],
      summary: "One catalog item",
      request: { params: z.object({ id: resourceId("id") }) },
      responses: { 200: { description: "The item", content: json(contentItemSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await withCatalog(c.var.config, (db) => contentById(db, id));
      if (!row) throw notFound("content");
      return c.json(publicContent(row), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/content",
      tags: ["Catalog"],
      summary: "The catalog, most popular first; or one series' episodes in order",
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
      responses: { 200: { description: "A page", content: json(contentPage) }, ...errorResponses },
    }),
    async (c) => {
      const { kind, series_id, limit, cursor } = c.req.valid("query");
      if (series_id !== undefined) {
        const after = cursor === undefined ? null : decodeCursor(cursor, { s: "number", e: "number", i: "string" });
        if (cursor !== undefined && !after) throw badCursor();
        const rows = await withCatalog(c.var.config, (db) =>
          listEpisodes(db, {
            seriesId: series_id,
            limit: limit + 1,
            after: after && { season: after.s, episode: after.e, id: after.i },
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
      const after = cursor === undefined ? null : decodeCursor(cursor, { v: "number", i: "string" });
      if (cursor !== undefined && !after) throw badCursor();
      const rows = await withCatalog(c.var.config, (db) =>
        listContent(db, { kind, limit: limit + 1, after: after && { votes: after.v, id: after.i } }),
      );
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      const next_cursor = rows.length > limit && last ? encodeCursor({ v: last.votes, i: last.id }) : null;
      return c.json({ items: page.map(publicContent), next_cursor }, 200);
    },
  );
