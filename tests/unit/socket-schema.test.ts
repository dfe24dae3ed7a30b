import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderSocketSchema, SOCKET_SCHEMA_FILE } from "../../scripts/socket-schema";

describe("published sync socket schema", () => {
  it("docs/sync-socket.schema.json is the schema generated from the zod message schemas (npm run socket:schema)", () => {
    expect(readFileSync(SOCKET_SCHEMA_FILE, "utf8")).toBe(renderSocketSchema());
  });
});
