/**
 * The validating layer of the Worker tests: every request the tests send through the Worker's
 * fetch is checked, with its answer, against the service's own OpenAPI document
 * (tests/contract/openapi-contract.ts). A mismatch fails the call that made it, and the file.
 */
import { exports } from "cloudflare:workers";
import { afterAll, expect } from "vitest";
import { OpenApiContract } from "../contract/openapi-contract";

let contract: Promise<OpenApiContract> | null = null;
const mismatches: string[] = [];

/** The served document, read once per test file. */
export function servedContract(): Promise<OpenApiContract> {
  contract ??= exports.default
    .fetch(new Request("http://gateway.test/openapi.json"))
    .then(async (res) => new OpenApiContract(await res.json()));
  return contract;
}

afterAll(() => {
  expect(mismatches, "answers that depart from the OpenAPI document").toEqual([]);
});

/**
 * Calls the Worker's fetch and checks the exchange against the document. `body` is the request
 * body as sent (the Request's own stream is consumed by the Worker). The answer comes back with
 * its body read into `text`.
 */
export async function checkedFetch(
  request: Request,
  body: string | null = null,
  send: (request: Request) => Promise<Response> = (r) => exports.default.fetch(r),
): Promise<{ res: Response; text: string }> {
  const method = request.method;
  const url = request.url;
  const requestHeaders = new Headers(request.headers);
  const res = await send(request);
  if (res.status === 101) return { res, text: "" };
  const text = await res.text();
  const errors = (await servedContract()).check({
    method,
    url,
    requestHeaders,
    requestBody: body,
    status: res.status,
    responseHeaders: res.headers,
    responseBody: text,
  });
  if (errors.length > 0) {
    mismatches.push(...errors);
    throw new Error(`the answer departs from the OpenAPI document:\n  ${errors.join("\n  ")}`);
  }
  return { res: new Response(text || null, { status: res.status, headers: res.headers }), text };
}

/** The Worker's fetch, checked against the document (a 101 comes back untouched, with its socket). */
export async function workerFetch(request: Request): Promise<Response> {
  return (await checkedFetch(request)).res;
}
