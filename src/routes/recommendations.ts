import { z } from "@hono/zod-openapi";
import { requireUser } from "../auth";
import { withDatabase } from "../db/client";
import { catalogFeatures, loadPersonalization } from "../db/personalization";
import type { ContentKind } from "../domain/catalog";
import { decodeCursor, encodeCursor } from "../domain/cursor";
import type { FeatureSpace, ItemVector } from "../domain/features";
import { allowsLevel } from "../domain/maturity";
import { type Recommendation, recommend, Scorer, scoreContent } from "../domain/recommend";
import type { AppContext } from "../env";
import { readOperation } from "../read-limits";
import { callerMaturity } from "./maturity";
import {
  badCursor,
  cursorQuery,
  guardedRouter,
  json,
  limitQuery,
  orUnavailable,
  unavailableResponse,
  userRoute,
  userState,
} from "./router";

/** Deepest a client can page into one user's recommendations. */
export const MAX_RECOMMENDATIONS = 500;
/** Most ids one personalization/score request may carry. */
export const MAX_SCORE_IDS = 1000;

const KINDS = ["movie", "series", "episode"] as const;

const scoredItemSchema = z
  .object({
    content_id: z.string(),
    title: z.string(),
    kind: z.enum(KINDS),
    year: z.number().int().nullable(),
    genres: z.array(z.string()),
    platforms: z.array(z.string()),
    rating: z.number().nullable(),
    score: z.number().min(0).max(1).openapi({ description: "higher is a better match for this user" }),
    reason: z.string().openapi({ example: "Because you watched Heat" }),
    because_content_id: z.string().nullable().openapi({ description: "the watched content the reason points at" }),
  })
  .openapi("ScoredItem");

const personalizationMeta = {
  personalized: z.boolean().openapi({ description: "false for a user with no history yet: popular items" }),
  profile_version: z.number().int().nullable(),
  adapter_version: z.number().int().nullable(),
};

const recommendationsSchema = z
  .object({ items: z.array(scoredItemSchema), next_cursor: z.string().nullable(), ...personalizationMeta })
  .openapi("Recommendations");

const recommendationsBody = z
  .object({
    limit: z.number().int().min(1).max(100).default(20),
    cursor: cursorQuery,
    genres: z.array(z.string().min(1).max(64)).max(20).optional().openapi({ description: "only these genres" }),
    kinds: z.array(z.enum(KINDS)).min(1).max(3).optional().openapi({ description: "default: movie and series" }),
    exclude_content_ids: z
      .array(z.string().min(1).max(256))
      .max(500)
      .optional()
      .openapi({ description: "e.g. what the client already shows" }),
  })
  .openapi("RecommendationsRequest");

const scoreBody = z
  .object({ content_ids: z.array(z.string().min(1).max(256)).min(1).max(MAX_SCORE_IDS) })
  .openapi("ScoreRequest");

const scoresSchema = z
  .object({
    scores: z.array(scoredItemSchema).openapi({ description: "in request order, duplicates removed" }),
    unknown_ids: z.array(z.string()).openapi({ description: "ids not in the catalog" }),
    ...personalizationMeta,
  })
  .openapi("Scores");

function waitUntilOf(c: AppContext): ((promise: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return undefined; // no execution context (called outside a request)
  }
}

/** Items the user's Durable Object holds, read for recommendations alongside Postgres. */
const RECENT_HISTORY_ITEMS = 100;

/**
 * What the user watched most recently, from their Durable Object: Postgres learns of a finished
 * film only once the queue has carried it, the object knows at once. Best effort: Postgres's
 * history still applies if the object cannot answer.
 */
async function recentlySeen(c: AppContext): Promise<string[]> {
  try {
    const page = await userState(c).history({ limit: RECENT_HISTORY_ITEMS });
    return page.items.map((item) => item.content_id);
  } catch (error) {
    console.error("recommendations: recent history unavailable:", String(error));
    return [];
  }
}

/** The catalog's vectors (isolate cache) and the caller's profile, adapter and history (per request). */
async function personalizationOf(c: AppContext, opts: { withRecentHistory: boolean }) {
  const config = c.var.config;
  const [space, user, recent] = await orUnavailable("personalization", () =>
    Promise.all([
      catalogFeatures(config, waitUntilOf(c)),
      withDatabase(config, (db) => loadPersonalization(db, c.var.caller.sub)),
      opts.withRecentHistory ? recentlySeen(c) : [],
    ]),
  );
  for (const id of recent) user.seen.add(id);
  const scorer = new Scorer(space, user);
  const meta = {
    personalized: scorer.personalized,
    profile_version: user.profileVersion,
    adapter_version: user.adapterVersion,
  };
  return { space, user, scorer, meta };
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

function present(r: Recommendation): z.infer<typeof scoredItemSchema> {
  return {
    content_id: r.item.id,
    title: r.item.title,
    kind: r.item.kind,
    year: r.item.year,
    genres: r.item.genres,
    platforms: r.item.platforms,
    rating: r.item.rating,
    score: round(r.score),
    reason: r.reason,
    because_content_id: r.because,
  };
}

function offsetOf(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  const decoded = decodeCursor(cursor, { o: "number" });
  if (!decoded || !Number.isInteger(decoded.o) || decoded.o < 0 || decoded.o >= MAX_RECOMMENDATIONS) {
    throw badCursor();
  }
  return decoded.o;
}

async function recommendationsFor(
  c: AppContext,
  request: {
    limit: number;
    cursor: string | undefined;
    genres?: string[] | undefined;
    kinds?: ContentKind[] | undefined;
    exclude?: string[] | undefined;
  },
) {
  const offset = offsetOf(request.cursor);
  const limit = Math.min(request.limit, MAX_RECOMMENDATIONS - offset);
  const { space, user, scorer, meta } = await personalizationOf(c, { withRecentHistory: true });
  const maturity = callerMaturity(c);
  const page = recommend(space as FeatureSpace, scorer, {
    seen: user.seen,
    exclude: new Set(request.exclude ?? []),
    ...(maturity ? { allow: (item: ItemVector) => allowsLevel(maturity, item.maturity) } : {}),
    ...(request.genres ? { genres: request.genres } : {}),
    ...(request.kinds ? { kinds: request.kinds } : {}),
    offset,
    limit,
    maxPerGenre: c.var.config.RECOMMEND_MAX_PER_GENRE,
  });
  const next = offset + limit;
  return {
    items: page.items.map(present),
    next_cursor: page.hasMore && next < MAX_RECOMMENDATIONS ? encodeCursor({ o: next }) : null,
    ...meta,
  };
}

// Every route here only reads, POSTs included: each is charged to the caller's read budget.
const base = guardedRouter(["/recommendations", "/personalization/*"], readOperation, requireUser);

const listDescription =
  "Catalog items scored by the caller's preference profile, adapter and popularity, best first. " +
  "Anything in the caller's history is left out; a page never holds one series twice or more than " +
  "RECOMMEND_MAX_PER_GENRE items of one genre in any ten. A user with no history gets popular items. A " +
  "profile with a maturity limit is recommended only what the limit allows.";

export const recommendationRoutes = base
  .openapi(
    userRoute("Recommendations", "get", "/recommendations", "Personalized recommendations", {
      description: listDescription,
      request: {
        query: z.object({
          limit: limitQuery,
          cursor: cursorQuery,
          genre: z.string().min(1).max(64).optional(),
          kind: z.enum(KINDS).optional(),
        }),
      },
      responses: {
        200: { description: "A page of recommendations", content: json(recommendationsSchema) },
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const { limit, cursor, genre, kind } = c.req.valid("query");
      const page = await recommendationsFor(c, {
        limit,
        cursor,
        genres: genre ? [genre] : undefined,
        kinds: kind ? [kind] : undefined,
      });
      return c.json(page, 200);
    },
  )
  .openapi(
    userRoute("Recommendations", "post", "/recommendations", "Personalized recommendations, with filters in the body", {
      description: listDescription,
      request: { body: { content: json(recommendationsBody), required: true } },
      responses: {
        200: { description: "A page of recommendations", content: json(recommendationsSchema) },
        503: unavailableResponse,
      },
    }),
    async (c) => {
      // A POST without a body is validated as nothing at all: the defaults apply.
      const body = c.req.valid("json") ?? {};
      const page = await recommendationsFor(c, {
        limit: body.limit ?? 20,
        cursor: body.cursor,
        genres: body.genres,
        kinds: body.kinds,
        exclude: body.exclude_content_ids,
      });
      return c.json(page, 200);
    },
  )
  .openapi(
    userRoute("Recommendations", "post", "/personalization/score", "Score content for the caller", {
      description: `A score in [0, 1] per content id (1 to ${MAX_SCORE_IDS} ids), for a client's own ranking. Ids not in the catalog are listed in \`unknown_ids\`, not refused.`,
      request: { body: { content: json(scoreBody), required: true } },
      responses: {
        200: { description: "Scores", content: json(scoresSchema) },
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const { content_ids } = c.req.valid("json");
      const { space, scorer, meta } = await personalizationOf(c, { withRecentHistory: false });
      const { scores, unknown } = scoreContent(space, scorer, content_ids);
      // What a profile's limit does not allow is, to that profile, not in the catalog.
      const limit = callerMaturity(c);
      const shown = limit ? scores.filter((s) => allowsLevel(limit, s.item.maturity)) : scores;
      const hidden = scores.filter((s) => !shown.includes(s)).map((s) => s.item.id);
      return c.json({ scores: shown.map(present), unknown_ids: [...unknown, ...hidden], ...meta }, 200);
    },
  );
