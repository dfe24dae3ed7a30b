import { describe, expect, it } from "vitest";
import { newUser } from "./helpers";

describe("seed workflow", () => {
  it("resumes from 1800 s after a session at 50 %", async () => {
    const { api } = await newUser();
    const created = await api.post("/api/v1/sessions", {
      content_id: "film-the-matrix-1999",
      device_id: "tv",
      duration_seconds: 3600,
    });
    expect(created.status).toBe(201);
    expect(created.json.resume_position_seconds).toBeNull();
    const moved = await api.patch(`/api/v1/sessions/${created.json.id}/position`, { position_seconds: 1800 });
    expect(moved.status).toBe(200);
    expect((await api.delete(`/api/v1/sessions/${created.json.id}`)).status).toBe(204);
    const again = await api.post("/api/v1/sessions", {
      content_id: "film-the-matrix-1999",
      device_id: "phone",
      duration_seconds: 3600,
    });
    expect(again.json.resume_position_seconds).toBe(1800);
  });
});
