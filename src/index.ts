import { app } from "./app";
import { configOf, type Env } from "./env";
import { consumeBatch } from "./events/consumer";

export { UserState } from "./durable/user-state";

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    await consumeBatch(configOf(env), batch);
  },
} satisfies ExportedHandler<Env>;
