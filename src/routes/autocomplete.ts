import { z } from "@hono/zod-openapi";
import { optionalUser } from "../auth";
import type { AppContext } from "../env";
import { autocomplete } from "../search/autocomplete";
import { normalizeText } from "../search/text";
import { callerMaturity, maturityKey } from "./maturity";
import { json, optionalUserRoute, router } from "./router";
import { liveIndex } from "./search";

const suggestionSchema = z
  .object({
    text: z.string(),
    score: z.number().openapi({ description: "in (0, 1]: exact prefixes above typos, then popularity" }),
    type: z.enum(["movie", "series", "episode"]),
    content_id: z.string(),
  })
  .openapi("Suggestion");
const autocompleteResponse = z.object({ suggestions: z.array(suggestionSchema) }).openapi("Autocomplete");
type AutocompleteBody = z.infer<typeof autocompleteResponse>;

/** Equivalent inputs share a cache entry: case, accents and spacing do not change the answer. */
export function cacheableQuery(q: string): string {
  return normalizeText(q).replace(/\s+/g, " ").trimStart();
}

/** The edge cache key: per index version (a new catalog never serves old suggestions) and per maturity limit. */
const cacheKey = (version: string, q: string, limit: number, maturity: string) =>
  new Request(
    `https://autocomplete.media-gateway.internal/${version}?q=${encodeURIComponent(q)}&limit=${limit}&m=${maturity}`,
  );

function later(c: AppContext, work: Promise<unknown>) {
  try {
    c.executionCtx.waitUntil(work.catch(() => {}));
  } catch {
    // No execution context (called outside a request): nothing to wait for.
  }
}

const base = router();
base.use("/autocomplete", optionalUser);

export const autocompleteRoutes = base.openapi(
  optionalUserRoute("Search", "get", "/autocomplete", "Title suggestions as the user types", {
    description:
      "Matches the start of any word of a title, tolerates typos after the first two letters, most popular first. " +
      "An empty q returns the most popular titles. Answers are cached at the edge for a short time (x-cache). " +
      "A profile with a maturity limit is suggested only what the limit allows. " +
      "The bearer token is optional here.",
    request: {
      query: z.object({
        q: z.string().max(200).optional().openapi({ example: "matr" }),
        limit: z.coerce.number().int().min(1).max(50).default(10).openapi({ example: 10 }),
      }),
    },
    responses: { 200: { description: "Suggestions", content: json(autocompleteResponse) } },
  }),
  async (c) => {
    const { q = "", limit } = c.req.valid("query");
    const index = await liveIndex(c);
    const query = cacheableQuery(q);
    const ttl = c.var.config.AUTOCOMPLETE_CACHE_SECONDS;
    const maturity = callerMaturity(c);
    const key = cacheKey(index.version, query, limit, maturityKey(maturity));
    const cache = ttl > 0 ? caches.default : null;
    const cached = cache ? await cache.match(key) : undefined;
    // A limited profile's answer is its own: no shared cache may hand it to anyone else, or theirs to it.
    c.header("cache-control", `${maturity ? "private" : "public"}, max-age=${ttl}`);
    if (c.var.caller) c.header("vary", "authorization");
    c.header("x-search-version", index.version);
    if (cached) {
      c.header("x-cache", "HIT");
      return c.json((await cached.json()) as AutocompleteBody, 200);
    }
    const body: AutocompleteBody = {
      suggestions: autocomplete(index, query, limit, maturity).map((s) => {
        const doc = index.document(s.doc);
        return { text: doc.title, score: Math.round(s.score * 10_000) / 10_000, type: doc.kind, content_id: doc.id };
      }),
    };
    c.header("x-cache", "MISS");
    if (cache) {
      const stored = new Response(JSON.stringify(body), {
        headers: { "content-type": "application/json", "cache-control": `public, max-age=${ttl}` },
      });
      later(c, cache.put(key, stored));
    }
    return c.json(body, 200);
  },
);
