/**
 * WebhookDispatcher's storage, version by version. Append only. It keeps no tables: its one piece
 * of state is its alarm, and the deliveries themselves are rows in Postgres.
 */
import type { Migration } from "../migrate";

export const webhookDispatcherMigrations: readonly Migration[] = [];
