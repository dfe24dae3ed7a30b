import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { EventEnvelope } from "../../src/contracts/events";
import type { UserState } from "../../src/durable/user-state";

/** One sendBatch call the user's outbox made: its messages and their JSON size. */
export interface SentBatch {
  events: EventEnvelope[];
  bytes: number;
}

/**
 * Puts a recorder between a user's Durable Object and a real queue (EVENTS, or a subscriber
 * queue's binding): every sendBatch is recorded and forwarded, or refused while `down` (a queue
 * outage as the outbox sees it).
 */
export async function recordQueue(stub: DurableObjectStub<UserState>, binding = "EVENTS") {
  const recorder = { sent: [] as SentBatch[], refused: 0, down: false, errors: [] as string[] };
  await runInDurableObject(stub, (instance) => {
    const target = instance as unknown as { env: Record<string, Queue<EventEnvelope>> };
    const real = target.env[binding] as Queue<EventEnvelope>;
    const wrapped: Queue<EventEnvelope> = {
      send: (body, options) => wrapped.sendBatch([{ body, ...options }]),
      async sendBatch(messages, options) {
        if (recorder.down) {
          recorder.refused++;
          throw new Error("queue unavailable (test outage)");
        }
        const events = [...messages].map((m) => m.body);
        const bytes = events.reduce((sum, e) => sum + new TextEncoder().encode(JSON.stringify(e)).length, 0);
        try {
          await real.sendBatch(messages, options);
        } catch (error) {
          recorder.errors.push(`${events.length} messages, ${bytes} bytes: ${String(error)}`);
          throw error;
        }
        recorder.sent.push({ events, bytes });
        return undefined as never;
      },
      metrics: () => real.metrics(),
    } as Queue<EventEnvelope>;
    target.env = { ...target.env, [binding]: wrapped };
  });
  return recorder;
}

/** Runs the object's alarm until its outbox is empty; returns how many alarm runs sent something. */
export async function drainOutbox(stub: DurableObjectStub<UserState>, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let runs = 0;
  while ((await stub.status()).outbox > 0) {
    if (Date.now() > deadline) throw new Error(`outbox not empty after ${timeoutMs} ms`);
    const before = (await stub.status()).outbox;
    await runDurableObjectAlarm(stub);
    if ((await stub.status()).outbox < before) runs++;
    // Events linger (and failed sends back off) in wall time before the alarm sends them.
    else await new Promise((r) => setTimeout(r, 50));
  }
  return runs;
}
