/**
 * Black box: the published TypeScript client (clients/typescript) against a throwaway local
 * stack over real HTTP, as an app developer would use it: sign up, sign in, play, resume, sign
 * out. Every exchange is also checked against the stack's own /openapi.json.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMediaGatewayClient, type MediaGatewayClient } from "../../clients/typescript/src/index";
import { OpenApiContract } from "../contract/openapi-contract";
import { PASSWORD, startE2eStack } from "./harness";

const MATRIX = "film-the-matrix-1999";
let stack: Awaited<ReturnType<typeof startE2eStack>>;
let contract: OpenApiContract;
const mismatches: string[] = [];

beforeAll(async () => {
  stack = await startE2eStack();
  contract = new OpenApiContract(await (await fetch(`${stack.baseUrl}/openapi.json`)).json());
});
afterAll(async () => {
  await stack?.stop();
});

/** The client with every exchange checked against the document. */
function gatewayClient(token: () => string | null): MediaGatewayClient {
  return createMediaGatewayClient({
    baseUrl: stack.baseUrl,
    token,
    fetch: async (request) => {
      const sent = request.body ? await request.clone().text() : null;
      const res = await fetch(request);
      const text = await res.text();
      mismatches.push(
        ...contract.check({
          method: request.method,
          url: request.url,
          requestHeaders: request.headers,
          requestBody: sent,
          status: res.status,
          responseHeaders: res.headers,
          responseBody: text,
        }),
      );
      return new Response(text || null, { status: res.status, headers: res.headers });
    },
  });
}

describe("the generated TypeScript client over HTTP", () => {
  it("signs up, signs in, plays The Matrix to half way, resumes there, and signs out", async () => {
    let token: string | null = null;
    const api = gatewayClient(() => token);
    const email = `client-${crypto.randomUUID()}@example.com`;
    expect((await api.POST("/api/v1/auth/register", { body: { email, password: PASSWORD } })).response.status).toBe(
      202,
    );
    const login = await api.POST("/api/v1/auth/login", { body: { email, password: PASSWORD } });
    token = login.data?.access_token ?? null;
    expect(token).toBeTruthy();

    const created = await api.POST("/api/v1/sessions", {
      body: { content_id: MATRIX, device_id: "laptop", duration_seconds: 8160 },
    });
    expect(created.response.status).toBe(201);
    const id = created.data?.id as string;
    const reported = await api.PATCH("/api/v1/sessions/{id}/position", {
      params: { path: { id } },
      body: { position_seconds: 4080, playback_state: "paused" },
    });
    expect(reported.data?.playback_state).toBe("paused");
    const resume = await api.GET("/api/v1/resume/{content_id}", { params: { path: { content_id: MATRIX } } });
    expect(resume.data).toMatchObject({ resume_position_seconds: 4080, completion_percentage: 50, watched: false });

    expect((await api.POST("/api/v1/auth/logout")).response.status).toBe(204);
    const after = await api.GET("/api/v1/resume/{content_id}", { params: { path: { content_id: MATRIX } } });
    expect(after.response.status).toBe(401);
    expect(mismatches).toEqual([]);
  });
});
