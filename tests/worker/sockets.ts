/** A test client of the sync WebSocket, through the Worker's own fetch handler. */
import { expect } from "vitest";
import { workerFetch } from "./contract-harness";

export type Message = { type: string; cursor?: string; [key: string]: any };

export interface Socket {
  ws: WebSocket;
  messages: Message[];
  /** The next message (after those already taken) matching `match`, or a timeout error. */
  next(match?: (m: Message) => boolean, timeoutMs?: number): Promise<Message>;
  /** Asserts that no further message arrives within `ms`. */
  silentFor(ms: number): Promise<void>;
  close(): void;
}

export async function open(
  token: string | null,
  opts: { device?: string; since?: string; via?: "header" | "query" | "protocol" } = {},
): Promise<Socket | Response> {
  const url = new URL("http://gateway.test/api/v1/sync/ws");
  const headers: Record<string, string> = { upgrade: "websocket" };
  if (opts.device) url.searchParams.set("device_id", opts.device);
  if (opts.since) url.searchParams.set("since", opts.since);
  if (token && (opts.via ?? "header") === "header") headers.authorization = `Bearer ${token}`;
  if (token && opts.via === "query") url.searchParams.set("access_token", token);
  if (token && opts.via === "protocol") headers["sec-websocket-protocol"] = `bearer, ${token}`;
  const res = await workerFetch(new Request(url, { headers }));
  if (res.status !== 101 || !res.webSocket) return res;
  const ws = res.webSocket;
  const messages: Message[] = [];
  let taken = 0;
  let wake: (() => void) | null = null;
  ws.accept();
  ws.addEventListener("message", (event) => {
    messages.push(
      typeof event.data === "string" && event.data.startsWith("{")
        ? JSON.parse(event.data)
        : { type: String(event.data) },
    );
    wake?.();
  });
  return {
    ws,
    messages,
    async next(match = () => true, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        while (taken < messages.length) {
          const m = messages[taken++] as Message;
          if (match(m)) return m;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching message in ${timeoutMs} ms; got ${JSON.stringify(messages)}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(left, 50));
        });
      }
    },
    async silentFor(ms) {
      const count = messages.length;
      await new Promise((r) => setTimeout(r, ms));
      expect(messages.slice(count)).toEqual([]);
    },
    close: () => ws.close(1000, "bye"),
  };
}

export async function connect(token: string, opts: Parameters<typeof open>[1] = {}): Promise<Socket> {
  const socket = await open(token, opts);
  if (socket instanceof Response) throw new Error(`upgrade refused: ${socket.status} ${await socket.text()}`);
  return socket;
}

export const isChange = (m: Message) => m.type === "change";
