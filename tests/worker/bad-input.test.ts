import { describe, expect, it } from "vitest";
import { newUser } from "./helpers";

const expectProblem = (res: { status: number; headers: Headers; json: any }, status: number) => {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(res.json).toMatchObject({
    status,
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
  });
};

describe("bad input is a 4xx problem and changes nothing", () => {
  it("refuses malformed and invalid session bodies, listing the fields", async () => {
    const { api } = await newUser();
    expectProblem(await api.raw("POST", "/api/v1/sessions", "{not json"), 400);
    const invalid = await api.post("/api/v1/sessions", { content_id: "", device_id: 7, duration_seconds: -1 });
    expectProblem(invalid, 400);
    expect(invalid.json.errors.map((e: any) => e.path).sort()).toEqual(["content_id", "device_id", "duration_seconds"]);
    expectProblem(
      await api.post("/api/v1/sessions", { content_id: "../../etc", device_id: "tv", duration_seconds: 10 }),
      400,
    );
    expect((await api.get("/api/v1/history")).json.items).toEqual([]);
  });

  it("refuses negative, non-numeric and absurd positions without moving the session", async () => {
    const { api } = await newUser();
    const s = await api.post("/api/v1/sessions", {
      content_id: "film-memento-2001",
      device_id: "tv",
      duration_seconds: 3600,
    });
    await api.patch(`/api/v1/sessions/${s.json.id}/position`, { position_seconds: 600 });
    for (const body of [
      { position_seconds: -1 },
      { position_seconds: "600" },
      { position_seconds: null },
      { position_seconds: 1e308 },
      { position_seconds: 10, playback_state: "rewinding" },
      {},
      [],
    ]) {
      expectProblem(await api.patch(`/api/v1/sessions/${s.json.id}/position`, body), 400);
    }
    expectProblem(await api.raw("PATCH", `/api/v1/sessions/${s.json.id}/position`, '{"position_seconds": NaN}'), 400);
    expect((await api.get(`/api/v1/sessions/${s.json.id}`)).json.position_seconds).toBe(600);
    expect((await api.get("/api/v1/resume/film-memento-2001")).json.position_seconds).toBe(600);
  });

  it("answers 404 for unknown sessions and routes, 405 for a method a known route does not have", async () => {
    const { api } = await newUser();
    expectProblem(await api.get(`/api/v1/sessions/${crypto.randomUUID()}`), 404);
    expectProblem(await api.patch("/api/v1/sessions/nope/position", { position_seconds: 1 }), 404);
    expectProblem(await api.delete("/api/v1/sessions/nope"), 404);
    expectProblem(await api.get("/api/v1/no-such-thing"), 404);
    const wrongMethod = await api.delete("/api/v1/sessions/nope/position");
    expectProblem(wrongMethod, 405);
    expect(wrongMethod.headers.get("allow")).toBe("PATCH");
  });

  it("refuses oversized payloads with 413", async () => {
    const { api } = await newUser();
    const huge = {
      content_id: "film-memento-2001",
      device_id: "tv",
      duration_seconds: 10,
      quality: "x".repeat(400_000),
    };
    expectProblem(await api.post("/api/v1/sessions", huge), 413);
    expect((await api.get("/api/v1/history")).json.items).toEqual([]);
  });

  it("refuses bad list parameters and forged cursors", async () => {
    const { api } = await newUser();
    expectProblem(await api.get("/api/v1/history?limit=0"), 400);
    expectProblem(await api.get("/api/v1/history?limit=101"), 400);
    expectProblem(await api.get("/api/v1/history?limit=abc"), 400);
    expectProblem(await api.get("/api/v1/history?status=everything"), 400);
    expectProblem(await api.get("/api/v1/history?cursor=%7B%22t%22%3A1%7D"), 400);
    expectProblem(await api.get(`/api/v1/history?cursor=${btoa('{"t":"x","c":1}')}`), 400);
  });
});

describe("operations", () => {
  it("serves an OpenAPI document generated from the request schemas, and the docs without a CDN", async () => {
    const { api } = await newUser();
    const doc = await api.get("/openapi.json");
    expect(doc.status).toBe(200);
    expect(doc.json.openapi).toBe("3.1.0");
    expect(Object.keys(doc.json.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/sessions",
        "/api/v1/sessions/{id}/position",
        "/api/v1/resume/{content_id}",
        "/api/v1/history",
      ]),
    );
    expect(doc.json.components.schemas.CreateSession.required).toEqual(
      expect.arrayContaining(["content_id", "device_id", "duration_seconds"]),
    );
    const docs = await api.get("/docs");
    expect(docs.text).toContain("/vendor/swagger-ui/swagger-ui-bundle.js");
    expect(docs.text).not.toMatch(/https?:\/\/(?!media-gateway)/);
  });

  it("reports healthy dependencies", async () => {
    const { api } = await newUser();
    const health = await api.get("/health");
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({
      status: "ok",
      checks: { postgres: { ok: true }, durable_objects: { ok: true }, kv: { ok: true } },
    });
  });
});
