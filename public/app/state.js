/**
 * The client's picture of the signed-in user's state, fed by REST reads and by the live sync
 * socket. Views subscribe and re-render the parts that changed.
 */

import { ApiError, api } from "./api.js";
import { titleFromId } from "./format.js";

export const state = {
  /** Which parts of the API this server has (from its OpenAPI document). */
  features: {},
  /** This tab is one device of the user: its id lives as long as the tab. */
  deviceId: tabDeviceId(),
  /** content_id → watchlist item ({content_id, added_at, tags}). */
  watchlist: new Map(),
  /** content_id → progress item (resume point, completion, last_watched_at). */
  progress: new Map(),
  /** device_id → device (with is_online, last_seen). */
  devices: new Map(),
  /** Continue watching as the server groups it: films in progress and one card per series. */
  continueWatching: [],
  /** Next Up: one episode per series. */
  nextUp: [],
  /** content_id → the user's rating, 1-10. */
  ratings: new Map(),
};

const listeners = new Set();

/**
 * `listener(topic)` runs after each change: "watchlist", "progress", "devices", "titles", "live",
 * "next-up", "ratings".
 */
export function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function changed(topic) {
  for (const listener of listeners) listener(topic);
}

function tabDeviceId() {
  const key = "mg.device_id";
  let id = sessionStorage.getItem(key);
  if (!id) {
    id = `web-${crypto.randomUUID().slice(0, 8)}`;
    sessionStorage.setItem(key, id);
  }
  return id;
}

/** Which endpoints exist: other parts of the service may be deployed later than this page. */
export async function detectFeatures() {
  let paths = {};
  try {
    const response = await fetch("/openapi.json");
    if (response.ok) paths = (await response.json()).paths ?? {};
  } catch {
    // Without the document, assume everything is there and let each call say otherwise.
    paths = null;
  }
  const has = (path) => paths === null || path in paths;
  state.features = {
    accounts: has("/api/v1/auth/login"),
    search: has("/api/v1/search"),
    autocomplete: has("/api/v1/autocomplete"),
    content: has("/api/v1/content/{id}"),
    catalog: has("/api/v1/content"),
    trending: has("/api/v1/trending"),
    watchlist: has("/api/v1/sync/watchlist"),
    devices: has("/api/v1/devices"),
    live: has("/api/v1/sync/ws"),
    recommendations: has("/api/v1/recommendations"),
    continueWatching: has("/api/v1/continue-watching"),
    nextUp: has("/api/v1/next-up"),
    ratings: has("/api/v1/ratings"),
    webhooks: has("/api/v1/webhooks"),
  };
  return state.features;
}

// ---- catalog titles: remembered from every list that names them, else asked for ----

const titles = new Map();
const pending = new Map();

/** Remembers what a search result, a suggestion or a recommendation says about a title. */
export function rememberTitle(item) {
  const id = item.id ?? item.content_id;
  if (!id) return;
  const known = titles.get(id) ?? {};
  titles.set(id, {
    ...known,
    id,
    title: item.title ?? item.text ?? known.title,
    kind: item.kind ?? item.type ?? known.kind,
    year: item.year ?? known.year ?? null,
    genres: item.genres ?? known.genres ?? [],
    rating: item.rating ?? known.rating ?? null,
    runtime_minutes: item.runtime_minutes ?? known.runtime_minutes ?? null,
    series_id: item.series_id ?? known.series_id ?? null,
    complete: known.complete || "runtime_minutes" in item,
  });
}

/** What is known about a title right now (never waits). */
export function knownTitle(id) {
  return titles.get(id) ?? { id, title: titleFromId(id), kind: null, year: null, genres: [] };
}

/** The catalog entry of a title, asked of the server once when only part of it is known. */
export async function describeTitle(id) {
  const known = titles.get(id);
  if (known?.complete || !state.features.content) return knownTitle(id);
  if (!pending.has(id)) {
    pending.set(
      id,
      // With the token: a profile's maturity limit decides what it may read.
      api("GET", `/content/${encodeURIComponent(id)}`)
        .then((item) => {
          rememberTitle(item);
          changed("titles");
        })
        .catch((error) => {
          // Above this profile's maturity limit (kept in its state, e.g. from before the limit): not shown.
          if (error instanceof ApiError && error.status === 403) {
            titles.set(id, { ...knownTitle(id), restricted: true, complete: true });
            changed("titles");
          }
        })
        .finally(() => pending.delete(id)),
    );
  }
  await pending.get(id);
  return knownTitle(id);
}

/** Asks for the titles of ids that only lists of ids name (watchlist, continue watching). */
export function fillTitles(ids) {
  for (const id of ids) if (!titles.get(id)?.complete) void describeTitle(id);
}
