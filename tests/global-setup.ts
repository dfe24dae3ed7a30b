/**
 * Starts the database side for the Worker's tests: PGlite in memory, or a fresh database on the
 * server named by TEST_DATABASE_URL (dropped afterwards, so every run starts from the committed
 * migrations); migrates, seeds the catalog, and starts the WebSocket proxy with its outage switch.
 */
import pg from "pg";
import type { TestProject } from "vitest/node";
import { freePort, migrateDatabase, startEmbeddedPostgres, startWsProxy } from "../scripts/local-db";
import { seedCatalog } from "../scripts/seed";
import { startWebhookRecorder } from "../scripts/webhook-recorder";

/** Creates a throwaway database beside the given one; falls back to the given one if not allowed. */
async function freshDatabase(serverUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `mg_test_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (error) {
    console.warn(`[tests] cannot create a database (${String(error)}); using TEST_DATABASE_URL as it is`);
    await admin.end();
    return { url: serverUrl, drop: async () => {} };
  }
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      await client.end();
    },
  };
}

export default async function setup(project: TestProject) {
  const external = process.env.TEST_DATABASE_URL ? await freshDatabase(process.env.TEST_DATABASE_URL) : null;
  const embedded = external ? null : await startEmbeddedPostgres({ port: await freePort() });
  const url = external?.url ?? (embedded as { url: string }).url;
  await migrateDatabase(url);
  await seedCatalog(url);
  const proxy = await startWsProxy({ port: await freePort(), control: true, serialize: embedded !== null });
  project.provide("databaseUrl", url);
  project.provide("dbProxy", proxy.address);
  // Webhook deliveries land here (on a random free port), for the tests to read back.
  const recorder = await startWebhookRecorder();
  project.provide("webhookRecorder", recorder.address);
  console.log(
    `[tests] Postgres: ${external ? `real server, database ${new URL(url).pathname.slice(1)}` : "embedded PGlite"} via ws proxy ${proxy.address}`,
  );
  return async () => {
    await recorder.stop();
    await proxy.stop();
    await embedded?.stop();
    await external?.drop();
  };
}
