/** `npm start`: the whole service on its embedded default; Ctrl-C stops everything cleanly. */
import { ConfigError } from "../src/config";
import { startLocalStack } from "./stack";

const port = Number(process.env.PORT ?? 8787);
const started = Date.now();
console.log("Starting Media Gateway (embedded Postgres unless DATABASE_URL is set)...");
let stack: Awaited<ReturnType<typeof startLocalStack>>;
try {
  stack = await startLocalStack({
    port,
    ...(process.env.PGLITE_PORT ? { pglitePort: Number(process.env.PGLITE_PORT) } : { pglitePort: 54329 }),
    verbose: process.env.VERBOSE === "1",
  });
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
console.log(`
Media Gateway is up in ${((Date.now() - started) / 1000).toFixed(1)} s
  API      ${stack.baseUrl}/api/v1
  Web app  ${stack.baseUrl}/
  Docs     ${stack.baseUrl}/docs   (OpenAPI: ${stack.baseUrl}/openapi.json)
  Health   ${stack.baseUrl}/health
  Token    npm run --silent token -- <user_id> [--admin]
Press Ctrl-C to stop (data is kept in .data/ and .wrangler/state).`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping wrangler, the proxy and the database...`);
  await stack.stop();
  console.log("stopped; nothing lost.");
  process.exit(0);
};
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
stack.wrangler.once("exit", (code) => {
  if (!stopping) {
    console.error(`wrangler dev exited (${code}); stopping.`);
    void shutdown("wrangler exit");
  }
});
