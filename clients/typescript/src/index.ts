/**
 * A typed client of the Media Gateway API: every path, parameter, body and answer typed from
 * the service's OpenAPI document (src/schema.ts, generated), calls made by openapi-fetch.
 *
 *   const api = createMediaGatewayClient({ baseUrl: "http://127.0.0.1:8787", token: () => accessToken });
 *   const { data, error } = await api.POST("/api/v1/sessions", { body: { content_id, device_id, duration_seconds } });
 */
import createClient, { type Client, type ClientOptions, type Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
/** The named schemas of the document: `Schemas["Session"]`, `Schemas["Problem"]`, … */
export type Schemas = components["schemas"];
/** An RFC 9457 problem, the body of every error answer. */
export type Problem = components["schemas"]["Problem"];
export type MediaGatewayClient = Client<paths>;

export interface MediaGatewayClientOptions extends ClientOptions {
  /** The access token, or a function giving the current one (null: call anonymously). */
  token?: string | null | (() => string | null | undefined);
}

/** A client whose calls carry `Authorization: Bearer <token>` when a token is given. */
export function createMediaGatewayClient(options: MediaGatewayClientOptions = {}): MediaGatewayClient {
  const { token, ...rest } = options;
  const client = createClient<paths>(rest);
  if (token !== undefined) {
    const bearer: Middleware = {
      onRequest({ request }) {
        const value = typeof token === "function" ? token() : token;
        if (value) request.headers.set("authorization", `Bearer ${value}`);
        return request;
      },
    };
    client.use(bearer);
  }
  return client;
}
