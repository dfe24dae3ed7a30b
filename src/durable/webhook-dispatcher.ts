import { DurableObject } from "cloudflare:workers";
import { configOf, type Env } from "../env";
import { deliverDueWebhooks } from "../events/webhooks";
import { MigratedStorage } from "./migrate";
import { webhookDispatcherMigrations } from "./migrations/webhook-dispatcher";

/** Deliveries tried per run of the alarm; a full run sets the alarm again at once for the rest. */
const RUN_LIMIT = 500;

/**
 * Makes the first attempt of new webhook deliveries off the queue consumer's path (one object,
 * `idFromName("webhooks")`). The consumer commits a batch with its deliveries queued as rows,
 * then only kicks this object, which answers at once and delivers from its alarm: the consumer's
 * batch is never held by a partner's slow endpoint. What fails here is retried by the per-minute
 * cron; a lost kick only delays deliveries to that cron. Deliveries are claimed with a lease, so
 * this alarm and the cron never send the same delivery twice at once.
 */
export class WebhookDispatcher extends DurableObject<Env> {
  readonly #storage: MigratedStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#storage = new MigratedStorage(ctx, webhookDispatcherMigrations, "WebhookDispatcher", () => {});
  }

  /** New deliveries are due: run the alarm now, unless a run is already set. */
  async kick(): Promise<void> {
    this.#storage.check();
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
  }

  override async alarm(): Promise<void> {
    const report = await deliverDueWebhooks(configOf(this.env), { limit: RUN_LIMIT });
    if (report.attempted >= RUN_LIMIT) await this.ctx.storage.setAlarm(Date.now());
  }
}
