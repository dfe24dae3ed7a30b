import { OpenAPIHono, z } from "@hono/zod-openapi";
import { callerUserState } from "../auth";
import { validationProblem } from "../contracts/problems";
import type { App, AppContext } from "../env";

/** A sub-app whose request validation failures become 400 problem+json listing the fields. */
export function router() {
  return new OpenAPIHono<App>({
    defaultHook: (result) => {
      if (!result.success) throw validationProblem(result.error, result.target === "json" ? "body" : result.target);
    },
  });
}

/**
 * The caller's own Durable Object. The id comes from the verified token only, never the request;
 * for a token with a family, calls ride behind the revocation check (see `callerUserState`).
 */
export function userState(c: AppContext) {
  return callerUserState(c);
}

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
export const resourceId = (name: string) =>
  z
    .string()
    .regex(ID_PATTERN, "1-128 letters, digits or . _ : -")
    .openapi({ param: { name, in: "path" }, example: "tt0133093" });

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: problemSchema } },
});

/** The error responses every authenticated route can give. */
export const errorResponses = {
  400: problem("Invalid input"),
  401: problem("Missing or invalid access token"),
  404: problem("Not found"),
  429: problem("Rate limited; see Retry-After"),
};

export const limitQuery = z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 });
export const cursorQuery = z.string().max(512).optional().openapi({ description: "opaque; from next_cursor" });
