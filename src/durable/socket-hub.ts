import type { ServerMessage } from "../contracts/sync-socket";

/** Per-socket state, kept in the socket's attachment so it survives hibernation. */
export interface SocketAttachment {
  deviceId: string | null;
  connectedAt: number;
}

/**
 * The user's open sync sockets: accepts them as hibernatable WebSockets, keeps each one's device
 * in its attachment, pushes typed server messages, and knows which devices are connected.
 */
export class SocketHub {
  constructor(private readonly ctx: DurableObjectState) {
    // Answered by the runtime without waking the object: keep-alives cost nothing.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  /** Accepts a new socket for `deviceId`; returns the client end for the 101 response. */
  accept(deviceId: string | null): { client: WebSocket; server: WebSocket } {
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ deviceId, connectedAt: Date.now() } satisfies SocketAttachment);
    return { client, server };
  }

  attachment(ws: WebSocket): SocketAttachment | null {
    return ws.deserializeAttachment() as SocketAttachment | null;
  }

  get size(): number {
    return this.ctx.getWebSockets().length;
  }

  send(ws: WebSocket, message: ServerMessage): void {
    ws.send(JSON.stringify(message));
  }

  /**
   * Sends one message to every socket except those of `exceptDevice` (the device that made the
   * change has it already). The message is built only when there is someone to send it to.
   */
  broadcast(message: () => ServerMessage, exceptDevice: string | null): void {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return;
    const text = JSON.stringify(message());
    for (const ws of sockets) {
      if (exceptDevice !== null && this.attachment(ws)?.deviceId === exceptDevice) continue;
      try {
        ws.send(text);
      } catch {
        // A socket closing right now: its close handler cleans up.
      }
    }
  }

  /** Devices with an open socket: online whatever their last heartbeat. */
  connectedDevices(): Set<string> {
    const ids = new Set<string>();
    for (const ws of this.ctx.getWebSockets()) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      const deviceId = this.attachment(ws)?.deviceId;
      if (deviceId) ids.add(deviceId);
    }
    return ids;
  }

  /** Closes every socket (the user is gone). */
  closeAll(code: number, reason: string): void {
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.close(code, reason);
      } catch {}
    }
  }

  /** Completes the close handshake of a socket the client closed (or that failed); returns its device. */
  closed(ws: WebSocket, code: number): string | null {
    try {
      // 1005/1006 describe a close without a frame; they cannot be sent back.
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {}
    return this.attachment(ws)?.deviceId ?? null;
  }
}
