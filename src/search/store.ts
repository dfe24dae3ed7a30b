/**
 * Where the index lives: snapshots in Workers KV under their version, a small "current" record
 * naming the live version, and in each isolate the loaded index, re-checked against the record
 * every few seconds so a new version is picked up without a restart. When KV has no index yet,
 * the first request builds one from Postgres.
 */
import type { Config } from "../config";
import { withDatabase } from "../db/client";
import type { Env } from "../env";
import { buildIndexData, type IndexData, SearchIndex } from "./search-index";
import { decodeSnapshot, encodeSnapshot, gunzip, gzip, SnapshotError, snapshotVersion } from "./snapshot";
import { loadSearchSource } from "./source";

export const CURRENT_KEY = "search:current";
export const SNAPSHOT_PREFIX = "search:snapshot:";
export const snapshotKey = (version: string) => `${SNAPSHOT_PREFIX}${version}`;
/** A stored snapshot no published version names is deleted by the sweep after this long. */
const ORPHAN_GRACE_MS = 3600_000;

/** The KV record that names the live index version. */
export interface CurrentRecord {
  version: string;
  built_at: string;
  items: number;
  snapshot_bytes: number;
  /** Older versions still in KV, newest first (open cursors may point at them). */
  previous: string[];
}

export interface PublishReport {
  version: string;
  previous_version: string | null;
  changed: boolean;
  /** False when a build that read the catalog later published first: this one was discarded. */
  published: boolean;
  items: number;
  terms: number;
  snapshot_bytes: number;
  build_ms: number;
}

export class SearchUnavailableError extends Error {
  override name = "SearchUnavailableError";
}

/** Per isolate: the live index, when KV was last asked, and recently used older versions. */
const isolate = {
  live: null as SearchIndex | null,
  checkedAt: 0,
  refreshing: null as Promise<SearchIndex> | null,
  older: new Map<string, SearchIndex>(),
};
const OLDER_KEPT_IN_MEMORY = 2;

function remember(index: SearchIndex) {
  if (isolate.live && isolate.live.version !== index.version) {
    isolate.older.delete(isolate.live.version);
    isolate.older.set(isolate.live.version, isolate.live);
    while (isolate.older.size > OLDER_KEPT_IN_MEMORY) isolate.older.delete(isolate.older.keys().next().value as string);
  }
  isolate.older.delete(index.version);
  isolate.live = index;
  isolate.checkedAt = Date.now();
}

/** Reads one snapshot version from KV; null when KV no longer holds it, or holds it in an older format. */
export async function loadSnapshot(env: Env, version: string): Promise<SearchIndex | null> {
  const stored = await env.SEARCH_KV.get(snapshotKey(version), "arrayBuffer");
  if (!stored) return null;
  try {
    return new SearchIndex(decodeSnapshot(await gunzip(new Uint8Array(stored))), version);
  } catch (error) {
    // An older release's snapshot: the caller builds the current format from the catalog instead.
    if (error instanceof SnapshotError && error.outdated) return null;
    throw error;
  }
}

/**
 * Stores an index and asks the publisher (one SearchPublisher object) to make it the live
 * version: the snapshot first, under its version, then the decision, which writes the record
 * naming the live version and deletes what is no longer kept. Equal catalogs give equal
 * versions, so publishing an unchanged catalog changes nothing. `builtAt` is when the build
 * read the catalog: of two builds running at once, the later read wins.
 */
export async function publishIndex(
  env: Env,
  config: Config,
  data: IndexData,
  buildMs = 0,
  builtAt = Date.now(),
): Promise<PublishReport> {
  const raw = encodeSnapshot(data);
  const version = await snapshotVersion(raw);
  const before = await env.SEARCH_KV.get<CurrentRecord>(CURRENT_KEY, "json");
  const report: PublishReport = {
    version,
    previous_version: before?.version ?? null,
    changed: before?.version !== version,
    published: true,
    items: data.ids.length,
    terms: data.terms.length,
    snapshot_bytes: raw.length,
    build_ms: Math.round(buildMs),
  };
  if (report.changed) {
    const compressed = await gzip(raw);
    await env.SEARCH_KV.put(snapshotKey(version), compressed, { metadata: { built_at: builtAt } });
    const decision = await searchPublisher(env).publish(
      { version, built_at: builtAt, items: data.ids.length, snapshot_bytes: compressed.length },
      config.SEARCH_SNAPSHOTS_KEPT,
    );
    report.published = decision.current === version;
  }
  if (report.published) remember(new SearchIndex(data, version));
  else isolate.checkedAt = 0; // a newer version is live: load it at the next search
  return report;
}

const searchPublisher = (env: Env) => env.SEARCH_PUBLISHER.get(env.SEARCH_PUBLISHER.idFromName("search"));

/** Builds the index from the catalog in Postgres and publishes it. */
export async function rebuildIndex(env: Env, config: Config): Promise<PublishReport> {
  const started = Date.now();
  const source = await withDatabase(config, (db) => loadSearchSource(db));
  const data = buildIndexData(source.items, {
    plays: source.plays,
    corrections: source.corrections,
    playWeight: config.SEARCH_PLAY_WEIGHT,
  });
  return publishIndex(env, config, data, Date.now() - started, started);
}

/**
 * The scheduled reindex: a rebuild from the catalog, then the snapshots that no published
 * version names (a build that died between storing and publishing) are deleted.
 */
export async function scheduledReindex(env: Env, config: Config): Promise<PublishReport & { swept: string[] }> {
  const report = await rebuildIndex(env, config);
  const swept = await searchPublisher(env).sweep(ORPHAN_GRACE_MS);
  return { ...report, swept };
}

async function refresh(env: Env, config: Config): Promise<SearchIndex> {
  try {
    const record = await env.SEARCH_KV.get<CurrentRecord>(CURRENT_KEY, "json");
    if (record && record.version === isolate.live?.version) {
      isolate.checkedAt = Date.now();
      return isolate.live;
    }
    const loaded = record ? await loadSnapshot(env, record.version) : null;
    if (loaded) {
      remember(loaded);
      return loaded;
    }
    // No index in KV yet (or its snapshot is gone): build it now rather than fail.
    await rebuildIndex(env, config);
    return isolate.live as unknown as SearchIndex;
  } catch (error) {
    if (isolate.live) {
      // Serve the index we have; KV or Postgres being down must not take search down.
      console.error("search index refresh failed; serving the loaded version", error);
      isolate.checkedAt = Date.now();
      return isolate.live;
    }
    console.error("search index unavailable", error);
    throw new SearchUnavailableError("the search index is not available yet");
  }
}

/** The live index of this isolate, re-checked against KV at most every few seconds. */
export async function currentSearchIndex(env: Env, config: Config): Promise<SearchIndex> {
  const fresh = Date.now() - isolate.checkedAt < config.SEARCH_VERSION_CHECK_SECONDS * 1000;
  if (isolate.live && fresh) return isolate.live;
  if (!isolate.refreshing) {
    isolate.refreshing = refresh(env, config).finally(() => {
      isolate.refreshing = null;
    });
  }
  return isolate.refreshing;
}

/** A given version (for a result cursor): in memory, else from KV; null when it was deleted. */
export async function searchIndexVersion(env: Env, config: Config, version: string): Promise<SearchIndex | null> {
  const live = await currentSearchIndex(env, config);
  if (live.version === version) return live;
  const cached = isolate.older.get(version);
  if (cached) return cached;
  const loaded = await loadSnapshot(env, version);
  if (!loaded) return null;
  isolate.older.set(version, loaded);
  while (isolate.older.size > OLDER_KEPT_IN_MEMORY) isolate.older.delete(isolate.older.keys().next().value as string);
  return loaded;
}
