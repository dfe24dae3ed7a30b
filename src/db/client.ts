import { neonConfig, Pool } from "@neondatabase/serverless";
import { type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-serverless";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type { Config } from "../config";
import * as schema from "./schema";

export type Database = ReturnType<typeof drizzle<typeof schema>>;

/**
 * What every query function in src/db takes: the Worker's Neon pool, a transaction of it, or
 * node-postgres in the scripts. One type, so a function works inside the consumer's batch
 * transaction as well as on its own.
 */
export type Queryable = PgDatabase<PgQueryResultHKT, any>;

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

/** `work` in one Postgres transaction, on a pool of its own. */
export function inTransaction<T>(config: Config, work: (tx: Queryable) => Promise<T>): Promise<T> {
  return withDatabase(config, (db) => db.transaction((tx) => work(tx)));
}

/** A hand-written statement's rows and row count, the same from Neon and from node-postgres. */
export async function run<Row>(db: Queryable, query: SQL): Promise<{ rows: Row[]; rowCount: number }> {
  const result = (await db.execute(query)) as unknown as { rows: Row[]; rowCount?: number | null };
  return { rows: result.rows, rowCount: result.rowCount ?? 0 };
}

/** The cheapest round trip: for health checks. */
export async function ping(db: Queryable): Promise<void> {
  await db.execute(sql`select 1`);
}
