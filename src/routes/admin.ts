import { z } from "@hono/zod-openapi";
import { requireAdmin, requireUser } from "../auth";
import { HttpProblem } from "../contracts/problems";
import { upsertCatalog, upsertSpellCorrections } from "../db/catalog";
import type { CatalogItem } from "../domain/catalog";
import type { AppContext } from "../env";
import { normalizedQuery } from "../search/search-index";
import { rebuildIndex } from "../search/store";
import { guardedRouter, ID_PATTERN, json, orUnavailable, userRoute, withPostgres } from "./router";

const KINDS = ["movie", "series", "episode"] as const;
const id = z.string().regex(ID_PATTERN, "1-128 letters, digits or . _ : -");
// Titles are shown and indexed as one line: control characters have no place in them.
const line = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, "no control characters");
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

const importBody = z
  .object({
    items: z.array(catalogItemInput).min(1).max(500),
    reindex: z.boolean().default(false).openapi({ description: "rebuild the search index afterwards" }),
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

/** What only an admin route answers besides the usual errors. */
const adminOnly = {
  403: { description: "Not an admin", content: json(z.object({ type: z.string(), title: z.string() })) },
};

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
const upsertedSchema = z.object({ upserted: z.number().int(), reindex: reindexReport.nullable() });

export const adminRoutes = base
  .openapi(
    userRoute("Admin", "post", "/admin/catalog", "Insert or update catalog items by id", {
      description: "Up to 500 items per call. The search index changes at the next reindex (or now with reindex=true).",
      request: { body: { content: json(importBody), required: true } },
      responses: {
        200: { description: "Upserted", content: json(upsertedSchema) },
        ...adminOnly,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const problem = duplicates(
        body.items.map((i) => i.id),
        "items",
      );
      if (problem) throw problem;
      const episodeWithoutSeries = body.items.findIndex((i) => i.kind === "episode" && i.series_id === null);
      if (episodeWithoutSeries >= 0) {
        throw new HttpProblem(400, "validation", "the body is not valid", {
          errors: [{ path: `items.${episodeWithoutSeries}.series_id`, message: "an episode needs its series_id" }],
        });
      }
      const upserted = await withPostgres(c, "catalog", (db) => upsertCatalog(db, body.items as CatalogItem[]));
      return c.json({ upserted, reindex: body.reindex ? await reindex(c) : null }, 200);
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
      const problem = duplicates(
        rows.map((r) => r.misspelled),
        "corrections",
      );
      if (problem) throw problem;
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
  );
