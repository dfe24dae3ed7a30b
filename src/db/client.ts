import { neonConfig, Pool } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import type { Config } from "../config";
import * as schema from "./schema";

export type Database = ReturnType<typeof drizzle<typeof schema>>;

export class DatabaseUnconfiguredError extends Error {
  override name = "DatabaseUnconfiguredError";
}

const POOL_END_TIMEOUT_MS = 2000;

/**
 * Opens a pool for one request or one queue batch (Neon's rule: create, use and end it within
 * one invocation) and always ends it.
 */
export async function withDatabase<T>(config: Config, work: (db: Database) => Promise<T>): Promise<T> {
  if (!config.DATABASE_URL) throw new DatabaseUnconfiguredError("DATABASE_URL is not set");
  if (config.DB_WS_PROXY) {
    const proxy = config.DB_WS_PROXY;
    neonConfig.wsProxy = (host, port) => `${proxy}/v1?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineConnect = false;
    neonConfig.pipelineTLS = false;
  }
  const pool = new Pool({ connectionString: config.DATABASE_URL, max: 4, connectionTimeoutMillis: 5000 });
  pool.on("error", () => {}); // an idle client's socket closing is not this request's failure
  try {
    return await work(drizzle({ client: pool, schema }));
  } finally {
    // Bounded: when BEGIN itself fails, drizzle never releases its client, and pool.end() would wait forever.
    let timer: ReturnType<typeof setTimeout> | null = null;
    await Promise.race([
      pool.end().catch(() => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, POOL_END_TIMEOUT_MS);
      }),
    ]);
    if (timer !== null) clearTimeout(timer);
  }
}
