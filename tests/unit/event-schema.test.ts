import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EVENT_SCHEMA_FILE, renderEventSchema } from "../../scripts/events-schema";

describe("published event schema", () => {
  it("docs/events.schema.json is the schema generated from the zod event schemas (npm run events:schema)", () => {
    expect(readFileSync(EVENT_SCHEMA_FILE, "utf8")).toBe(renderEventSchema());
  });
});
