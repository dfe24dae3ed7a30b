import { app } from "./app";
import { configOf, type Env } from "./env";
import { consumeBatch } from "./events/consumer";
import { runScheduledJobs } from "./scheduled";

export { DeliveryMonitor } from "./durable/delivery-monitor";
export { DeviceAuthorization } from "./durable/device-authorization";
export { RateLimiter } from "./durable/rate-limiter";
export { SearchPublisher } from "./durable/search-publisher";
export { UserState } from "./durable/user-state";

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    await consumeBatch(configOf(env), batch);
  },
  /** The hourly cron (wrangler.toml): each job on its own, so one failing does not stop the others. */
  async scheduled(_controller, env) {
    await runScheduledJobs(configOf(env), env);
  },
} satisfies ExportedHandler<Env>;
