/**
 * Webhook delivery latency through the real Worker (the local stack): from the write's
 * acknowledgement (PUT /history/{id}/watched answered) to a server on 127.0.0.1 receiving the
 * signed `progress-changed`, next to the floor of the same write by a user with no webhook,
 * timed to its mirror row appearing in Postgres. Both travel outbox → queue → consumer; the
 * webhook adds the delivery after the consumer's commit. Interleaved, alternating order every
 * round, after a warm-up. Run alone: `npm run bench -- webhooks` (about two minutes).
 */
import pg from "pg";
import { startWebhookRecorder } from "../scripts/webhook-recorder";
import { api, percentile, ratioCell, ratioSpread, request, table, token, withBenchStack } from "./lib";

const ROUNDS = 8;
const PER_ROUND = 8;
const WARMUP = 4;
const POLL_MS = 5;

export async function run(): Promise<void> {
  const recorder = await startWebhookRecorder();
  try {
    await withBenchStack({ vars: { OUTBOX_LINGER_MS: "0" } }, async (stack) => {
      const db = new pg.Client({ connectionString: stack.databaseUrl });
      await db.connect();
      try {
        const { rows } = await db.query<{ id: string }>(
          "select id from content where kind = 'movie' order by id limit $1",
          [WARMUP + ROUNDS * PER_ROUND],
        );
        const films = rows.map((r) => r.id);
        const hooked = { id: `bench-hooked-${Date.now()}`, token: "" };
        const plain = { id: `bench-plain-${Date.now()}`, token: "" };
        hooked.token = await token(hooked.id);
        plain.token = await token(plain.id);
        await api(stack.baseUrl, hooked.token, "POST", "/api/v1/webhooks", {
          url: `http://${recorder.address}/hook/bench`,
          events: ["progress-changed"],
        });

        const arrivals = new Map<string, (at: number) => void>();
        recorder.onDelivery = (_name, delivery) => {
          const event = JSON.parse(delivery.body) as { user_id: string; data: { content_id: string } };
          arrivals.get(`${event.user_id}/${event.data.content_id}`)?.(performance.now());
        };

        const write = async (user: { token: string }, film: string) => {
          const res = await request(stack.baseUrl, user.token, "PUT", `/api/v1/history/${film}/watched`);
          if (res.status !== 200) throw new Error(`PUT watched → ${res.status} ${res.text.slice(0, 200)}`);
          return performance.now();
        };
        /** Ack → the recording server has the signed event. */
        const viaWebhook = async (film: string) => {
          const arrived = new Promise<number>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no delivery of ${film} in 30 s`)), 30_000);
            arrivals.set(`${hooked.id}/${film}`, (at) => {
              clearTimeout(timer);
              resolve(at);
            });
          });
          const acked = await write(hooked, film);
          return (await arrived) - acked;
        };
        /** Ack → the mirror row in Postgres (polled every POLL_MS). */
        const viaMirror = async (film: string) => {
          const acked = await write(plain, film);
          const deadline = acked + 30_000;
          for (;;) {
            const found = await db.query("select 1 from watch_history where user_id = $1 and content_id = $2", [
              plain.id,
              film,
            ]);
            if (found.rowCount) return performance.now() - acked;
            if (performance.now() > deadline) throw new Error(`no mirror row for ${film} in 30 s`);
            await new Promise((r) => setTimeout(r, POLL_MS));
          }
        };

        let next = 0;
        for (let i = 0; i < WARMUP; i++) {
          const film = films[next++] as string;
          await viaMirror(film);
          await viaWebhook(film);
        }
        const samples = { webhook: [] as number[], mirror: [] as number[] };
        const ratios: number[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          const roundSamples = { webhook: [] as number[], mirror: [] as number[] };
          for (let i = 0; i < PER_ROUND; i++) {
            const film = films[next++] as string;
            const order = (round + i) % 2 === 0 ? (["mirror", "webhook"] as const) : (["webhook", "mirror"] as const);
            for (const what of order) {
              const ms = what === "mirror" ? await viaMirror(film) : await viaWebhook(film);
              roundSamples[what].push(ms);
              samples[what].push(ms);
            }
          }
          const p50 = (xs: number[]) =>
            percentile(
              [...xs].sort((a, b) => a - b),
              50,
            );
          ratios.push(p50(roundSamples.webhook) / p50(roundSamples.mirror));
        }
        const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
        const mirror = sorted(samples.mirror);
        const webhook = sorted(samples.webhook);
        table(
          `Write acknowledged → event out (${ROUNDS} rounds × ${PER_ROUND}, one write at a time, wrangler dev + PGlite, OUTBOX_LINGER_MS=0, queue max_batch_timeout 1 s)`,
          [
            {
              path: "floor: mirror row in Postgres (no webhook)",
              n: mirror.length,
              "p50 ms": percentile(mirror, 50),
              "p99 ms": percentile(mirror, 99),
              "p50 / floor, per round": "1",
            },
            {
              path: "webhook received by a server on 127.0.0.1",
              n: webhook.length,
              "p50 ms": percentile(webhook, 50),
              "p99 ms": percentile(webhook, 99),
              "p50 / floor, per round": ratioCell(ratioSpread(ratios)),
            },
          ],
        );
        console.log(`(the floor is polled every ${POLL_MS} ms: it reads up to that much late)`);
      } finally {
        await db.end();
      }
    });
  } finally {
    await recorder.stop();
  }
}
