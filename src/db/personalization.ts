/**
 * Postgres side of personalization: the catalog's feature vectors (cached per isolate), the views
 * profiles are built from, and the profiles, adapters and job records themselves.
 */
import { eq, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { ProfileJobKind } from "../contracts/events";
import type { AdapterModel } from "../domain/adapter";
import { type FeatureItem, FeatureSpace } from "../domain/features";
import {
  emptyProfile,
  genrePreferences,
  type PreferenceProfile,
  type ProfileAnchor,
  type ProfileWeights,
  type View,
} from "../domain/profile";
import { type Queryable, run, withDatabase } from "./client";
import { content, preferenceProfiles, profileJobs, userAdapters } from "./schema";

/** Views read per user when building a profile: older ones weigh next to nothing after a few half-lives. */
export const MAX_VIEWS_PER_PROFILE = 500;

const iso = (value: unknown): string | null =>
  value === null || value === undefined ? null : toDate(value).toISOString();
const toDate = (value: unknown): Date => (value instanceof Date ? value : new Date(String(value)));

// ---- the catalog's feature vectors, once per isolate ----

interface CatalogCache {
  space: FeatureSpace;
  expiresAt: number;
  refreshingSince: number | null;
}

let catalogCache: CatalogCache | null = null;
/** An empty catalog (not seeded yet) is retried soon rather than kept for the whole TTL. */
const EMPTY_CATALOG_TTL_MS = 10_000;
/** A background refresh that has not finished by then is presumed lost and may be retried. */
const REFRESH_TIMEOUT_MS = 30_000;

export async function loadCatalogItems(db: Queryable): Promise<FeatureItem[]> {
  const rows = await db
    .select({
      id: content.id,
      kind: content.kind,
      title: content.title,
      series_id: content.seriesId,
      year: content.year,
      genres: content.genres,
      platforms: content.platforms,
      rating: content.rating,
      votes: content.votes,
      maturity_rating: content.maturityRating,
      director: content.director,
    })
    .from(content)
    .orderBy(content.id);
  return rows;
}

async function refreshCatalog(config: Config): Promise<FeatureSpace> {
  const items = await withDatabase(config, loadCatalogItems);
  const space = FeatureSpace.fromCatalog(items);
  const ttl = items.length === 0 ? EMPTY_CATALOG_TTL_MS : config.RECOMMEND_CATALOG_TTL_SECONDS * 1000;
  catalogCache = { space, expiresAt: Date.now() + ttl, refreshingSince: null };
  return space;
}

/**
 * The catalog as feature vectors, loaded from Postgres once per isolate and kept for
 * RECOMMEND_CATALOG_TTL_SECONDS. Once stale, it is still served while a background refresh runs
 * (when the caller can keep one alive with `waitUntil`). Only plain data is shared between
 * requests: each load runs in the request that started it.
 */
export async function catalogFeatures(
  config: Config,
  waitUntil?: (promise: Promise<unknown>) => void,
): Promise<FeatureSpace> {
  const now = Date.now();
  const cached = catalogCache;
  if (cached && now < cached.expiresAt) return cached.space;
  if (cached && waitUntil) {
    if (cached.refreshingSince === null || now - cached.refreshingSince > REFRESH_TIMEOUT_MS) {
      cached.refreshingSince = now;
      waitUntil(
        refreshCatalog(config).catch((error) => {
          cached.refreshingSince = null;
          console.error("catalog feature refresh failed:", String(error));
        }),
      );
    }
    return cached.space;
  }
  return refreshCatalog(config);
}

/** Reloads the catalog's vectors now (a title was added since they were read). */
export function reloadCatalogFeatures(config: Config): Promise<FeatureSpace> {
  return refreshCatalog(config);
}

/** Drops the isolate's catalog cache: the next request reloads it. */
export function forgetCatalogFeatures(): void {
  catalogCache = null;
}

// ---- reading a user's personalization ----

interface ProfileRow {
  weights: ProfileWeights;
  anchors: ProfileAnchor[];
  views: number;
  finished: number;
  abandoned: number;
  confidence: number;
  half_life_days: number;
  last_view_at: string | null;
  version: number;
  built_at: string;
}

interface AdapterRow {
  version: number;
  bias: number;
  weights?: Record<string, number>;
  examples: number;
  positives: number;
  negatives: number;
  loss: number;
  job_id: string;
  trained_at: string;
}

function toProfile(row: ProfileRow): PreferenceProfile {
  return {
    weights: row.weights,
    anchors: row.anchors,
    views: row.views,
    finished: row.finished,
    abandoned: row.abandoned,
    confidence: row.confidence,
    last_view_at: iso(row.last_view_at),
  };
}

function toAdapter(row: AdapterRow): AdapterModel {
  return {
    bias: row.bias,
    weights: row.weights ?? {},
    examples: row.examples,
    positives: row.positives,
    negatives: row.negatives,
    loss: row.loss,
  };
}

export interface UserPersonalization {
  profile: PreferenceProfile | null;
  profileVersion: number | null;
  adapter: AdapterModel | null;
  adapterVersion: number | null;
  /** Content in the user's history: finished, in progress or abandoned. */
  seen: Set<string>;
}

/** Everything scoring needs about one user, in one round trip. */
export async function loadPersonalization(db: Queryable, userId: string): Promise<UserPersonalization> {
  const result = await run(
    db,
    sql`
    SELECT
      (SELECT to_jsonb(p) FROM preference_profiles p WHERE p.user_id = ${userId}) AS profile,
      (SELECT to_jsonb(a) FROM user_adapters a WHERE a.user_id = ${userId}) AS adapter,
      (SELECT coalesce(json_agg(w.content_id), '[]'::json) FROM watch_history w
        WHERE w.user_id = ${userId} AND w.active) AS seen
  `,
  );
  const row = result.rows[0] as { profile: ProfileRow | null; adapter: AdapterRow | null; seen: string[] };
  return {
    profile: row.profile ? toProfile(row.profile) : null,
    profileVersion: row.profile?.version ?? null,
    adapter: row.adapter ? toAdapter(row.adapter) : null,
    adapterVersion: row.adapter?.version ?? null,
    seen: new Set(row.seen),
  };
}

/** The user's stored profile, or null before their first view: what search personalization reads. */
export async function loadProfile(db: Queryable, userId: string): Promise<PreferenceProfile | null> {
  const rows = await db.select().from(preferenceProfiles).where(eq(preferenceProfiles.userId, userId)).limit(1);
  const row = rows[0];
  if (!row) return null;
  return {
    weights: row.weights,
    anchors: row.anchors,
    views: row.views,
    finished: row.finished,
    abandoned: row.abandoned,
    confidence: row.confidence,
    last_view_at: row.lastViewAt?.toISOString() ?? null,
  };
}

/**
 * Genre → preference in [-1, 1] (scaled by the profile's confidence) for search ranking, from the
 * same stored profile recommendations use; {} before the user's first view. One small query.
 */
export async function loadGenrePreferences(db: Queryable, userId: string): Promise<Record<string, number>> {
  const rows = await db
    .select({
      genres: sql<Record<string, number>>`${preferenceProfiles.weights} -> 'genre'`,
      confidence: preferenceProfiles.confidence,
    })
    .from(preferenceProfiles)
    .where(eq(preferenceProfiles.userId, userId))
    .limit(1);
  const row = rows[0];
  if (!row) return {};
  return genrePreferences({
    ...emptyProfile(),
    weights: { ...emptyProfile().weights, genre: row.genres ?? {} },
    confidence: row.confidence,
  });
}

export interface ProfileJobRecord {
  job_id: string;
  kind: ProfileJobKind;
  status: "done" | "skipped";
  detail: string;
  requested_at: string;
  finished_at: string;
}

export interface ProfileDocument {
  profile: (PreferenceProfile & { version: number; built_at: string; half_life_days: number }) | null;
  adapter: {
    version: number;
    examples: number;
    positives: number;
    negatives: number;
    loss: number;
    job_id: string;
    trained_at: string;
  } | null;
  jobs: ProfileJobRecord[];
}

/**
 * The profile, the adapter's summary and the latest jobs of one user, for GET /profile. One
 * statement, so one snapshot: a job never shows as done without what it produced.
 */
export async function loadProfileDocument(db: Queryable, userId: string, jobs = 10): Promise<ProfileDocument> {
  const result = await run(
    db,
    sql`
    SELECT
      (SELECT to_jsonb(p) FROM preference_profiles p WHERE p.user_id = ${userId}) AS profile,
      (SELECT to_jsonb(a) - 'weights' FROM user_adapters a WHERE a.user_id = ${userId}) AS adapter,
      (SELECT coalesce(json_agg(j ORDER BY j.finished_at DESC, j.job_id), '[]'::json) FROM (
        SELECT job_id, kind, status, detail, requested_at, finished_at FROM profile_jobs
        WHERE user_id = ${userId} ORDER BY finished_at DESC, job_id LIMIT ${jobs}
      ) j) AS jobs
  `,
  );
  const row = result.rows[0] as {
    profile: ProfileRow | null;
    adapter: AdapterRow | null;
    jobs: (Omit<ProfileJobRecord, "requested_at" | "finished_at"> & { requested_at: string; finished_at: string })[];
  };
  const profile = row.profile;
  const adapter = row.adapter;
  return {
    profile: profile
      ? {
          ...toProfile(profile),
          version: profile.version,
          built_at: iso(profile.built_at) as string,
          half_life_days: profile.half_life_days,
        }
      : null,
    adapter: adapter
      ? {
          version: adapter.version,
          examples: adapter.examples,
          positives: adapter.positives,
          negatives: adapter.negatives,
          loss: adapter.loss,
          job_id: adapter.job_id,
          trained_at: iso(adapter.trained_at) as string,
        }
      : null,
    jobs: row.jobs.map((j) => ({
      job_id: j.job_id,
      kind: j.kind,
      status: j.status,
      detail: j.detail,
      requested_at: iso(j.requested_at) as string,
      finished_at: iso(j.finished_at) as string,
    })),
  };
}

// ---- writing (the queue consumer) ----

/** The latest views of each user, with their catalog fields (null for content not in the catalog). */
export async function loadViews(db: Queryable, userIds: readonly string[]): Promise<Map<string, View[]>> {
  const views = new Map<string, View[]>(userIds.map((id) => [id, []]));
  if (userIds.length === 0) return views;
  const result = await run(
    db,
    sql`
    SELECT u.user_id, w.content_id, w.completion_percentage, w.watched, w.last_watched_at, w.viewed, w.rating,
      c.id IS NOT NULL AS in_catalog, c.title, c.genres, c.year, c.platforms, c.maturity_rating, c.director
    FROM unnest(${sql.param([...userIds])}::text[]) AS u(user_id)
    CROSS JOIN LATERAL (
      -- What the user watched (with its rating), and what they rated without watching it.
      SELECT h.content_id, h.completion_percentage, h.watched, h.last_watched_at, true AS viewed, r.rating
      FROM watch_history h
      LEFT JOIN ratings r ON r.user_id = h.user_id AND r.content_id = h.content_id
      WHERE h.user_id = u.user_id AND h.active
      UNION ALL
      SELECT r.content_id, 0, false, r.rated_at, false, r.rating FROM ratings r
      WHERE r.user_id = u.user_id AND r.rating IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM watch_history h WHERE h.user_id = r.user_id AND h.content_id = r.content_id AND h.active
      )
      ORDER BY last_watched_at DESC LIMIT ${MAX_VIEWS_PER_PROFILE}
    ) w
    LEFT JOIN content c ON c.id = w.content_id
  `,
  );
  for (const raw of result.rows) {
    const row = raw as {
      user_id: string;
      content_id: string;
      completion_percentage: number;
      watched: boolean;
      last_watched_at: unknown;
      viewed: boolean;
      rating: number | null;
      in_catalog: boolean;
      title: string | null;
      genres: string[] | null;
      year: number | null;
      platforms: string[] | null;
      maturity_rating: string | null;
      director: string | null;
    };
    views.get(row.user_id)?.push({
      content_id: row.content_id,
      title: row.title,
      completion: Number(row.completion_percentage) / 100,
      watched: row.watched,
      at: toDate(row.last_watched_at).getTime(),
      rating: row.rating === null ? null : Number(row.rating),
      viewed: row.viewed,
      features: row.in_catalog
        ? {
            genres: row.genres ?? [],
            year: row.year,
            platforms: row.platforms ?? [],
            maturity_rating: row.maturity_rating,
            director: row.director,
          }
        : null,
    });
  }
  return views;
}

/** Writes profiles; a profile equal to the stored one is left alone (version and built_at too). */
export async function saveProfiles(
  db: Queryable,
  profiles: readonly { userId: string; profile: PreferenceProfile }[],
  halfLifeDays: number,
): Promise<void> {
  if (profiles.length === 0) return;
  const t = preferenceProfiles;
  await db
    .insert(t)
    .values(
      profiles.map(({ userId, profile }) => ({
        userId,
        weights: profile.weights,
        anchors: profile.anchors,
        views: profile.views,
        finished: profile.finished,
        abandoned: profile.abandoned,
        confidence: profile.confidence,
        halfLifeDays,
        lastViewAt: profile.last_view_at ? new Date(profile.last_view_at) : null,
      })),
    )
    .onConflictDoUpdate({
      target: t.userId,
      set: {
        weights: sql`excluded.weights`,
        anchors: sql`excluded.anchors`,
        views: sql`excluded.views`,
        finished: sql`excluded.finished`,
        abandoned: sql`excluded.abandoned`,
        confidence: sql`excluded.confidence`,
        halfLifeDays: sql`excluded.half_life_days`,
        lastViewAt: sql`excluded.last_view_at`,
        version: sql`${t.version} + 1`,
        builtAt: sql`now()`,
      },
      setWhere: sql`(${t.weights}, ${t.anchors}, ${t.views}, ${t.finished}, ${t.abandoned}, ${t.confidence},
        ${t.halfLifeDays}, ${t.lastViewAt}) IS DISTINCT FROM (excluded.weights, excluded.anchors, excluded.views,
        excluded.finished, excluded.abandoned, excluded.confidence, excluded.half_life_days, excluded.last_view_at)`,
    });
}

/** Writes an adapter; one equal to the stored one is left alone (its version does not move). */
export async function saveAdapter(
  db: Queryable,
  userId: string,
  model: AdapterModel,
  job: { jobId: string; requestHlc: string },
): Promise<void> {
  const t = userAdapters;
  await db
    .insert(t)
    .values({
      userId,
      bias: model.bias,
      weights: model.weights,
      examples: model.examples,
      positives: model.positives,
      negatives: model.negatives,
      loss: model.loss,
      requestHlc: job.requestHlc,
      jobId: job.jobId,
    })
    .onConflictDoUpdate({
      target: t.userId,
      set: {
        bias: sql`excluded.bias`,
        weights: sql`excluded.weights`,
        examples: sql`excluded.examples`,
        positives: sql`excluded.positives`,
        negatives: sql`excluded.negatives`,
        loss: sql`excluded.loss`,
        requestHlc: sql`excluded.request_hlc`,
        jobId: sql`excluded.job_id`,
        version: sql`${t.version} + 1`,
        trainedAt: sql`now()`,
      },
      setWhere: sql`(${t.bias}, ${t.weights}, ${t.examples}) IS DISTINCT FROM (excluded.bias, excluded.weights, excluded.examples)`,
    });
}

/** A cleared history takes the adapter trained on it along; one trained after the clear stays. */
export async function dropAdaptersBefore(db: Queryable, userId: string, beforeHlc: string): Promise<void> {
  await db.execute(sql`
    DELETE FROM user_adapters WHERE user_id = ${userId} AND request_hlc COLLATE "C" <= ${beforeHlc} COLLATE "C"
  `);
}

/** Job records are for the user to follow their requests: a week is plenty. */
const JOB_RECORD_DAYS = 7;

/** Records finished jobs; a replayed job keeps its first record. */
export async function recordJobs(
  db: Queryable,
  jobs: readonly {
    jobId: string;
    userId: string;
    kind: ProfileJobKind;
    status: "done" | "skipped";
    detail: string;
    requestedAt: string;
  }[],
): Promise<void> {
  if (jobs.length === 0) return;
  await db
    .insert(profileJobs)
    .values(jobs.map((j) => ({ ...j, requestedAt: new Date(j.requestedAt) })))
    .onConflictDoNothing();
  const users = [...new Set(jobs.map((j) => j.userId))];
  await db.execute(sql`
    DELETE FROM profile_jobs
    WHERE user_id = ANY(${sql.param(users)}::text[]) AND finished_at < now() - make_interval(days => ${JOB_RECORD_DAYS})
  `);
}
