/**
 * Recommendations:
 *  1. quality on real viewing data, MovieLens ml-latest-small (see bench/movielens-eval.ts): each
 *     user's last 5 films rated 4 or more held out, every unseen film ranked; popularity, item-kNN,
 *     EASE and ours (the served pipeline and each of its parts) with paired-bootstrap ratios, the
 *     shared model's build time, memory and scaling, and the per-request scoring time;
 *  2. the serving path in process over the development catalog (content profile and adapter),
 *     plus the consumer's cost of a profile rebuild and a training;
 *  3. end to end on the local stack (wrangler dev + embedded Postgres), next to a bare Durable
 *     Object round trip;
 *  4. only with BENCH_PART=end-to-end (about ten minutes): MovieLens imported through the HTTP API,
 *     the shared model rebuilt from Postgres, every evaluated user's recommendations asked for
 *     over HTTP and measured against the same pipeline in process (bench/movielens-stack.ts).
 * BENCH_PART=movielens|serving|stack|end-to-end runs one part.
 */

import { developmentCatalog } from "../scripts/seed";
import { trainAdapter, trainingExamples } from "../src/domain/adapter";
import { FeatureSpace } from "../src/domain/features";
import { buildProfile } from "../src/domain/profile";
import { recommend, Scorer, scoreContent } from "../src/domain/recommend";
import { DEFAULT_SIMULATION, simulatePopulation } from "../src/domain/recommend-eval";
import { api, floorTable, interleaved, type Timing, table, timeEach, token, withBenchStack } from "./lib";
import { movieLensBenchmark } from "./movielens-eval";
import { movieLensEndToEnd } from "./movielens-stack";

const HALF_LIFE_DAYS = 30;
const MAX_PER_GENRE = 4;
const IN_PROCESS_REQUESTS = 2000;
const STACK_REQUESTS = Number(process.env.BENCH_REQUESTS ?? 500);
const CONCURRENCY = 8;

const catalog = developmentCatalog();
const films = catalog.filter((item) => item.kind === "movie");

function serving(): void {
  const space = FeatureSpace.fromCatalog(catalog);
  const users = simulatePopulation(films, { ...DEFAULT_SIMULATION, users: 200 });
  const people = users.map((user) => ({
    profile: buildProfile(user.training, { halfLifeDays: HALF_LIFE_DAYS }),
    adapter: trainAdapter(trainingExamples(user.training, HALF_LIFE_DAYS)),
    seen: new Set(user.training.map((v) => v.content_id)),
  }));
  const person = (i: number) => people[i % people.length] as (typeof people)[number];
  const history = (i: number) => (users[i % users.length] as (typeof users)[number]).training;
  const ids = catalog.filter((_, i) => i % 40 === 0).map((item) => item.id);

  const newUser = timeEach(IN_PROCESS_REQUESTS, () => {
    const scorer = new Scorer(space, { profile: null, adapter: null });
    recommend(space, scorer, { seen: new Set(), offset: 0, limit: 20, maxPerGenre: MAX_PER_GENRE });
  });
  const personalized = timeEach(IN_PROCESS_REQUESTS, (i) => {
    const scorer = new Scorer(space, person(i));
    recommend(space, scorer, { seen: person(i).seen, offset: 0, limit: 20, maxPerGenre: MAX_PER_GENRE });
  });
  const scoring = timeEach(IN_PROCESS_REQUESTS, (i) => scoreContent(space, new Scorer(space, person(i)), ids));
  const rebuild = timeEach(people.length, (i) => buildProfile(history(i), { halfLifeDays: HALF_LIFE_DAYS }));
  const training = timeEach(people.length, (i) => trainAdapter(trainingExamples(history(i), HALF_LIFE_DAYS)));
  const started = performance.now();
  FeatureSpace.fromCatalog(catalog);
  const spaceBuild = performance.now() - started;

  const row = (path: string, t: Timing, vsNewUser: boolean) => ({
    path,
    "p50 wall ms": t.p50,
    "p99 wall ms": t.p99,
    "p50 CPU ms": t.cpuP50,
    "p99 CPU ms": t.cpuP99,
    "p50 vs new user": vsNewUser ? `${(t.p50 / newUser.p50).toFixed(2)}×` : "",
  });
  table(
    `Serving path in process (Node ${process.version}): catalog of ${catalog.length} items, ` +
      `${space.size} feature keys, ${IN_PROCESS_REQUESTS} requests each`,
    [
      row("recommendations, limit 20, new user", newUser, true),
      row("recommendations, limit 20, profile + adapter", personalized, true),
      row(`personalization/score, ${ids.length} ids`, scoring, true),
      row("profile rebuild (consumer), ~35 views", rebuild, false),
      row("adapter training (consumer), ~35 views", training, false),
    ],
  );
  console.log(`feature vectors built from the catalog (once per isolate per TTL): ${spaceBuild.toFixed(1)} ms`);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("the local stack did not process the history in time");
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function stack(base: string): Promise<void> {
  const genres = [
    "Action",
    "Comedy",
    "Drama",
    "Horror",
    "Adventure",
    "Thriller/Suspense",
    "Romantic Comedy",
    "Musical",
  ];
  const watchers = await Promise.all(genres.map((_, i) => token(`bench-recs-${i}`)));
  const newcomers = await Promise.all(genres.map((_, i) => token(`bench-recs-new-${i}`)));
  // Each watcher finishes six films of one genre and starts (and abandons) two of another.
  for (const [i, genre] of genres.entries()) {
    const t = watchers[i] as string;
    const liked = films.filter((f) => f.genres.includes(genre)).slice(0, 6);
    const other = films.filter((f) => f.genres.includes(genres[(i + 1) % genres.length] as string)).slice(0, 2);
    for (const film of liked) await api(base, t, "PUT", `/api/v1/history/${film.id}/watched`);
    for (const film of other) {
      const s = await api(base, t, "POST", "/api/v1/sessions", {
        content_id: film.id,
        device_id: "tv",
        duration_seconds: 6000,
      });
      await api(base, t, "PATCH", `/api/v1/sessions/${s.id}/position`, { position_seconds: 300 });
      await api(base, t, "DELETE", `/api/v1/sessions/${s.id}`);
    }
  }
  await waitFor(async () => {
    const views = await Promise.all(watchers.map((t) => api(base, t, "GET", "/api/v1/profile")));
    return views.every((p) => p.views === 8);
  });
  for (const t of watchers) await api(base, t, "POST", "/api/v1/profile/train");
  await waitFor(async () => {
    const profiles = await Promise.all(watchers.map((t) => api(base, t, "GET", "/api/v1/profile")));
    return profiles.every((p) => p.adapter !== null);
  });

  const pick = (list: string[], i: number) => list[i % list.length] as string;
  const ids = films.filter((_, i) => i % 64 === 0).map((f) => f.id);
  const results = await interleaved(
    [
      { name: "bare DO round trip (floor)", call: (i) => api(base, pick(watchers, i), "GET", "/api/v1/_bench/ping") },
      {
        name: "GET /recommendations, new user",
        call: (i) => api(base, pick(newcomers, i), "GET", "/api/v1/recommendations"),
      },
      {
        name: "GET /recommendations, profile + adapter",
        call: (i) => api(base, pick(watchers, i), "GET", "/api/v1/recommendations"),
      },
      {
        name: `POST /personalization/score, ${ids.length} ids`,
        call: (i) => api(base, pick(watchers, i), "POST", "/api/v1/personalization/score", { content_ids: ids }),
      },
      { name: "GET /profile", call: (i) => api(base, pick(watchers, i), "GET", "/api/v1/profile") },
    ],
    { rounds: 10, perRound: Math.ceil(STACK_REQUESTS / 10), concurrency: CONCURRENCY, warmup: 100 },
  );
  floorTable(
    `Recommendations on the local stack (${STACK_REQUESTS} requests each in 10 interleaved rounds after a warm-up, ${CONCURRENCY} in flight)`,
    results,
  );
}

export async function run(): Promise<void> {
  const part = process.env.BENCH_PART;
  if (!part || part === "movielens") await movieLensBenchmark();
  if (!part || part === "serving") serving();
  if (!part || part === "stack") await withBenchStack({}, async (s) => stack(s.baseUrl));
  if (part === "end-to-end") await movieLensEndToEnd();
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
