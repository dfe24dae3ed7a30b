/**
 * Series-aware viewing: which episode of a series to play now (Next Up), and how far the user is
 * through it (series progress). Pure functions of the catalog's episode order and the user's own
 * record of each episode.
 */
import type { EpisodeFact, SeriesFact } from "./catalog-facts";

/** What the user's record says about one episode. */
export interface EpisodeRecord {
  content_id: string;
  /** The progress register's current viewing is finished. */
  watched: boolean;
  position: number;
  duration: number;
  /** Last activity on the episode, epoch ms. */
  last_watched_at: number;
  /** Completed plays, and when the latest one was (epoch ms). */
  plays: number;
  last_play_at: number | null;
}

export type NextUpReason = "in_progress" | "next_episode" | "new_season" | "new_episode";

export interface NextUpChoice {
  episode: EpisodeFact;
  reason: NextUpReason;
  /** The episode's record, when the user has one (its position gives the resume point). */
  record: EpisodeRecord | null;
}

const finished = (r: EpisodeRecord | undefined) => r !== undefined && (r.plays > 0 || r.watched);
const started = (r: EpisodeRecord | undefined) => r !== undefined && !r.watched && r.position > 0;
const finishedAt = (r: EpisodeRecord) => r.last_play_at ?? r.last_watched_at;

/**
 * The episode to play now, or null when there is none (the series is finished, or never started):
 *  - the episode most recently active, while it is started and not finished (`in_progress`);
 *  - else the episode after the most recently finished one: the first not yet finished, or simply
 *    the next one when that finish was itself a rewatch (two plays or more). Crossing into another
 *    season is `new_season`; an episode added to the catalog after that finish is `new_episode`.
 * Specials (season 0) take no part unless `includeSpecials`.
 */
export function nextUp(
  series: SeriesFact,
  records: ReadonlyMap<string, EpisodeRecord>,
  opts: { includeSpecials: boolean },
): NextUpChoice | null {
  const eligible = (e: EpisodeFact) => opts.includeSpecials || e.season !== 0;
  let latest: EpisodeFact | null = null;
  let anchor: EpisodeFact | null = null;
  for (const episode of series.episodes) {
    const record = records.get(episode.id);
    if (!record || !eligible(episode)) continue;
    const latestRecord = latest && records.get(latest.id);
    if (!latestRecord || record.last_watched_at >= latestRecord.last_watched_at) latest = episode;
    const anchorRecord = anchor && records.get(anchor.id);
    if (finished(record) && (!anchorRecord || finishedAt(record) >= finishedAt(anchorRecord))) anchor = episode;
  }
  if (!latest) return null;
  const latestRecord = records.get(latest.id) as EpisodeRecord;
  if (started(latestRecord) || !anchor) {
    return finished(latestRecord) ? null : { episode: latest, reason: "in_progress", record: latestRecord };
  }
  const anchorRecord = records.get(anchor.id) as EpisodeRecord;
  const rewatching = anchorRecord.plays >= 2;
  for (const episode of series.episodes.slice(anchor.index + 1)) {
    if (!eligible(episode)) continue;
    const record = records.get(episode.id);
    if (!rewatching && finished(record)) continue;
    if (started(record)) return { episode, reason: "in_progress", record: record as EpisodeRecord };
    const reason: NextUpReason =
      episode.season !== anchor.season
        ? "new_season"
        : episode.added_at > finishedAt(anchorRecord)
          ? "new_episode"
          : "next_episode";
    return { episode, reason, record: record ?? null };
  }
  return null;
}

export interface SeasonProgress {
  season_number: number;
  episodes: number;
  completed: number;
  items: {
    content_id: string;
    episode_number: number;
    watched: boolean;
    plays: number;
    last_watched_at: string | null;
  }[];
}

export interface SeriesProgress {
  series_id: string;
  /** Episodes in the catalog, specials left out. */
  episodes: number;
  completed: number;
  percent: number;
  last_watched_at: string | null;
  seasons: SeasonProgress[];
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Per season and overall (specials counted in their own season 0 only): episodes, completed, and each episode's record. */
export function seriesProgress(series: SeriesFact, records: ReadonlyMap<string, EpisodeRecord>): SeriesProgress {
  const seasons = new Map<number, SeasonProgress>();
  let episodes = 0;
  let completed = 0;
  let last: number | null = null;
  for (const episode of series.episodes) {
    const record = records.get(episode.id);
    const watched = finished(record);
    const season = seasons.get(episode.season) ?? {
      season_number: episode.season,
      episodes: 0,
      completed: 0,
      items: [],
    };
    seasons.set(episode.season, season);
    season.episodes++;
    if (watched) season.completed++;
    if (episode.season !== 0) {
      episodes++;
      if (watched) completed++;
    }
    const at = record ? Math.max(record.last_watched_at, record.last_play_at ?? 0) : null;
    if (at !== null && (last === null || at > last)) last = at;
    season.items.push({
      content_id: episode.id,
      episode_number: episode.episode,
      watched,
      plays: record?.plays ?? 0,
      last_watched_at: iso(at),
    });
  }
  return {
    series_id: series.id,
    episodes,
    completed,
    percent: episodes === 0 ? 0 : Math.round((completed / episodes) * 1000) / 10,
    last_watched_at: iso(last),
    seasons: [...seasons.values()],
  };
}
