import { createRoute, z } from "@hono/zod-openapi";
import { requireUser } from "../auth";
import type { ProfileJobKind } from "../contracts/events";
import { unwrap } from "../contracts/outcomes";
import { withDatabase } from "../db/client";
import { loadProfileDocument } from "../db/personalization";
import type { AppContext } from "../env";
import { fromDatabase, unavailableResponse } from "./recommendations";
import { errorResponses, router, userState } from "./router";

const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });
const JOB_KINDS = ["profile-rebuild", "adapter-train"] as const;
const weights = z.record(z.string(), z.number().min(-1).max(1));

const jobSchema = z
  .object({
    job_id: z.string(),
    kind: z.enum(JOB_KINDS),
    status: z.enum(["done", "skipped"]).openapi({ description: "skipped: too little history to train on" }),
    detail: z.string(),
    requested_at: z.string().openapi({ format: "date-time" }),
    finished_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("ProfileJob");

const profileSchema = z
  .object({
    user_id: z.string(),
    version: z.number().int().openapi({ description: "0 until the first view is processed" }),
    built_at: z.string().nullable().openapi({ format: "date-time" }),
    half_life_days: z.number().openapi({ description: "a view's weight halves every this many days" }),
    views: z.number().int(),
    finished: z.number().int(),
    abandoned: z.number().int(),
    confidence: z.number().min(0).max(1),
    last_view_at: z.string().nullable().openapi({ format: "date-time" }),
    genres: weights.openapi({ example: { Drama: 1, Comedy: 0.42, Horror: -0.3 } }),
    directors: weights,
    decades: weights,
    maturity_ratings: weights,
    platforms: weights,
    favorites: z
      .array(z.object({ content_id: z.string(), title: z.string(), weight: z.number() }))
      .openapi({ description: "the liked views recommendations are explained by" }),
    adapter: z
      .object({
        version: z.number().int(),
        examples: z.number().int(),
        positives: z.number().int(),
        negatives: z.number().int(),
        loss: z.number(),
        job_id: z.string(),
        trained_at: z.string().openapi({ format: "date-time" }),
      })
      .nullable(),
    jobs: z.array(jobSchema).openapi({ description: "the latest finished jobs, newest first" }),
  })
  .openapi("PreferenceProfile");

const queuedJobSchema = z
  .object({
    job_id: z.string(),
    kind: z.enum(JOB_KINDS),
    status: z.literal("queued"),
    requested_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("QueuedProfileJob");

async function queueJob(c: AppContext, kind: ProfileJobKind) {
  const job = unwrap(await userState(c).requestProfileJob(kind));
  c.header("location", "/api/v1/profile");
  return { ...job, status: "queued" as const };
}

const base = router();
base.use("/profile", requireUser);
base.use("/profile/*", requireUser);

export const profileRoutes = base
  .openapi(
    createRoute({
      method: "get",
      path: "/profile",
      security: [{ bearer: [] }],
      tags: ["Recommendations"],
      summary: "The caller's preference profile",
      description:
        "Weights in [-1, 1] per genre, director, decade, maturity rating and platform, from the caller's " +
        "watch history: finished views count fully, views stopped early count against, recent views count more.",
      responses: {
        200: { description: "The profile", content: json(profileSchema) },
        503: unavailableResponse,
        ...errorResponses,
      },
    }),
    async (c) => {
      const userId = c.var.caller.sub;
      const doc = await fromDatabase(() => withDatabase(c.var.config, (db) => loadProfileDocument(db, userId)));
      const p = doc.profile;
      return c.json(
        {
          user_id: userId,
          version: p?.version ?? 0,
          built_at: p?.built_at ?? null,
          half_life_days: p?.half_life_days ?? c.var.config.PROFILE_HALF_LIFE_DAYS,
          views: p?.views ?? 0,
          finished: p?.finished ?? 0,
          abandoned: p?.abandoned ?? 0,
          confidence: p?.confidence ?? 0,
          last_view_at: p?.last_view_at ?? null,
          genres: p?.weights.genre ?? {},
          directors: p?.weights.director ?? {},
          decades: p?.weights.decade ?? {},
          maturity_ratings: p?.weights.maturity ?? {},
          platforms: p?.weights.platform ?? {},
          favorites: (p?.anchors ?? []).map(({ content_id, title, weight }) => ({ content_id, title, weight })),
          adapter: doc.adapter,
          jobs: doc.jobs,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/profile/update",
      security: [{ bearer: [] }],
      tags: ["Recommendations"],
      summary: "Rebuild the caller's profile (queued)",
      description: "Queues a full rebuild from the watch history; it shows in the profile's `jobs` when done.",
      responses: { 202: { description: "Queued", content: json(queuedJobSchema) }, ...errorResponses },
    }),
    async (c) => c.json(await queueJob(c, "profile-rebuild"), 202),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/profile/train",
      security: [{ bearer: [] }],
      tags: ["Recommendations"],
      summary: "Train the caller's adapter (queued)",
      description:
        "Queues training of the caller's adapter, a logistic regression over item features learned from " +
        "finished versus abandoned views. It shows in the profile's `jobs` (skipped with too little history).",
      responses: { 202: { description: "Queued", content: json(queuedJobSchema) }, ...errorResponses },
    }),
    async (c) => c.json(await queueJob(c, "adapter-train"), 202),
  );
