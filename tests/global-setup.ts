/**
 * Starts the database side for the Worker's tests: PGlite in memory, or the server named by
 * TEST_DATABASE_URL; applies the migrations; starts the WebSocket proxy with its outage switch.
 */
import type { TestProject } from "vitest/node";
import { freePort, migrateDatabase, startEmbeddedPostgres, startWsProxy } from "../scripts/local-db";
import { seedCatalog } from "../scripts/seed";

export default async function setup(project: TestProject) {
  const external = process.env.TEST_DATABASE_URL;
  const embedded = external ? null : await startEmbeddedPostgres({ port: await freePort() });
  const url = external ?? (embedded as { url: string }).url;
  await migrateDatabase(url);
  await seedCatalog(url);
  const proxy = await startWsProxy({ port: await freePort(), control: true, serialize: embedded !== null });
  project.provide("databaseUrl", url);
  project.provide("dbProxy", proxy.address);
  console.log(`[tests] Postgres: ${external ? "TEST_DATABASE_URL" : "embedded PGlite"} via ws proxy ${proxy.address}`);
  return async () => {
    await proxy.stop();
    await embedded?.stop();
  };
}
