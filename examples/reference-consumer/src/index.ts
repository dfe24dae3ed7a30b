import { consume } from "./consume";

interface Env {
  DB: D1Database;
}

export default {
  /** One batch of the subscriber queue: applied as a whole, or retried as a whole (at least once). */
  async queue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
    const report = await consume(env.DB, batch.messages);
    if (report.invalid > 0) console.warn(`${report.invalid} message(s) do not match the event schema; dropped`);
    batch.ackAll();
  },
} satisfies ExportedHandler<Env>;
