/**
 * Where the catalog facts live (see src/domain/catalog-facts.ts): a gzipped snapshot in Workers KV
 * under its version, a small record naming the live version, and in each isolate the loaded
 * facts, re-checked against the record every CATALOG_FACTS_CHECK_SECONDS. An admin catalog import
 * publishes a new version at once, so every user's object sees a new episode within seconds.
 * When KV holds none yet, the first caller builds them from Postgres.
 */
import type { Config } from "../config";
import { catalogFactSources } from "../db/catalog";
import { withDatabase } from "../db/client";
import { buildFactsData, CatalogFacts, type FactsData } from "../domain/catalog-facts";
import type { Env } from "../env";
import { gunzip, gzip, snapshotVersion } from "../search/snapshot";

export const FACTS_CURRENT_KEY = "catalog-facts:current";
const factsKey = (version: string) => `catalog-facts:snapshot:${version}`;

interface CurrentRecord {
  version: string;
  built_at: string;
  series: number;
  bytes: number;
}

export interface FactsPublishReport {
  version: string;
  changed: boolean;
  series: number;
  bytes: number;
}

/** A failed load is retried this soon; meanwhile the facts in hand (or none) are served. */
const RETRY_AFTER_FAILURE_MS = 2000;

const isolate = {
  facts: null as CatalogFacts | null,
  checkedAt: 0,
  refreshing: null as Promise<CatalogFacts> | null,
};

async function encode(data: FactsData) {
  const raw = new TextEncoder().encode(JSON.stringify(data));
  return { raw, version: await snapshotVersion(raw) };
}

/** Stores the facts as the live version (snapshot first, then the record); the one before stays for readers mid-load. */
export async function publishFacts(env: Env, data: FactsData): Promise<FactsPublishReport> {
  const { raw, version } = await encode(data);
  const before = await env.SEARCH_KV.get<CurrentRecord>(FACTS_CURRENT_KEY, "json");
  const changed = before?.version !== version;
  const compressed = await gzip(raw);
  if (changed) {
    await env.SEARCH_KV.put(factsKey(version), compressed);
    const record: CurrentRecord = {
      version,
      built_at: new Date().toISOString(),
      series: data.series.length,
      bytes: compressed.length,
    };
    await env.SEARCH_KV.put(FACTS_CURRENT_KEY, JSON.stringify(record));
    const stale = await env.SEARCH_KV.list({ prefix: factsKey("") });
    const keep = new Set([factsKey(version), ...(before ? [factsKey(before.version)] : [])]);
    await Promise.all(stale.keys.filter((k) => !keep.has(k.name)).map((k) => env.SEARCH_KV.delete(k.name)));
  }
  isolate.facts = new CatalogFacts(data, version);
  isolate.checkedAt = Date.now();
  return { version, changed, series: data.series.length, bytes: compressed.length };
}

/** Builds the facts from the catalog in Postgres and publishes them. */
export async function rebuildFacts(env: Env, config: Config): Promise<FactsPublishReport> {
  const rows = await withDatabase(config, (db) => catalogFactSources(db));
  return publishFacts(env, buildFactsData(rows));
}

async function refresh(env: Env, config: Config): Promise<CatalogFacts> {
  try {
    const record = await env.SEARCH_KV.get<CurrentRecord>(FACTS_CURRENT_KEY, "json");
    if (record && record.version === isolate.facts?.version) {
      isolate.checkedAt = Date.now();
      return isolate.facts;
    }
    const stored = record ? await env.SEARCH_KV.get(factsKey(record.version), "arrayBuffer") : null;
    if (record && stored) {
      const data = JSON.parse(new TextDecoder().decode(await gunzip(new Uint8Array(stored)))) as FactsData;
      isolate.facts = new CatalogFacts(data, record.version);
      isolate.checkedAt = Date.now();
      return isolate.facts;
    }
    await rebuildFacts(env, config);
    return isolate.facts as unknown as CatalogFacts;
  } catch (error) {
    // Writes and reads go on with what is known: an unknown episode is a film until the next check.
    console.error("catalog facts refresh failed; serving the loaded version", String(error));
    isolate.checkedAt = Date.now() - config.CATALOG_FACTS_CHECK_SECONDS * 1000 + RETRY_AFTER_FAILURE_MS;
    isolate.facts ??= CatalogFacts.empty();
    return isolate.facts;
  }
}

/** The live facts of this isolate, re-checked against KV at most every CATALOG_FACTS_CHECK_SECONDS. */
export async function currentCatalogFacts(env: Env, config: Config): Promise<CatalogFacts> {
  const fresh = Date.now() - isolate.checkedAt < config.CATALOG_FACTS_CHECK_SECONDS * 1000;
  if (isolate.facts && fresh) return isolate.facts;
  if (!isolate.refreshing) {
    isolate.refreshing = refresh(env, config).finally(() => {
      isolate.refreshing = null;
    });
  }
  return isolate.refreshing;
}
