/** `npm run bench`: every benchmark, one after the other, each printing its own table. */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const suites = ["playback", "crdt", "sync-fanout", "search", "auth", "households", "recommendations", "load"];
const only = process.argv.slice(2);

for (const name of suites) {
  if (only.length > 0 && !only.includes(name)) continue;
  const file = join(here, `${name}.ts`);
  if (!existsSync(file)) continue;
  console.log(`\n=== ${name} ===`);
  const started = Date.now();
  const suite = (await import(file)) as { run: () => Promise<void> };
  await suite.run();
  console.log(`(${name}: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
