/**
 * A property-based fuzzer over every operation of the service's OpenAPI document. It runs inside
 * workerd (tests/worker/fuzz.test.ts, against the Worker's fetch) and over real HTTP against the
 * local stack (scripts/fuzz.ts): both hand it a `send` function.
 *
 * Each case is one request: valid by the schema, valid with one part made adversarial (a path or
 * query parameter, a body field, the whole body, its bytes or content type, the token), or a
 * random path. The invariants: never a 5xx; every 4xx is problem+json; every 2xx JSON answer
 * matches its OpenAPI schema; the main user's state does not change on a rejected request, a
 * safe method, or any request made with another user's token; no response leaks another user's id.
 */
import { Validator } from "@cfworker/json-schema";
import fc from "fast-check";

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
}

export interface FuzzResponse {
  status: number;
  contentType: string | null;
  retryAfter: string | null;
  text: string;
}

export type Send = (request: FuzzRequest) => Promise<FuzzResponse>;

type Schema = Record<string, any>;

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required: boolean;
  schema: Schema;
}

export interface Operation {
  method: string;
  /** e.g. /api/v1/sessions/{id}/position */
  template: string;
  parameters: Parameter[];
  body: Schema | null;
  responses: Record<string, Schema | null>;
  secured: boolean;
}

/** Every operation of an OpenAPI 3.1 document, with `$ref`s left for the generators to resolve. */
export function operationsOf(doc: any): Operation[] {
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries<any>(doc.paths ?? {})) {
    for (const [method, op] of Object.entries<any>(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const responses: Record<string, Schema | null> = {};
      for (const [status, response] of Object.entries<any>(op.responses ?? {})) {
        responses[status] = response?.content?.["application/json"]?.schema ?? null;
      }
      operations.push({
        method: method.toUpperCase(),
        template,
        parameters: [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: any) => ({
          name: p.name,
          in: p.in,
          required: Boolean(p.required),
          schema: p.schema ?? {},
        })),
        body: op.requestBody?.content?.["application/json"]?.schema ?? null,
        responses,
        secured: Array.isArray(op.security) && op.security.length > 0,
      });
    }
  }
  return operations;
}

// ---- values ----

/** Ids the run has seen in responses, by field name: later cases reuse them so that they hit real things. */
export class IdPool {
  private readonly byName = new Map<string, string[]>();
  constructor(seed: Record<string, string[]>) {
    for (const [name, ids] of Object.entries(seed)) this.byName.set(name, [...ids]);
  }
  pick(name: string, index: number): string | undefined {
    const ids = this.byName.get(name) ?? this.byName.get(name.endsWith("id") ? "id" : "") ?? [];
    return ids.length ? ids[index % ids.length] : undefined;
  }
  /** Remembers the id-like fields of a JSON answer. */
  learn(json: unknown, depth = 0): void {
    if (depth > 4 || json === null || typeof json !== "object") return;
    if (Array.isArray(json)) {
      for (const item of json.slice(0, 5)) this.learn(item, depth + 1);
      return;
    }
    for (const [key, value] of Object.entries(json)) {
      if (typeof value === "string" && (key === "id" || key.endsWith("_id")) && value.length <= 128) {
        const ids = this.byName.get(key) ?? [];
        if (!ids.includes(value)) ids.push(value);
        if (ids.length > 50) ids.shift();
        this.byName.set(key, ids);
      } else this.learn(value, depth + 1);
    }
  }
}

const huge = (n: number) => "x".repeat(n);
const nested = (depth: number, leaf: unknown = 1): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 ? { a: value } : [value];
  return value;
};

/** Values that have broken JSON APIs before. */
const nastyScalars = [
  null,
  true,
  false,
  0,
  -0,
  -1,
  0.5,
  1e308,
  -1e308,
  5e-324,
  2 ** 53 + 2,
  2 ** 63,
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff\ud800",
  "\u202e\u0645",
  "💥🎬",
  "../../etc/passwd",
  "..%2f..%2f",
  "%00",
  "' OR '1'='1",
  "1; DROP TABLE watch_history; --",
  "<script>alert(1)</script>",
  "NaN",
  "Infinity",
  "-1",
  "1e309",
  "true",
  "null",
  "tt0133093",
  huge(129),
  huge(10_000),
];

export const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...nastyScalars) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 3000 }).map((d) => nested(d)) },
  { weight: 1, arbitrary: fc.constantFrom(300_000, 1_000_000).map(huge) },
  { weight: 1, arbitrary: fc.double() },
);

/** Raw JSON texts JSON.stringify never produces. */
const rawJsonTricks = [
  "",
  "{",
  "[]",
  "null",
  "0",
  '"x"',
  "{not json}",
  '{"position_seconds": 1e400}',
  '{"position_seconds": NaN}',
  '{"position_seconds": 123456789012345678901234567890}',
  '{"a":1,}',
  "\ufeff{}",
  '{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}',
];

/** Bytes that are not UTF-8, inside something that looks like JSON. */
const invalidUtf8 = [
  [0xff, 0xfe, 0xfd],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xe2, 0x82],
  [0xf4, 0x90, 0x80, 0x80],
].map((bytes) => {
  const prefix = new TextEncoder().encode('{"content_id":"');
  const suffix = new TextEncoder().encode('","device_id":"tv","duration_seconds":10,"position_seconds":1}');
  return Uint8Array.from([...prefix, ...bytes, ...suffix]);
});

function resolve(doc: any, schema: Schema | undefined, seen = 0): Schema {
  if (!schema) return {};
  if (typeof schema.$ref === "string" && seen < 20) {
    const target = schema.$ref
      .replace(/^#\//, "")
      .split("/")
      .reduce((node: any, key: string) => node?.[key], doc);
    return resolve(doc, target, seen + 1);
  }
  return schema;
}

/** A value valid for `schema` (as far as a generator can tell), ids drawn from the pool when it has them. */
export function valueFor(doc: any, schema: Schema, pool: IdPool, name = "", depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(doc, schema);
  if ("const" in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (Array.isArray(alternatives))
    return fc.oneof(...alternatives.map((a: Schema) => valueFor(doc, a, pool, name, depth)));
  if (Array.isArray(s.allOf))
    return valueFor(doc, Object.assign({}, ...s.allOf.map((a: Schema) => resolve(doc, a))), pool, name, depth);
  const type = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (type.length > 1) return fc.oneof(...type.map((t: string) => valueFor(doc, { ...s, type: t }, pool, name, depth)));
  switch (type[0]) {
    case "null":
      return fc.constant(null);
    case "boolean":
      return fc.boolean();
    case "integer": {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -1000);
      const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : min + 100_000);
      return fc.integer({ min: Math.max(min, -(2 ** 31)), max: Math.min(max, 2 ** 31) });
    }
    case "number": {
      const min = s.minimum ?? s.exclusiveMinimum ?? -1e6;
      const max = s.maximum ?? s.exclusiveMaximum ?? 1e7;
      return fc.oneof(
        fc.integer({ min: Math.ceil(min), max: Math.floor(Math.min(max, 2 ** 31)) }),
        fc.double({ min, max, noNaN: true, noDefaultInfinity: true, minExcluded: s.exclusiveMinimum !== undefined }),
      );
    }
    case "string":
      return stringFor(s, pool, name);
    case "array": {
      if (depth > 3) return fc.constant([]);
      const minLength = s.minItems ?? 0;
      return fc.array(valueFor(doc, s.items ?? {}, pool, name, depth + 1), {
        minLength,
        maxLength: Math.max(minLength, Math.min(s.maxItems ?? 4, 4)),
      });
    }
    case "object": {
      if (depth > 3) return fc.constant({});
      const properties = Object.entries<Schema>(s.properties ?? {});
      if (properties.length === 0) {
        return fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 });
      }
      const required = new Set<string>(s.required ?? []);
      return fc.record(
        Object.fromEntries(properties.map(([key, sub]) => [key, valueFor(doc, sub, pool, key, depth + 1)])),
        { requiredKeys: properties.map(([key]) => key).filter((key) => required.has(key)) },
      );
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function stringFor(s: Schema, pool: IdPool, name: string): fc.Arbitrary<string> {
  const minLength = s.minLength ?? 0;
  const maxLength = Math.max(minLength, Math.min(s.maxLength ?? 24, 48));
  let fresh: fc.Arbitrary<string>;
  if (s.format === "date-time") fresh = fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
  else if (s.format === "email") fresh = fc.emailAddress();
  else if (s.format === "uuid") fresh = fc.uuid();
  else if (typeof s.pattern === "string" && s.pattern.length < 200) {
    fresh = fc
      .stringMatching(new RegExp(s.pattern))
      .filter((v) => v.length >= minLength && v.length <= (s.maxLength ?? 10_000));
  } else fresh = fc.string({ minLength, maxLength });
  const isId = name === "id" || name.endsWith("_id");
  if (!isId) return fresh;
  return fc.oneof(
    { weight: 3, arbitrary: fc.nat().map((i) => pool.pick(name, i) ?? `${name}-${i % 7}`) },
    { weight: 1, arbitrary: fresh },
  );
}

// ---- requests ----

type Who = "main" | "other" | "none" | "garbage" | "admin";

export interface Tokens {
  main: string;
  other: string;
  admin: string;
}

export interface Case {
  operation: Operation;
  who: Who;
  /** What was made adversarial, for the failure report. */
  mutation: string;
  build: (pool: IdPool, tokens: Tokens) => FuzzRequest;
}

const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND"];

const garbageAuth = fc.constantFrom(
  "Bearer ",
  "Bearer not.a.jwt",
  "Basic dXNlcjpwYXNz",
  "bearer x",
  `Bearer ${"a".repeat(9000)}`,
  "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
  "Bearer\tx",
);

function authHeader(who: Who, tokens: Tokens, garbage: string): Record<string, string> {
  if (who === "none") return {};
  if (who === "garbage") return { authorization: garbage };
  return { authorization: `Bearer ${tokens[who]}` };
}

/** Percent-encodes like encodeURIComponent; a lone surrogate becomes the bytes of an invalid UTF-8 sequence. */
function encode(text: string): string {
  return text
    .split(/([\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff])/)
    .map((part, i) => (i % 2 ? "%ED%A0%80" : encodeURIComponent(part)))
    .join("");
}

function fillPath(op: Operation, values: Record<string, unknown>): string {
  return op.template.replace(/\{([^}]+)\}/g, (_m, name: string) => encode(String(values[name] ?? "x")));
}

function queryString(values: [string, unknown][]): string {
  const parts = values
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encode(k)}=${encode(typeof v === "string" ? v : String(JSON.stringify(v)))}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

/** Every kind of case for one operation. */
function casesFor(doc: any, op: Operation, pool: IdPool): fc.Arbitrary<Case> {
  const pathParams = op.parameters.filter((p) => p.in === "path");
  const queryParams = op.parameters.filter((p) => p.in === "query");
  const who = fc.constantFrom<Who>("main", "main", "main", "main", "main", "other", "none", "garbage", "admin");

  // Generated lazily at send time so that ids come from the pool as it is then.
  const validParams = fc.record(
    Object.fromEntries(pathParams.map((p) => [p.name, valueFor(doc, p.schema, pool, p.name)])),
  ) as fc.Arbitrary<Record<string, unknown>>;
  const validQuery = fc.tuple(
    ...queryParams.map((p) =>
      fc
        .option(valueFor(doc, p.schema, pool, p.name), { nil: undefined, freq: p.required ? 0 : 3 })
        .map((v) => [p.name, v] as [string, unknown]),
    ),
  );
  const validBody = op.body ? valueFor(doc, op.body, pool) : fc.constant(undefined);

  const base = fc.record({ who, params: validParams, query: validQuery, body: validBody, garbage: garbageAuth });

  const jsonRequest = (
    b: { who: Who; params: Record<string, unknown>; query: [string, unknown][]; body: unknown; garbage: string },
    mutation: string,
    overrides: Partial<{
      method: string;
      path: string;
      body: string | Uint8Array;
      headers: Record<string, string>;
    }> = {},
  ): Case => ({
    operation: op,
    who: b.who,
    mutation,
    build: (_pool, tokens) => {
      const hasBody = overrides.body !== undefined || b.body !== undefined;
      return {
        method: overrides.method ?? op.method,
        path: overrides.path ?? fillPath(op, b.params) + queryString(b.query),
        headers: {
          ...authHeader(b.who, tokens, b.garbage),
          ...(hasBody ? { "content-type": "application/json" } : {}),
          ...overrides.headers,
        },
        ...(hasBody ? { body: overrides.body ?? JSON.stringify(b.body) } : {}),
      };
    },
  });

  const variants: fc.Arbitrary<Case>[] = [
    base.map((b) => jsonRequest(b, "none (valid by the schema)")),
    fc.tuple(base, fc.constantFrom(...methods)).map(([b, method]) => jsonRequest(b, `method ${method}`, { method })),
    fc
      .tuple(base, fc.constantFrom(...rawJsonTricks))
      .map(([b, raw]) => jsonRequest(b, `raw body ${JSON.stringify(raw)}`, { body: raw })),
    fc
      .tuple(base, fc.constantFrom(...invalidUtf8))
      .map(([b, bytes]) => jsonRequest(b, "body with invalid UTF-8", { body: bytes })),
    fc
      .tuple(base, nastyValue)
      .map(([b, value]) => jsonRequest(b, "whole body replaced", { body: JSON.stringify(value) })),
    fc
      .tuple(
        base,
        fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/xml"),
      )
      .map(([b, type]) => jsonRequest(b, `content-type ${type}`, { headers: { "content-type": type } })),
    fc.tuple(base, fc.constantFrom("__proto__", "constructor", "prototype"), nastyValue).map(([b, key, value]) => {
      const body = b.body && typeof b.body === "object" && !Array.isArray(b.body) ? JSON.stringify(b.body) : "{}";
      const raw = `{${JSON.stringify(key)}:${JSON.stringify(value) ?? "null"}${body === "{}" ? "" : `,${body.slice(1, -1)}`}}`;
      return jsonRequest(b, `body with key ${key}`, { body: raw });
    }),
  ];
  if (op.body) {
    const fields = Object.keys(resolve(doc, op.body).properties ?? {});
    if (fields.length > 0) {
      variants.push(
        fc.tuple(base, fc.constantFrom(...fields), nastyValue).map(([b, field, value]) => {
          const body = { ...(b.body as object), [field]: value };
          return jsonRequest(b, `body field ${field} = ${preview(value)}`, { body: JSON.stringify(body) });
        }),
        fc.tuple(base, fc.constantFrom(...fields)).map(([b, field]) => {
          const { [field]: _dropped, ...rest } = b.body as Record<string, unknown>;
          return jsonRequest(b, `body without ${field}`, { body: JSON.stringify(rest) });
        }),
      );
    }
  }
  if (pathParams.length > 0) {
    variants.push(
      fc.tuple(base, fc.constantFrom(...pathParams.map((p) => p.name)), nastyValue).map(([b, name, value]) => {
        const text = typeof value === "string" ? value.slice(0, 4000) : JSON.stringify(value)?.slice(0, 4000);
        return jsonRequest({ ...b, params: { ...b.params, [name]: text } }, `path ${name} = ${preview(text)}`);
      }),
    );
  }
  if (queryParams.length > 0) {
    variants.push(
      fc.tuple(base, fc.constantFrom(...queryParams.map((p) => p.name)), nastyValue).map(([b, name, value]) => {
        const text = typeof value === "string" ? value.slice(0, 4000) : JSON.stringify(value)?.slice(0, 4000);
        const query = [...b.query.filter(([k]) => k !== name), [name, text] as [string, unknown]];
        return jsonRequest({ ...b, query }, `query ${name} = ${preview(text)}`);
      }),
      fc.tuple(base, fc.constantFrom(...queryParams.map((p) => p.name))).map(([b, name]) => {
        const query = [...b.query, [name, "1"] as [string, unknown], [name, "2"] as [string, unknown]];
        return jsonRequest({ ...b, query }, `query ${name} repeated`);
      }),
    );
  }
  return fc.oneof(...variants);
}

const extraPaths = ["/docs", "/docs/init.js", "/openapi.json", "/", "/api", "/api/v1", "/api/v2/sessions"];

/** A path no route expects. */
const randomPath: fc.Arbitrary<Case> = fc
  .record({
    prefix: fc.constantFrom("/api/v1/", "/", "/api/v1/sessions/", "/events/", "//", "/api/v1/../"),
    segments: fc.array(
      fc.oneof(
        fc.constantFrom("..", ".", "%2e%2e", "%00", "%ff", "%", "~", "sessions", "history", "{id}", "a".repeat(2000)),
        fc.string({ minLength: 1, maxLength: 12, unit: "binary" }).map(encode),
      ),
      { maxLength: 5 },
    ),
    method: fc.constantFrom(...methods),
    extra: fc.constantFrom(...extraPaths),
    useExtra: fc.boolean(),
  })
  .map(
    ({ prefix, segments, method, extra, useExtra }): Case => ({
      operation: { method, template: "(random path)", parameters: [], body: null, responses: {}, secured: false },
      who: "main",
      mutation: "random path",
      build: (_pool, tokens) => ({
        method,
        path: useExtra ? extra : prefix + segments.join("/"),
        headers: { authorization: `Bearer ${tokens.main}` },
      }),
    }),
  );

/** Cases over every operation of the document, plus random paths. */
export function caseArbitrary(doc: any, pool: IdPool): fc.Arbitrary<Case> {
  const operations = operationsOf(doc);
  return fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...operations).chain((op) => casesFor(doc, op, pool)) },
    { weight: 1, arbitrary: randomPath },
  );
}

function preview(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 60)}… (${text.length} chars)` : text;
}

// ---- invariants ----

/**
 * GET endpoints whose answers make up a user's state, when the document has them. Not the
 * preference profile: the queue consumer rebuilds it in the background from earlier events.
 */
const STATE_PATHS = [
  "/api/v1/history?limit=100",
  "/api/v1/continue-watching?limit=100",
  "/api/v1/sync",
  "/api/v1/sync/watchlist",
  "/api/v1/sync/progress",
  "/api/v1/devices",
  "/api/v1/me",
];
/** Fields that change with the clock, not with the user's actions. */
const VOLATILE = new Set(["is_online", "last_seen", "server_time", "generated_at", "expires_in", "now"]);

export function statePaths(doc: any): string[] {
  const paths = Object.keys(doc.paths ?? {});
  return STATE_PATHS.filter((p) => paths.includes(p.split("?")[0] as string));
}

/** The user's state as the API shows it, without clock-driven fields. */
export async function snapshot(send: Send, token: string, paths: string[]): Promise<string> {
  const parts: string[] = [];
  for (const path of paths) {
    const res = await send({ method: "GET", path, headers: { authorization: `Bearer ${token}` } });
    let body: unknown = res.text;
    try {
      // The sync document's own `hlc` is the server's clock, which any write (an exposure record too) moves.
      body = JSON.parse(res.text, function (this: Record<string, unknown>, key, value) {
        if (VOLATILE.has(key) || (key === "hlc" && "cursor" in this)) return undefined;
        return value;
      });
    } catch {}
    parts.push(`${path} ${res.status} ${JSON.stringify(body)}`);
  }
  return parts.join("\n");
}

/** Whether the Worker answers this path (as the URL parser normalizes it), not the static assets. */
function servedByWorker(path: string): boolean {
  let pathname: string;
  try {
    pathname = new URL(`http://gateway.test${path}`).pathname;
  } catch {
    return true;
  }
  return (
    ["/health", "/openapi.json", "/docs"].includes(pathname) ||
    ["/api/", "/events/", "/docs/"].some((prefix) => pathname.startsWith(prefix))
  );
}

export class ResponseChecker {
  private readonly validators = new Map<Schema, Validator>();
  constructor(private readonly doc: any) {}

  /** Returns what is wrong with the answer, or null. */
  check(c: Case, request: FuzzRequest, res: FuzzResponse): string | null {
    if (res.status >= 500 || res.status < 200) return `status ${res.status}`;
    if (res.status >= 400) {
      // Over HTTP, paths outside the Worker's routes are the static assets' (wrangler.toml run_worker_first).
      if (!servedByWorker(request.path)) return null;
      // The device grant's endpoints answer 400 the OAuth way (RFC 8628 §3.5): JSON with `error`.
      const oauth = res.status === 400 && /^\/api\/v1\/auth\/device\/(code|token)\b/.test(request.path);
      if (oauth && !res.contentType?.startsWith("application/json")) return "OAuth 400 without application/json";
      if (!oauth && !res.contentType?.includes("application/problem+json")) return `${res.status} without problem+json`;
      if (request.method === "HEAD") return null;
      let problem: any;
      try {
        problem = JSON.parse(res.text);
      } catch {
        return `${res.status} problem body is not JSON`;
      }
      if (problem.status !== res.status) return `problem.status ${problem.status} ≠ ${res.status}`;
      for (const field of ["type", "title", "detail", ...(oauth ? ["error"] : [])]) {
        if (typeof problem[field] !== "string") return `problem without ${field}`;
      }
      if (res.status === 429 && !res.retryAfter) return "429 without Retry-After";
      return null;
    }
    const schema = c.operation.responses[String(res.status)];
    if (request.method === "HEAD" || !schema || !res.contentType?.includes("json")) return null;
    if (c.operation.method !== request.method) return null;
    let json: unknown;
    try {
      json = JSON.parse(res.text);
    } catch {
      return `${res.status} body is not JSON`;
    }
    let validator = this.validators.get(schema);
    if (!validator) {
      validator = new Validator({ ...schema, components: this.doc.components }, "2020-12", false);
      this.validators.set(schema, validator);
    }
    const result = validator.validate(json);
    if (!result.valid) {
      const first = result.errors.slice(-3).map((e) => `${e.instanceLocation}: ${e.error}`);
      return `${res.status} answer does not match its OpenAPI schema: ${first.join("; ")}`;
    }
    return null;
  }
}

export interface FuzzStats {
  cases: number;
  byStatus: Record<string, number>;
  stateChecks: number;
  slowestMs?: number;
}

export interface FuzzContext {
  doc: any;
  send: Send;
  tokens: Tokens;
  ids: { main: string; other: string };
  pool: IdPool;
  /** Called after each case inside workerd to catch prototype pollution of the isolate. */
  afterEach?: () => string | null;
}

/** The property: one case, all invariants. Shared snapshots are cached across cases. */
export function fuzzProperty(ctx: FuzzContext, stats: FuzzStats) {
  const checker = new ResponseChecker(ctx.doc);
  const paths = statePaths(ctx.doc);
  let known: string | null = null;
  return fc.asyncProperty(caseArbitrary(ctx.doc, ctx.pool), async (c) => {
    const request = c.build(ctx.pool, ctx.tokens);
    known ??= await snapshot(ctx.send, ctx.tokens.main, paths);
    const before = known;
    const started = Date.now();
    const res = await ctx.send(request);
    stats.cases++;
    stats.slowestMs = Math.max(stats.slowestMs ?? 0, Date.now() - started);
    stats.byStatus[res.status] = (stats.byStatus[res.status] ?? 0) + 1;
    const where = `${request.method} ${request.path.slice(0, 200)} as ${c.who}; mutation: ${c.mutation}`;
    const wrong = checker.check(c, request, res);
    if (wrong) throw new Error(`${wrong}\n  request: ${where}\n  answer: ${res.text.slice(0, 500)}`);
    const foreign = c.who === "main" ? ctx.ids.other : ctx.ids.main;
    const echoed =
      request.path.includes(foreign) || (typeof request.body === "string" && request.body.includes(foreign));
    if (c.who !== "admin" && !echoed && res.text.includes(foreign)) {
      throw new Error(`answer leaks another user's id\n  ${where}`);
    }
    const polluted = ctx.afterEach?.();
    if (polluted) throw new Error(`${polluted}\n  request: ${where}`);
    try {
      ctx.pool.learn(JSON.parse(res.text));
    } catch {}

    // The user's own accepted writes change its state; so may an admin's (a re-emit names the user).
    const mayChange =
      (c.who === "main" || c.who === "admin") &&
      res.status < 400 &&
      !["GET", "HEAD", "OPTIONS"].includes(request.method);
    if (mayChange) {
      known = null;
      return;
    }
    const after = await snapshot(ctx.send, ctx.tokens.main, paths);
    stats.stateChecks++;
    if (after !== before) {
      const was = before.split("\n");
      const changed = after
        .split("\n")
        .flatMap((line, i) =>
          line === was[i] ? [] : [`  before: ${was[i]?.slice(0, 700)}`, `  after:  ${line.slice(0, 700)}`],
        );
      throw new Error(
        `the user's state changed on a request that must not change it (${res.status})\n  ${where}\n${changed.join("\n")}`,
      );
    }
  });
}
