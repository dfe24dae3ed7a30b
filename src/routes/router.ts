/**
 * What every route file shares: the sub-app factory, the caller's UserState, request and
 * response specs, cursors, and the 503 a Postgres outage becomes.
 */
import { createRoute, OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { callerUserState } from "../auth";
import { type Outcome, unwrap } from "../contracts/outcomes";
import { HttpProblem, notFound, validationProblem } from "../contracts/problems";
import { type Database, withDatabase } from "../db/client";
import { decodeCursor } from "../domain/cursor";
import type { App, AppContext } from "../env";

/** A sub-app whose request validation failures become 400 problem+json listing the fields. */
export function router() {
  return new OpenAPIHono<App>({
    defaultHook: (result) => {
      if (!result.success) throw validationProblem(result.error, result.target === "json" ? "body" : result.target);
    },
  });
}

/** A `router()` whose requests to `patterns` pass `guards` first (authentication, roles). */
export function guardedRouter(patterns: readonly string[], ...guards: MiddlewareHandler<App>[]) {
  const base = router();
  for (const pattern of patterns) base.use(pattern, ...guards);
  return base;
}

/**
 * The caller's own Durable Object. The id comes from the verified token only, never the request;
 * for a token with a family, calls ride behind the revocation check (see `callerUserState`).
 */
export function userState(c: AppContext) {
  return callerUserState(c);
}

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** A path id; the example is a real catalog id, so tools that call the API with examples reach real content. */
export const resourceId = (name: string, example = "film-the-matrix-1999") =>
  z
    .string()
    .regex(ID_PATTERN, "1-128 letters, digits or . _ : -")
    .openapi({ param: { name, in: "path" }, example });

/** The `x-device-id` header of a write: the device making the change, whose own sockets are not sent the push. */
export const deviceHeader = z.object({
  "x-device-id": z.string().regex(ID_PATTERN, "1-128 letters, digits or . _ : -").optional().openapi({
    example: "phone-7f3a",
    description: "the device making the change: its own sockets are not sent the push",
  }),
});

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

/** A JSON request body or response body of this schema. */
export const json = <T extends z.ZodType>(schema: T) => ({ "application/json": { schema } });

/**
 * `schema` or null. For a named schema, `.nullable()` is lost on the way to the document (the
 * generator answers the bare `$ref`); a union with null is published as `anyOf: [$ref, null]`.
 */
export const orNull = <T extends z.ZodType>(schema: T) => z.union([schema, z.null()]);

/** A problem+json response. */
export const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: problemSchema } },
});

/** A problem+json response that always carries Retry-After (429, 503). */
export const retryProblem = (description: string) => ({
  ...problem(description),
  headers: {
    "retry-after": {
      description: "Seconds to wait before retrying",
      required: true,
      schema: { type: "integer" as const },
    },
  },
});

/** The error responses a route can give besides its own, by what the route is. */
export const errorResponses = {
  400: problem("Invalid input"),
  401: problem("Missing or invalid access token"),
  404: problem("Not found"),
  413: problem("Request body larger than the limit (256 KB)"),
  415: problem("Request body is not application/json"),
  429: retryProblem("Rate limited; see Retry-After"),
  503: retryProblem(
    "A dependency is unreachable (the user's state, the token check or Postgres); retry after Retry-After",
  ),
};

/** What an admin-only route answers besides the usual errors. */
export const adminOnly = { 403: problem("Not an admin: the route needs the admin role") };

/** What a route spec says beyond its method, path and summary. */
type RouteSpec = Omit<RouteConfig, "method" | "path" | "summary" | "tags" | "security">;

const WRITES = new Set(["post", "put", "patch", "delete"]);

/**
 * A route's spec around what is particular to it: its security, its group's tag, and the error
 * responses every route of its kind can give: 400; 404 when the path names something; 413 on
 * writes (the body limit); 415 where a JSON body is read; 401, 429 and 503 when signed in.
 */
function routeSpec(security: RouteConfig["security"], signedIn: boolean) {
  return <const M extends RouteConfig["method"], const P extends string, const S extends RouteSpec>(
    tag: string,
    method: M,
    path: P,
    summary: string,
    spec: S,
  ) =>
    createRoute({
      method,
      path,
      ...(security ? { security } : {}),
      tags: [tag],
      summary,
      ...spec,
      responses: {
        400: errorResponses[400],
        ...(path.includes("{") ? { 404: errorResponses[404] } : {}),
        ...(WRITES.has(method) ? { 413: errorResponses[413] } : {}),
        ...(spec.request?.body ? { 415: errorResponses[415] } : {}),
        ...(signedIn ? { 401: errorResponses[401], 429: errorResponses[429], 503: errorResponses[503] } : {}),
        ...spec.responses,
      },
    });
}

/** The spec of a route a signed-in caller calls (bearer token). */
export const userRoute = routeSpec([{ bearer: [] }], true);

/** The spec of a route where a token is optional: a valid one personalizes, an invalid one is a 401. */
export const optionalUserRoute = routeSpec([{}, { bearer: [] }], true);

/** The spec of a route anyone may call. */
export const publicRoute = routeSpec(undefined, false);

export const limitQuery = z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 });
export const cursorQuery = z.string().max(512).optional().openapi({ description: "opaque; from next_cursor" });

/** The query of a plain list: `limit` and `cursor`. */
export const pageQuery = z.object({ limit: limitQuery, cursor: cursorQuery });

/** A page of a list: its items and the cursor of the next page (null on the last). */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable() });

/** A DELETE's answer: 204 when the write found what it removes, else the 404 of `what`. */
export function removedOr404(c: AppContext, what: string, outcome: Outcome<unknown>) {
  if (!unwrap(outcome)) throw notFound(what);
  return c.body(null, 204);
}

// ---- cursors ----

/** A cursor this API never issued (`path` names the parameter). */
export const badCursor = (path = "cursor") =>
  new HttpProblem(400, "bad-cursor", "the cursor is not one this API issued", {
    errors: [{ path, message: "invalid cursor" }],
  });

/** The decoded cursor of a page, null when none was given; a 400 when it is not one of ours. */
export function pageCursor<T extends Record<string, "string" | "number">>(
  text: string | undefined,
  shape: T,
  path = "cursor",
) {
  if (text === undefined) return null;
  const decoded = decodeCursor(text, shape);
  if (!decoded) throw badCursor(path);
  return decoded;
}

// ---- Postgres outages ----

/** Each area's 503 when Postgres cannot be reached: its problem type, what it says, when to retry. */
const OUTAGES = {
  accounts: { slug: "accounts-unavailable", detail: "accounts are unavailable right now; retry shortly", retry: 5 },
  catalog: { slug: "catalog-unavailable", detail: "the catalog database is not reachable; retry shortly", retry: 5 },
  experiments: {
    slug: "experiments-unavailable",
    detail: "experiment definitions are unavailable right now; retry shortly",
    retry: 5,
  },
  personalization: { slug: "unavailable", detail: "personalization is unavailable right now; retry shortly", retry: 5 },
  "dead-letters": { slug: "database-unavailable", detail: "the database is unreachable; try again later", retry: 30 },
  webhooks: { slug: "webhooks-unavailable", detail: "webhooks are unavailable right now; retry shortly", retry: 5 },
  "event-log": {
    slug: "unavailable",
    detail: "the event log or the target is unreachable; try again later",
    retry: 30,
  },
} as const;

export type PostgresArea = keyof typeof OUTAGES;

export const unavailable = (area: PostgresArea) => {
  const { slug, detail, retry } = OUTAGES[area];
  return new HttpProblem(503, slug, detail, { headers: { "retry-after": String(retry) } });
};

/** The documented 503 of a route that reads Postgres. */
export const unavailableResponse = retryProblem("Postgres is unreachable; retry after Retry-After");

/**
 * Runs `work`; a failure that is not already a problem (Postgres unreachable, a pool that timed
 * out) is the area's 503, which a client may retry, never a 500.
 */
export async function orUnavailable<T>(area: PostgresArea, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof HttpProblem) throw error;
    console.error(`${area}: database unavailable:`, String(error), String((error as { cause?: unknown }).cause ?? ""));
    throw unavailable(area);
  }
}

/** `work` on a database of its own, for this request; an outage is the area's 503. */
export const withPostgres = <T>(c: AppContext, area: PostgresArea, work: (db: Database) => Promise<T>) =>
  orUnavailable(area, () => withDatabase(c.var.config, work));

/** The request's `waitUntil`, to finish work after the answer; undefined outside a request. */
export function waitUntilOf(c: AppContext): ((promise: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    return undefined;
  }
}
