import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { makeEvent } from "../../src/contracts/events";
import { loadGenrePreferences } from "../../src/db/personalization";
import { preferenceProfiles, profileJobs, userAdapters, watchHistory } from "../../src/db/schema";
import { encodeHlc } from "../../src/domain/hlc";
import { applyEventBatch } from "../../src/events/consumer";
import { db, newUser, testConfig } from "./helpers";
import { filmsOfGenre, profileAfterJob, profileWithViews, watch } from "./recommendations-helpers";

const DAY = 86_400_000;

/** History older than the Durable Object keeps, as an import writes it straight to Postgres. */
async function importHistory(userId: string, rows: { contentId: string; completion: number; daysAgo: number }[]) {
  await db((d) =>
    d.insert(watchHistory).values(
      rows.map((r, i) => ({
        userId,
        contentId: r.contentId,
        positionSeconds: r.completion * 6000,
        durationSeconds: 6000,
        completionPercentage: r.completion * 100,
        watched: r.completion >= 0.9,
        hlc: encodeHlc({ ms: Date.now() - r.daysAgo * DAY, counter: i, node: "import" }),
        lastWatchedAt: new Date(Date.now() - r.daysAgo * DAY),
      })),
    ),
  );
}

describe("preference profile", () => {
  it("weighs a finished view more than an abandoned one", async () => {
    const { api } = await newUser();
    const [action] = await filmsOfGenre("Action", 1);
    const [horror] = await filmsOfGenre("Horror", 1);
    await watch(api, action as string, 0.97);
    await watch(api, horror as string, 0.08);
    const profile = await profileWithViews(api, 2);
    expect(profile.finished).toBe(1);
    expect(profile.abandoned).toBe(1);
    expect(profile.genres.Action).toBe(1);
    expect(profile.genres.Horror).toBeLessThan(0);
    expect(profile.favorites.map((f: { content_id: string }) => f.content_id)).toEqual([action]);
    expect(profile.version).toBeGreaterThanOrEqual(1);
  });

  it("weighs a recent view more than an old one, by the 30-day half-life", async () => {
    const { id, api } = await newUser();
    const [comedy] = await filmsOfGenre("Comedy", 1);
    const [drama] = await filmsOfGenre("Drama", 1);
    await importHistory(id, [
      { contentId: comedy as string, completion: 1, daysAgo: 90 },
      { contentId: drama as string, completion: 1, daysAgo: 0 },
    ]);
    const queued = await api.post("/api/v1/profile/update");
    expect(queued.status).toBe(202);
    expect(queued.json).toMatchObject({ kind: "profile-rebuild", status: "queued", job_id: expect.any(String) });
    const profile = await profileAfterJob(api, queued.json.job_id);
    expect(profile.half_life_days).toBe(30);
    expect(profile.genres.Drama).toBe(1);
    // Three half-lives later, a finished view keeps an eighth of its weight.
    expect(profile.genres.Comedy).toBeCloseTo(0.125, 3);
    expect(profile.favorites[0].content_id).toBe(drama);
    expect(profile.jobs[0]).toMatchObject({ job_id: queued.json.job_id, status: "done", kind: "profile-rebuild" });
  });

  it("forgets a view the user marks unwatched, and everything when they clear their history", async () => {
    const { api } = await newUser();
    const [first, second] = await filmsOfGenre("Western", 2);
    expect((await api.put(`/api/v1/history/${first}/watched`)).status).toBe(200);
    expect((await api.put(`/api/v1/history/${second}/watched`)).status).toBe(200);
    await profileWithViews(api, 2);
    expect((await api.delete(`/api/v1/history/${first}/watched`)).status).toBe(204);
    const one = await profileWithViews(api, 1);
    expect(one.favorites.map((f: { content_id: string }) => f.content_id)).toEqual([second]);
    expect((await api.delete("/api/v1/history")).status).toBe(200);
    const none = await profileWithViews(api, 0);
    expect(none.genres).toEqual({});
    expect(none.favorites).toEqual([]);
  });

  it("gives search the same profile's genre preferences", async () => {
    const { id, api } = await newUser();
    const [western] = await filmsOfGenre("Western", 1);
    const [horror] = await filmsOfGenre("Horror", 1);
    await watch(api, western as string, 1);
    await watch(api, horror as string, 0.05);
    const profile = await profileWithViews(api, 2);
    const preferences = await db((d) => loadGenrePreferences(d, id));
    expect(preferences.Western).toBeCloseTo(profile.genres.Western * profile.confidence, 4);
    expect(preferences.Horror).toBeLessThan(0);
    expect(await db((d) => loadGenrePreferences(d, "nobody-at-all"))).toEqual({});
  });

  it("shows each user only their own profile", async () => {
    const alice = await newUser("alice");
    const bob = await newUser("bob");
    const [film] = await filmsOfGenre("Musical", 1);
    await alice.api.put(`/api/v1/history/${film}/watched`);
    const own = await profileWithViews(alice.api, 1);
    expect(own.user_id).toBe(alice.id);
    expect(own.genres.Musical).toBe(1);

    for (const path of ["/api/v1/profile", `/api/v1/profile?user_id=${alice.id}`]) {
      const seen = await bob.api.get(path);
      expect(seen.status).toBe(200);
      expect(seen.json).toMatchObject({ user_id: bob.id, views: 0, genres: {}, favorites: [] });
    }
    // A user id in the body is not trusted either: the job is Bob's.
    const queued = await bob.api.post("/api/v1/profile/update", { user_id: alice.id });
    expect(queued.status).toBe(202);
    await profileAfterJob(bob.api, queued.json.job_id);
    const aliceJobs = (await alice.api.get("/api/v1/profile")).json.jobs.map((j: { job_id: string }) => j.job_id);
    expect(aliceJobs).not.toContain(queued.json.job_id);
    expect((await bob.api.get(`/api/v1/profile/${alice.id}`)).status).toBe(404);
  });

  it("requires a valid token", async () => {
    const { client } = await import("./helpers");
    const anonymous = client(null);
    for (const res of [
      await anonymous.get("/api/v1/profile"),
      await anonymous.post("/api/v1/profile/update"),
      await anonymous.post("/api/v1/profile/train"),
      await client("not-a-jwt").get("/api/v1/profile"),
    ]) {
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
    }
  });
});

describe("adapter", () => {
  it("is trained by a queued job on finished versus abandoned views and then used for scoring", async () => {
    const { api } = await newUser();
    const actions = await filmsOfGenre("Action", 5);
    const horrors = await filmsOfGenre("Horror", 5);
    for (const id of actions.slice(0, 3)) await watch(api, id, 0.98);
    for (const id of horrors.slice(0, 3)) await watch(api, id, 0.06);
    await profileWithViews(api, 6);

    const queued = await api.post("/api/v1/profile/train");
    expect(queued.status).toBe(202);
    expect(queued.json.kind).toBe("adapter-train");
    const profile = await profileAfterJob(api, queued.json.job_id);
    expect(profile.adapter).toMatchObject({ version: 1, examples: 6, positives: 3, negatives: 3 });
    expect(profile.jobs[0]).toMatchObject({ job_id: queued.json.job_id, status: "done" });

    const scored = await api.post("/api/v1/personalization/score", {
      content_ids: [actions[4], horrors[4]],
    });
    expect(scored.status).toBe(200);
    expect(scored.json.adapter_version).toBe(1);
    const [action, horror] = scored.json.scores;
    expect(action.score).toBeGreaterThan(horror.score);

    // Training again on the same history leaves the same model, at the same version.
    const again = await api.post("/api/v1/profile/train");
    const after = await profileAfterJob(api, again.json.job_id);
    expect(after.adapter.version).toBe(1);
  });

  it("is skipped, with the reason, when there are too few signals", async () => {
    const { api } = await newUser();
    const [film] = await filmsOfGenre("Drama", 1);
    await api.put(`/api/v1/history/${film}/watched`);
    await profileWithViews(api, 1);
    const queued = await api.post("/api/v1/profile/train");
    const profile = await profileAfterJob(api, queued.json.job_id);
    expect(profile.adapter).toBeNull();
    expect(profile.jobs[0]).toMatchObject({ status: "skipped", detail: expect.stringContaining("at least") });
  });
});

describe("consumer", () => {
  it("applies a redelivered batch of viewing events and jobs without changing anything", async () => {
    const user = `replay-${crypto.randomUUID()}`;
    const actions = await filmsOfGenre("Adventure", 2);
    const horrors = await filmsOfGenre("Horror", 2, 10);
    let ms = Date.now() - 60_000;
    const hlc = () => encodeHlc({ ms: ms++, counter: 0, node: "server" });
    const progress = (contentId: string, completion: number) =>
      makeEvent("progress-changed", user, hlc(), {
        content_id: contentId,
        position_seconds: completion * 6000,
        duration_seconds: 6000,
        completion_percentage: completion * 100,
        watched: completion >= 0.9,
        state: "stopped",
        device_id: "tv",
        last_watched_at: new Date(ms).toISOString(),
        deleted: false,
      });
    const rebuild = makeEvent("profile-rebuild-requested", user, hlc(), { job_id: crypto.randomUUID() });
    const train = makeEvent("adapter-train-requested", user, hlc(), { job_id: crypto.randomUUID() });
    const batch = [
      ...actions.map((id) => progress(id, 1)),
      ...horrors.map((id) => progress(id, 0.05)),
      rebuild,
      train,
    ].map((body, i) => ({ id: `m-${i}`, body }));

    const snapshot = () =>
      db(async (d) => ({
        profile: await d.select().from(preferenceProfiles).where(eq(preferenceProfiles.userId, user)),
        adapter: await d.select().from(userAdapters).where(eq(userAdapters.userId, user)),
        jobs: await d.select().from(profileJobs).where(eq(profileJobs.userId, user)).orderBy(profileJobs.jobId),
      }));
    await applyEventBatch(testConfig(), "events", batch);
    const first = await snapshot();
    expect(first.profile[0]).toMatchObject({ version: 1, views: 4, finished: 2, abandoned: 2 });
    expect(first.adapter[0]).toMatchObject({ version: 1, jobId: train.data.job_id });
    expect(first.jobs.map((j) => j.status)).toEqual(["done", "done"]);

    await applyEventBatch(testConfig(), "events", batch);
    await applyEventBatch(testConfig(), "events", [...batch].reverse());
    expect(await snapshot()).toEqual(first);
  });
});
