/**
 * The sync WebSocket's conversation on the object's side: the upgrade (the device is seen, then
 * `hello` or the changes since the client's cursor), the client's messages (`ack`, `resume`) and
 * the end of a socket. The hub owns the transport; this owns what is said over it.
 */
import { refusal, toProblem } from "../contracts/outcomes";
import { problemResponse } from "../contracts/problems";
import { parseClientMessage, WS_PROTOCOL_HEADER } from "../contracts/sync-socket";
import { decodeCursor, encodeCursor } from "../domain/cursor";
import { encodeHlc } from "../domain/hlc";
import { buildSyncDocument } from "./sync-document";
import type { UserParts } from "./user-api";

/** Accepts the upgrade of the user's own device: marks it online, greets it, answers 101. */
export async function openSyncSocket(
  { stores, hub, pipeline, alarms }: UserParts,
  request: Request,
  url: URL,
): Promise<Response> {
  const deviceId = url.searchParams.get("device_id");
  const sinceText = url.searchParams.get("since");
  // Connecting marks the device online: a write like any other, rate limited against reconnect storms.
  const seen = await pipeline.write((now) => (deviceId ? stores.devices.markSeen(deviceId, now) : false), {
    origin: deviceId,
  });
  if (seen.refused) {
    const problem = toProblem(seen);
    return problemResponse(problem.toProblem(), problem.extra.headers);
  }
  const { client, server } = hub.accept(deviceId);
  const since = sinceText === null ? null : Number(sinceText);
  hub.send(
    server,
    since === null
      ? { type: "hello", cursor: encodeCursor({ s: stores.changes.head }), hlc: encodeHlc(stores.clock.current) }
      : { type: "sync", ...buildSyncDocument(stores, since, hub.connectedDevices()) },
  );
  await alarms.schedule();
  const protocol = request.headers.get(WS_PROTOCOL_HEADER);
  return new Response(null, {
    status: 101,
    webSocket: client,
    headers: protocol ? { "sec-websocket-protocol": protocol } : {},
  });
}

/** The answer to an upgrade the object refuses before it looks at storage. */
export const notAnUpgrade = (): Response =>
  problemResponse(toProblem(refusal(400, "bad-request", "expected a WebSocket upgrade")).toProblem());

/** A client message: a typed error for anything off the schema; `resume` gets the changes, `ack` moves the device's sync point. */
export async function onClientMessage(
  { stores, hub, pipeline }: UserParts,
  ws: WebSocket,
  frame: string | ArrayBuffer,
): Promise<void> {
  const message = parseClientMessage(frame);
  if (message.type === "error") return hub.send(ws, message);
  const seq = decodeCursor(message.cursor, { s: "number" })?.s;
  if (seq === undefined || seq > stores.changes.head) {
    return hub.send(ws, {
      type: "error",
      code: "bad-cursor",
      detail: "the cursor is not one this user's change log issued",
      errors: [{ path: "cursor", message: "invalid cursor" }],
    });
  }
  if (message.type === "resume") {
    hub.send(ws, { type: "sync", ...buildSyncDocument(stores, seq, hub.connectedDevices()) });
    return;
  }
  const deviceId = hub.attachment(ws)?.deviceId;
  if (!deviceId) return;
  await pipeline.write(
    (now) => {
      stores.devices.recordSynced(deviceId, seq);
      stores.devices.markSeen(deviceId, now);
    },
    { cost: 0, origin: deviceId },
  );
}

/** The device was here until now; the alarm marks it offline after the offline window. */
export async function onSocketGone({ stores, hub, pipeline }: UserParts, ws: WebSocket, code: number): Promise<void> {
  const deviceId = hub.closed(ws, code);
  if (deviceId && stores.userId) {
    await pipeline.write((now) => stores.devices.markSeen(deviceId, now), { cost: 0, origin: deviceId });
  }
}
