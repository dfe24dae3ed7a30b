import { z } from "@hono/zod-openapi";
import { requireAdmin, requireUser } from "../auth";
import { rebuildFacts } from "../catalog/facts-store";
import { HttpProblem } from "../contracts/problems";
import { upsertCatalog, upsertSpellCorrections } from "../db/catalog";
import type { CatalogItem } from "../domain/catalog";
import type { AppContext } from "../env";
import { rebuildModel } from "../recommendations/model-store";
import { normalizedQuery } from "../search/search-index";
import { rebuildIndex } from "../search/store";
import { unknownContentIds } from "./known-content";
import {
  adminOnly,
  guardedRouter,
  ID_PATTERN,
  json,
  orNull,
  orUnavailable,
  problem,
  userRoute,
  withPostgres,
} from "./router";

const KINDS = ["movie", "series", "episode"] as const;
const id = z.string().regex(ID_PATTERN, "1-128 letters, digits or . _ : -");
// Titles are shown and indexed as one line: control characters have no place in them.
const line = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    // Cc is U+0000-U+001F and U+007F-U+009F; a class without the u flag publishes as a portable pattern.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
    .regex(/^[^\x00-\x1f\x7f-\x9f]*$/, "no control characters");
const label = line(64);

const catalogItemInput = z
  .object({
    id,
    kind: z.enum(KINDS),
    title: line(300),
    series_id: id.nullable().default(null),
    season_number: z.number().int().min(0).max(1000).nullable().default(null),
    episode_number: z.number().int().min(0).max(100_000).nullable().default(null),
    year: z.number().int().min(1870).max(2100).nullable().default(null),
    genres: z.array(label).max(10).default([]),
    platforms: z.array(label).max(20).default([]),
    rating: z.number().min(0).max(10).nullable().default(null),
    votes: z.number().int().min(0).max(2_000_000_000).default(0),
    runtime_minutes: z.number().int().min(0).max(10_000).nullable().default(null),
    maturity_rating: line(16).nullable().default(null),
    director: line(200).nullable().default(null),
    credits_start_seconds: z.number().int().min(0).max(1_000_000).nullable().default(null),
  })
  .openapi("CatalogItemInput");

/** Titles one catalog import may carry: a whole catalog of 10,000 in one call. */
export const MAX_CATALOG_IMPORT = 10_000;
/** The catalog import's own body limit (its items are about 300 bytes each). */
export const CATALOG_IMPORT_MAX_BYTES = 8 * 1024 * 1024;

const importBody = z
  .object({
    items: z.array(catalogItemInput).min(1).max(MAX_CATALOG_IMPORT),
    reindex: z
      .boolean()
      .optional()
      .openapi({
        description:
          "rebuild the search index afterwards; by default only when the import adds ids the index does not hold " +
          "(new content is searchable and writable within SEARCH_VERSION_CHECK_SECONDS)",
      }),
  })
  .openapi("CatalogImport");

const correctionsBody = z
  .object({
    corrections: z
      .array(
        z.object({
          misspelled: line(100),
          corrected: line(200),
          frequency: z.number().int().min(0).max(2_000_000_000).default(0),
        }),
      )
      .min(1)
      .max(1000),
    reindex: z.boolean().default(false).openapi({ description: "rebuild the search index afterwards" }),
  })
  .openapi("SpellCorrections");

const reindexReport = z
  .object({
    version: z.string(),
    previous_version: z.string().nullable(),
    changed: z.boolean(),
    published: z.boolean().openapi({
      description: "false when a reindex that read the catalog later published first; this one was discarded",
    }),
    items: z.number().int(),
    terms: z.number().int(),
    snapshot_bytes: z.number().int(),
    build_ms: z.number().int(),
  })
  .openapi("ReindexReport");

const rebuildReport = z
  .object({
    version: z.string(),
    previous_version: z.string().nullable(),
    changed: z.boolean(),
    users: z.number().int().openapi({ description: "users whose history the model learned from" }),
    views: z.number().int(),
    titles: z.number().int().openapi({ description: "titles anyone viewed" }),
    head: z.number().int().openapi({ description: "most-viewed titles the model learns neighbours over" }),
    neighbours: z.number().int(),
    snapshot_bytes: z.number().int(),
    chunks: z.number().int(),
    build_ms: z.number().int(),
  })
  .openapi("RecommendationModelReport");

function duplicates(values: readonly string[], path: string): HttpProblem | null {
  const seen = new Set<string>();
  const errors: { path: string; message: string }[] = [];
  values.forEach((v, i) => {
    if (seen.has(v)) errors.push({ path: `${path}.${i}`, message: `duplicate of an earlier entry (${v})` });
    seen.add(v);
  });
  return errors.length > 0 ? new HttpProblem(400, "validation", "the body is not valid", { errors }) : null;
}

const reindex = (c: AppContext) => orUnavailable("catalog", () => rebuildIndex(c.env, c.var.config));

const base = guardedRouter(["/admin/*"], requireUser, requireAdmin);
const upsertedSchema = z.object({ upserted: z.number().int(), reindex: orNull(reindexReport) });
const catalogImported = upsertedSchema
  .extend({
    catalog_facts: z
      .object({ version: z.string(), changed: z.boolean(), series: z.number().int(), bytes: z.number().int() })
      .describe("the series, episode order and credits markers users' objects read; published with every import"),
  })
  .openapi("CatalogImported");

export const adminRoutes = base
  .openapi(
    userRoute("Admin", "post", "/admin/catalog", "Insert or update catalog items by id", {
      description:
        `Up to ${MAX_CATALOG_IMPORT.toLocaleString("en")} items (${CATALOG_IMPORT_MAX_BYTES / 1024 / 1024} MiB) per call, ` +
        "written in one transaction. An import that adds new ids publishes a new search index at once, so every " +
        "isolate can search the new items and accept writes naming them within SEARCH_VERSION_CHECK_SECONDS. " +
        "Changes to known items reach the index at the next reindex (or now with reindex=true); reindex=false " +
        "skips it (a bulk import in many calls, then POST /admin/search/reindex). The catalog facts (series, " +
        "episode order, `credits_start_seconds`) are published at once, so Next Up offers a new episode within " +
        "CATALOG_FACTS_CHECK_SECONDS.",
      request: { body: { content: json(importBody), required: true } },
      responses: {
        200: { description: "Upserted", content: json(catalogImported) },
        413: problem("The body is over its limit"),
        ...adminOnly,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const duplicate = duplicates(
        body.items.map((i) => i.id),
        "items",
      );
      if (duplicate) throw duplicate;
      const episodeWithoutSeries = body.items.findIndex((i) => i.kind === "episode" && i.series_id === null);
      if (episodeWithoutSeries >= 0) {
        throw new HttpProblem(400, "validation", "the body is not valid", {
          errors: [{ path: `items.${episodeWithoutSeries}.series_id`, message: "an episode needs its series_id" }],
        });
      }
      const adds =
        (
          await unknownContentIds(
            c,
            body.items.map((i) => i.id),
          )
        ).length > 0;
      const upserted = await withPostgres(c, "catalog", (db) =>
        db.transaction((tx) => upsertCatalog(tx, body.items as CatalogItem[])),
      );
      const facts = await orUnavailable("catalog", () => rebuildFacts(c.env, c.var.config));
      const reindexed = (body.reindex ?? adds) ? await reindex(c) : null;
      return c.json({ upserted, reindex: reindexed, catalog_facts: facts }, 200);
    },
  )
  .openapi(
    userRoute("Admin", "put", "/admin/spell-corrections", "Insert or update curated spelling corrections", {
      description: "A curated correction (misspelled → corrected) overrides the automatic typo correction.",
      request: { body: { content: json(correctionsBody), required: true } },
      responses: {
        200: { description: "Upserted", content: json(upsertedSchema) },
        ...adminOnly,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const rows = body.corrections.map((r) => ({
        misspelled: normalizedQuery(r.misspelled),
        corrected: normalizedQuery(r.corrected),
        frequency: r.frequency,
      }));
      const errors = rows.flatMap((r, i) =>
        r.misspelled === "" || r.corrected === ""
          ? [{ path: `corrections.${i}`, message: "needs letters or digits on both sides" }]
          : r.misspelled === r.corrected
            ? [{ path: `corrections.${i}`, message: "the correction equals the misspelling" }]
            : [],
      );
      if (errors.length > 0) throw new HttpProblem(400, "validation", "the body is not valid", { errors });
      const duplicate = duplicates(
        rows.map((r) => r.misspelled),
        "corrections",
      );
      if (duplicate) throw duplicate;
      await withPostgres(c, "catalog", (db) => upsertSpellCorrections(db, rows));
      return c.json({ upserted: rows.length, reindex: body.reindex ? await reindex(c) : null }, 200);
    },
  )
  .openapi(
    userRoute("Admin", "post", "/admin/search/reindex", "Rebuild the search index from the catalog and publish it", {
      description:
        "Every isolate picks the new version up within SEARCH_VERSION_CHECK_SECONDS. An unchanged catalog keeps its version.",
      responses: { 200: { description: "Published", content: json(reindexReport) }, ...adminOnly },
    }),
    async (c) => c.json(await reindex(c), 200),
  )
  .openapi(
    userRoute("Admin", "post", "/admin/recommendations/rebuild", "Rebuild the shared recommendation model now", {
      description:
        "Learns the shared model from everyone's watch history in Postgres and publishes it to KV; every isolate " +
        "picks the new version up within RECOMMEND_MODEL_CHECK_SECONDS. The scheduled job does the same hourly. " +
        "An unchanged history keeps its version.",
      responses: {
        200: { description: "Published", content: json(rebuildReport) },
        503: problem("Postgres is unreachable; retry after Retry-After"),
        ...adminOnly,
      },
    }),
    async (c) => c.json(await orUnavailable("personalization", () => rebuildModel(c.env, c.var.config)), 200),
  );
