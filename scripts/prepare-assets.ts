/** Copies the docs' browser assets into public/vendor (run before tests and by npm start). */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { prepareAssets, ROOT } from "./stack";

prepareAssets();
mkdirSync(join(ROOT, ".wrangler"), { recursive: true });
