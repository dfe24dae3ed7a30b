import { cleanupTokens } from "./accounts/cleanup";
import { app } from "./app";
import { configOf, type Env } from "./env";
import { consumeBatch } from "./events/consumer";

export { DeviceAuthorization } from "./durable/device-authorization";
export { RateLimiter } from "./durable/rate-limiter";
export { UserState } from "./durable/user-state";

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    await consumeBatch(configOf(env), batch);
  },
  /** The hourly cron (wrangler.toml): expired refresh tokens and old token families. */
  async scheduled(_controller, env) {
    const removed = await cleanupTokens(configOf(env));
    console.log(`cleanup: ${removed.refreshTokens} refresh tokens, ${removed.tokenFamilies} token families`);
  },
} satisfies ExportedHandler<Env>;
