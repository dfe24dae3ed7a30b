import { app } from "./app";
import { configOf, type Env } from "./env";
import { consumeBatch } from "./events/consumer";
import { webhookDispatcher } from "./events/delivery";
import { runWebhookRetries } from "./events/webhooks";
import { runScheduledJobs, WEBHOOK_CRON } from "./scheduled";

export { DeliveryMonitor } from "./durable/delivery-monitor";
export { DeviceAuthorization } from "./durable/device-authorization";
export { RateLimiter } from "./durable/rate-limiter";
export { SearchPublisher } from "./durable/search-publisher";
export { UserState } from "./durable/user-state";
export { WebhookDispatcher } from "./durable/webhook-dispatcher";

export default {
  fetch: app.fetch,
  async queue(batch, env, ctx) {
    await consumeBatch(configOf(env), batch, {
      waitUntil: (promise) => ctx.waitUntil(promise),
      kickWebhooks: () => webhookDispatcher(env).kick(),
    });
  },
  /**
   * The crons (wrangler.toml): every minute, webhook retries; hourly, the other jobs, each on its
   * own, so one failing does not stop the others.
   */
  async scheduled(controller, env) {
    if (controller.cron === WEBHOOK_CRON) {
      console.log(`webhook retries: ${await runWebhookRetries(configOf(env))}`);
      return;
    }
    await runScheduledJobs(configOf(env), env);
  },
} satisfies ExportedHandler<Env>;
