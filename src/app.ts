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
import { adminRoutes } from "./routes/admin";
import { authRoutes } from "./routes/auth";
import { autocompleteRoutes } from "./routes/autocomplete";
import { contentRoutes } from "./routes/content";
import { deviceAuthRoutes } from "./routes/device-auth";
import { deviceRoutes } from "./routes/devices";
import { docsRoutes } from "./routes/docs";
import { eventRecoveryRoutes } from "./routes/event-recovery";
import { experimentRoutes } from "./routes/experiments";
import { healthRoutes } from "./routes/health";
import { historyRoutes } from "./routes/history";
import { householdRoutes } from "./routes/households";
import { profileRoutes } from "./routes/profile";
import { recommendationRoutes } from "./routes/recommendations";
import { userState } from "./routes/router";
import { schemaRoutes } from "./routes/schemas";
import { searchRoutes } from "./routes/search";
import { sessionRoutes } from "./routes/sessions";
import { syncRoutes } from "./routes/sync";

/** Request bodies above this are refused before they are read whole. */
export const MAX_BODY_BYTES = 256 * 1024;

const api = new OpenAPIHono<App>()
  .route("/", sessionRoutes)
  .route("/", historyRoutes)
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
  .route("/", contentRoutes)
  .route("/", adminRoutes)
  .route("/", eventRecoveryRoutes);

export const app = new OpenAPIHono<App>();
app
  .use("*", async (c, next) => {
    c.set("config", configOf(c.env));
    await next();
  })
  .use(
    "/api/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw new HttpProblem(413, "too-large", `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
      },
    }),
  )
  .route("/", healthRoutes)
  .route("/", docsRoutes)
  .route("/", schemaRoutes)
  .route("/api/v1", api)
  .get("/api/v1/_bench/ping", requireUser, async (c) => {
    if (!c.var.config.BENCH_ROUTES) throw new HttpProblem(404, "not-found", "no such route");
    return c.json({ at: await userState(c).ping() });
  })
  .notFound(() => problemResponse(new HttpProblem(404, "not-found", "no such route").toProblem()))
  .onError(async (error, c) => {
    if (error instanceof HttpProblem) return problemResponse(error.toProblem(), error.extra.headers);
    if (error instanceof HTTPException) {
      const status = error.status >= 400 && error.status < 500 ? error.status : 400;
      return problemResponse(new HttpProblem(status, "bad-request", error.message || "bad request").toProblem());
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

app.doc31("/openapi.json", {
  openapi: "3.1.0",
  info: {
    title: "Media Gateway",
    version: "1.0.0",
    description: "Playback sessions, resume, history, sync, search and recommendations at the edge.",
  },
  servers: [{ url: "/" }],
});
app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
  type: "http",
  scheme: "bearer",
  bearerFormat: "JWT",
});

export type AppType = typeof app;
