import { z } from "@hono/zod-openapi";
import { requireUser } from "../auth";
import { withDatabase } from "../db/client";
import { catalogFeatures, loadPersonalization } from "../db/personalization";
import type { ContentKind } from "../domain/catalog";
import { decodeCursor, encodeCursor } from "../domain/cursor";
import type { FeatureSpace, ItemVector } from "../domain/features";
import { allowsLevel } from "../domain/maturity";
import { CollaborativeScorer } from "../domain/personal-ranking";
import { type Recommendation, recommend, scoreContent } from "../domain/recommend";
import type { HistoryView } from "../domain/shared-model";
import type { AppContext } from "../env";
import { readOperation } from "../read-limits";
import { alignedWith, currentModel } from "../recommendations/model-store";
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
  waitUntilOf,
} from "./router";

/** Deepest a client can page into one user's recommendations. */
export const MAX_RECOMMENDATIONS = 500;
/** Most ids one personalization/score request may carry. */
export const MAX_SCORE_IDS = 1000;

const KINDS = ["movie", "series", "episode"] as const;

/** What every list of titles here shows of each: recommendations, similar titles, trending. */
export const titleFields = {
  content_id: z.string(),
  title: z.string(),
  kind: z.enum(KINDS),
  year: z.number().int().nullable(),
  genres: z.array(z.string()),
  platforms: z.array(z.string()),
  rating: z.number().nullable(),
};

export function titleOf(item: ItemVector) {
  return {
    content_id: item.id,
    title: item.title,
    kind: item.kind,
    year: item.year,
    genres: item.genres,
    platforms: item.platforms,
    rating: item.rating,
  };
}

export const scoredItemSchema = z
  .object({
    ...titleFields,
    score: z.number().min(0).max(1).openapi({ description: "higher is a better match for this user" }),
    reason: z.string().openapi({ example: "Because you watched Heat" }),
    because_content_id: z.string().nullable().openapi({ description: "the watched content the reason points at" }),
  })
  .openapi("ScoredItem");

const personalizationMeta = {
  personalized: z.boolean().openapi({ description: "false for a user with no history yet: popular items" }),
  profile_version: z.number().int().nullable(),
  adapter_version: z.number().int().nullable(),
  model_version: z
    .string()
    .nullable()
    .openapi({ description: "the shared model version behind the scores; null when it played no part" }),
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

/**
 * Titles of the user's history read from their Durable Object: the most recent ones. The shared
 * model halves a view's weight every 10 newer ones, so older views add next to nothing.
 */
const RECENT_HISTORY_ITEMS = 200;

/**
 * What the user watched, newest first, from their Durable Object: Postgres learns of a finished
 * film only once the queue has carried it, the object knows at once. Best effort: Postgres's
 * history still applies if the object cannot answer.
 */
async function recentHistory(c: AppContext): Promise<HistoryView[]> {
  try {
    const page = await userState(c).history({ limit: RECENT_HISTORY_ITEMS });
    return page.items.map((item) => ({
      content_id: item.content_id,
      completion: item.completion_percentage / 100,
      watched: item.watched,
      at: item.last_watched_at ? Date.parse(item.last_watched_at) : 0,
    }));
  } catch (error) {
    console.error("recommendations: recent history unavailable:", String(error));
    return [];
  }
}

/**
 * The catalog's vectors (isolate cache), the shared model (isolate cache over KV), the caller's
 * profile and adapter (Postgres) and recent history (their Durable Object), scored together.
 */
async function personalizationOf(c: AppContext) {
  const config = c.var.config;
  const [space, user, recent, loaded] = await orUnavailable("personalization", () =>
    Promise.all([
      catalogFeatures(config, waitUntilOf(c)),
      withDatabase(config, (db) => loadPersonalization(db, c.var.caller.sub)),
      recentHistory(c),
      currentModel(c.env, config),
    ]),
  );
  for (const view of recent) user.seen.add(view.content_id);
  const scorer = new CollaborativeScorer(space, user, alignedWith(loaded, space), recent);
  const meta = {
    personalized: scorer.personalized,
    profile_version: user.profileVersion,
    adapter_version: user.adapterVersion,
    model_version: scorer.collaborativeActive ? (loaded?.version ?? null) : null,
  };
  return { space, user, scorer, meta };
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

function present(r: Recommendation): z.infer<typeof scoredItemSchema> {
  return {
    ...titleOf(r.item),
    // The shared model's scores may run a little past [0, 1]; the order is the ranking's.
    score: round(Math.min(1, Math.max(0, r.score))),
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
  const { space, user, scorer, meta } = await personalizationOf(c);
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
  "Catalog items scored for the caller, best first: the shared model learned from everyone's viewing, " +
  "applied to the caller's own recent history (a film finished a second ago counts at once), with the " +
  "preference profile on top; a reason names the watched film behind an item. Without a shared model " +
  "(or for titles nobody watched yet) the profile, adapter and popularity score alone. " +
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
      request: { body: { content: json(recommendationsBody), required: false } },
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
      const { space, scorer, meta } = await personalizationOf(c);
      const { scores, unknown } = scoreContent(space, scorer, content_ids);
      // What a profile's limit does not allow is, to that profile, not in the catalog.
      const limit = callerMaturity(c);
      const shown = limit ? scores.filter((s) => allowsLevel(limit, s.item.maturity)) : scores;
      const hidden = scores.filter((s) => !shown.includes(s)).map((s) => s.item.id);
      return c.json({ scores: shown.map(present), unknown_ids: [...unknown, ...hidden], ...meta }, 200);
    },
  );
