/**
 * What a search cursor carries so that paging is exact: the index version it was cut from, the
 * next offset, a fingerprint of the query and filters, the caller, and the genre affinity used
 * for ranking. Re-running the same query on the same version with the same affinity gives the
 * same order, so no result repeats and none is skipped, even when a reindex lands in between.
 */
import type { GenreAffinity } from "./ranking";
import type { SearchIndex } from "./search-index";

/** 32-bit FNV-1a, as 8 hex digits: a fingerprint, not a secret. */
export function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

export interface QueryIdentity {
  words: readonly string[];
  genres: readonly string[];
  platforms: readonly string[];
  kinds: readonly string[];
  yearMin?: number;
  yearMax?: number;
  ratingMin?: number;
  /** The caller's maturity limit, e.g. "3" or "3u" (unrated allowed); "" for none. */
  maturity?: string;
}

/** Equal for requests that select and rank the same results, whatever their page. */
export function queryFingerprint(q: QueryIdentity): string {
  const sorted = (list: readonly string[]) => [...new Set(list)].sort();
  return fnv1a(
    JSON.stringify([
      q.words,
      sorted(q.genres),
      sorted(q.platforms),
      sorted(q.kinds),
      q.yearMin ?? null,
      q.yearMax ?? null,
      q.ratingMin ?? null,
      // Appended only when set, so a cursor issued before limits existed still matches.
      ...(q.maturity ? [q.maturity] : []),
    ]),
  );
}

/** Ties a cursor to the caller, so one user's cursor (and its affinity) serves nobody else. */
export const callerTag = (sub: string | undefined) => (sub === undefined ? "-" : fnv1a(`sub:${sub}`));

/** "3:1,7:0.5": genres by their number in the index version the cursor belongs to. */
export function encodeAffinity(index: SearchIndex, affinity: GenreAffinity | null): string {
  if (!affinity) return "";
  const parts: string[] = [];
  for (const [genre, weight] of affinity) {
    const code = index.data.genreNames.indexOf(genre);
    if (code >= 0) parts.push(`${code}:${weight}`);
  }
  return parts.join(",");
}

/** The affinity a cursor carries; undefined when the text is not one this server wrote. */
export function decodeAffinity(index: SearchIndex, text: string): GenreAffinity | null | undefined {
  if (text === "") return null;
  const out = new Map<string, number>();
  for (const part of text.split(",").slice(0, 16)) {
    const [code, weight] = part.split(":").map(Number);
    const genre = index.data.genreNames[code ?? -1];
    if (genre === undefined || weight === undefined || !Number.isFinite(weight) || weight < -1 || weight > 1)
      return undefined;
    out.set(genre, weight);
  }
  return out;
}
