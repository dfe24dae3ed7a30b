import { z } from "@hono/zod-openapi";
import { optionalUser } from "../auth";
import { HttpProblem } from "../contracts/problems";
import type { ContentKind } from "../domain/catalog";
import { decodeCursor, encodeCursor } from "../domain/cursor";
import type { AppContext, Caller } from "../env";
import { readOperation } from "../read-limits";
import { callerTag, decodeAffinity, encodeAffinity, queryFingerprint } from "../search/paging";
import { genreAffinity } from "../search/personalize";
import { search } from "../search/query";
import type { GenreAffinity } from "../search/ranking";
import type { SearchIndex } from "../search/search-index";
import { currentSearchIndex, SearchUnavailableError, searchIndexVersion } from "../search/store";
import { MAX_QUERY_TERMS } from "../search/terms";
import { tokenize } from "../search/text";
import { callerMaturity, maturityKey } from "./maturity";
import { cursorQuery, json, optionalUserRoute, problem, router } from "./router";

export const MAX_QUERY_LENGTH = 512;
const MAX_PAGE = 1000;
const KINDS = ["movie", "series", "episode"] as const;
const DEFAULT_KINDS = ["movie", "series"];

const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).max(20)]).optional();
const listOf = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

const filterFields = {
  page: z.coerce.number().int().min(1).max(MAX_PAGE).default(1).openapi({ example: 1 }),
  page_size: z.coerce.number().int().min(1).max(100).default(20).openapi({ example: 20 }),
  genre: oneOrMany(z.string().min(1).max(100)).openapi({ description: "repeat for any of several", example: "Drama" }),
  platform: oneOrMany(z.string().min(1).max(100)).openapi({ description: "repeat for any of several" }),
  kind: oneOrMany(z.enum(KINDS)).openapi({
    description: "movie, series or episode; repeat for several (default: movie and series)",
  }),
  year_min: z.coerce.number().int().min(1800).max(2200).optional(),
  year_max: z.coerce.number().int().min(1800).max(2200).optional(),
  // A coerced number is published as nullable; the API takes a number.
  rating_min: z.coerce.number().min(0).max(10).optional().openapi({ type: "number", minimum: 0, maximum: 10 }),
  cursor: cursorQuery,
};

const searchQuery = z.object({
  q: z.string().max(MAX_QUERY_LENGTH).optional().openapi({ example: "teh matrix" }),
  ...filterFields,
  include_facets: z.enum(["true", "false", "1", "0"]).optional().openapi({ description: "default true" }),
});
const searchBody = z
  .object({
    query: z.string().max(MAX_QUERY_LENGTH).optional().openapi({ example: "teh matrix" }),
    ...filterFields,
    include_facets: z.boolean().optional().openapi({ description: "default true" }),
  })
  .openapi("SearchRequest");
type SearchParams = Omit<z.infer<typeof searchQuery>, "include_facets"> & { include_facets?: boolean | string };

const range = z.object({ min: z.number().nullable(), max: z.number().nullable() });
const facetValue = z.object({ value: z.string(), count: z.number().int() });
export const searchResultSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    kind: z.enum(KINDS),
    year: z.number().int().nullable(),
    genres: z.array(z.string()),
    platforms: z.array(z.string()),
    rating: z.number().nullable(),
    votes: z.number().int(),
    score: z.number(),
  })
  .openapi("SearchResult");
const searchResponse = z
  .object({
    results: z.array(searchResultSchema),
    total: z.number().int().openapi({ description: "exact number of matches" }),
    page: z.number().int(),
    page_size: z.number().int(),
    corrected_query: z.string().nullable().openapi({ description: "what was searched instead; null when nothing" }),
    facets: z
      .object({
        genres: z.array(facetValue),
        platforms: z.array(facetValue),
        year_range: range,
        rating_range: range,
      })
      .nullable()
      .openapi({ description: "over every match, not just this page; null with include_facets=false" }),
    next_cursor: z.string().nullable(),
  })
  .openapi("SearchResponse");

const badCursor = (detail: string) =>
  new HttpProblem(400, "bad-cursor", detail, { errors: [{ path: "cursor", message: detail }] });

/** The search index, or a 503 while none can be had (no snapshot and no database). */
export async function liveIndex(c: AppContext): Promise<SearchIndex> {
  try {
    return await currentSearchIndex(c.env, c.var.config);
  } catch (error) {
    if (error instanceof SearchUnavailableError)
      throw new HttpProblem(503, "search-unavailable", error.message, { headers: { "retry-after": "5" } });
    throw error;
  }
}

async function runSearch(c: AppContext, params: SearchParams) {
  const caller = c.var.caller as Caller | undefined;
  if (params.year_min !== undefined && params.year_max !== undefined && params.year_min > params.year_max) {
    throw new HttpProblem(400, "validation", "the query is not valid", {
      errors: [{ path: "year_min", message: "must not be greater than year_max" }],
    });
  }
  const q = params.q ?? "";
  const filters = {
    genres: listOf(params.genre),
    platforms: listOf(params.platform),
    // Episodes are found through their series unless asked for by kind.
    kinds: (listOf(params.kind).length > 0 ? listOf(params.kind) : DEFAULT_KINDS) as ContentKind[],
    yearMin: params.year_min,
    yearMax: params.year_max,
    ratingMin: params.rating_min,
    // A limited profile finds, counts and facets only what its limit allows.
    maturity: callerMaturity(c),
  };
  const fingerprint = queryFingerprint({
    words: tokenize(q).slice(0, MAX_QUERY_TERMS),
    ...filters,
    maturity: maturityKey(filters.maturity),
  });
  const who = callerTag(caller?.sub);

  let index: SearchIndex;
  let offset: number;
  let affinity: GenreAffinity | null;
  if (params.cursor !== undefined) {
    const cursor = decodeCursor(params.cursor, { v: "string", o: "number", h: "string", u: "string", a: "string" });
    if (!cursor || cursor.o < 0 || !Number.isInteger(cursor.o))
      throw badCursor("the cursor is not one this API issued");
    if (cursor.h !== fingerprint || cursor.u !== who) throw badCursor("the cursor belongs to another query or caller");
    const version = await searchIndexVersion(c.env, c.var.config, cursor.v);
    if (!version)
      throw new HttpProblem(410, "cursor-expired", "the index version of this cursor is gone; search again");
    const decoded = decodeAffinity(version, cursor.a);
    if (decoded === undefined) throw badCursor("the cursor is not one this API issued");
    index = version;
    offset = cursor.o;
    affinity = decoded;
  } else {
    index = await liveIndex(c);
    offset = (params.page - 1) * params.page_size;
    affinity = caller ? await genreAffinity(c.var.config, caller.sub) : null;
  }

  const includeFacets = params.include_facets === undefined || [true, "true", "1"].includes(params.include_facets);
  const outcome = search(index, { q, offset, limit: params.page_size, filters, facets: includeFacets, affinity });
  const nextOffset = offset + params.page_size;
  const next_cursor =
    nextOffset < outcome.total
      ? encodeCursor({ v: index.version, o: nextOffset, h: fingerprint, u: who, a: encodeAffinity(index, affinity) })
      : null;
  c.header("x-search-version", index.version);
  if (caller) c.header("vary", "authorization");
  return {
    results: outcome.hits.map((hit) => ({ ...index.document(hit.doc), score: Math.round(hit.score * 1000) / 1000 })),
    total: outcome.total,
    page: Math.floor(offset / params.page_size) + 1,
    page_size: params.page_size,
    corrected_query: outcome.corrected_query,
    facets: outcome.facets,
    next_cursor,
  };
}

const description =
  "Typo-tolerant full-text search over the catalog with facets over the whole match set. " +
  "A valid token personalizes the ranking by the caller's genres; an invalid token is a 401. A profile with a " +
  "maturity limit finds only what the limit allows: results, `total` and `facets` all leave the rest out. " +
  "Page with `page`/`page_size`, or pass `next_cursor` back as `cursor` with the same query and filters. " +
  "The bearer token is optional here.";

const cursorExpired = problem("The index version of the cursor is gone; search again");

const base = router();
base.use("/search", readOperation, optionalUser);

export const searchRoutes = base
  .openapi(
    optionalUserRoute("Search", "get", "/search", "Search the catalog", {
      description,
      request: { query: searchQuery },
      responses: { 200: { description: "A page of results", content: json(searchResponse) }, 410: cursorExpired },
    }),
    async (c) => c.json(await runSearch(c, c.req.valid("query")), 200),
  )
  .openapi(
    optionalUserRoute("Search", "post", "/search", "Search the catalog (parameters in a JSON body)", {
      description,
      request: { body: { content: json(searchBody), required: false } },
      responses: { 200: { description: "A page of results", content: json(searchResponse) }, 410: cursorExpired },
    }),
    async (c) => {
      // Without a body the validator hands over {} as it is: the schema gives the defaults.
      const { query, ...rest } = searchBody.parse(c.req.valid("json"));
      return c.json(await runSearch(c, { q: query, ...rest }), 200);
    },
  );
