/**
 * Postgres from Node (the local stack, scripts, test setup): node-postgres behind Drizzle. Not
 * part of the Worker, which reaches Postgres through ./client.ts.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import type { Queryable } from "./client";

/** One connection for `work`, always closed. */
export async function withNodeDatabase<T>(url: string, work: (db: Queryable) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(drizzle(client));
  } finally {
    await client.end();
  }
}

/** Applies the committed Drizzle migrations in `folder` (drizzle/) to any Postgres. */
export async function applyMigrations(url: string, folder: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await migrate(drizzle(client), { migrationsFolder: folder });
  } finally {
    await client.end();
  }
}
