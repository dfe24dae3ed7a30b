/**
 * The sync WebSocket (`GET /api/v1/sync/ws`): every message either side sends, as one zod
 * discriminated union per direction. The server validates what it receives with these schemas
 * and sends only these shapes; the JSON Schema generated from them is published at
 * SYNC_SOCKET_SCHEMA_PATH and committed as docs/sync-socket.schema.json.
 *
 * Besides JSON, the text frame `ping` is answered `pong` by the runtime itself (a keep-alive that
 * does not wake the object).
 */
import { z } from "zod";
import { HLC_PATTERN } from "../domain/hlc";
import { syncDocumentSchema } from "./sync";

/** Where the document is served; also its `$id`. */
export const SYNC_SOCKET_SCHEMA_PATH = "/api/v1/sync/ws/schema.json";

/** Client messages above this many characters are refused unread. */
export const MAX_CLIENT_MESSAGE_CHARS = 4096;

/** Set by the Worker on the WebSocket upgrade it forwards: the verified user, never the client's word. */
export const VERIFIED_USER_HEADER = "x-verified-user";
/** Set by the Worker when the client offered this subprotocol (browsers pass the token that way). */
export const WS_PROTOCOL_HEADER = "x-websocket-protocol";

const cursor = z.string().min(1).max(512).describe("a sync cursor, as `cursor` of the last message applied");

// ---- server → client ----

const hello = z
  .object({
    type: z.literal("hello"),
    cursor: cursor.describe("the cursor of the state as it is now"),
    hlc: z.string().regex(HLC_PATTERN).describe("the server clock; merge it into the client's HLC"),
  })
  .meta({ id: "hello", description: "First message of a connection opened without `since`." });

const sync = syncDocumentSchema.extend({ type: z.literal("sync") }).meta({
  id: "sync",
  description:
    "The changes after a cursor: the first message of a connection opened with `since`, or the answer to `resume`.",
});

const change = syncDocumentSchema.extend({ type: z.literal("change") }).meta({
  id: "change",
  description:
    "A change made elsewhere (another device, the server's own alarm): the state of every key changed after the previous cursor.",
});

export const SOCKET_ERROR_CODES = ["bad-message", "bad-cursor", "unavailable"] as const;

const error = z
  .object({
    type: z.literal("error"),
    code: z
      .enum(SOCKET_ERROR_CODES)
      .describe(
        "bad-message: not a client message of this schema; bad-cursor: a cursor this user's log never issued; unavailable: retry later",
      ),
    detail: z.string(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe("which fields of the refused message were wrong"),
  })
  .meta({ id: "error", description: "The last client message was refused; nothing changed." });

export const serverMessageSchema = z
  .discriminatedUnion("type", [hello, sync, change, error])
  .meta({ id: "server-message", description: "Every message the server sends." });

// ---- client → server ----

const ack = z.object({ type: z.literal("ack"), cursor }).meta({
  id: "ack",
  description: "The client applied every change up to `cursor` (lets the server forget tombstones sooner).",
});

const resume = z
  .object({ type: z.literal("resume"), cursor })
  .meta({ id: "resume", description: "Send me what changed after `cursor` (answered with `sync`)." });

export const clientMessageSchema = z
  .discriminatedUnion("type", [ack, resume])
  .meta({ id: "client-message", description: "Every JSON message a client may send." });

export type ServerMessage = z.infer<typeof serverMessageSchema>;
export type ClientMessage = z.infer<typeof clientMessageSchema>;
export type SocketError = Extract<ServerMessage, { type: "error" }>;

/** What a client is told when its message is not one of the schema's. */
export const CLIENT_MESSAGE_HINT = 'send {"type":"ack"|"resume","cursor":"<cursor>"}';

/** Decodes one client frame: the message, or the typed error to send back. */
export function parseClientMessage(frame: string | ArrayBuffer): ClientMessage | SocketError {
  const refused = (errors?: SocketError["errors"]): SocketError => ({
    type: "error",
    code: "bad-message",
    detail: CLIENT_MESSAGE_HINT,
    ...(errors ? { errors } : {}),
  });
  if (typeof frame !== "string") return refused([{ path: "", message: "binary frames are not part of the protocol" }]);
  if (frame.length > MAX_CLIENT_MESSAGE_CHARS) {
    return refused([{ path: "", message: `at most ${MAX_CLIENT_MESSAGE_CHARS} characters` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(frame);
  } catch {
    return refused([{ path: "", message: "not JSON" }]);
  }
  const parsed = clientMessageSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  return refused(parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })));
}

/**
 * The published contract: one JSON Schema (draft 2020-12) whose `$defs` hold every message,
 * `server-message` and `client-message` the two directions. Unknown properties are allowed:
 * a client must ignore fields it does not know.
 */
export function syncSocketJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(z.union([serverMessageSchema, clientMessageSchema]), {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
  }) as Record<string, unknown>;
  const { $schema, anyOf, $defs } = generated;
  return {
    $schema,
    $id: `https://media-gateway.dev${SYNC_SOCKET_SCHEMA_PATH}`,
    title: "Media Gateway sync WebSocket messages",
    description:
      "Messages of GET /api/v1/sync/ws, JSON text frames. The server sends server-message; a client sends " +
      "client-message, or the text frame `ping` (answered `pong`). A refused client message is answered with " +
      "an `error` and changes nothing.",
    oneOf: anyOf,
    $defs,
  };
}
