import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { familyCheckProblem, requireUser } from "./auth";
import { ConfigError } from "./config";
import {
  isProfileDeleted,
  isStorageUnavailable,
  profileDeletedProblem,
  storageUnavailableProblem,
} from "./contracts/outcomes";
import { HttpProblem, problemResponse } from "./contracts/problems";
import { type App, configOf } from "./env";
import { adminRoutes, CATALOG_IMPORT_MAX_BYTES } from "./routes/admin";
import { authRoutes } from "./routes/auth";
import { autocompleteRoutes } from "./routes/autocomplete";
import { contentRoutes } from "./routes/content";
import { deviceAuthRoutes } from "./routes/device-auth";
import { deviceRoutes } from "./routes/devices";
import { discoveryRoutes } from "./routes/discovery";
import { docsRoutes } from "./routes/docs";
import { eventLogRoutes } from "./routes/event-log";
import { eventRecoveryRoutes } from "./routes/event-recovery";
import { experimentRoutes } from "./routes/experiments";
import { healthRoutes } from "./routes/health";
import { historyRoutes } from "./routes/history";
import { HISTORY_IMPORT_MAX_BYTES } from "./routes/history-transfer";
import { householdRoutes } from "./routes/households";
import { methodNotAllowed } from "./routes/methods";
import { profileRoutes } from "./routes/profile";
import { ratingRoutes } from "./routes/ratings";
import { recommendationRoutes } from "./routes/recommendations";
import { userState } from "./routes/router";
import { schemaRoutes } from "./routes/schemas";
import { searchRoutes } from "./routes/search";
import { seriesRoutes } from "./routes/series";
import { sessionRoutes } from "./routes/sessions";
import { syncRoutes } from "./routes/sync";
import { webhookRoutes } from "./routes/webhooks";

/** Request bodies above this are refused before they are read whole. */
export const MAX_BODY_BYTES = 256 * 1024;

const limitTo = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new HttpProblem(413, "too-large", `request bodies are limited to ${maxSize} bytes here`);
    },
  });
const defaultBodyLimit = limitTo(MAX_BODY_BYTES);
/** The imports carry a whole catalog or a whole history: each has its own, larger limit. */
const bodyLimits = new Map([
  ["/api/v1/admin/catalog", limitTo(CATALOG_IMPORT_MAX_BYTES)],
  ["/api/v1/history/import", limitTo(HISTORY_IMPORT_MAX_BYTES)],
]);

const api = new OpenAPIHono<App>()
  .route("/", sessionRoutes)
  .route("/", historyRoutes)
  .route("/", seriesRoutes)
  .route("/", ratingRoutes)
  .route("/", syncRoutes)
  .route("/", deviceRoutes)
  .route("/", recommendationRoutes)
  .route("/", profileRoutes)
  .route("/", authRoutes)
  .route("/", householdRoutes)
  .route("/", deviceAuthRoutes)
  .route("/", experimentRoutes)
  // Search and discovery
  .route("/", searchRoutes)
  .route("/", autocompleteRoutes)
  .route("/", discoveryRoutes)
  .route("/", contentRoutes)
  .route("/", adminRoutes)
  .route("/", eventRecoveryRoutes)
  .route("/", webhookRoutes)
  .route("/", eventLogRoutes);

export const app = new OpenAPIHono<App>();
app
  .use("*", async (c, next) => {
    c.set("config", configOf(c.env));
    await next();
  })
  .use(
    "*",
    methodNotAllowed(() => app.openAPIRegistry),
  )
  .use("/api/*", (c, next) => (bodyLimits.get(c.req.path) ?? defaultBodyLimit)(c, next))
  .route("/", healthRoutes)
  .route("/", docsRoutes)
  .route("/", schemaRoutes)
  .route("/api/v1", api)
  .get("/api/v1/_bench/ping", requireUser, async (c) => {
    if (!c.var.config.BENCH_ROUTES) throw new HttpProblem(404, "not-found", "no such route");
    return c.json({ at: await userState(c).ping() });
  })
  .post("/api/v1/_bench/outbox", requireUser, async (c) => {
    if (!c.var.config.BENCH_ROUTES) throw new HttpProblem(404, "not-found", "no such route");
    const events = Math.min(2000, Math.max(1, Number(c.req.query("events") ?? 100) || 100));
    const stub = c.env.USER_STATE.get(c.env.USER_STATE.idFromName(c.var.caller.sub));
    return c.json(await stub.benchOutbox({ events, fanout: c.req.query("fanout") === "1" }));
  })
  .notFound(() => problemResponse(new HttpProblem(404, "not-found", "no such route").toProblem()))
  .onError(async (error, c) => {
    if (error instanceof HttpProblem) return problemResponse(error.toProblem(), error.extra.headers);
    if (error instanceof HTTPException) {
      const status = error.status >= 400 && error.status < 500 ? error.status : 400;
      const slug = status === 415 ? "unsupported-media-type" : "bad-request";
      return problemResponse(new HttpProblem(status, slug, error.message || "bad request").toProblem());
    }
    // A call to the user's object refused by the token-family check: answer with the check's reason.
    const refused = await familyCheckProblem(c);
    if (refused) return problemResponse(refused.toProblem(), refused.extra.headers);
    // A deleted profile's object refuses every call, tokens without a family included.
    if (isProfileDeleted(error)) {
      const problem = profileDeletedProblem();
      return problemResponse(problem.toProblem(), problem.extra.headers);
    }
    // The user's object could not open its storage (a failed migration): a 503, retried later.
    if (isStorageUnavailable(error)) {
      const problem = storageUnavailableProblem();
      return problemResponse(problem.toProblem(), problem.extra.headers);
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      return problemResponse(
        new HttpProblem(500, "misconfigured", "the service is misconfigured; see its logs").toProblem(),
      );
    }
    console.error("unhandled error", error);
    return problemResponse(new HttpProblem(500, "internal", "an unexpected error occurred").toProblem());
  });

/** What the document says about itself; `npm run client:generate` renders it with the same settings. */
export const openApiConfig = {
  openapi: "3.1.0",
  info: {
    title: "Media Gateway",
    version: "1.0.0",
    description:
      "Playback sessions, resume, history, sync, search and recommendations at the edge.\n\n" +
      "Every error is RFC 9457 `application/problem+json`. Beyond each operation's own answers: a write " +
      "whose body is above 256 KB is a 413, a body that is not `application/json` a 415, and a method a " +
      "known path does not have a 405 with `Allow` (`#/components/responses/MethodNotAllowed`). 429 and " +
      "503 carry `Retry-After`. Search and autocomplete take a bearer token optionally: a valid one " +
      "personalizes, an invalid one is a 401. A write that names content the catalog does not hold is a 404.",
  },
  servers: [{ url: "/" }],
};

app.doc31("/openapi.json", openApiConfig);
app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
  type: "http",
  scheme: "bearer",
  bearerFormat: "JWT",
});
app.openAPIRegistry.registerComponent("responses", "MethodNotAllowed", {
  description: "The path exists but not with this method; `Allow` lists its methods",
  headers: { allow: { description: "The path's methods", required: true, schema: { type: "string" } } },
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
});
// Browsers cannot set headers on a WebSocket: the sync socket also takes the token in the query.
app.openAPIRegistry.registerComponent("securitySchemes", "access_token", {
  type: "apiKey",
  in: "query",
  name: "access_token",
});

export type AppType = typeof app;
