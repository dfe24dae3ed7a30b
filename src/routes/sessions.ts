import { z } from "@hono/zod-openapi";
import { requireUserState } from "../auth";
import { unwrap } from "../contracts/outcomes";
import { HttpProblem, notFound } from "../contracts/problems";
import { requireKnownContent } from "./known-content";
import { requireViewable } from "./maturity";
import { guardedRouter, json, problem, removedOr404, resourceId, userRoute, userState } from "./router";

const playbackState = z.enum(["playing", "paused", "stopped"]);
const seconds = z.number().finite().min(0).max(10_000_000);

export const sessionSchema = z
  .object({
    id: z.string(),
    user_id: z.string(),
    content_id: z.string(),
    device_id: z.string(),
    position_seconds: z.number(),
    duration_seconds: z.number(),
    playback_state: playbackState,
    quality: z.string().nullable(),
    started_at: z.string().openapi({ format: "date-time" }),
    updated_at: z.string().openapi({ format: "date-time" }),
    ended_at: z.string().nullable().openapi({ format: "date-time" }),
  })
  .openapi("Session");

const createBody = z
  .object({
    content_id: resourceId("content_id").openapi({ param: undefined }),
    device_id: resourceId("device_id").openapi({ param: undefined, example: "living-room-tv" }),
    duration_seconds: seconds.openapi({ example: 7200, description: "0 when unknown (live)" }),
    quality: z.string().max(32).optional().openapi({ example: "1080p" }),
  })
  .openapi("CreateSession");

const positionBody = z
  .object({
    position_seconds: seconds.openapi({ example: 1800 }),
    playback_state: playbackState.optional(),
  })
  .openapi("PositionUpdate");

const sessionParams = z.object({
  id: z
    .string()
    .max(128)
    .openapi({ param: { name: "id", in: "path" } }),
});

export const sessionRoutes = guardedRouter(["/sessions", "/sessions/*"], requireUserState)
  .openapi(
    userRoute("Playback", "post", "/sessions", "Start a playback session", {
      description:
        "Returns the session and where to resume, by the resume rules. 404 when the catalog does not hold " +
        "`content_id`. A profile with a maturity limit cannot start content above it: 403 `maturity-restricted`.",
      request: { body: { content: json(createBody), required: true } },
      responses: {
        201: {
          description: "Created",
          content: json(sessionSchema.extend({ resume_position_seconds: z.number().nullable() })),
        },
        403: problem("Above the profile's maturity limit"),
        404: problem("No such content in the catalog"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      await requireKnownContent(c, body.content_id);
      await requireViewable(c, body.content_id);
      const { session, resume_position_seconds } = unwrap(await userState(c).createSession(body));
      return c.json({ ...session, resume_position_seconds }, 201);
    },
  )
  .openapi(
    userRoute("Playback", "get", "/sessions/{id}", "Get a session", {
      request: { params: sessionParams },
      responses: { 200: { description: "The session", content: json(sessionSchema) } },
    }),
    async (c) => {
      const session = await userState(c).getSession(c.req.valid("param").id);
      if (!session) throw notFound("session");
      return c.json(session, 200);
    },
  )
  .openapi(
    userRoute("Playback", "patch", "/sessions/{id}/position", "Report the playback position", {
      request: { params: sessionParams, body: { content: json(positionBody), required: true } },
      responses: {
        200: { description: "The session", content: json(sessionSchema) },
        409: problem("The session has ended; start a new one"),
      },
    }),
    async (c) => {
      const result = unwrap(await userState(c).updatePosition(c.req.valid("param").id, c.req.valid("json")));
      if (result === null) throw notFound("session");
      if (result === "ended") throw new HttpProblem(409, "session-ended", "the session has ended; start a new one");
      return c.json(result, 200);
    },
  )
  .openapi(
    userRoute("Playback", "delete", "/sessions/{id}", "End a session", {
      description: "Writes the final progress and emits `session-ended` with `completion_rate` in [0, 1].",
      request: { params: sessionParams },
      responses: { 204: { description: "Ended" } },
    }),
    async (c) => removedOr404(c, "session", await userState(c).endSession(c.req.valid("param").id)),
  );
