/**
 * A user's own history in and out: import from another service's export (matched to the
 * catalog by id, or by title and year) and export of everything the user's object holds. Mounted
 * by the history routes, behind their guard.
 */
import { z } from "@hono/zod-openapi";
import { unwrap } from "../contracts/outcomes";
import { HttpProblem, validationProblem } from "../contracts/problems";
import { deviceSchema, watchlistItemSchema } from "../contracts/sync";
import { existingContentIds, titlesOfYears } from "../db/catalog";
import { TitleMatcher } from "../domain/title-match";
import type { ImportedView } from "../durable/stores/playback";
import { ID_PATTERN, json, problem, router, unavailableResponse, userRoute, userState, withPostgres } from "./router";

/** Items one import may carry. */
export const MAX_IMPORT_ITEMS = 1000;
/** The import's own body limit: 1,000 items with long titles fit, whatever the general limit. */
export const HISTORY_IMPORT_MAX_BYTES = 1024 * 1024;
/** An imported view may be this far ahead of the server's clock (clients' clocks drift). */
const FUTURE_TOLERANCE_MS = 5 * 60 * 1000;
const MAX_SECONDS = 1_000_000;

const importItem = z
  .object({
    content_id: z.string().regex(ID_PATTERN, "1-128 letters, digits or . _ : -").optional(),
    title: z.string().trim().min(1).max(300).optional(),
    year: z.number().int().min(1870).max(2100).optional(),
    watched_at: z.iso.datetime({ offset: true }).openapi({ description: "when it was (last) watched" }),
    completed: z
      .boolean()
      .optional()
      .openapi({ description: "finished; else give position_seconds and duration_seconds" }),
    position_seconds: z.number().min(0).max(MAX_SECONDS).optional(),
    duration_seconds: z.number().min(0).max(MAX_SECONDS).optional().openapi({ description: "0 when unknown" }),
    rating: z
      .number()
      .int()
      .min(1)
      .max(10)
      .optional()
      .openapi({ description: "1-10; written as of `watched_at` unless the caller rated the title since" }),
  })
  .superRefine((item, ctx) => {
    if (item.content_id === undefined && (item.title === undefined || item.year === undefined)) {
      ctx.addIssue({ code: "custom", path: ["content_id"], message: "give content_id, or title and year" });
    }
    if (item.completed !== true && (item.position_seconds === undefined || item.duration_seconds === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["position_seconds"],
        message: "give completed: true, or position_seconds and duration_seconds",
      });
    }
    if (Date.parse(item.watched_at) > Date.now() + FUTURE_TOLERANCE_MS) {
      ctx.addIssue({ code: "custom", path: ["watched_at"], message: "is in the future" });
    }
  })
  .openapi("HistoryImportItem");

const importBody = z.object({ items: z.array(importItem).min(1).max(MAX_IMPORT_ITEMS) }).openapi("HistoryImport");

const importResult = z
  .object({
    imported: z.number().int().openapi({ description: "titles written to the history (0 for a file imported before)" }),
    matched: z.number().int().openapi({ description: "items matched to a catalog title" }),
    unmatched: z
      .array(
        z.object({
          index: z.number().int(),
          content_id: z.string().nullable(),
          title: z.string().nullable(),
          year: z.number().int().nullable(),
        }),
      )
      .openapi({ description: "items no catalog title matched, by their index in `items`" }),
  })
  .openapi("HistoryImportResult");

const exportedView = z
  .object({
    content_id: z.string(),
    watched_at: z.string().nullable().openapi({ format: "date-time" }),
    completed: z.boolean(),
    position_seconds: z.number(),
    duration_seconds: z.number(),
    completion_percentage: z.number(),
  })
  .openapi("ExportedView");

const exportSchema = z
  .object({
    exported_at: z.string().openapi({ format: "date-time" }),
    history: z.array(exportedView).openapi({ description: "most recent first; importable as it is" }),
    plays: z.array(
      z.object({
        play_id: z.string(),
        content_id: z.string(),
        watched_at: z.string().openapi({ format: "date-time" }),
        device_id: z.string().nullable(),
      }),
    ),
    ratings: z.array(z.object({ content_id: z.string(), rating: z.number().int(), rated_at: z.string() })),
    watchlist: z.array(watchlistItemSchema),
    devices: z.array(deviceSchema),
  })
  .openapi("HistoryExport");

export const historyTransferRoutes = router()
  .openapi(
    userRoute("History", "post", "/history/import", "Import the caller's history from elsewhere", {
      description:
        `Up to ${MAX_IMPORT_ITEMS} items (${HISTORY_IMPORT_MAX_BYTES / 1024} KiB) a call. Each names a catalog title by ` +
        "`content_id`, or by `title` and `year` (case, accents, punctuation and a trailing article do not matter). " +
        "A title is written at its `watched_at` unless the history already holds it at that time or later: " +
        "importing the same file again changes nothing. Unmatched items are listed, not refused. Imported views " +
        "reach Postgres, profiles and the shared model like any other. A call costs one write of the caller's " +
        "budget per SYNC_OPS_PER_TOKEN items (429 with Retry-After past it).",
      request: { body: { content: json(importBody), required: true } },
      responses: {
        200: { description: "What was imported, matched and left unmatched", content: json(importResult) },
        413: problem("More than the import's body limit"),
        503: unavailableResponse,
      },
    }),
    async (c) => {
      const { items } = c.req.valid("json");
      const ids = [...new Set(items.flatMap((i) => (i.content_id ? [i.content_id] : [])))];
      const years = [...new Set(items.flatMap((i) => (i.content_id ? [] : [i.year as number])))];
      const [known, titles] = await withPostgres(c, "catalog", (db) =>
        Promise.all([existingContentIds(db, ids), titlesOfYears(db, years)]),
      );
      const matcher = new TitleMatcher(titles);
      const views: ImportedView[] = [];
      const unmatched: z.infer<typeof importResult>["unmatched"] = [];
      items.forEach((item, index) => {
        const id = item.content_id
          ? known.has(item.content_id)
            ? item.content_id
            : null
          : matcher.match(item.title as string, item.year as number);
        if (!id) {
          unmatched.push({
            index,
            content_id: item.content_id ?? null,
            title: item.title ?? null,
            year: item.year ?? null,
          });
          return;
        }
        views.push({
          content_id: id,
          watched_at: Date.parse(item.watched_at),
          completed: item.completed === true,
          position_seconds: item.position_seconds ?? null,
          duration_seconds: item.duration_seconds ?? null,
          rating: item.rating ?? null,
        });
      });
      const { imported } = views.length > 0 ? unwrap(await userState(c).importHistory(views)) : { imported: 0 };
      return c.json({ imported, matched: views.length, unmatched }, 200);
    },
    (result) => {
      // More items than a call may carry is a body over its limit, like one over its bytes.
      if (!result.success && result.error.issues.some((i) => i.code === "too_big" && i.path.join(".") === "items")) {
        throw new HttpProblem(413, "too-large", `an import carries at most ${MAX_IMPORT_ITEMS} items; split it`);
      }
      if (!result.success) throw validationProblem(result.error, "body");
      return undefined;
    },
  )
  .openapi(
    userRoute("History", "get", "/history/export", "Everything of the caller's, to keep or to import elsewhere", {
      description:
        "The whole history (every title with its progress, most recent first, in the shape the import takes), the " +
        "watchlist and the registered devices, read from the caller's own state.",
      responses: { 200: { description: "The export", content: json(exportSchema) } },
    }),
    async (c) => {
      const data = await userState(c).exportData();
      const history = data.history
        .sort((a, b) => String(b.last_watched_at).localeCompare(String(a.last_watched_at)))
        .map((p) => ({
          content_id: p.content_id,
          watched_at: p.last_watched_at,
          completed: p.watched,
          position_seconds: p.position_seconds,
          duration_seconds: p.duration_seconds,
          completion_percentage: p.completion_percentage,
        }));
      return c.json(
        {
          exported_at: new Date().toISOString(),
          history,
          plays: data.plays.map(({ play_id, content_id, watched_at, device_id }) => ({
            play_id,
            content_id,
            watched_at,
            device_id,
          })),
          ratings: data.ratings.map(({ content_id, rating, rated_at }) => ({ content_id, rating, rated_at })),
          watchlist: data.watchlist,
          devices: data.devices,
        },
        200,
      );
    },
  );
