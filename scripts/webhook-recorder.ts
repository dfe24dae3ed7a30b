/**
 * A small HTTP server that records the webhook deliveries it receives, for the tests and the
 * benchmark. `POST /hook/<name>` records the request; `?fail=N` answers 500 to the first N
 * requests of that name, then 200. `GET /__records/<name>` lists what `<name>` received, oldest
 * first: `{ headers, body, received_at_ms }`. `?status=NNN` always answers that status (a 3xx
 * with a Location) and records nothing; `?delay=MS` answers that much later.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedDelivery {
  headers: Record<string, string>;
  body: string;
  received_at_ms: number;
}

export interface WebhookRecorder {
  /** host:port */
  address: string;
  /** Called with every recorded delivery, as it arrives. */
  onDelivery: ((name: string, delivery: RecordedDelivery) => void) | null;
  stop(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });

export async function startWebhookRecorder(port = 0): Promise<WebhookRecorder> {
  const records = new Map<string, RecordedDelivery[]>();
  const seen = new Map<string, number>();
  const recorder: WebhookRecorder = { address: "", onDelivery: null, stop: async () => {} };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://recorder");
    const [, kind, name = ""] = url.pathname.split("/");
    if (req.method === "GET" && kind === "__records") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(records.get(name) ?? []));
      return;
    }
    if (req.method === "POST" && kind === "hook" && name) {
      const body = await readBody(req);
      const n = (seen.get(name) ?? 0) + 1;
      seen.set(name, n);
      const delay = Number(url.searchParams.get("delay") ?? "0");
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const fixed = Number(url.searchParams.get("status") ?? "0");
      if (fixed > 0) {
        res.writeHead(fixed, fixed >= 300 && fixed < 400 ? { location: `/hook/${name}-moved` } : {});
        res.end();
        return;
      }
      const failFirst = Number(url.searchParams.get("fail") ?? "0");
      if (n <= failFirst) {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end("failing on purpose");
        return;
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
      );
      const delivery = { headers, body, received_at_ms: Date.now() };
      const list = records.get(name) ?? [];
      list.push(delivery);
      records.set(name, list);
      recorder.onDelivery?.(name, delivery);
      res.writeHead(204);
      res.end();
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  recorder.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  recorder.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return recorder;
}
