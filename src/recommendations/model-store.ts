/**
 * Where the shared recommendation model lives: its snapshot in Workers KV, cut into chunks under
 * the value limit, a small record naming the live version, and in each isolate the decoded model,
 * re-checked against the record every few seconds so a new version is picked up without a
 * restart. A request never builds the model and never waits on Postgres for it: with no model,
 * or one that does not check out, recommendations fall back to the profile and popularity.
 */
import type { Config } from "../config";
import { withDatabase } from "../db/client";
import { modelTitleStats, modelUserViews } from "../db/recommendations";
import type { FeatureSpace } from "../domain/features";
import { type AlignedModel, alignModel } from "../domain/personal-ranking";
import { DEFAULT_SHARED_MODEL, type SharedModel, SharedModelBuilder } from "../domain/shared-model";
import {
  decodeModelSnapshot,
  encodeModelSnapshot,
  joinSnapshot,
  modelSnapshotVersion,
  type SnapshotManifest,
  splitSnapshot,
} from "../domain/shared-model-snapshot";
import type { Env } from "../env";

export const MODEL_CURRENT_KEY = "recommendations:model:current";
export const modelChunkKey = (version: string, chunk: number) => `recommendations:model:${version}:${chunk}`;

/** The KV record that names the live model. */
export interface ModelRecord {
  manifest: SnapshotManifest;
  built_at: string;
  users: number;
  views: number;
  titles: number;
  /** The version before this one; its chunks stay until the next publish, for isolates reading it right now. */
  previous: string | null;
}

export interface RebuildReport {
  version: string;
  previous_version: string | null;
  changed: boolean;
  users: number;
  views: number;
  titles: number;
  head: number;
  neighbours: number;
  snapshot_bytes: number;
  chunks: number;
  build_ms: number;
}

/** Users whose histories one Postgres round trip of the build reads. */
const USERS_PER_PAGE = 500;

export interface LoadedModel {
  version: string;
  model: SharedModel;
  builtAt: string;
}

/** Per isolate: the live model, when KV was last asked, and its alignment with the catalog in use. */
const isolate = {
  live: null as LoadedModel | null,
  checkedAt: 0,
  refreshing: null as Promise<LoadedModel | null> | null,
  /** A version that did not check out: not fetched again until the record names another. */
  refused: null as string | null,
  aligned: new WeakMap<FeatureSpace, { version: string; aligned: AlignedModel }>(),
};

/** Reads and checks one version's chunks; throws ModelSnapshotError when they do not check out. */
async function loadVersion(env: Env, record: ModelRecord): Promise<LoadedModel> {
  const { manifest } = record;
  const chunks = await Promise.all(
    manifest.chunks.map(async (_, i) => {
      const stored = await env.SEARCH_KV.get(modelChunkKey(manifest.version, i), "arrayBuffer");
      return stored ? new Uint8Array(stored) : null;
    }),
  );
  const model = decodeModelSnapshot(joinSnapshot(manifest, chunks));
  return { version: manifest.version, model, builtAt: record.built_at };
}

async function refresh(env: Env): Promise<LoadedModel | null> {
  try {
    const record = await env.SEARCH_KV.get<ModelRecord>(MODEL_CURRENT_KEY, "json");
    isolate.checkedAt = Date.now();
    if (!record?.manifest?.version) {
      // Withdrawn (or never published): recommendations go back to the profile and popularity.
      isolate.live = null;
      return null;
    }
    const version = record.manifest.version;
    if (version === isolate.live?.version || version === isolate.refused) return isolate.live;
    isolate.live = await loadVersion(env, record);
    isolate.refused = null;
    return isolate.live;
  } catch (error) {
    // A corrupt or half-written snapshot, or KV down: keep what this isolate has (maybe nothing).
    console.error("recommendation model not loaded; serving", isolate.live?.version ?? "no model", String(error));
    const record = await env.SEARCH_KV.get<ModelRecord>(MODEL_CURRENT_KEY, "json").catch(() => null);
    isolate.refused = record?.manifest?.version ?? null;
    isolate.checkedAt = Date.now();
    return isolate.live;
  }
}

/** The live model of this isolate, re-checked against KV at most every RECOMMEND_MODEL_CHECK_SECONDS; null without one. */
export async function currentModel(env: Env, config: Config): Promise<LoadedModel | null> {
  const fresh = Date.now() - isolate.checkedAt < config.RECOMMEND_MODEL_CHECK_SECONDS * 1000;
  if (fresh) return isolate.live;
  if (!isolate.refreshing) {
    isolate.refreshing = refresh(env).finally(() => {
      isolate.refreshing = null;
    });
  }
  return isolate.refreshing;
}

/** The live model lined up with a catalog's feature space, computed once per (model version, catalog). */
export function alignedWith(loaded: LoadedModel | null, space: FeatureSpace): AlignedModel | null {
  if (!loaded) return null;
  const cached = isolate.aligned.get(space);
  if (cached?.version === loaded.version) return cached.aligned;
  const aligned = alignModel(loaded.model, space);
  isolate.aligned.set(space, { version: loaded.version, aligned });
  return aligned;
}

/**
 * Stores a model as the live version: its chunks first, then the record naming it, then the
 * chunks of the version before the previous one are deleted. Equal models give equal versions,
 * so publishing an unchanged model writes nothing.
 */
export async function publishModel(env: Env, model: SharedModel, buildMs: number): Promise<RebuildReport> {
  const snapshot = encodeModelSnapshot(model);
  const { manifest, chunks } = await splitSnapshot(snapshot);
  // The version names what was learned, not when: the same history gives the same version.
  manifest.version = await modelSnapshotVersion(
    encodeModelSnapshot({ ...model, info: { ...model.info, builtAt: "" } }),
  );
  const before = await env.SEARCH_KV.get<ModelRecord>(MODEL_CURRENT_KEY, "json").catch(() => null);
  const previous = before?.manifest?.version ?? null;
  const changed = previous !== manifest.version;
  if (changed) {
    for (const [i, chunk] of chunks.entries()) await env.SEARCH_KV.put(modelChunkKey(manifest.version, i), chunk);
    const record: ModelRecord = {
      manifest,
      built_at: model.info.builtAt,
      users: model.info.users,
      views: model.info.views,
      titles: model.ids.length,
      previous,
    };
    await env.SEARCH_KV.put(MODEL_CURRENT_KEY, JSON.stringify(record));
    const stale = before?.previous;
    if (before && stale && stale !== manifest.version) {
      const old = await env.SEARCH_KV.list({ prefix: `recommendations:model:${stale}:` });
      await Promise.all(old.keys.map((k) => env.SEARCH_KV.delete(k.name)));
    }
  }
  isolate.live = { version: manifest.version, model, builtAt: model.info.builtAt };
  isolate.refused = null;
  isolate.checkedAt = Date.now();
  return {
    version: manifest.version,
    previous_version: previous,
    changed,
    users: model.info.users,
    views: model.info.views,
    titles: model.ids.length,
    head: Math.min(model.info.head, model.ids.length),
    neighbours: model.neighbours.neighbours.length,
    snapshot_bytes: snapshot.length,
    chunks: chunks.length,
    build_ms: Math.round(buildMs),
  };
}

/**
 * Builds the shared model from everyone's history in Postgres, one page of users at a time, and
 * publishes it. Run by the scheduled job and the admin endpoint, never by a request.
 */
export async function rebuildModel(env: Env, config: Config, options = DEFAULT_SHARED_MODEL): Promise<RebuildReport> {
  const started = Date.now();
  const model = await withDatabase(config, async (db) => {
    const builder = new SharedModelBuilder(await modelTitleStats(db, options.viewsPerUser), options);
    let after: string | null = null;
    for (;;) {
      const page = await modelUserViews(db, {
        afterUser: after,
        users: USERS_PER_PAGE,
        viewsPerUser: options.viewsPerUser,
      });
      for (const history of page.histories.values()) builder.addUser(history);
      if (page.last === null || page.histories.size < USERS_PER_PAGE) break;
      after = page.last;
    }
    return builder.finish();
  });
  return publishModel(env, model, Date.now() - started);
}
