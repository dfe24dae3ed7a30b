import type { ZodError } from "zod";

/** An RFC 9457 problem: every error the API returns has this shape. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { path: string; message: string }[];
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** Thrown anywhere in a request; the app's one error handler turns it into problem+json. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    detail: string,
    readonly extra: { errors?: Problem["errors"]; headers?: Record<string, string>; [k: string]: unknown } = {},
  ) {
    super(detail);
  }

  toProblem(): Problem {
    const { headers: _headers, ...extensions } = this.extra;
    return {
      type: `https://media-gateway.dev/problems/${this.slug}`,
      title: TITLES[this.status] ?? "Error",
      status: this.status,
      detail: this.message,
      ...extensions,
    };
  }
}

export function validationProblem(error: ZodError, where: string): HttpProblem {
  return new HttpProblem(400, "validation", `the ${where} is not valid`, {
    errors: error.issues.map((i) => ({ path: i.path.join(".") || where, message: i.message })),
  });
}

export const notFound = (what: string) => new HttpProblem(404, "not-found", `${what} not found`);

export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}
