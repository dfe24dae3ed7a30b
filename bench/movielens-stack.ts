/**
 * The MovieLens evaluation end to end, through the HTTP API of a throwaway local stack (wrangler
 * dev, embedded Postgres): the films go in through the admin catalog import, every user's
 * training history through POST /history/import, the queue carries it to Postgres, the admin
 * rebuild learns the shared model there and publishes it to KV, and each evaluated user's
 * recommendations come from GET /api/v1/recommendations. The same users' figures in process,
 * from the same split and the served defaults, are measured beside it: the two must agree.
 * `BENCH_PART=end-to-end npm run bench -- recommendations` (about ten minutes).
 */
import { sql } from "drizzle-orm";
import { movieLensCatalog, viewOfRating } from "../scripts/movielens";
import { withNodeDatabase } from "../src/db/node";
import { mean, metricsAtK, pairedBootstrapRatio } from "../src/domain/ranking-eval";
import { buildSharedModel } from "../src/domain/shared-model";
import { decodeModelSnapshot, encodeModelSnapshot } from "../src/domain/shared-model-snapshot";
import { api, drive, table, token, withBenchStack } from "./lib";
import {
  K,
  MAX_PER_GENRE,
  type Measured,
  measure,
  movieLensSplit,
  oursRanking,
  scoredRanking,
  servedParams,
} from "./movielens-eval";

const IMPORT_CHUNK = 1000;
const IMPORT_CONCURRENCY = 4;
const DURATION = 6000;

const started = performance.now();
const progress = (line: string) => console.log(`  [${((performance.now() - started) / 1000).toFixed(0)} s] ${line}`);
const interval = (r: { ratio: number; low: number; high: number }) =>
  `${r.ratio.toFixed(3)}× [${r.low.toFixed(3)}, ${r.high.toFixed(3)}]`;

async function count(url: string, query: ReturnType<typeof sql>): Promise<number> {
  return withNodeDatabase(url, async (db) => {
    const result = (await db.execute(query)) as unknown as { rows: { n: string | number }[] };
    return Number(result.rows[0]?.n ?? 0);
  });
}

export async function movieLensEndToEnd(): Promise<void> {
  const { data, ids, testSplit, test } = movieLensSplit();
  const params = servedParams();

  // In process, as the MovieLens benchmark measures the served pipeline.
  progress("in process: building the shared model on the training part ...");
  const model = decodeModelSnapshot(encodeModelSnapshot(buildSharedModel(test.views, params.model)));
  const inProcess = measure(test, "in process", oursRanking(test, model, params, MAX_PER_GENRE));
  const popularity = measure(
    test,
    "popularity",
    scoredRanking(test, (_u, scores) => scores.set(test.likedCounts)),
  );

  const votes = new Map<number, number>();
  for (const e of testSplit.training) {
    const movieId = data.films[e.item]!.movieId;
    votes.set(movieId, (votes.get(movieId) ?? 0) + 1);
  }
  const catalog = movieLensCatalog(data.films, votes);
  const byUser = new Map<number, typeof testSplit.training>();
  for (const e of testSplit.training) {
    const list = byUser.get(e.user);
    if (list) list.push(e);
    else byUser.set(e.user, [e]);
  }

  await withBenchStack(
    {
      seed: false,
      // One user imports up to 2,400 views in a few calls; the write budget is not what this measures.
      vars: { RATE_LIMIT_BURST: "100000", RATE_LIMIT_WRITES_PER_MINUTE: "1000000" },
    },
    async (stack) => {
      const base = stack.baseUrl;
      const admin = await token("bench-ml-admin", "admin");
      let t = performance.now();
      const imported = await api(base, admin, "POST", "/api/v1/admin/catalog", { items: catalog });
      const catalogMs = performance.now() - t;
      progress(`catalog: ${imported.upserted} films in one call, ${(catalogMs / 1000).toFixed(1)} s`);

      t = performance.now();
      const users = [...byUser.keys()].sort((a, b) => a - b);
      const tokens = new Map<number, string>();
      for (const u of users) tokens.set(u, await token(`ml-user-${u}`));
      const calls: { user: number; items: unknown[] }[] = [];
      for (const u of users) {
        const items = byUser.get(u)!.map((e) => {
          const view = viewOfRating(e.rating);
          return {
            content_id: ids[e.item],
            watched_at: new Date(e.at).toISOString(),
            ...(view.watched
              ? { completed: true }
              : { position_seconds: Math.round(view.completion * DURATION), duration_seconds: DURATION }),
          };
        });
        for (let i = 0; i < items.length; i += IMPORT_CHUNK)
          calls.push({ user: u, items: items.slice(i, i + IMPORT_CHUNK) });
      }
      let matched = 0;
      let unmatched = 0;
      const importing = await drive(calls.length, IMPORT_CONCURRENCY, async (i) => {
        const call = calls[i]!;
        const res = await api(base, tokens.get(call.user)!, "POST", "/api/v1/history/import", { items: call.items });
        matched += res.matched;
        unmatched += res.unmatched.length;
      });
      const importMs = performance.now() - t;
      progress(
        `histories: ${testSplit.training.length} views of ${users.length} users in ${calls.length} calls, ` +
          `${(importMs / 1000).toFixed(0)} s (p50 ${importing.p50.toFixed(0)} ms a call); ${matched} matched, ${unmatched} unmatched`,
      );

      t = performance.now();
      const expectedViews = testSplit.training.length;
      for (;;) {
        const rows = await count(stack.databaseUrl, sql`SELECT count(*) AS n FROM watch_history WHERE active`);
        if (rows >= expectedViews) break;
        if (performance.now() - t > 30 * 60_000)
          throw new Error(`only ${rows} of ${expectedViews} views reached Postgres`);
        await new Promise((r) => setTimeout(r, 2000));
      }
      const queueMs = performance.now() - t;
      progress(`queue → Postgres: all ${expectedViews} views ${(queueMs / 1000).toFixed(0)} s after the last import`);

      t = performance.now();
      const report = await api(base, admin, "POST", "/api/v1/admin/recommendations/rebuild");
      progress(
        `rebuild: version ${report.version}, ${report.users} users, ${report.titles} titles, ${report.neighbours} neighbours, ` +
          `${report.snapshot_bytes} bytes in ${report.chunks} chunk(s), built in the Worker in ${report.build_ms} ms ` +
          `(in process: ${model.info.users} users, ${model.ids.length} titles, ${model.neighbours.neighbours.length} neighbours)`,
      );

      const index = new Map(ids.map((id, i) => [id, i]));
      const lists = new Array<number[]>(test.users.length);
      let stale = 0;
      const asking = await drive(test.users.length, 4, async (u) => {
        const who = testSplit.users[u]!.user;
        const res = await api(base, tokens.get(who)!, "POST", "/api/v1/recommendations", {
          limit: K,
          kinds: ["movie"],
        });
        if (res.model_version !== report.version) stale++;
        lists[u] = (res.items as { content_id: string }[]).map((i) => index.get(i.content_id)!);
      });
      const n = test.users.length;
      const http: Measured = {
        name: "through the API",
        hit: new Float64Array(n),
        recall: new Float64Array(n),
        ndcg: new Float64Array(n),
      };
      let identical = 0;
      const ranked = oursRanking(test, model, params, MAX_PER_GENRE);
      for (let u = 0; u < n; u++) {
        const m = metricsAtK(lists[u]!, test.users[u]!.heldOut, K);
        http.hit[u] = m.hit;
        http.recall[u] = m.recall;
        http.ndcg[u] = m.ndcg;
        if (JSON.stringify([...ranked(u)]) === JSON.stringify(lists[u])) identical++;
      }
      table(
        `MovieLens end to end: ${n} users, GET /api/v1/recommendations on the local stack against the same pipeline in process`,
        [inProcess, http, popularity].map((r) => ({
          recommender:
            r === http ? "ours, through the HTTP API" : r === inProcess ? "ours, in process" : "popularity, in process",
          "HR@10": mean(r.hit).toFixed(3),
          "Recall@10": mean(r.recall).toFixed(4),
          "NDCG@10": mean(r.ndcg).toFixed(4),
          "NDCG vs in process": interval(pairedBootstrapRatio(r.ndcg, inProcess.ndcg)),
          "NDCG vs popularity": interval(pairedBootstrapRatio(r.ndcg, popularity.ndcg)),
        })),
      );
      console.log(
        `identical top 10 for ${identical} of ${n} users; ${stale} answers without the rebuilt model; ` +
          `GET /recommendations p50 ${asking.p50.toFixed(1)} ms, p99 ${asking.p99.toFixed(1)} ms (4 in flight)`,
      );
    },
  );
}
