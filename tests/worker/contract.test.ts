/**
 * The published OpenAPI document against what the server answers, probed where generated clients
 * and validating proxies broke: patterns built from unicode regexes, optional tokens, null
 * answers, the statuses every write can give (413, 415, 405 with Allow), unknown content. Every
 * other Worker test checks its own exchanges through the same validator (contract-harness.ts).
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, describe, expect, it } from "vitest";
import committed from "../../clients/typescript/openapi.json";
import { encodeHlc } from "../../src/domain/hlc";
import worker from "../../src/index";
import { CATALOG_IMPORT_MAX_BYTES } from "../../src/routes/admin";
import { HISTORY_IMPORT_MAX_BYTES } from "../../src/routes/history-transfer";
import { servedContract } from "./contract-harness";
import { newUser, tokenFor } from "./helpers";
import { removeItems, testItem, uniqueWord } from "./search-support";

const MATRIX = "film-the-matrix-1999";
const added: string[] = [];
afterAll(() => removeItems(added));

interface Probe {
  status: number;
  headers: Headers;
  json: any;
  /** How the exchange departs from the document (empty when it conforms). */
  mismatches: string[];
}

/** One request straight to the Worker, with the validator's verdict instead of a thrown error. */
async function probe(
  method: string,
  path: string,
  opts: { token?: string | null; body?: string; type?: string; headers?: Record<string, string> } = {},
): Promise<Probe> {
  const headers = new Headers(opts.headers);
  if (opts.token) headers.set("authorization", `Bearer ${opts.token}`);
  if (opts.body !== undefined) headers.set("content-type", opts.type ?? "application/json");
  const url = `http://gateway.test${path}`;
  // The Worker's handler called directly: exports.default.fetch slows down with every call in a file.
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(url, { method, headers, ...(opts.body !== undefined ? { body: opts.body } : {}) }) as Request<
      unknown,
      IncomingRequestCfProperties
    >,
    env as never,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  const mismatches = (await servedContract()).check({
    method,
    url,
    requestHeaders: headers,
    requestBody: opts.body ?? null,
    status: res.status,
    responseHeaders: res.headers,
    responseBody: text,
  });
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {}
  return { status: res.status, headers: res.headers, json, mismatches };
}

/** A path of the document with its parameters filled in by name. */
function fill(template: string): string {
  const values: Record<string, string> = { content_id: MATRIX, id: "probe", device_id: "probe-device" };
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? "probe");
}

async function operations() {
  const { doc } = await servedContract();
  return Object.entries<any>(doc.paths).flatMap(([template, item]) =>
    Object.entries<any>(item)
      .filter(([method]) => ["get", "put", "post", "patch", "delete"].includes(method))
      .map(([method, op]) => ({ template, method: method.toUpperCase(), op })),
  );
}

describe("the document", () => {
  it("is the one committed beside the generated client", async () => {
    const { doc } = await servedContract();
    expect(doc).toEqual(committed);
  });
});

describe("patterns from unicode regexes", () => {
  it("accepts the catalog writes the server accepts: titles, labels, ratings, directors, corrections", async () => {
    const admin = await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" });
    const item = testItem(`Contract ${uniqueWord()}`, {
      year: 2001,
      maturity_rating: "PG-13",
      director: "Agnès Varda",
      genres: ["Science Fiction"],
      platforms: ["Plex Pass"],
    });
    added.push(item.id);
    const imported = await probe("POST", "/api/v1/admin/catalog", {
      token: admin,
      body: JSON.stringify({ items: [item], reindex: false }),
    });
    expect(imported.status).toBe(200);
    expect(imported.mismatches).toEqual([]);
    const corrected = await probe("PUT", "/api/v1/admin/spell-corrections", {
      token: admin,
      body: JSON.stringify({ corrections: [{ misspelled: `${uniqueWord()} tpyo`, corrected: "typo" }] }),
    });
    expect(corrected.status).toBe(200);
    expect(corrected.mismatches).toEqual([]);
  });

  it("publishes every pattern as a JSON Schema (ECMA-262, unicode) regex without flags", async () => {
    const patterns: string[] = [];
    JSON.stringify((await servedContract()).doc, (key, value) => {
      if (key === "pattern" && typeof value === "string") patterns.push(value);
      return value;
    });
    expect(patterns.length).toBeGreaterThan(0);
    for (const pattern of patterns) {
      expect(() => new RegExp(pattern, "u"), pattern).not.toThrow();
      // A regex literal's flags pasted into the pattern (`…$/u`) make it match nothing it should.
      expect(pattern, "a pattern ending in a regex literal's flags").not.toMatch(/\/[dgimsuvy]+$/);
    }
  });
});

describe("optional tokens", () => {
  it("search, POST /search and autocomplete answer anonymous calls as documented", async () => {
    for (const [method, path, body] of [
      ["GET", "/api/v1/search?q=matrix", undefined],
      ["POST", "/api/v1/search", JSON.stringify({ query: "matrix" })],
      ["GET", "/api/v1/autocomplete?q=matr", undefined],
    ] as const) {
      const anonymous = await probe(method, path, body === undefined ? {} : { body });
      expect(anonymous.status, path).toBe(200);
      expect(anonymous.mismatches, path).toEqual([]);
      const invalid = await probe(method, path, { token: "not-a-token", ...(body === undefined ? {} : { body }) });
      expect(invalid.status, path).toBe(401);
      expect(invalid.mismatches, path).toEqual([]);
    }
  });
});

describe("null answers", () => {
  it("a progress write older than a cleared history answers progress: null, as documented", async () => {
    const { token } = await newUser();
    const path = `/api/v1/sync/progress/${MATRIX}`;
    const older = encodeHlc({ ms: Date.now() - 60_000, counter: 0, node: "phone" });
    const write = JSON.stringify({ position_seconds: 600, duration_seconds: 8160, state: "paused", hlc: older });
    expect((await probe("PUT", path, { token, body: write })).status).toBe(200);
    expect((await probe("DELETE", `/api/v1/history/${MATRIX}`, { token })).status).toBe(204);
    const late = await probe("PUT", path, { token, body: write });
    expect(late.status).toBe(200);
    expect(late.json).toEqual({ applied: false, progress: null });
    expect(late.mismatches).toEqual([]);
  });
});

describe("statuses every operation can answer", () => {
  it("413 on every write when the body is above the limit", async () => {
    const admin = await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" });
    // Two imports have limits of their own, above the general 256 KB.
    const limits = new Map([
      ["/api/v1/history/import", HISTORY_IMPORT_MAX_BYTES],
      ["/api/v1/admin/catalog", CATALOG_IMPORT_MAX_BYTES],
    ]);
    for (const { template, method } of (await operations()).filter((o) => o.method !== "GET")) {
      const limit = limits.get(template) ?? 256 * 1024;
      const big = JSON.stringify({ padding: "x".repeat(limit + 44 * 1024) });
      const res = await probe(method, fill(template), { token: admin, body: big });
      expect(res.status, `${method} ${template}`).toBe(413);
      expect(res.mismatches, `${method} ${template}`).toEqual([]);
    }
  });

  it("415 on every operation that takes a body, when the body is not JSON", async () => {
    const admin = await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" });
    const writes = (await operations()).filter((o) => o.op.requestBody);
    expect(writes.length).toBeGreaterThan(10);
    for (const { template, method } of writes) {
      const res = await probe(method, fill(template), { token: admin, body: "position=10", type: "text/plain" });
      expect(res.status, `${method} ${template}`).toBe(415);
      expect(res.mismatches, `${method} ${template}`).toEqual([]);
    }
  });

  it("405 with Allow for a method a known path does not have, with or without a token", async () => {
    const { token } = await newUser();
    const { doc } = await servedContract();
    let probed = 0;
    for (const [template, item] of Object.entries<any>(doc.paths)) {
      const has = Object.keys(item).map((m) => m.toUpperCase());
      for (const method of ["GET", "PUT", "POST", "PATCH", "DELETE"].filter((m) => !has.includes(m))) {
        for (const who of [token, null]) {
          const res = await probe(method, fill(template), { token: who });
          expect(res.status, `${method} ${template}`).toBe(405);
          expect(res.headers.get("content-type")).toBe("application/problem+json");
          expect(res.mismatches, `${method} ${template}`).toEqual([]);
          probed++;
        }
      }
    }
    expect(probed).toBeGreaterThan(50);
  });

  it("401 on every signed-in operation without a token, documented", async () => {
    for (const { template, method, op } of await operations()) {
      const secured = (op.security ?? []).length > 0 && !op.security.some((s: object) => Object.keys(s).length === 0);
      if (!secured) continue;
      const upgrade = template.endsWith("/ws") ? { headers: { upgrade: "websocket" } } : {};
      const res = await probe(method, fill(template), method === "GET" ? upgrade : { body: "{}" });
      expect(res.status, `${method} ${template}`).toBe(401);
      expect(res.mismatches, `${method} ${template}`).toEqual([]);
    }
  });
});

describe("unknown content", () => {
  it("is a documented 404 on every write that names content, and nothing is stored", async () => {
    const { api } = await newUser();
    const unknown = "film-no-such-thing-2099";
    const writes = [
      () =>
        api.raw("POST", "/api/v1/sessions", {
          content_id: unknown,
          device_id: "tv",
          duration_seconds: 3600,
        }),
      () =>
        api.put(`/api/v1/sync/progress/${unknown}`, { position_seconds: 60, duration_seconds: 3600, state: "paused" }),
      () => api.put(`/api/v1/sync/watchlist/${unknown}`),
      () => api.put(`/api/v1/history/${unknown}/watched`),
      () =>
        api.post("/api/v1/sync/ops", {
          ops: [
            {
              type: "watchlist.add",
              op_id: crypto.randomUUID(),
              content_id: unknown,
              hlc: encodeHlc({ ms: Date.now(), counter: 0, node: "phone" }),
            },
          ],
        }),
    ];
    for (const write of writes) {
      // The harness client checks each answer against the document too.
      const res = await write();
      expect(res.status).toBe(404);
      expect(res.json.type).toBe("https://media-gateway.dev/problems/content-not-found");
    }
    expect((await api.get(`/api/v1/resume/${unknown}`)).status).toBe(404);
    const state = await api.get("/api/v1/sync");
    expect(state.json.watchlist.items).toEqual([]);
    expect(state.json.progress.items).toEqual([]);
    expect((await api.get("/api/v1/history")).json.items).toEqual([]);
  });
});

describe("the validating layer", () => {
  it("refuses an answer the document does not allow", async () => {
    const contract = await servedContract();
    const exchange = {
      method: "GET",
      url: `http://gateway.test/api/v1/resume/${MATRIX}`,
      requestHeaders: new Headers({ authorization: "Bearer x" }),
      status: 200,
      responseHeaders: new Headers({ "content-type": "application/json" }),
      responseBody: JSON.stringify({ content_id: MATRIX }),
    };
    expect(contract.check(exchange).join("\n")).toContain("response body");
    expect(contract.check({ ...exchange, status: 418 }).join("\n")).toContain("not documented");
    expect(contract.check({ ...exchange, method: "PATCH", status: 404 }).join("\n")).toContain("expected 405");
    expect(
      contract.check({ ...exchange, requestHeaders: new Headers(), status: 200, responseBody: "{}" }).join("\n"),
    ).toContain("without the credentials");
  });
});
