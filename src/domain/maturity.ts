/**
 * Maturity ratings on one ordinal scale that maps the film ratings (MPAA) and the TV ratings
 * (TV Parental Guidelines) together, lowest to highest:
 *
 *   0 TV-Y · 1 TV-Y7 · 2 G / TV-G · 3 PG / TV-PG · 4 PG-13 / TV-14 · 5 R / TV-MA · 6 NC-17
 *
 * A profile's limit is a level on it; content at or below the limit is allowed. Anything not on
 * the scale (no rating, "Not Rated", "NR", "Approved", a label we do not know) is unrated, and
 * unrated content follows a setting: blocked for limited profiles unless it is allowed.
 */

/** The labels a limit may be set to, each with its level. */
export const MATURITY_LIMITS = {
  "TV-Y": 0,
  "TV-Y7": 1,
  G: 2,
  "TV-G": 2,
  PG: 3,
  "TV-PG": 3,
  "PG-13": 4,
  "TV-14": 4,
  R: 5,
  "TV-MA": 5,
  "NC-17": 6,
} as const satisfies Record<string, number>;

export type MaturityLabel = keyof typeof MATURITY_LIMITS;
export const MATURITY_LABELS = Object.keys(MATURITY_LIMITS) as MaturityLabel[];
export const MAX_MATURITY_LEVEL = 6;

/** Catalog labels as they are written in the wild, by their letters and digits only. */
const LEVEL_BY_KEY: ReadonlyMap<string, number> = new Map([
  ...MATURITY_LABELS.map((label) => [ratingKey(label), MATURITY_LIMITS[label]] as const),
  // TV content descriptors ride on the rating: TV-Y7-FV is TV-Y7 with fantasy violence.
  ["TVY7FV", 1],
  // The MPAA's older names for the same levels: GP and M became PG, X became NC-17.
  ["GP", 3],
  ["M", 3],
  ["X", 6],
]);

/** "PG-13", "pg 13", "PG13" → "PG13": how a catalog label is looked up. */
export function ratingKey(rating: string): string {
  return rating.toUpperCase().replace(/[^A-Z0-9]/g, "");
}

/** The level of a catalog rating, or null when it is unrated (or not a rating we know). */
export function maturityLevel(rating: string | null | undefined): number | null {
  if (rating === null || rating === undefined) return null;
  return LEVEL_BY_KEY.get(ratingKey(rating)) ?? null;
}

/** What a limited caller may see: content up to `level`, and unrated content when `allowUnrated`. */
export interface MaturityLimit {
  readonly level: number;
  readonly allowUnrated: boolean;
}

/** The limit of a label set on a profile (null: no limit). */
export function limitOf(label: string | null | undefined, allowUnrated: boolean): MaturityLimit | null {
  if (label === null || label === undefined) return null;
  const level = (MATURITY_LIMITS as Record<string, number>)[label];
  return level === undefined ? null : { level, allowUnrated };
}

/** Whether content of this level (null: unrated) may be shown to a caller with this limit (null: none). */
export function allowsLevel(limit: MaturityLimit | null, level: number | null): boolean {
  if (limit === null) return true;
  return level === null ? limit.allowUnrated : level <= limit.level;
}

/** The predicate every list and every read applies: a catalog item's rating against the caller's limit. */
export function allowsRating(limit: MaturityLimit | null, rating: string | null | undefined): boolean {
  return allowsLevel(limit, maturityLevel(rating));
}

/** An episode without a rating of its own carries its series' rating. */
export function effectiveRating(own: string | null | undefined, series: string | null | undefined): string | null {
  return own ?? series ?? null;
}

/** In compact columns (the search index), unrated is stored as this level. */
export const UNRATED_LEVEL = 255;

/**
 * A 256-entry table: `table[level]` is 1 when content of that stored level (UNRATED_LEVEL for
 * unrated) is allowed. A filter over a column of levels is then one array read per document.
 */
export function levelTable(limit: MaturityLimit): Uint8Array {
  const table = new Uint8Array(256);
  for (let level = 0; level <= Math.min(limit.level, MAX_MATURITY_LEVEL); level++) table[level] = 1;
  table[UNRATED_LEVEL] = limit.allowUnrated ? 1 : 0;
  return table;
}

/** Every catalog label key allowed under a limit, for filtering in SQL (`ratingKey` of the column). */
export function allowedRatingKeys(limit: MaturityLimit): string[] {
  return [...LEVEL_BY_KEY].filter(([, level]) => level <= limit.level).map(([key]) => key);
}

/** Every catalog label key on the scale: a key outside it is unrated. */
export const RATED_KEYS: readonly string[] = [...LEVEL_BY_KEY.keys()];
