/**
 * The typed client generated from the document (clients/typescript) against the Worker: a
 * playback round trip, problems as typed errors, anonymous search. Every exchange also passes
 * the harness's check against the document.
 */
import { describe, expect, it } from "vitest";
import { createMediaGatewayClient } from "../../clients/typescript/src/index";
import { checkedFetch } from "./contract-harness";
import { newUser } from "./helpers";

const MATRIX = "film-the-matrix-1999";

function gatewayClient(token: string | null) {
  return createMediaGatewayClient({
    baseUrl: "http://gateway.test",
    token,
    fetch: async (request) => {
      const body = request.body ? await request.clone().text() : null;
      return (await checkedFetch(request, body)).res;
    },
  });
}

describe("the generated TypeScript client", () => {
  it("starts a session, reports a position and reads where to resume", async () => {
    const { token } = await newUser();
    const api = gatewayClient(token);
    const created = await api.POST("/api/v1/sessions", {
      body: { content_id: MATRIX, device_id: "tv", duration_seconds: 8160 },
    });
    expect(created.response.status).toBe(201);
    const session = created.data;
    if (!session) throw new Error(`no session: ${JSON.stringify(created.error)}`);
    expect(session.resume_position_seconds).toBeNull();

    const reported = await api.PATCH("/api/v1/sessions/{id}/position", {
      params: { path: { id: session.id } },
      body: { position_seconds: 4080, playback_state: "paused" },
    });
    expect(reported.data?.position_seconds).toBe(4080);

    const resume = await api.GET("/api/v1/resume/{content_id}", { params: { path: { content_id: MATRIX } } });
    expect(resume.data).toMatchObject({ content_id: MATRIX, resume_position_seconds: 4080, completion_percentage: 50 });
  });

  it("gives refusals as typed problems", async () => {
    const { token } = await newUser();
    const api = gatewayClient(token);
    const unknown = await api.PUT("/api/v1/sync/watchlist/{content_id}", {
      params: { path: { content_id: "film-no-such-thing-2099" } },
    });
    expect(unknown.response.status).toBe(404);
    expect(unknown.error?.type).toBe("https://media-gateway.dev/problems/content-not-found");
    const anonymous = await gatewayClient(null).GET("/api/v1/history", { params: { query: {} } });
    expect(anonymous.response.status).toBe(401);
    expect(anonymous.error?.status).toBe(401);
  });

  it("searches without a token, with the typed filters", async () => {
    const found = await gatewayClient(null).GET("/api/v1/search", {
      params: { query: { q: "teh matrix", genre: ["Action"], page_size: 5 } },
    });
    expect(found.data?.results[0]?.id).toBe(MATRIX);
    expect(found.data?.corrected_query).toBe("the matrix");
  });
});
