/** Shared by the series and viewing-record tests: catalog items added through the admin API, and viewing. */
import { expect } from "vitest";
import { type Client, client, tokenFor } from "./helpers";

async function admin() {
  return client(await tokenFor(`admin-${crypto.randomUUID()}`, { role: "admin" }));
}

/** Genres and platforms of their own, so these items never show in another test's search results. */
const privateLabels = () => ({
  genres: [`test-genre-${crypto.randomUUID().slice(0, 8)}`],
  platforms: [`test-platform-${crypto.randomUUID().slice(0, 8)}`],
});

export const episodeId = (seriesId: string, season: number, episode: number) =>
  `${seriesId}-s${String(season).padStart(2, "0")}e${String(episode).padStart(2, "0")}`;

function episodeItem(seriesId: string, season: number, episode: number, labels: object) {
  return {
    id: episodeId(seriesId, season, episode),
    kind: "episode",
    title: `Test Series S${season}E${episode}`,
    series_id: seriesId,
    season_number: season,
    episode_number: episode,
    runtime_minutes: 40,
    // Credits at 38 of 40 minutes, as the development catalog has them.
    credits_start_seconds: 38 * 60,
    ...labels,
  };
}

/**
 * A series of the test's own with `seasons[i]` episodes in season i + 1 (and `specials` in
 * season 0), added through the admin catalog import. Returns its id and a way to add episodes.
 */
export async function addSeries(seasons: number[], opts: { specials?: number } = {}) {
  const id = `series-test-${crypto.randomUUID().slice(0, 12)}`;
  const labels = privateLabels();
  const items: object[] = [{ id, kind: "series", title: `Test Series ${id.slice(-6)}`, ...labels }];
  for (let e = 1; e <= (opts.specials ?? 0); e++) items.push(episodeItem(id, 0, e, labels));
  seasons.forEach((count, s) => {
    for (let e = 1; e <= count; e++) items.push(episodeItem(id, s + 1, e, labels));
  });
  const res = await (await admin()).post("/api/v1/admin/catalog", { items });
  expect(res.status).toBe(200);
  return {
    id,
    ep: (season: number, episode: number) => episodeId(id, season, episode),
    /** Adds an episode to the catalog, as a new one airing would be. */
    addEpisode: async (season: number, episode: number) => {
      const added = await (await admin()).post("/api/v1/admin/catalog", {
        items: [episodeItem(id, season, episode, labels)],
      });
      expect(added.status).toBe(200);
    },
  };
}

/** A film of the test's own; `credits` is where its credits start, in seconds. */
export async function addFilm(opts: { runtimeMinutes: number; credits: number | null }) {
  const id = `film-test-${crypto.randomUUID().slice(0, 12)}`;
  const res = await (await admin()).post("/api/v1/admin/catalog", {
    items: [
      {
        id,
        kind: "movie",
        title: `Test Film ${id.slice(-6)}`,
        runtime_minutes: opts.runtimeMinutes,
        credits_start_seconds: opts.credits,
        ...privateLabels(),
      },
    ],
  });
  expect(res.status).toBe(200);
  return id;
}

/** A session from 0 to `position` (paused there), then closed: what a player does. */
export async function watch(api: Client, contentId: string, position: number, duration = 2400, device = "tv") {
  const session = await api.post("/api/v1/sessions", {
    content_id: contentId,
    device_id: device,
    duration_seconds: duration,
  });
  expect(session.status).toBe(201);
  if (position > 0) {
    const moved = await api.patch(`/api/v1/sessions/${session.json.id}/position`, {
      position_seconds: position,
      playback_state: "paused",
    });
    expect(moved.status).toBe(200);
  }
  expect((await api.delete(`/api/v1/sessions/${session.json.id}`)).status).toBe(204);
  return session.json as { id: string; resume_position_seconds: number | null };
}

/** Watches an episode of 40 minutes to the end. */
export const finish = (api: Client, contentId: string, device = "tv") => watch(api, contentId, 2400, 2400, device);

export async function nextUp(api: Client, query = "") {
  const res = await api.get(`/api/v1/next-up${query}`);
  expect(res.status).toBe(200);
  return res.json.items as {
    series_id: string;
    content_id: string;
    reason: string;
    resume_position_seconds: number | null;
    season_number: number;
    episode_number: number;
  }[];
}
