import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { LOCAL_DEV_JWT_SECRET } from "./src/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: "unit", include: ["tests/unit/**/*.test.ts"], environment: "node" },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                JWT_SECRET: LOCAL_DEV_JWT_SECRET,
                DATABASE_URL: inject("databaseUrl"),
                DB_WS_PROXY: inject("dbProxy"),
                QUEUE_RETRY_DELAY_SECONDS: "1",
                OUTBOX_MAX_BACKOFF_SECONDS: "2",
              },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["tests/worker/**/*.test.ts"],
          globalSetup: ["tests/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
