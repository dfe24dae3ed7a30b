/**
 * Whether a content id is in the catalog, answered from the search index this isolate already
 * holds (a KV snapshot of the whole catalog, re-checked every SEARCH_VERSION_CHECK_SECONDS): no
 * Postgres round trip. A write that names content the catalog does not hold is a 404, so a
 * client's typo never becomes a history row. When no index can be had at all (no snapshot yet
 * and Postgres down), writes are let through rather than refused: availability of writes wins.
 */
import { HttpProblem } from "../contracts/problems";
import type { AppContext } from "../env";
import type { SearchIndex } from "../search/search-index";
import { currentSearchIndex, SearchUnavailableError } from "../search/store";

const idSets = new WeakMap<SearchIndex, Set<string>>();

function idsOf(index: SearchIndex): Set<string> {
  let ids = idSets.get(index);
  if (!ids) {
    ids = new Set(index.data.ids);
    idSets.set(index, ids);
  }
  return ids;
}

/** The catalog's ids, or null when no index can be had right now. */
async function catalogIds(c: AppContext): Promise<Set<string> | null> {
  try {
    return idsOf(await currentSearchIndex(c.env, c.var.config));
  } catch (error) {
    if (!(error instanceof SearchUnavailableError)) throw error;
    console.error("content check skipped: no catalog index", error.message);
    return null;
  }
}

/** The ids of `ids` the catalog does not hold (none when the catalog cannot be consulted). */
export async function unknownContentIds(c: AppContext, ids: readonly string[]): Promise<string[]> {
  const known = await catalogIds(c);
  return known ? ids.filter((id) => !known.has(id)) : [];
}

/** The 404 of content the catalog does not hold; `errors` names where each unknown id was given. */
export const contentNotFound = (unknown: { path: string; id: string }[]) =>
  new HttpProblem(
    404,
    "content-not-found",
    unknown.length === 1
      ? `no content "${unknown[0]?.id}" in the catalog`
      : `${unknown.length} content ids are not in the catalog`,
    { errors: unknown.map(({ path, id }) => ({ path, message: `unknown content id "${id}"` })) },
  );

/** Throws the 404 unless the catalog holds `id`; `path` names the field or parameter that gave it. */
export async function requireKnownContent(c: AppContext, id: string, path = "content_id"): Promise<void> {
  if ((await unknownContentIds(c, [id])).length > 0) throw contentNotFound([{ path, id }]);
}

/** Whether the catalog holds `id` (true when the catalog cannot be consulted). */
export async function isKnownContent(c: AppContext, id: string): Promise<boolean> {
  return (await unknownContentIds(c, [id])).length === 0;
}
