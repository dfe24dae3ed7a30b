import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { buildSync } from "esbuild";
import { defineConfig, type TestProjectInlineConfiguration } from "vitest/config";
import { LOCAL_DEV_JWT_SECRET, LOCAL_EVENT_SUBSCRIBERS } from "./src/config.ts";

/**
 * The reference consumer (examples/reference-consumer), bundled as its own Worker beside the
 * gateway: it consumes the scrobbler subscriber queue into its own D1 database, which the tests
 * also bind (REFERENCE_DB) to compare its state with the Postgres mirror.
 */
function referenceConsumer() {
  const bundle = buildSync({
    entryPoints: ["examples/reference-consumer/src/index.ts"],
    bundle: true,
    format: "esm",
    platform: "neutral",
    mainFields: ["module", "main"],
    write: false,
  });
  return {
    name: "reference-consumer",
    modules: [{ type: "ESModule" as const, path: "index.mjs", contents: bundle.outputFiles[0]?.text ?? "" }],
    compatibilityDate: "2026-04-01",
    d1Databases: { DB: REFERENCE_DB_ID },
    queueConsumers: {
      "media-gateway-events-scrobbler": { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 100 },
    },
  };
}
const REFERENCE_DB_ID = "reference-consumer";

/** A project whose files run inside workerd, each project with its own database and proxy. */
function workerProject(
  name: string,
  include: string[],
  groupOrder: number,
  extra: TestProjectInlineConfiguration["test"] = {},
): TestProjectInlineConfiguration {
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          workers: [referenceConsumer()],
          d1Databases: { REFERENCE_DB: REFERENCE_DB_ID },
          bindings: {
            JWT_SECRET: LOCAL_DEV_JWT_SECRET,
            DATABASE_URL: inject("databaseUrl"),
            DB_WS_PROXY: inject("dbProxy"),
            QUEUE_RETRY_DELAY_SECONDS: "1",
            OUTBOX_MAX_BACKOFF_SECONDS: "2",
            // Refill 1 write/s (burst unchanged, 120): rate-limit tests stay deterministic on a slow machine.
            RATE_LIMIT_WRITES_PER_MINUTE: "60",
            // Tests read far above a client's rate (the fuzzer snapshots state around every request),
            // all from one address: lift the read buckets. read-limits.test.ts sets small ones of its own.
            RATE_LIMIT_READS_PER_MINUTE: "600000",
            RATE_LIMIT_READ_BURST: "100000",
            READ_IP_PER_MINUTE: "600000",
            READ_IP_BURST: "100000",
            // Search: isolates re-check the published index version every second in tests.
            SEARCH_VERSION_CHECK_SECONDS: "1",
            // Recommendations: the same for the shared model; trending lists are not cached.
            RECOMMEND_MODEL_CHECK_SECONDS: "1",
            TRENDING_CACHE_SECONDS: "0",
            // Catalog facts (series, episode order, credits): a new episode reaches Next Up within a second.
            CATALOG_FACTS_CHECK_SECONDS: "1",
            // Webhooks call the recording server on 127.0.0.1; a failed attempt is due again after 1 s.
            WEBHOOK_ALLOW_LOOPBACK: "true",
            WEBHOOK_RETRY_BASE_SECONDS: "1",
            // Two subscriber queues with different filters (every type; progress, plays and watchlist).
            EVENT_SUBSCRIBERS: LOCAL_EVENT_SUBSCRIBERS,
          },
        },
      })),
    ],
    test: {
      name,
      include,
      globalSetup: ["tests/global-setup.ts"],
      sequence: { groupOrder },
      testTimeout: 60_000,
      hookTimeout: 60_000,
      ...extra,
    },
  };
}

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: "unit", include: ["tests/unit/**/*.test.ts"], environment: "node", sequence: { groupOrder: 0 } },
      },
      workerProject("worker", ["tests/worker/**/*.test.ts"], 0, { exclude: ["tests/worker/fuzz.test.ts"] }),
      // The fuzzer writes junk through the admin routes (catalog, spelling, experiments): on its own
      // database, so other files' expectations about the catalog never depend on file order.
      workerProject("fuzz", ["tests/worker/fuzz.test.ts"], 0),
      // Fault tests cut the database off; they run alone, after the others, on their own database,
      // one file at a time (one file's outage must not fail another's writes).
      workerProject("faults", ["tests/faults/**/*.test.ts"], 1, { fileParallelism: false }),
      // The whole local stack in child processes, killed and restarted; last, one file at a time.
      {
        test: {
          name: "system",
          include: ["tests/system/**/*.test.ts"],
          environment: "node",
          sequence: { groupOrder: 3 },
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 120_000,
        },
      },
      // The web client in headless Chromium against a whole local stack; last, one file at a time.
      {
        test: {
          name: "e2e",
          include: ["tests/e2e/**/*.test.ts"],
          environment: "node",
          sequence: { groupOrder: 2 },
          fileParallelism: false,
          // What a page shows after a network round trip: poll for it, generously on a busy machine.
          expect: { poll: { timeout: 15_000, interval: 100 } },
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
