import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { experimentAssignments } from "../../src/db/schema";
import { login, newAccount } from "../worker/accounts";
import { client, db, eventually, newUser, setDatabase, tokenFor } from "../worker/helpers";

afterEach(() => setDatabase("up"));

describe("accounts and experiments with Postgres unreachable", () => {
  it("still refuses a revoked family and accepts a live one: the check needs no Postgres", async () => {
    const revoked = await newAccount();
    const live = await newAccount();
    expect((await revoked.api.post("/api/v1/auth/logout")).status).toBe(204);
    await setDatabase("down");
    expect((await revoked.api.get("/api/v1/resume/film-the-matrix-1999")).status).toBe(401);
    expect((await live.api.get("/api/v1/resume/film-the-matrix-1999")).status).toBe(200);
    const session = await live.api.post("/api/v1/sessions", {
      content_id: "film-the-matrix-1999",
      device_id: "tv",
      duration_seconds: 60,
    });
    expect(session.status).toBe(201);
  });

  it("answers login with 503 problem+json and Retry-After, never a 500", async () => {
    const account = await newAccount();
    await setDatabase("down");
    const res = await login(account.email, account.password);
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("retry-after")).toBeTruthy();
  });

  it("keeps assigning from the isolate's cached definitions; the exposure reaches Postgres after recovery", async () => {
    const admin = client(await tokenFor("outage-admin", { role: "admin" }));
    const id = `outage-${crypto.randomUUID().slice(0, 8)}`;
    const created = await admin.post("/api/v1/experiments", {
      id,
      name: "outage",
      variants: [
        { name: "a", weight: 1 },
        { name: "b", weight: 1 },
      ],
    });
    expect(created.status).toBe(201);
    const warm = await newUser();
    expect((await warm.api.get(`/api/v1/experiments/${id}/assign`)).status).toBe(200); // loads the definitions

    await setDatabase("down");
    const { id: userId, api } = await newUser();
    const assigned = await api.get(`/api/v1/experiments/${id}/assign`);
    expect(assigned.status).toBe(200);
    await new Promise((r) => setTimeout(r, 2000)); // the consumer fails against the dead database
    await setDatabase("up");

    const rows = await eventually(
      () => db((d) => d.select().from(experimentAssignments).where(eq(experimentAssignments.userId, userId))),
      (r) => r.length === 1,
      45_000,
    );
    expect(rows[0]?.variant).toBe(assigned.json.variant);
  });
});
