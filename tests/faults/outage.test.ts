import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { watchHistory } from "../../src/db/schema";
import { db, eventually, newUser, setDatabase } from "../worker/helpers";

afterEach(() => setDatabase("up"));

describe("Postgres unreachable", () => {
  it("accepts position updates and answers resume; every acknowledged update reaches Postgres after recovery", async () => {
    const { id, api } = await newUser();
    await setDatabase("down");
    const health = await api.get("/health");
    expect(health.status).toBe(503);
    expect(health.json.checks.postgres.ok).toBe(false);

    const acknowledged = new Map<string, number>();
    for (const content of ["film-alien-1979", "film-amadeus-1984", "film-annie-hall-1977"]) {
      const session = await api.post("/api/v1/sessions", {
        content_id: content,
        device_id: "tv",
        duration_seconds: 3600,
      });
      expect(session.status).toBe(201);
      for (const position of [300, 900, 1500]) {
        const res = await api.patch(`/api/v1/sessions/${session.json.id}/position`, { position_seconds: position });
        expect(res.status).toBe(200);
        acknowledged.set(content, position);
      }
      expect((await api.delete(`/api/v1/sessions/${session.json.id}`)).status).toBe(204);
      expect((await api.get(`/api/v1/resume/${content}`)).json.resume_position_seconds).toBe(1500);
    }
    // Let the consumer fail at least once against the dead database.
    await new Promise((r) => setTimeout(r, 2500));
    await setDatabase("up");

    const rows = await eventually(
      () => db((d) => d.select().from(watchHistory).where(eq(watchHistory.userId, id))),
      (r) => r.length === 3 && r.every((row) => row.positionSeconds === acknowledged.get(row.contentId)),
      45_000,
    );
    expect(rows.map((r) => r.contentId).sort()).toEqual([
      "film-alien-1979",
      "film-amadeus-1984",
      "film-annie-hall-1977",
    ]);
    const one = await db((d) =>
      d
        .select()
        .from(watchHistory)
        .where(and(eq(watchHistory.userId, id), eq(watchHistory.contentId, "film-alien-1979"))),
    );
    expect(one).toHaveLength(1);
  });
});
