import { afterEach, describe, expect, it } from "vitest";
import { client, newUser, setDatabase } from "../worker/helpers";

afterEach(() => setDatabase("up"));

describe("search while Postgres is unreachable", () => {
  it("answers search and autocomplete from the loaded index; catalog reads and reindex are 503", async () => {
    const anonymous = client(null);
    const warm = await anonymous.get("/api/v1/search?q=teh%20matrix");
    expect(warm.status).toBe(200);
    const { api } = await newUser();

    await setDatabase("down");
    const plain = await anonymous.get("/api/v1/search?q=teh%20matrix");
    expect(plain.status).toBe(200);
    expect(plain.json.results[0].title).toBe("The Matrix");
    // A valid token still searches; the ranking just is not personal until Postgres is back.
    const personal = await api.get("/api/v1/search?q=dead");
    expect(personal.status).toBe(200);
    expect(personal.json.total).toBeGreaterThan(0);
    const suggest = await anonymous.get("/api/v1/autocomplete?q=godf");
    expect(suggest.status).toBe(200);
    expect(suggest.json.suggestions[0].text).toBe("The Godfather");

    const item = await anonymous.get("/api/v1/content/film-the-matrix-1999");
    expect(item.status).toBe(503);
    expect(item.headers.get("content-type")).toContain("application/problem+json");
    expect(item.headers.get("retry-after")).toBe("5");
    const { tokenFor } = await import("../worker/helpers");
    const admin = client(await tokenFor("outage-admin", { role: "admin" }));
    expect((await admin.post("/api/v1/admin/search/reindex")).status).toBe(503);

    await setDatabase("up");
    expect((await anonymous.get("/api/v1/content/film-the-matrix-1999")).status).toBe(200);
  });
});
