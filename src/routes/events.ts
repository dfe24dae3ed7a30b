import { createRoute, z } from "@hono/zod-openapi";
import { EVENT_SCHEMA_PATH, eventJsonSchema } from "../events/json-schema";
import { router } from "./router";

let cached: Record<string, unknown> | null = null;

/** The JSON Schema of every event on the EVENTS queue, for external consumers. */
export const eventSchemaRoutes = router().openapi(
  createRoute({
    method: "get",
    path: EVENT_SCHEMA_PATH,
    tags: ["Operations"],
    summary: "JSON Schema of the events on the EVENTS queue",
    description: "One `$defs` entry per event type with its `version`; generated from the schemas the consumer uses.",
    responses: {
      200: {
        description: "JSON Schema, draft 2020-12",
        content: { "application/schema+json": { schema: z.record(z.string(), z.unknown()) } },
      },
    },
  }),
  (c) => {
    cached ??= eventJsonSchema();
    return c.json(cached, 200, {
      "content-type": "application/schema+json; charset=utf-8",
      "cache-control": "public, max-age=300",
    });
  },
);
