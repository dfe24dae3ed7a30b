/**
 * `npm run fuzz -- [--runs 5000] [--seed 42] [--url http://127.0.0.1:8787]`: the long run of the
 * fuzzer in tests/worker/fuzz-model.ts, over real HTTP against a throwaway local stack (or the
 * stack at --url, whose JWT_SECRET must be the local development one). Exits 1 on the first
 * broken invariant, with the shrunk counterexample.
 */
import { parseArgs } from "node:util";
import fc from "fast-check";
import { token, withBenchStack } from "../bench/lib";
import { type FuzzRequest, type FuzzResponse, type FuzzStats, fuzzProperty, IdPool } from "../tests/worker/fuzz-model";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: process.env.FUZZ_RUNS ?? "5000" },
    seed: { type: "string" },
    url: { type: "string" },
  },
});

async function fuzz(baseUrl: string): Promise<FuzzStats> {
  const send = async (request: FuzzRequest): Promise<FuzzResponse> => {
    const res = await fetch(`${baseUrl}${request.path}`, {
      method: request.method,
      headers: request.headers,
      ...(request.body !== undefined && !["GET", "HEAD"].includes(request.method)
        ? { body: request.body as BodyInit }
        : {}),
    });
    return {
      status: res.status,
      contentType: res.headers.get("content-type"),
      retryAfter: res.headers.get("retry-after"),
      text: await res.text(),
    };
  };
  const run = crypto.randomUUID().slice(0, 8);
  const ids = { main: `fuzz-${run}`, other: `fuzz-other-${run}` };
  const tokens = {
    main: await token(ids.main),
    other: await token(ids.other),
    admin: await token("fuzz-admin", "admin"),
  };
  const auth = { authorization: `Bearer ${tokens.main}`, "content-type": "application/json" };
  const created = await send({
    method: "POST",
    path: "/api/v1/sessions",
    headers: auth,
    body: JSON.stringify({ content_id: "film-alien-1979", device_id: "tv", duration_seconds: 3600 }),
  });
  const session = JSON.parse(created.text).id as string;
  await send({
    method: "PATCH",
    path: `/api/v1/sessions/${session}/position`,
    headers: auth,
    body: JSON.stringify({ position_seconds: 1200, playback_state: "paused" }),
  });
  const doc = JSON.parse((await send({ method: "GET", path: "/openapi.json", headers: {} })).text);
  const pool = new IdPool({
    content_id: ["film-alien-1979", "film-amadeus-1984", "film-babe-1995"],
    device_id: ["tv", "phone"],
    id: [session],
  });
  const stats: FuzzStats = { cases: 0, byStatus: {}, stateChecks: 0 };
  const started = Date.now();
  const progress = setInterval(
    () => console.log(`  ${stats.cases} cases, ${((Date.now() - started) / 1000).toFixed(0)} s`),
    15_000,
  );
  try {
    await fc.assert(fuzzProperty({ doc, send, tokens, ids, pool }, stats), {
      numRuns: Number(values.runs),
      endOnFailure: true,
      ...(values.seed ? { seed: Number(values.seed) } : {}),
    });
  } finally {
    clearInterval(progress);
  }
  const health = await send({ method: "GET", path: "/health", headers: {} });
  if (health.status !== 200) throw new Error(`the stack is unhealthy after the run: ${health.status} ${health.text}`);
  console.log(
    `fuzz: ${stats.cases} cases over HTTP in ${((Date.now() - started) / 1000).toFixed(0)} s, ${stats.stateChecks} state checks, ` +
      `slowest ${stats.slowestMs} ms, statuses ${JSON.stringify(stats.byStatus)}; no 5xx, no state change on rejection`,
  );
  return stats;
}

if (values.url) await fuzz(values.url);
else await withBenchStack({}, (stack) => fuzz(stack.baseUrl));
