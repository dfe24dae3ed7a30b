import { z } from "@hono/zod-openapi";
import { optionalUser } from "../auth";
import type { Config } from "../config";
import { notFound } from "../contracts/problems";
import { contentById } from "../db/content";
import { catalogFeatures, reloadCatalogFeatures } from "../db/personalization";
import { type TrendingRow, trendingPlays } from "../db/recommendations";
import type { ContentKind } from "../domain/catalog";
import { allowsLevel } from "../domain/maturity";
import { similarItems } from "../domain/similar";
import { alignedWith, currentModel } from "../recommendations/model-store";
import { callerMaturity, maturityRestricted } from "./maturity";
import { scoredItemSchema, titleFields, titleOf } from "./recommendations";
import {
  guardedRouter,
  json,
  limitQuery,
  optionalUserRoute,
  orUnavailable,
  problem,
  resourceId,
  unavailableResponse,
  waitUntilOf,
  withPostgres,
} from "./router";

const KINDS = ["movie", "series", "episode"] as const;

const similarSchema = z
  .object({
    content_id: z.string(),
    items: z.array(scoredItemSchema),
    model_version: z
      .string()
      .nullable()
      .openapi({ description: "the shared model behind co-viewed items; null when none was used" }),
  })
  .openapi("SimilarItems");

/** Trending windows and each one's half-life: a play counts half after a quarter of its window. */
const WINDOWS = { "1d": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400 } as const;
type TrendingWindow = keyof typeof WINDOWS;
/** Trending lists are computed this deep and cut to the asked limit. */
const TRENDING_DEPTH = 100;

const trendingItemSchema = z
  .object({
    ...titleFields,
    plays: z.number().int().openapi({ description: "plays in the window (an episode's count for its series)" }),
    score: z.number().openapi({ description: "plays decayed by age: half weight after a quarter of the window" }),
  })
  .openapi("TrendingItem");

const trendingSchema = z
  .object({
    window: z.enum(["1d", "7d", "30d"]),
    items: z.array(trendingItemSchema),
    generated_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Trending");

/** Per isolate, each (window, kind)'s list for TRENDING_CACHE_SECONDS: trending moves in minutes, not requests. */
const trendingCache = new Map<string, { rows: TrendingRow[]; at: number }>();

async function trending(config: Config, load: () => Promise<TrendingRow[]>, key: string) {
  const cached = trendingCache.get(key);
  if (cached && Date.now() - cached.at < config.TRENDING_CACHE_SECONDS * 1000) return cached;
  const fresh = { rows: await load(), at: Date.now() };
  trendingCache.set(key, fresh);
  return fresh;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

// A token is optional: anonymous reads count against the client address's read budget, a signed-in
// caller's against theirs, and a profile's maturity limit filters what is shown.
const base = guardedRouter(["/content/*", "/trending"], optionalUser);

export const discoveryRoutes = base
  .openapi(
    optionalUserRoute("Discovery", "get", "/content/{id}/similar", "More like this", {
      description:
        "Titles viewers of this one also watched (the shared model's co-viewing neighbours), strongest first; " +
        "then, and for a title nobody has watched yet, titles sharing the most of its genres, director and decade. " +
        "Never the title itself or another part of its series. The bearer token is optional: a profile with a " +
        "maturity limit gets only what its limit allows, and a title above it is 403 `maturity-restricted`.",
      request: {
        params: z.object({ id: resourceId("id") }),
        query: z.object({ limit: limitQuery, kind: z.enum(KINDS).optional() }),
      },
      responses: {
        200: { description: "Similar titles", content: json(similarSchema) },
        403: problem("Above the caller's maturity limit"),
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { limit, kind } = c.req.valid("query");
      const config = c.var.config;
      let [space, loaded] = await orUnavailable("catalog", () =>
        Promise.all([catalogFeatures(config, waitUntilOf(c)), currentModel(c.env, config)]),
      );
      let of = space.byId.get(id);
      if (!of) {
        // Unknown here, or added since this isolate read the catalog: Postgres tells which.
        if (!(await withPostgres(c, "catalog", (db) => contentById(db, id)))) throw notFound("content");
        space = await orUnavailable("catalog", () => reloadCatalogFeatures(config));
        of = space.byId.get(id);
        if (!of) throw notFound("content");
      }
      const maturity = callerMaturity(c);
      if (maturity && !allowsLevel(maturity, of.maturity)) throw maturityRestricted();
      const aligned = alignedWith(loaded, space);
      const items = similarItems(space, aligned, of, {
        limit,
        ...(kind ? { kinds: [kind] } : {}),
        ...(maturity ? { allow: (item) => allowsLevel(maturity, item.maturity) } : {}),
      });
      return c.json(
        {
          content_id: id,
          items: items.map((s) => ({
            ...titleOf(s.item),
            score: round(s.score),
            reason: s.reason,
            because_content_id: s.because,
          })),
          model_version: items.some((s) => s.source === "co-viewing") ? (loaded?.version ?? null) : null,
        },
        200,
      );
    },
  )
  .openapi(
    optionalUserRoute("Discovery", "get", "/trending", "What is being watched now", {
      description:
        "Titles by plays in the window (a finished view is a play), each play decayed by its age: it counts half " +
        "after a quarter of the window. Without `kind`, films and series (an episode's plays count for its series). " +
        "Lists are refreshed at most every TRENDING_CACHE_SECONDS. The bearer token is optional: a profile with a " +
        "maturity limit gets only what its limit allows.",
      request: {
        query: z.object({
          window: z.enum(["1d", "7d", "30d"]).default("7d"),
          kind: z.enum(KINDS).optional(),
          limit: limitQuery,
        }),
      },
      responses: {
        200: { description: "Trending titles", content: json(trendingSchema) },
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const { window, kind, limit } = c.req.valid("query");
      const config = c.var.config;
      const seconds = WINDOWS[window as TrendingWindow];
      const list = await trending(
        config,
        () =>
          withPostgres(c, "catalog", (db) =>
            trendingPlays(db, {
              windowSeconds: seconds,
              halfLifeSeconds: seconds / 4,
              kind: (kind ?? null) as ContentKind | null,
              limit: TRENDING_DEPTH,
            }),
          ),
        `${window}:${kind ?? ""}`,
      );
      const space = await orUnavailable("catalog", () => catalogFeatures(config, waitUntilOf(c)));
      const maturity = callerMaturity(c);
      const items = [];
      for (const row of list.rows) {
        const item = space.byId.get(row.content_id);
        if (!item || (maturity && !allowsLevel(maturity, item.maturity))) continue;
        items.push({
          ...titleOf(item),
          plays: row.plays,
          score: round(row.score),
        });
        if (items.length === limit) break;
      }
      return c.json({ window, items, generated_at: new Date(list.at).toISOString() }, 200);
    },
  );
