/**
 * Recommendations: quality on the simulated population (hit-rate@10, NDCG@10 per scorer, against
 * popularity) and the in-process latency of the serving path (scoring, diversifying, explaining
 * over the whole development catalog), plus the consumer-side cost of a profile rebuild and an
 * adapter training.
 */

import { developmentCatalog } from "../scripts/seed";
import { trainAdapter, trainingExamples } from "../src/domain/adapter";
import { FeatureSpace } from "../src/domain/features";
import { buildProfile } from "../src/domain/profile";
import { recommend, Scorer, SERVING_WEIGHTS, scoreContent } from "../src/domain/recommend";
import { DEFAULT_SIMULATION, evaluate, simulatePopulation, standardVariants } from "../src/domain/recommend-eval";

const HALF_LIFE_DAYS = 30;
const MAX_PER_GENRE = 4;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Timing {
  p50: number;
  p99: number;
  /** CPU time (what Workers bill and limit), unaffected by other processes on a shared machine. */
  cpuP50: number;
  cpuP99: number;
}

function timeEach(count: number, work: (i: number) => void): Timing {
  for (let i = 0; i < Math.min(50, count); i++) work(i); // warm the JIT
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < count; i++) {
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    work(i);
    wall.push(performance.now() - started);
    const used = process.cpuUsage(cpuStart);
    cpu.push((used.user + used.system) / 1000);
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return {
    p50: percentile(wall, 50),
    p99: percentile(wall, 99),
    cpuP50: percentile(cpu, 50),
    cpuP99: percentile(cpu, 99),
  };
}

const ms = (x: number) => `${x.toFixed(3)} ms`;

export async function run(): Promise<void> {
  const catalog = developmentCatalog();
  const films = catalog.filter((item) => item.kind === "movie");

  // ---- quality ----
  const simulation = DEFAULT_SIMULATION;
  const users = simulatePopulation(films, simulation);
  const rows = evaluate(films, users, standardVariants(SERVING_WEIGHTS), {
    k: 10,
    halfLifeDays: HALF_LIFE_DAYS,
    maxPerGenre: MAX_PER_GENRE,
  });
  const base = rows[0] as (typeof rows)[number];
  console.log(
    `\nRecommendation quality: ${users.length} simulated users, ${films.length} films, ` +
      `${simulation.heldOut} last finished films held out per user, seed ${simulation.seed}, ` +
      `diversified top 10 (≤ ${MAX_PER_GENRE} per genre)`,
  );
  console.table(
    rows.map((r) => ({
      scorer: r.name,
      "hit-rate@10": r.hitRate.toFixed(3),
      "NDCG@10": r.ndcg.toFixed(4),
      "hit-rate vs popularity": `${(r.hitRate / base.hitRate).toFixed(2)}×`,
      "NDCG vs popularity": `${(r.ndcg / base.ndcg).toFixed(2)}×`,
    })),
  );

  // ---- latency of the serving path, over the whole development catalog ----
  const space = FeatureSpace.fromCatalog(catalog);
  const people = users.slice(0, 200).map((user) => ({
    profile: buildProfile(user.training, { halfLifeDays: HALF_LIFE_DAYS }),
    adapter: trainAdapter(trainingExamples(user.training, HALF_LIFE_DAYS)),
    seen: new Set(user.training.map((v) => v.content_id)),
  }));
  const requests = 2000;
  const personalized = timeEach(requests, (i) => {
    const person = people[i % people.length] as (typeof people)[number];
    const scorer = new Scorer(space, person);
    recommend(space, scorer, { seen: person.seen, offset: 0, limit: 20, maxPerGenre: MAX_PER_GENRE });
  });
  const newUser = timeEach(requests, () => {
    const scorer = new Scorer(space, { profile: null, adapter: null });
    recommend(space, scorer, { seen: new Set(), offset: 0, limit: 20, maxPerGenre: MAX_PER_GENRE });
  });
  const ids = catalog.filter((_, i) => i % 40 === 0).map((item) => item.id);
  const scoring = timeEach(requests, (i) => {
    const person = people[i % people.length] as (typeof people)[number];
    scoreContent(space, new Scorer(space, person), ids);
  });
  const rebuild = timeEach(people.length, (i) => {
    buildProfile((users[i] as (typeof users)[number]).training, { halfLifeDays: HALF_LIFE_DAYS });
  });
  const training = timeEach(people.length, (i) => {
    trainAdapter(trainingExamples((users[i] as (typeof users)[number]).training, HALF_LIFE_DAYS));
  });
  const started = performance.now();
  FeatureSpace.fromCatalog(catalog);
  const spaceBuild = performance.now() - started;

  console.log(
    `\nServing path in process (Node ${process.version}), catalog of ${catalog.length} items ` +
      `(${space.size} feature keys), ${requests} requests each; wall clock and CPU time`,
  );
  const row = (path: string, t: Timing, vsNewUser: boolean) => ({
    path,
    "p50 wall": ms(t.p50),
    "p99 wall": ms(t.p99),
    "p50 CPU": ms(t.cpuP50),
    "p99 CPU": ms(t.cpuP99),
    "p50 vs new user": vsNewUser ? `${(t.p50 / newUser.p50).toFixed(2)}×` : "",
  });
  console.table([
    row("recommendations, limit 20, new user", newUser, true),
    row("recommendations, limit 20, profile + adapter", personalized, true),
    row(`personalization/score, ${ids.length} ids`, scoring, true),
    row("profile rebuild (consumer), ~35 views", rebuild, false),
    row("adapter training (consumer), ~35 views", training, false),
  ]);
  console.log(`feature space build from the catalog (once per isolate per TTL): ${ms(spaceBuild)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
