import { z } from "@hono/zod-openapi";
import { requireAdmin, requireUser } from "../auth";
import { HttpProblem } from "../contracts/problems";
import { insertExperiment, updateExperiment } from "../db/experiments";
import { encodeCursor } from "../domain/cursor";
import { allocate, assignVariant, BUCKETS, bucketCounts } from "../domain/experiments";
import {
  type Experiment,
  experimentDefinitions,
  exposureReported,
  forgetExperimentDefinitions,
  rememberExposure,
} from "../experiments/definitions";
import {
  adminOnly,
  guardedRouter,
  ID_PATTERN,
  json,
  orUnavailable,
  pageCursor,
  pageOf,
  pageQuery,
  problem,
  userRoute,
  userState,
  withPostgres,
} from "./router";

const variantInput = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "1-64 letters, digits or . _ -")
    .openapi({ example: "control" }),
  weight: z
    .number()
    .finite()
    .min(0)
    .max(1_000_000)
    .openapi({ example: 50, description: "relative; 0 pauses the variant" }),
});

const variantsInput = z
  .array(variantInput)
  .min(1)
  .max(20)
  .refine((vs) => new Set(vs.map((v) => v.name)).size === vs.length, "variant names must be unique")
  .refine((vs) => vs.some((v) => v.weight > 0), "at least one variant needs a weight above 0");

const experimentId = z.string().regex(ID_PATTERN, "1-128 letters, digits or . _ : -");

const createBody = z
  .object({
    id: experimentId.openapi({ example: "new-home-row" }),
    name: z.string().min(1).max(200).openapi({ example: "New home row layout" }),
    variants: variantsInput,
    active: z.boolean().default(true),
  })
  .openapi("CreateExperiment");

const updateBody = z
  .object({ name: z.string().min(1).max(200), variants: variantsInput, active: z.boolean() })
  .openapi("UpdateExperiment");

const experimentSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    variants: z.array(
      z.object({
        name: z.string(),
        weight: z.number(),
        share: z.number().openapi({ description: "share of users, 0-1 (weight over total, in 1/10,000 steps)" }),
      }),
    ),
    active: z.boolean(),
    created_at: z.string().openapi({ format: "date-time" }),
    updated_at: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Experiment");

const assignmentSchema = z
  .object({ experiment_id: z.string(), variant: z.string() })
  .openapi("Assignment", { description: "the same user always gets the same variant while the weights stay" });

const idParams = z.object({
  id: experimentId.openapi({ param: { name: "id", in: "path" }, example: "new-home-row" }),
});

function present(experiment: Experiment) {
  const counts = bucketCounts(experiment.allocation);
  return {
    id: experiment.id,
    name: experiment.name,
    variants: experiment.variants.map((v) => ({
      name: v.name,
      weight: v.weight,
      share: (counts[v.name] ?? 0) / BUCKETS,
    })),
    active: experiment.active,
    created_at: experiment.createdAt.toISOString(),
    updated_at: experiment.updatedAt.toISOString(),
  };
}

const definitions = (c: Parameters<typeof userState>[0]) =>
  orUnavailable("experiments", () => experimentDefinitions(c.var.config));

const notFound = (id: string) => new HttpProblem(404, "experiment-not-found", `no experiment '${id}'`);

const base = guardedRouter(["/experiments", "/experiments/*"], requireUser);
base.on(["POST", "PUT"], ["/experiments", "/experiments/*"], requireAdmin);

export const experimentRoutes = base
  .openapi(
    userRoute("Experiments", "post", "/experiments", "Create an experiment (admin)", {
      description: "Variants split 10,000 buckets by weight. 409 when the id exists (update it with PUT).",
      request: { body: { content: json(createBody), required: true } },
      responses: {
        201: { description: "Created", content: json(experimentSchema) },
        ...adminOnly,
        409: problem("An experiment with this id exists; update it with PUT"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const row = await withPostgres(c, "experiments", (db) =>
        insertExperiment(db, {
          id: body.id,
          name: body.name,
          variants: body.variants,
          allocation: allocate(body.variants),
          active: body.active,
        }),
      );
      if (!row) throw new HttpProblem(409, "experiment-exists", `experiment '${body.id}' exists; update it with PUT`);
      forgetExperimentDefinitions();
      return c.json(present(row), 201);
    },
  )
  .openapi(
    userRoute("Experiments", "put", "/experiments/{id}", "Update an experiment (admin)", {
      description:
        "A weight change moves only the users it must: each variant keeps as many of its buckets as its new " +
        "share allows (50/50 → 60/40 reassigns 10 % of users). Other isolates see the change within " +
        "EXPERIMENT_CACHE_SECONDS.",
      request: { params: idParams, body: { content: json(updateBody), required: true } },
      responses: {
        200: { description: "Updated", content: json(experimentSchema) },
        ...adminOnly,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const updated = await withPostgres(c, "experiments", (db) =>
        updateExperiment(db, id, (current) => ({
          name: body.name,
          variants: body.variants,
          allocation: allocate(body.variants, current),
          active: body.active,
        })),
      );
      if (!updated) throw notFound(id);
      forgetExperimentDefinitions();
      return c.json(present(updated), 200);
    },
  )
  .openapi(
    userRoute("Experiments", "get", "/experiments", "List experiments", {
      request: { query: pageQuery },
      responses: {
        200: {
          description: "A page, by id",
          content: json(pageOf(experimentSchema)),
        },
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const { ids, byId } = await definitions(c);
      // The cursor is the last id of the previous page: ids are ordered, so resume after it.
      const after = pageCursor(cursor, { id: "string" })?.id ?? "";
      const start = after === "" ? 0 : ids.findIndex((id) => id > after);
      const page = start < 0 ? [] : ids.slice(start, start + limit);
      const more = start >= 0 && start + limit < ids.length;
      return c.json(
        {
          items: page.map((id) => present(byId.get(id) as Experiment)),
          next_cursor: more ? encodeCursor({ id: page[page.length - 1] as string }) : null,
        },
        200,
      );
    },
  )
  .openapi(
    userRoute("Experiments", "get", "/experiments/{id}", "One experiment", {
      request: { params: idParams },
      responses: { 200: { description: "The experiment", content: json(experimentSchema) } },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const experiment = (await definitions(c)).byId.get(id);
      if (!experiment) throw notFound(id);
      return c.json(present(experiment), 200);
    },
  )
  .openapi(
    userRoute("Experiments", "get", "/experiments/{id}/assign", "The caller's variant", {
      description:
        "Deterministic: a hash of (experiment id, user id) picks one of 10,000 buckets, and the bucket's " +
        "variant is the answer, on every edge, with no storage read. The first assignment emits an " +
        "`experiment-exposure` event. 404 for an unknown experiment, 409 for an inactive one.",
      request: { params: idParams },
      responses: {
        200: { description: "The variant", content: json(assignmentSchema) },
        409: problem("The experiment is not active"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const userId = c.var.caller.sub;
      const experiment = (await definitions(c)).byId.get(id);
      if (!experiment) throw notFound(id);
      if (!experiment.active) {
        throw new HttpProblem(409, "experiment-inactive", `experiment '${id}' is not active; no variant is assigned`);
      }
      const { bucket, variant } = assignVariant(experiment.compiled, id, userId);
      if (!exposureReported(userId, id, variant)) {
        await userState(c).recordExposure({ experiment_id: id, variant, bucket });
        rememberExposure(userId, id, variant);
      }
      return c.json({ experiment_id: id, variant }, 200);
    },
  );
