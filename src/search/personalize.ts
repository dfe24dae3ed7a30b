/**
 * A user's genre affinity for personalized search: the genre weights of the preference profile
 * recommendations keep (issue 6), or, before the first profile is built, the user's watch history
 * weighted by how much of each title they watched. Cached per isolate for a short time.
 */
import type { Config } from "../config";
import { withDatabase } from "../db/client";
import { historyGenreWeights } from "../db/history";
import { loadGenrePreferences } from "../db/personalization";
import type { GenreAffinity } from "./ranking";

/** Genres beyond the strongest few add little and would lengthen every cursor. */
export const AFFINITY_GENRES = 5;
const LOOKUP_TIMEOUT_MS = 1500;
const MAX_CACHED_USERS = 10_000;
const RETRY_AFTER_FAILURE_MS = 10_000;

const cache = new Map<string, { at: number; affinity: GenreAffinity | null }>();

/** From history weights: the favourite genre is 1, weights rounded to hundredths, five genres. */
export function affinityFromWeights(rows: readonly { genre: string; weight: number }[]): GenreAffinity | null {
  const top = rows
    .filter((r) => r.weight > 0)
    .sort((a, b) => b.weight - a.weight || (a.genre < b.genre ? -1 : 1))
    .slice(0, AFFINITY_GENRES);
  const max = top[0]?.weight ?? 0;
  if (max <= 0) return null;
  return new Map(top.map((r) => [r.genre, Math.round((r.weight / max) * 100) / 100]));
}

/** From profile preferences in [-1, 1]: the five strongest, liked or disliked, rounded. */
export function affinityFromPreferences(preferences: Readonly<Record<string, number>>): GenreAffinity | null {
  const top = Object.entries(preferences)
    .map(([genre, weight]) => [genre, Math.round(Math.max(-1, Math.min(1, weight)) * 100) / 100] as const)
    .filter(([, weight]) => weight !== 0)
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]) || (a[0] < b[0] ? -1 : 1))
    .slice(0, AFFINITY_GENRES);
  return top.length > 0 ? new Map(top) : null;
}

async function lookup(config: Config, userId: string): Promise<GenreAffinity | null> {
  return withDatabase(config, async (db) => {
    const profile = affinityFromPreferences(await loadGenrePreferences(db, userId));
    if (profile) return profile;
    // No profile yet (the consumer builds it a little after the views arrive): read the history.
    return affinityFromWeights(await historyGenreWeights(db, userId, AFFINITY_GENRES));
  });
}

/**
 * The user's genre → weight in [-1, 1], or null without history. Never fails a search: when
 * Postgres is slow or down, the search is simply not personalized for a short while.
 */
export async function genreAffinity(config: Config, userId: string): Promise<GenreAffinity | null> {
  const now = Date.now();
  const hit = cache.get(userId);
  if (hit && now - hit.at < config.SEARCH_AFFINITY_CACHE_SECONDS * 1000) return hit.affinity;
  let affinity: GenreAffinity | null = null;
  let at = now;
  try {
    affinity = await Promise.race([
      lookup(config, userId),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("affinity lookup timed out")), LOOKUP_TIMEOUT_MS),
      ),
    ]);
  } catch (error) {
    console.error("genre affinity unavailable; search is not personalized", error);
    // Ask again soon rather than after the whole cache lifetime.
    at = now - Math.max(0, config.SEARCH_AFFINITY_CACHE_SECONDS * 1000 - RETRY_AFTER_FAILURE_MS);
  }
  if (cache.size >= MAX_CACHED_USERS) cache.delete(cache.keys().next().value as string);
  cache.set(userId, { at, affinity });
  return affinity;
}
