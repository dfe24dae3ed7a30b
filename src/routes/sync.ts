import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import { requireActiveFamily, requireUserState, verifyAccessToken } from "../auth";
import { unwrap } from "../contracts/outcomes";
import { HttpProblem } from "../contracts/problems";
import { SERVER_NODE, syncDocumentSchema, syncProgressSchema, watchlistItemSchema } from "../contracts/sync";
import { VERIFIED_USER_HEADER, WS_PROTOCOL_HEADER } from "../contracts/sync-socket";
import { decodeCursor, encodeCursor } from "../domain/cursor";
import { HLC_PATTERN, parseHlc } from "../domain/hlc";
import type { SyncOp } from "../domain/sync-replica";
import type { AppContext } from "../env";
import { contentNotFound, requireKnownContent, unknownContentIds } from "./known-content";
import { viewableIds } from "./maturity";
import {
  badCursor,
  cursorQuery,
  errorResponses,
  guardedRouter,
  ID_PATTERN,
  json,
  orNull,
  pageCursor,
  pageOf,
  pageQuery,
  problem,
  removedOr404,
  resourceId,
  userRoute,
  userState,
} from "./router";

const idField = (example: string) =>
  z.string().regex(ID_PATTERN, "1-128 letters, digits or . _ : -").openapi({ example });

/** A client stamp: well formed, and never claiming to be the server's own clock. */
const hlcField = z
  .string()
  .regex(HLC_PATTERN, "an HLC: 15-digit ms : 6-digit counter : node id")
  .refine((h) => parseHlc(h)?.node !== SERVER_NODE, `node id "${SERVER_NODE}" is reserved`)
  .openapi({ example: "001767225600000:000000:phone-7f3a" });

const tagField = idField("001767225600000:000000:phone-7f3a").openapi({
  description: "names one add of one item; defaults to the op's hlc",
});

// ---- schemas ----

const opBase = {
  op_id: idField("4f9c2a4e-0d7e-4c55-9d1e-1f3b1c9a7e21").openapi({ description: "idempotency key of the op" }),
  content_id: idField("film-the-matrix-1999"),
  hlc: hlcField,
};

const opSchema = z
  .discriminatedUnion("type", [
    z.object({ type: z.literal("watchlist.add"), ...opBase, tag: tagField.optional() }),
    z.object({ type: z.literal("watchlist.remove"), ...opBase, tags: z.array(tagField).min(1).max(100) }),
    z.object({
      type: z.literal("progress.set"),
      ...opBase,
      position_seconds: z.number().finite().min(0).max(10_000_000),
      duration_seconds: z.number().finite().min(0).max(10_000_000),
      state: z.enum(["playing", "paused", "stopped"]),
    }),
    z.object({
      type: z.literal("rating.set"),
      ...opBase,
      rating: z.number().int().min(1).max(10).nullable().openapi({ description: "1-10, or null to remove" }),
    }),
    z.object({
      type: z.literal("hidden.set"),
      ...opBase,
      hidden: z.boolean().openapi({ description: "hide the card from continue watching, or show it again" }),
    }),
    z.object({
      type: z.literal("play.add"),
      ...opBase,
      watched_at: z.iso
        .datetime({ offset: true })
        .refine((t) => Date.parse(t) >= Date.parse("1900-01-01T00:00:00Z"), "must not be before 1900")
        .openapi({ description: "when the item was finished; the same time twice is one play" }),
    }),
  ])
  .openapi("SyncOp");

const opsBody = z
  .object({
    device_id: idField("phone-7f3a").optional().openapi({ description: "the device that made the ops" }),
    ops: z.array(opSchema).min(1),
  })
  .openapi("SyncOpsBatch");

const opsResult = z
  .object({
    results: z.array(
      z.object({ op_id: z.string(), status: z.enum(["applied", "duplicate", "stale"]) }).openapi({
        description: "stale: valid but changed nothing (an older LWW write, a tag already known)",
      }),
    ),
    applied: z.number().int(),
    duplicates: z.number().int(),
    cursor: z.string(),
    hlc: z.string(),
  })
  .openapi("SyncOpsResult");

const progressBody = z
  .object({
    position_seconds: z.number().finite().min(0).max(10_000_000).openapi({ example: 1800 }),
    duration_seconds: z.number().finite().min(0).max(10_000_000).openapi({ example: 7200 }),
    state: z.enum(["playing", "paused", "stopped"]),
    hlc: hlcField.optional().openapi({ description: "the client's HLC; the server stamps the write when absent" }),
    device_id: idField("living-room-tv").optional(),
  })
  .openapi("ProgressWrite");

const deviceHeader = z.object({
  "x-device-id": idField("phone-7f3a")
    .optional()
    .openapi({ description: "the device making the change: its own sockets are not sent the push" }),
});
const contentParams = z.object({ content_id: resourceId("content_id") });
const page = <T extends z.ZodType>(item: T, name: string) => pageOf(item).openapi(name);

// ---- helpers ----

/** A sync cursor (the change sequence number it stands for), or undefined when absent. */
function syncSeq(text: string | undefined, path: string): number | undefined {
  if (text === undefined) return undefined;
  const cursor = decodeCursor(text, { s: "number" });
  if (!cursor || !Number.isSafeInteger(cursor.s) || cursor.s < 0) throw badCursor(path);
  return cursor.s;
}

/**
 * The token of a WebSocket upgrade: the Authorization header, else `?access_token=`, else the
 * subprotocol pair `bearer, <token>` (browsers cannot set headers on a WebSocket).
 */
function websocketToken(c: AppContext, query: string | undefined): { token: string; protocol: string | null } {
  const header = c.req.header("authorization");
  if (header !== undefined) {
    const match = /^Bearer ([A-Za-z0-9_.~+/=-]{1,8192})$/.exec(header.trim());
    if (!match) throw unauthorized("the Authorization header must be 'Bearer <token>'");
    return { token: match[1] as string, protocol: null };
  }
  if (query) return { token: query, protocol: null };
  const offered = (c.req.header("sec-websocket-protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const token = offered.find((p) => p !== "bearer");
  if (offered.includes("bearer") && token) return { token, protocol: "bearer" };
  throw unauthorized("an access token is required (Authorization, access_token, or subprotocol 'bearer, <token>')");
}

const unauthorized = (detail: string) =>
  new HttpProblem(401, "unauthorized", detail, { headers: { "www-authenticate": 'Bearer realm="media-gateway"' } });

/** The socket's token: the Authorization header or `access_token` (or the subprotocol pair, which OpenAPI cannot name). */
const socketSecurity: RouteConfig["security"] = [{ bearer: [] }, { access_token: [] }];

// ---- routes ----

export const syncRoutes = guardedRouter(
  ["/sync", "/sync/ops", "/sync/watchlist", "/sync/watchlist/*", "/sync/progress", "/sync/progress/*"],
  requireUserState,
)
  .openapi(
    userRoute("Sync", "get", "/sync", "Full sync state, or only what changed after a cursor", {
      description:
        "With `since`, returns the current state of every item changed after that cursor. A cursor from " +
        'before a garbage collection answers with the full state and `full: true, reason: "gc"`. ' +
        "With `device_id`, records that the device has everything up to the returned cursor (tombstone GC waits for that).",
      request: {
        query: z.object({ since: cursorQuery, device_id: idField("phone-7f3a").optional() }),
      },
      responses: { 200: { description: "State", content: json(syncDocumentSchema) } },
    }),
    async (c) => {
      const { since, device_id } = c.req.valid("query");
      const doc = await userState(c).syncState(syncSeq(since, "since") ?? null, device_id ?? null);
      return c.json(doc, 200);
    },
  )
  .openapi(
    userRoute("Sync", "post", "/sync/ops", "Apply a batch of ops made offline", {
      description:
        "Ops: `watchlist.add`, `watchlist.remove`, `progress.set`, `rating.set` (1-10, or null to remove), " +
        "`hidden.set` (a continue-watching card) and `play.add` (finished at `watched_at`). " +
        "All or nothing: a malformed op, an unknown type, an HLC too far in the future, a reused tag or a " +
        "batch above the limit refuses the whole batch. Idempotent by `op_id`: a batch sent twice changes nothing. " +
        "A `watchlist.add` or `progress.set` naming content the catalog does not hold refuses the batch with a 404 " +
        "whose `errors` name each such op (`ops.<i>.content_id`); drop those ops and send the rest again. " +
        "`watchlist.remove` may name content that left the catalog.",
      request: { body: { content: json(opsBody), required: true } },
      responses: {
        200: { description: "Applied", content: json(opsResult) },
        404: problem("An op adds or writes content the catalog does not hold"),
        409: problem("A tag of the batch already names another watchlist item"),
        413: problem("The batch has more ops than SYNC_MAX_OPS_PER_BATCH, or the body is above the limit"),
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const max = c.var.config.SYNC_MAX_OPS_PER_BATCH;
      if (body.ops.length > max) {
        throw new HttpProblem(413, "batch-too-large", `at most ${max} ops per batch; split it`, {
          errors: [{ path: "ops", message: `${body.ops.length} ops > ${max}` }],
        });
      }
      // Removals may name content that left the catalog; everything that adds or writes may not.
      const removes = (op: (typeof body.ops)[number]) =>
        op.type === "watchlist.remove" ||
        (op.type === "rating.set" && op.rating === null) ||
        (op.type === "hidden.set" && !op.hidden);
      const named = body.ops.flatMap((op, i) =>
        removes(op) ? [] : [{ path: `ops.${i}.content_id`, id: op.content_id }],
      );
      const unknown = new Set(await unknownContentIds(c, [...new Set(named.map((n) => n.id))]));
      if (unknown.size > 0) throw contentNotFound(named.filter((n) => unknown.has(n.id)));
      const ops: SyncOp[] = body.ops.map((op) => (op.type === "watchlist.add" ? { ...op, tag: op.tag ?? op.hlc } : op));
      const result = unwrap(await userState(c).applyOps({ device_id: body.device_id ?? null, ops }));
      const count = (status: string) => result.results.filter((r) => r.status === status).length;
      return c.json({ ...result, applied: count("applied"), duplicates: count("duplicate") }, 200);
    },
  )
  .openapi(
    userRoute(
      "Sync",
      "get",
      "/sync/watchlist",
      "The effective watchlist (adds minus observed removes), most recently added first",
      {
        request: { query: pageQuery },
        responses: {
          200: { description: "A page", content: json(page(watchlistItemSchema, "WatchlistPage")) },
        },
      },
    ),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const result = await userState(c).watchlist({
        limit,
        after: pageCursor(cursor, { h: "string", c: "string" }),
      });
      // Items above a profile's maturity limit are kept, not listed (the page may be shorter).
      const viewable = await viewableIds(
        c,
        result.items.map((item) => item.content_id),
      );
      const items = viewable ? result.items.filter((item) => viewable.has(item.content_id)) : result.items;
      return c.json({ items, next_cursor: result.next && encodeCursor(result.next) }, 200);
    },
  )
  .openapi(
    userRoute("Sync", "put", "/sync/watchlist/{content_id}", "Add to the watchlist", {
      description:
        "201 with a new tag; 200 when the item is already in the list (nothing changes). 404 when the catalog " +
        "does not hold the content.",
      request: { params: contentParams, headers: deviceHeader },
      responses: {
        200: { description: "Already there", content: json(watchlistItemSchema) },
        201: { description: "Added", content: json(watchlistItemSchema) },
      },
    }),
    async (c) => {
      await requireKnownContent(c, c.req.valid("param").content_id);
      const { item, created } = unwrap(
        await userState(c).addToWatchlist(
          c.req.valid("param").content_id,
          c.req.valid("header")["x-device-id"] ?? null,
        ),
      );
      return created ? c.json(item, 201) : c.json(item, 200);
    },
  )
  .openapi(
    userRoute(
      "Sync",
      "delete",
      "/sync/watchlist/{content_id}",
      "Remove from the watchlist (the tags the server holds now)",
      {
        request: { params: contentParams, headers: deviceHeader },
        responses: { 204: { description: "Removed" } },
      },
    ),
    async (c) => {
      const { content_id } = c.req.valid("param");
      const origin = c.req.valid("header")["x-device-id"] ?? null;
      return removedOr404(c, "watchlist item", await userState(c).removeFromWatchlist(content_id, origin));
    },
  )
  .openapi(
    userRoute(
      "Sync",
      "get",
      "/sync/progress",
      "Every progress register (the same ones playback sessions write), by content id",
      {
        request: { query: pageQuery },
        responses: {
          200: { description: "A page", content: json(page(syncProgressSchema, "SyncProgressPage")) },
        },
      },
    ),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const after = pageCursor(cursor, { c: "string" });
      const result = await userState(c).progressPage({ limit, after: after?.c ?? null });
      return c.json({ items: result.items, next_cursor: result.next && encodeCursor({ c: result.next }) }, 200);
    },
  )
  .openapi(
    userRoute("Sync", "put", "/sync/progress/{content_id}", "Last-writer-wins write of a progress register", {
      description:
        "Ordered by HLC: the client's `hlc` when given (merged into the server clock), else the server's. " +
        "`applied` is false when a later write already holds the register; the response shows that write " +
        "(`progress: null` when that write cleared the item's history). 404 when the catalog does not hold the content.",
      request: { params: contentParams, body: { content: json(progressBody), required: true } },
      responses: {
        200: {
          description: "The register after the write",
          content: json(z.object({ applied: z.boolean(), progress: orNull(syncProgressSchema) })),
        },
      },
    }),
    async (c) => {
      const { content_id } = c.req.valid("param");
      await requireKnownContent(c, content_id);
      const result = unwrap(await userState(c).putProgress(content_id, c.req.valid("json")));
      return c.json(result, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/sync/ws",
      tags: ["Sync"],
      summary: "WebSocket: live changes of this user's state",
      description:
        "Authenticate with the Authorization header, `access_token`, or the subprotocols `bearer, <token>`. " +
        "The server sends `hello` (or `sync` with the changes after `since`), then a `change` message with " +
        "its cursor for every change made elsewhere. Send `ping` (answered `pong`), " +
        '`{"type":"ack","cursor":…}` after applying a change, `{"type":"resume","cursor":…}` to catch up.',
      request: {
        query: z.object({
          device_id: idField("phone-7f3a").optional(),
          since: cursorQuery,
          access_token: z.string().max(8192).optional(),
        }),
      },
      security: socketSecurity,
      responses: {
        101: { description: "Switching protocols" },
        400: errorResponses[400],
        401: errorResponses[401],
        426: problem("Not a WebSocket upgrade"),
        429: errorResponses[429],
        503: errorResponses[503],
      },
    }),
    async (c) => {
      const query = c.req.valid("query");
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        throw new HttpProblem(426, "upgrade-required", "this endpoint speaks WebSocket only", {
          headers: { upgrade: "websocket" },
        });
      }
      const { token, protocol } = websocketToken(c, query.access_token);
      const caller = await verifyAccessToken(c.var.config, token);
      await requireActiveFamily(c.env, caller);
      const since = syncSeq(query.since, "since");
      const target = new URL("https://user-state/sync/ws");
      if (query.device_id) target.searchParams.set("device_id", query.device_id);
      if (since !== undefined) target.searchParams.set("since", String(since));
      const stub = c.env.USER_STATE.get(c.env.USER_STATE.idFromName(caller.sub));
      return stub.fetch(target.toString(), {
        headers: {
          upgrade: "websocket",
          [VERIFIED_USER_HEADER]: caller.sub,
          ...(protocol ? { [WS_PROTOCOL_HEADER]: protocol } : {}),
        },
      });
    },
  );
