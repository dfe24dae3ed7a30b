/** `npm run socket:schema`: writes the sync socket's JSON Schema (served at /api/v1/sync/ws/schema.json) under docs/. */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { syncSocketJsonSchema } from "../src/contracts/sync-socket";

export const SOCKET_SCHEMA_FILE = fileURLToPath(new URL("../docs/sync-socket.schema.json", import.meta.url));

export const renderSocketSchema = () => `${JSON.stringify(syncSocketJsonSchema(), null, 2)}\n`;

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(SOCKET_SCHEMA_FILE, renderSocketSchema());
  console.log(`wrote ${SOCKET_SCHEMA_FILE}`);
}
