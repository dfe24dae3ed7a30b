import { createRoute, z } from "@hono/zod-openapi";
import { EVENT_SCHEMA_PATH, eventJsonSchema } from "../contracts/events-schema";
import { SYNC_SOCKET_SCHEMA_PATH, syncSocketJsonSchema } from "../contracts/sync-socket";
import type { AppContext } from "../env";
import { router } from "./router";

const cached = new Map<string, Record<string, unknown>>();

/** Serves a generated JSON Schema document, built once per isolate. */
function schemaDocument(c: AppContext, path: string, build: () => Record<string, unknown>) {
  let document = cached.get(path);
  if (!document) {
    document = build();
    cached.set(path, document);
  }
  return c.json(document, 200, {
    "content-type": "application/schema+json; charset=utf-8",
    "cache-control": "public, max-age=300",
  });
}

const schemaResponse = {
  200: {
    description: "JSON Schema, draft 2020-12",
    content: { "application/schema+json": { schema: z.record(z.string(), z.unknown()) } },
  },
};

/** The published contracts: the events on the EVENTS queue and the messages of the sync socket. */
export const schemaRoutes = router()
  .openapi(
    createRoute({
      method: "get",
      path: EVENT_SCHEMA_PATH,
      tags: ["Operations"],
      summary: "JSON Schema of the events on the EVENTS queue",
      description: "One `$defs` entry per event type with its `version`; generated from the schemas the consumer uses.",
      responses: schemaResponse,
    }),
    (c) => schemaDocument(c, EVENT_SCHEMA_PATH, eventJsonSchema),
  )
  .openapi(
    createRoute({
      method: "get",
      path: SYNC_SOCKET_SCHEMA_PATH,
      tags: ["Sync"],
      summary: "JSON Schema of the sync WebSocket's messages",
      description:
        "Every message of `GET /api/v1/sync/ws`: `$defs` `server-message` (what the server sends) and " +
        "`client-message` (what a client may send); generated from the schemas the server validates with.",
      responses: schemaResponse,
    }),
    (c) => schemaDocument(c, SYNC_SOCKET_SCHEMA_PATH, syncSocketJsonSchema),
  );
