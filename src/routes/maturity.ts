/**
 * Maturity limits at the routes. The caller's limit comes from the access token (`mat`, checked
 * current against the profile's object on every request), so reading it costs nothing; a
 * content id's rating comes from the search index every isolate holds in memory, and from
 * Postgres only for ids the index does not know yet. See docs/households.md for how a new route
 * applies the same filter.
 */
import { HttpProblem } from "../contracts/problems";
import { type ContentRow, contentRatings, type MaturityFilter } from "../db/content";
import {
  allowedRatingKeys,
  allowsLevel,
  limitOf,
  type MaturityLimit,
  maturityLevel,
  RATED_KEYS,
} from "../domain/maturity";
import type { AppContext, Caller } from "../env";
import { currentSearchIndex } from "../search/store";
import { withPostgres } from "./router";

/** The caller's limit: null for an anonymous caller and for a profile without one. */
export function callerMaturity(c: AppContext): MaturityLimit | null {
  const caller = c.var.caller as Caller | undefined;
  return limitOf(caller?.maturityLimit, c.var.config.MATURITY_ALLOW_UNRATED);
}

/** A short text naming a limit, for cache keys and cursor fingerprints: "" for none, "3" or "3u" (unrated allowed). */
export const maturityKey = (limit: MaturityLimit | null) =>
  limit ? `${limit.level}${limit.allowUnrated ? "u" : ""}` : "";

/** The limit as a Postgres filter (null: no limit). */
export function maturityFilter(limit: MaturityLimit | null): MaturityFilter | null {
  return limit && { allowed: allowedRatingKeys(limit), rated: RATED_KEYS, allowUnrated: limit.allowUnrated };
}

export const maturityRestricted = () =>
  new HttpProblem(403, "maturity-restricted", "this title is above this profile's maturity limit");

/**
 * The maturity level of each id (null: unrated, or not in the catalog): from the live search
 * index, then one Postgres query for the ids it does not hold (content added since it was built).
 */
export async function contentLevels(c: AppContext, ids: readonly string[]): Promise<Map<string, number | null>> {
  const levels = new Map<string, number | null>();
  const missing: string[] = [];
  const index = await currentSearchIndex(c.env, c.var.config).catch(() => null);
  for (const id of new Set(ids)) {
    const doc = index?.docOf(id);
    if (index && doc !== undefined) levels.set(id, index.maturityLevel(doc));
    else missing.push(id);
  }
  if (missing.length > 0) {
    const ratings = await withPostgres(c, "catalog", (db) => contentRatings(db, missing));
    for (const id of missing) levels.set(id, maturityLevel(ratings.get(id)));
  }
  return levels;
}

/** The ids the caller may be shown; null when the caller has no limit (everything may). */
export async function viewableIds(c: AppContext, ids: readonly string[]): Promise<Set<string> | null> {
  const limit = callerMaturity(c);
  if (!limit || ids.length === 0) return limit ? new Set() : null;
  const levels = await contentLevels(c, ids);
  return new Set(ids.filter((id) => allowsLevel(limit, levels.get(id) ?? null)));
}

/** 403 when the caller's limit does not allow the content (unknown content counts as unrated). */
export async function requireViewable(c: AppContext, contentId: string): Promise<void> {
  const limit = callerMaturity(c);
  if (!limit) return;
  const level = (await contentLevels(c, [contentId])).get(contentId) ?? null;
  if (!allowsLevel(limit, level)) throw maturityRestricted();
}

/** For a catalog row in hand: 403 unless the caller may see it (an episode without a rating has its series'). */
export async function requireViewableRow(c: AppContext, row: ContentRow): Promise<void> {
  const limit = callerMaturity(c);
  if (!limit) return;
  if (row.maturityRating === null && row.seriesId) return requireViewable(c, row.id);
  if (!allowsLevel(limit, maturityLevel(row.maturityRating))) throw maturityRestricted();
}
