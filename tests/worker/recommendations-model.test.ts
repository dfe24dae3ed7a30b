import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { modelUserViews } from "../../src/db/recommendations";
import { buildSharedModel } from "../../src/domain/shared-model";
import { encodeModelSnapshot, splitSnapshot } from "../../src/domain/shared-model-snapshot";
import worker from "../../src/index";
import { MODEL_CURRENT_KEY, type ModelRecord, modelChunkKey } from "../../src/recommendations/model-store";
import { client, db, eventually, newUser } from "./helpers";
import {
  adminApi,
  filmRecommendations,
  inPostgres,
  quietFilms,
  type RebuildReport,
  rebuild,
  viewer,
} from "./recommendations-model-support";
import { watch } from "./viewing-support";

/**
 * Everyone's viewing, made here: twelve fans finish the A films and the B films; twelve others
 * finish C and the D films. Nobody else's tests watch these films.
 */
let A: string[];
let B: string[];
let C: string;
let D: string[];
let titles: Map<string, string>;
let built: RebuildReport;

beforeAll(async () => {
  const films = await quietFilms(7, 40);
  titles = new Map(films.map((f) => [f.id, f.title]));
  const ids = films.map((f) => f.id);
  A = ids.slice(0, 2);
  B = ids.slice(2, 4);
  C = ids[4]!;
  D = ids.slice(5, 7);
  const fans = [];
  for (let i = 0; i < 12; i++) fans.push(await viewer([...A, ...B], "fan-ab"));
  for (let i = 0; i < 12; i++) fans.push(await viewer([C, ...D], "fan-cd"));
  await inPostgres(
    fans.map((f) => f.id),
    12 * 4 + 12 * 3,
  );
  built = await rebuild();
}, 120_000);

describe("recommendations from the shared model", () => {
  it("gives a user who watched films others also finished those others' films first, naming the film behind them", async () => {
    const me = await viewer(A);
    const answer = await filmRecommendations(me.api, 10);
    expect(answer.model_version).toBe(built.version);
    expect(answer.personalized).toBe(true);
    expect(new Set(answer.items.slice(0, 2).map((i) => i.content_id))).toEqual(new Set(B));
    for (const item of answer.items.slice(0, 2)) {
      expect(A).toContain(item.because_content_id);
      expect(item.reason).toBe(`Because you watched ${titles.get(item.because_content_id!)}`);
      expect(item.score).toBeGreaterThan(0);
      expect(item.score).toBeLessThanOrEqual(1);
    }
    // Finished films never come back.
    for (const id of A) expect(answer.items.map((i) => i.content_id)).not.toContain(id);
  });

  it("counts a film finished a moment ago in the very next answer", async () => {
    const me = await viewer(A);
    const before = await filmRecommendations(me.api, 10);
    expect(before.items.slice(0, 4).map((i) => i.content_id)).not.toContain(D[0]);
    // No waiting for the queue or a rebuild: the user's Durable Object knows at once.
    expect((await me.api.put(`/api/v1/history/${C}/watched`)).status).toBe(200);
    const after = await filmRecommendations(me.api, 10);
    const shown = after.items.map((i) => i.content_id);
    expect(shown).not.toContain(C);
    const d = after.items.find((i) => i.content_id === D[0]);
    expect(d).toBeDefined();
    expect(shown.indexOf(D[0]!)).toBeLessThan(4);
    expect(d!.because_content_id).toBe(C);
  });

  it("scores requested ids with the same model", async () => {
    const me = await viewer(A);
    const res = await me.api.post("/api/v1/personalization/score", { content_ids: [B[0], D[0]] });
    expect(res.status).toBe(200);
    expect(res.json.model_version).toBe(built.version);
    const [b, d] = res.json.scores as { content_id: string; score: number; because_content_id: string | null }[];
    expect(b!.score).toBeGreaterThan(d!.score);
    expect(A).toContain(b!.because_content_id);
  });

  it("reports what it learned from: the users, the titles and the snapshot", () => {
    expect(built.users).toBeGreaterThanOrEqual(24);
    expect(built.titles).toBeGreaterThanOrEqual(7);
    expect(built.neighbours).toBeGreaterThan(0);
    expect(built.chunks).toBeGreaterThanOrEqual(1);
    expect(built.snapshot_bytes).toBeGreaterThan(0);
  });

  it("is rebuilt by the hourly scheduled job, learning from views that came since", async () => {
    const me = await viewer(A);
    // A new fan makes the history differ from the last build's.
    const fan = await viewer([...A, D[1]!], "fan-late");
    await inPostgres([fan.id], 3);
    await worker.scheduled(createScheduledController({ cron: "17 * * * *" }), env);
    const record = await env.SEARCH_KV.get<ModelRecord>(MODEL_CURRENT_KEY, "json");
    expect(record?.manifest.version).toBeDefined();
    expect(record!.manifest.version).not.toBe(built.version);
    expect(record!.users).toBeGreaterThan(built.users);
    expect((await filmRecommendations(me.api)).model_version).toBe(record!.manifest.version);
    built = { ...built, version: record!.manifest.version };
  });

  it("is rebuilt only by an admin", async () => {
    const { api } = await newUser();
    expect((await api.post("/api/v1/admin/recommendations/rebuild")).status).toBe(403);
    expect((await client(null).post("/api/v1/admin/recommendations/rebuild")).status).toBe(401);
  });
});

describe("more like this", () => {
  it("leads a film's similar titles with the films watched with it", async () => {
    const res = await client(null).get(`/api/v1/content/${A[0]}/similar?limit=5&kind=movie`);
    expect(res.status).toBe(200);
    expect(res.json.model_version).toBe(built.version);
    const items = res.json.items as { content_id: string; reason: string; because_content_id: string; score: number }[];
    expect(new Set(items.slice(0, 3).map((i) => i.content_id))).toEqual(new Set([A[1], ...B]));
    expect(items[0]!.reason).toBe(`Often watched with ${titles.get(A[0]!)}`);
    expect(items[0]!.score).toBe(1);
    expect(items.map((i) => i.content_id)).not.toContain(A[0]);
    for (let i = 1; i < items.length; i++) expect(items[i]!.score).toBeLessThanOrEqual(items[i - 1]!.score);
  });

  it("gives a title nobody has watched similar titles by its features", async () => {
    const [reference] = await quietFilms(1, 60);
    const genre = reference!.genres[0]!;
    const fresh = {
      id: `test-unwatched-${crypto.randomUUID()}`,
      kind: "movie",
      title: "A Title Nobody Has Watched",
      genres: [genre],
      votes: 1,
    };
    expect((await (await adminApi()).post("/api/v1/admin/catalog", { items: [fresh] })).status).toBe(200);
    const res = await client(null).get(`/api/v1/content/${fresh.id}/similar?limit=8`);
    expect(res.status).toBe(200);
    expect(res.json.model_version).toBeNull();
    expect(res.json.items).toHaveLength(8);
    for (const item of res.json.items) {
      expect(item.genres).toContain(genre);
      expect(item.reason).toContain("A Title Nobody Has Watched");
      expect(item.content_id).not.toBe(fresh.id);
    }
  });

  it("answers 404 for a title not in the catalog, 400 for a bad id or limit", async () => {
    const anonymous = client(null);
    expect((await anonymous.get("/api/v1/content/no-such-title-anywhere/similar")).status).toBe(404);
    for (const path of [
      `/content/${A[0]}/similar?limit=0`,
      `/content/${A[0]}/similar?kind=film`,
      "/content/%20/similar",
    ]) {
      const res = await anonymous.get(`/api/v1${path}`);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
  });
});

describe("the shared model's snapshot in KV", () => {
  it("picks up a version another isolate published, and falls back to the profile and popularity when the snapshot is corrupt or missing, never a 5xx", async () => {
    const me = await viewer(A);
    expect((await filmRecommendations(me.api)).model_version).toBe(built.version);

    // Another isolate's publish, by hand: chunks first, then the record naming them.
    const other = buildSharedModel(
      Array.from({ length: 6 }, (_, u) =>
        [...A, D[1]!].map((content_id, i) => ({ user: `u${u}`, content_id, completion: 1, watched: true, at: i })),
      ).flat(),
      { lambda: 1, neighbours: 10, head: 10 },
    );
    const { manifest, chunks } = await splitSnapshot(encodeModelSnapshot(other), 64);
    for (const [i, chunk] of chunks.entries()) await env.SEARCH_KV.put(modelChunkKey(manifest.version, i), chunk);
    const record: ModelRecord = {
      manifest,
      built_at: other.info.builtAt,
      users: 6,
      views: 18,
      titles: other.ids.length,
      previous: built.version,
    };
    await env.SEARCH_KV.put(MODEL_CURRENT_KEY, JSON.stringify(record));
    const picked = await eventually(
      () => filmRecommendations(me.api),
      (r) => r.model_version === manifest.version,
      10_000,
    );
    // That model knows only A and D[1] together.
    expect(picked.items[0]!.content_id).toBe(D[1]);

    // A corrupted chunk of a newer version: the good model stays.
    const corrupt = { ...record, manifest: { ...manifest, version: "0123456789abcdef" } };
    for (const [i, chunk] of chunks.entries()) {
      const bad = chunk.slice();
      bad[0] = bad[0]! ^ 0xff;
      await env.SEARCH_KV.put(modelChunkKey("0123456789abcdef", i), bad);
    }
    await env.SEARCH_KV.put(MODEL_CURRENT_KEY, JSON.stringify(corrupt));
    await new Promise((r) => setTimeout(r, 1500));
    const kept = await filmRecommendations(me.api);
    expect(kept.model_version).toBe(manifest.version);

    // Withdrawn: the profile and popularity answer.
    await env.SEARCH_KV.delete(MODEL_CURRENT_KEY);
    const fallback = await eventually(
      () => filmRecommendations(me.api),
      (r) => r.model_version === null,
      10_000,
    );
    expect(fallback.items.length).toBe(10);
    for (const id of A) expect(fallback.items.map((i) => i.content_id)).not.toContain(id);

    // A corrupt snapshot with nothing loaded before it: still the fallback, still a 200.
    await env.SEARCH_KV.put(MODEL_CURRENT_KEY, JSON.stringify(corrupt));
    await new Promise((r) => setTimeout(r, 1500));
    const still = await filmRecommendations(me.api);
    expect(still.model_version).toBeNull();
    const similar = await client(null).get(`/api/v1/content/${A[0]}/similar`);
    expect(similar.status).toBe(200);
    expect(similar.json.model_version).toBeNull();
    // A record that is not even JSON.
    await env.SEARCH_KV.put(MODEL_CURRENT_KEY, "{not json");
    await new Promise((r) => setTimeout(r, 1500));
    expect((await filmRecommendations(me.api)).model_version).toBeNull();

    // The next rebuild publishes a good model again.
    const again = await rebuild();
    expect((await filmRecommendations(me.api)).model_version).toBe(again.version);
  });
});

describe("the signals the shared model learns from", () => {
  it("folds ratings and plays into a user's views: a high rating counts as finished, a low one as abandoned", async () => {
    const [liked, disliked, partial] = (await quietFilms(3, 90)).map((f) => f.id) as [string, string, string];
    const user = await newUser("signals");
    // Half of `liked`, rated 9; `disliked` finished, rated 2; `partial` half watched, unrated.
    for (const id of [liked, partial]) await watch(user.api, id, 1200);
    expect((await user.api.put(`/api/v1/history/${disliked}/watched`)).status).toBe(200);
    expect((await user.api.put(`/api/v1/ratings/${liked}`, { rating: 9 })).status).toBe(200);
    expect((await user.api.put(`/api/v1/ratings/${disliked}`, { rating: 2 })).status).toBe(200);
    const before = `${user.id.slice(0, -1)}${String.fromCharCode(user.id.charCodeAt(user.id.length - 1) - 1)}`;
    const views = await eventually(
      () =>
        db(async (d) => {
          const page = await modelUserViews(d, { afterUser: before, users: 1, viewsPerUser: 50 });
          return page.histories.get(user.id) ?? [];
        }),
      (v) => v.length === 3,
      30_000,
    );
    const byId = new Map(views.map((v) => [v.content_id, v]));
    expect(byId.get(liked)).toMatchObject({ watched: true });
    expect(byId.get(disliked)).toMatchObject({ watched: false, completion: 0 });
    expect(byId.get(partial)).toMatchObject({ watched: false, completion: 0.5 });
  });
});
