/**
 * The OpenAPI document is a valid OpenAPI 3.1 document (its meta-schema, with every Schema
 * Object checked against the JSON Schema 2020-12 dialect it declares), and the typed client's
 * generated files in clients/typescript/ are the ones the document gives today.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BASIC } from "@hyperjump/json-schema/experimental";
import { setShouldValidateFormat, validate } from "@hyperjump/json-schema/openapi-3-1";
import { describe, expect, it } from "vitest";
import { CLIENT_DIR, generatedClientFiles, openApiDocument } from "../../scripts/client-generate";

describe("the OpenAPI document", () => {
  it("validates against the OpenAPI 3.1 meta-schema, formats included", async () => {
    setShouldValidateFormat(true);
    const output = await validate(
      "https://spec.openapis.org/oas/3.1/schema-base",
      (await openApiDocument()) as never,
      BASIC,
    );
    const errors = output.valid
      ? []
      : (output.errors ?? []).slice(0, 10).map((e) => `${e.instanceLocation}: ${e.keyword}`);
    expect(errors).toEqual([]);
    expect(output.valid).toBe(true);
  }, 60_000);

  it("refuses a document that breaks the meta-schema (the check can fail)", async () => {
    const broken = structuredClone(await openApiDocument()) as any;
    broken.paths["/health"].get.responses["200"] = { content: {} }; // a response needs a description
    const output = await validate("https://spec.openapis.org/oas/3.1/schema-base", broken);
    expect(output.valid).toBe(false);
  }, 60_000);

  it("is committed with the generated client types; `npm run client:generate` renews both", async () => {
    for (const [path, text] of Object.entries(await generatedClientFiles())) {
      const committed = readFileSync(join(CLIENT_DIR, path), "utf8");
      expect(committed === text, `clients/typescript/${path} is stale: run npm run client:generate`).toBe(true);
    }
  }, 60_000);
});
