import { inArray } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { content } from "../../src/db/schema";
import { db } from "./helpers";
import { adminApi } from "./recommendations-model-support";

/** A catalog of `count` titles in one body (about 300 bytes each), with ids of this test only. */
function catalog(count: number) {
  const run = crypto.randomUUID().slice(0, 8);
  return Array.from({ length: count }, (_, i) => ({
    id: `test-bulk-${run}-${i}`,
    kind: "movie",
    title: `Bulk Import Title Number ${i} Of A Whole Catalog`,
    year: 1950 + (i % 70),
    genres: ["Drama", "Test Bulk"],
    platforms: ["Test Platform"],
    votes: i,
    director: `Director ${i % 500}`,
  }));
}

describe("admin catalog import", () => {
  it("reads and validates a catalog of 10,000 titles in one call (past the general body limit); one bad title refuses it whole", async () => {
    const admin = await adminApi();
    const items = catalog(10_000);
    items[9_999] = { ...items[9_999]!, kind: "film" };
    const body = JSON.stringify({ items });
    expect(body.length).toBeGreaterThan(2 * 1024 * 1024);
    const res = await admin.raw("POST", "/api/v1/admin/catalog", body);
    // Read and validated whole: the refusal names the last item, not the size.
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual(["items.9999.kind"]);
    const written = await db((d) =>
      d
        .select({ id: content.id })
        .from(content)
        .where(inArray(content.id, [items[0]!.id, items[5000]!.id])),
    );
    expect(written).toEqual([]);
  });

  it("refuses more than 10,000 titles with a 400, and a body over 8 MiB with a 413", async () => {
    const admin = await adminApi();
    const tooMany = await admin.post("/api/v1/admin/catalog", { items: catalog(10_001) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.errors[0].path).toBe("items");
    const huge = JSON.stringify({ items: catalog(10) }).replace(/}$/, `,"pad":"${"x".repeat(8 * 1024 * 1024)}"}`);
    const res = await admin.raw("POST", "/api/v1/admin/catalog", huge);
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
  });
});
