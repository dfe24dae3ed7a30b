import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeEvent } from "../../src/contracts/events";
import { applyEventBatch } from "../../src/events/consumer";
import worker from "../../src/index";
import { checkedFetch } from "./contract-harness";
import { type FuzzRequest, type FuzzResponse, type FuzzStats, fuzzProperty, IdPool } from "./fuzz-model";
import { newUser, testConfig, tokenFor, userStub } from "./helpers";
import { drainOutbox, recordQueue } from "./queue-recorder";

/** Cases per run inside `npm test`; `npm run fuzz` runs many more over HTTP. */
const RUNS = 500;

/**
 * The Worker's fetch handler called directly (exports.default.fetch gets slower with every call
 * in a file under vitest-pool-workers 0.23: 3 ms to 20 ms over 300 calls).
 */
async function send(request: FuzzRequest): Promise<FuzzResponse> {
  const ctx = createExecutionContext();
  const withBody = request.body !== undefined && !["GET", "HEAD"].includes(request.method);
  const sent = !withBody
    ? null
    : typeof request.body === "string"
      ? request.body
      : new TextDecoder().decode(request.body);
  // Every answer is also checked against the OpenAPI document (the run fails on a mismatch).
  const { res, text } = await checkedFetch(
    new Request(`http://gateway.test${request.path}`, {
      method: request.method,
      headers: request.headers,
      ...(withBody ? { body: request.body } : {}),
    }),
    sent,
    async (r) => worker.fetch(r as Request<unknown, IncomingRequestCfProperties>, env as never, ctx),
  );
  await waitOnExecutionContext(ctx);
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    retryAfter: res.headers.get("retry-after"),
    text,
  };
}

const prototypeKeys = () => [
  ...Object.getOwnPropertyNames(Object.prototype),
  ...Object.getOwnPropertyNames(Array.prototype),
];

describe("fuzzing every route of the OpenAPI document", () => {
  it(`answers ${RUNS} random and adversarial requests with 2xx or 4xx problem+json, and rejected ones change nothing`, async () => {
    const main = await newUser("fuzz");
    const other = await newUser("fuzz-other");
    const doc = JSON.parse((await send({ method: "GET", path: "/openapi.json", headers: {} })).text);
    // The catalog writes change what every other test file searches (one Postgres, one index); the
    // contract suite covers them.
    for (const path of ["/api/v1/admin/catalog", "/api/v1/admin/spell-corrections", "/api/v1/admin/search/reindex"])
      delete doc.paths[path];
    // Give the main user something to lose: a session with progress, history, a watched item.
    const s = await main.api.post("/api/v1/sessions", {
      content_id: "film-alien-1979",
      device_id: "tv",
      duration_seconds: 3600,
    });
    await main.api.patch(`/api/v1/sessions/${s.json.id}/position`, {
      position_seconds: 1200,
      playback_state: "paused",
    });
    await main.api.put("/api/v1/history/film-amadeus-1984/watched");
    const pool = new IdPool({
      content_id: ["film-alien-1979", "film-amadeus-1984", "film-babe-1995"],
      device_id: ["tv", "phone"],
      id: [s.json.id],
    });
    await other.api.get("/api/v1/history");
    const queues = [await recordQueue(userStub(main.id)), await recordQueue(userStub(other.id))];
    const stats: FuzzStats = { cases: 0, byStatus: {}, stateChecks: 0 };
    const baseline = new Set(prototypeKeys());
    await fc.assert(
      fuzzProperty(
        {
          doc,
          send,
          tokens: { main: main.token, other: other.token, admin: await tokenFor("fuzz-admin", { role: "admin" }) },
          ids: { main: main.id, other: other.id },
          pool,
          afterEach: () => {
            const added = prototypeKeys().filter((k) => !baseline.has(k));
            return added.length ? `prototype polluted with ${added.join(", ")}` : null;
          },
        },
        stats,
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
    console.log(
      `fuzz: ${stats.cases} cases, ${stats.stateChecks} state checks, statuses ${JSON.stringify(stats.byStatus)}`,
    );
    expect(stats.cases).toBeGreaterThanOrEqual(RUNS);

    // Whatever the fuzzed requests made the objects emit, their own consumer can decode and store.
    await drainOutbox(userStub(main.id));
    await drainOutbox(userStub(other.id));
    const events = queues.flatMap((q) => q.sent.flatMap((b) => b.events));
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) expect(decodeEvent(event).kind, JSON.stringify(event).slice(0, 300)).toBe("event");
    const report = await applyEventBatch(
      testConfig(),
      "media-gateway-events",
      events.map((body) => ({ id: `fuzz-${body.event_id}`, body })),
    );
    expect(report.deadLettered).toBe(0);
    // The run must reach the handlers, not only the validators.
    expect(Object.keys(stats.byStatus).some((status) => status.startsWith("2"))).toBe(true);
  }, 300_000);
});
