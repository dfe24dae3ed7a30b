/**
 * `npm run bench`: every benchmark, one after the other, each printing its own table. A suite
 * that fails says why and the next one runs; the command fails at the end if any did.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { takeDevServerNoise } from "./lib";

const here = dirname(fileURLToPath(import.meta.url));
const suites = [
  "playback",
  "series",
  "crdt",
  "sync-fanout",
  "search",
  "auth",
  "read-limits",
  "households",
  "webhooks",
  "recommendations",
  "events",
  "load",
];
const only = process.argv.slice(2);
const unknown = only.filter((name) => !suites.includes(name));
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(", ")}; the suites are ${suites.join(", ")}`);
  process.exit(2);
}

const failed: string[] = [];
let current = "";
// A promise a suite left behind that rejects later fails that suite, not the whole run.
process.on("unhandledRejection", (reason) => {
  console.error(`\n${current}: unhandled rejection: ${String(reason)}`);
  if (current && !failed.includes(current)) failed.push(current);
});
for (const name of suites) {
  if (only.length > 0 && !only.includes(name)) continue;
  const file = join(here, `${name}.ts`);
  if (!existsSync(file)) continue;
  console.log(`\n=== ${name} ===`);
  current = name;
  const started = Date.now();
  try {
    const suite = (await import(file)) as { run: () => Promise<void> };
    await suite.run();
  } catch (error) {
    if (!failed.includes(name)) failed.push(name);
    console.error(`\n${name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  const noise = takeDevServerNoise();
  if (noise) console.log(noise);
  console.log(`(${name}: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(", ")}`);
  process.exitCode = 1;
}
