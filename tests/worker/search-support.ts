/** Shared by the search test files: an admin client, reindexing, and test-only catalog items. */
import { env } from "cloudflare:workers";
import { inArray } from "drizzle-orm";
import { expect } from "vitest";
import { content } from "../../src/db/schema";
import { buildIndexData } from "../../src/search/search-index";
import { encodeSnapshot, gzip, snapshotVersion } from "../../src/search/snapshot";
import { loadSearchSource } from "../../src/search/source";
import { CURRENT_KEY, type CurrentRecord, snapshotKey } from "../../src/search/store";
import { client, db, tokenFor } from "./helpers";

export async function adminApi() {
  return client(await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" }));
}

/** Rebuilds the index from Postgres, as the admin endpoint does. */
export async function reindex() {
  const res = await (await adminApi()).post("/api/v1/admin/search/reindex");
  expect(res.status).toBe(200);
  return res.json as { version: string; changed: boolean; items: number };
}

/** Letters only, so test items never match the real words other tests search for. */
export function uniqueWord(prefix = "zq"): string {
  const letters = "bcdfghjklmnpqrstvwxz";
  let word = prefix;
  for (const byte of crypto.getRandomValues(new Uint8Array(10))) word += letters[byte % letters.length];
  return word;
}

/**
 * A catalog item that stays out of every other test's result set: an invented title word, its
 * own genre and platform, and no year or rating (so year and rating filters exclude it).
 */
export function testItem(title: string, extra: Record<string, unknown> = {}) {
  return {
    id: `test-${crypto.randomUUID()}`,
    kind: "movie",
    title,
    genres: [`test-genre-${crypto.randomUUID().slice(0, 8)}`],
    platforms: [`test-platform-${crypto.randomUUID().slice(0, 8)}`],
    votes: 10,
    ...extra,
  };
}

/** The index data of the catalog as Postgres holds it, plus `extra` (a test item): as another isolate's build would be. */
export async function indexWith(extra: ReturnType<typeof testItem>) {
  const source = await db((d) => loadSearchSource(d));
  const item = {
    ...extra,
    kind: "movie" as const,
    series_id: null,
    season_number: null,
    episode_number: null,
    year: null,
    rating: null,
    runtime_minutes: null,
    maturity_rating: null,
    director: null,
    credits_start_seconds: null,
  };
  return buildIndexData([...source.items, item], { plays: source.plays, corrections: source.corrections });
}

/**
 * Another isolate's reindex, done by hand: the catalog as Postgres holds it plus `extra`, published
 * to KV (the snapshot first, then the record naming it). Returns the new version.
 */
export async function publishElsewhere(extra: ReturnType<typeof testItem>): Promise<string> {
  const data = await indexWith(extra);
  const raw = encodeSnapshot(data);
  const version = await snapshotVersion(raw);
  await env.SEARCH_KV.put(snapshotKey(version), await gzip(raw));
  const before = await env.SEARCH_KV.get<CurrentRecord>(CURRENT_KEY, "json");
  const record: CurrentRecord = {
    version,
    built_at: new Date().toISOString(),
    items: data.ids.length,
    snapshot_bytes: raw.length,
    previous: before ? [before.version] : [],
  };
  await env.SEARCH_KV.put(CURRENT_KEY, JSON.stringify(record));
  return version;
}

export async function removeItems(ids: string[]) {
  if (ids.length > 0) await db((d) => d.delete(content).where(inArray(content.id, ids)));
}

/** An independent reading of a title's words, for brute-force checks. */
export function titleWords(title: string): Set<string> {
  const folded = title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase();
  const words = new Set<string>();
  for (const word of folded.split(/[^a-z0-9'’`]+/)) {
    if (!word) continue;
    words.add(word.replace(/['’`]/g, ""));
    const stem = word.split(/['’`]/)[0];
    if (stem && stem !== word) words.add(stem);
  }
  words.delete("");
  return words;
}
