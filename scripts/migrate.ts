/** `npm run db:migrate`: applies the committed migrations to DATABASE_URL (Neon in production). */
import { migrateDatabase } from "./local-db";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("set DATABASE_URL, e.g. DATABASE_URL=postgres://user:pass@host/db?sslmode=require npm run db:migrate");
  process.exit(2);
}
const started = Date.now();
await migrateDatabase(url);
console.log(`migrations applied in ${Date.now() - started} ms`);
