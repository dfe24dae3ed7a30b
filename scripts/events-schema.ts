/** `npm run events:schema`: writes the events' JSON Schema (served at /events/schema.json) under docs/. */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { eventJsonSchema } from "../src/contracts/events-schema";

export const EVENT_SCHEMA_FILE = fileURLToPath(new URL("../docs/events.schema.json", import.meta.url));

export const renderEventSchema = () => `${JSON.stringify(eventJsonSchema(), null, 2)}\n`;

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(EVENT_SCHEMA_FILE, renderEventSchema());
  console.log(`wrote ${EVENT_SCHEMA_FILE}`);
}
