/**
 * The catalog facts the viewing record needs on every write and read, held at the edge: which
 * series an episode belongs to, the order of a series' episodes, when each was added, and where
 * an item's credits start. Built from the catalog, published as one versioned snapshot, and
 * looked up in memory, so a user's object never asks Postgres on the hot path.
 */

/** One episode in its series' order. */
export interface EpisodeFact {
  id: string;
  title: string;
  series_id: string;
  season: number;
  episode: number;
  /** When the episode entered the catalog, epoch ms. */
  added_at: number;
  /** Position in the series' order (specials, season 0, first). */
  index: number;
}

export interface SeriesFact {
  id: string;
  title: string;
  /** Every episode, by season then episode number (specials, season 0, first). */
  episodes: EpisodeFact[];
  /** Changes whenever the episode list does: a user's cached Next Up is recomputed when it differs. */
  signature: string;
}

/** A catalog row as the facts are built from it. */
export interface FactSource {
  id: string;
  kind: "movie" | "series" | "episode";
  title: string;
  series_id: string | null;
  season_number: number | null;
  episode_number: number | null;
  credits_start_seconds: number | null;
  added_at: number;
}

/** The snapshot as stored: compact arrays, no repeated keys. */
export interface FactsData {
  format: 1;
  /** content id → seconds where its credits start. */
  credits: Record<string, number>;
  /** [series id, title, [[episode id, season, episode, added_at, title], …]] */
  series: [string, string, [string, number, number, number, string][]][];
}

const FORMAT = 1;
const EMPTY_VERSION = "empty";

export function buildFactsData(rows: readonly FactSource[]): FactsData {
  const credits: Record<string, number> = {};
  const titles = new Map<string, string>();
  const episodes = new Map<string, [string, number, number, number, string][]>();
  for (const row of [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (row.credits_start_seconds !== null && row.credits_start_seconds > 0)
      credits[row.id] = row.credits_start_seconds;
    if (row.kind === "series") titles.set(row.id, row.title);
    if (row.kind === "episode" && row.series_id) {
      const list = episodes.get(row.series_id) ?? [];
      list.push([row.id, row.season_number ?? 0, row.episode_number ?? 0, row.added_at, row.title]);
      episodes.set(row.series_id, list);
    }
  }
  const series: FactsData["series"] = [];
  for (const id of [...new Set([...titles.keys(), ...episodes.keys()])].sort()) {
    const list = (episodes.get(id) ?? []).sort((a, b) => a[1] - b[1] || a[2] - b[2] || (a[0] < b[0] ? -1 : 1));
    series.push([id, titles.get(id) ?? id, list]);
  }
  return { format: FORMAT, credits, series };
}

/** The facts in memory, with lookups by content id. */
export class CatalogFacts {
  private readonly episodesById = new Map<string, EpisodeFact>();
  private readonly seriesById = new Map<string, SeriesFact>();
  private readonly credits: Map<string, number>;

  constructor(
    data: FactsData,
    readonly version: string,
  ) {
    if (data.format !== FORMAT) throw new Error(`catalog facts format ${data.format} is not ${FORMAT}`);
    this.credits = new Map(Object.entries(data.credits));
    for (const [id, title, list] of data.series) {
      const episodes = list.map(([episodeId, season, episode, added, episodeTitle], index) => ({
        id: episodeId,
        title: episodeTitle,
        series_id: id,
        season,
        episode,
        added_at: added,
        index,
      }));
      const signature = `${episodes.length}:${episodes.at(-1)?.id ?? ""}:${hash(list.map((e) => e[0]).join(","))}`;
      this.seriesById.set(id, { id, title, episodes, signature });
      for (const e of episodes) this.episodesById.set(e.id, e);
    }
  }

  /** What a user's object works with while no facts could be loaded: every item is a film. */
  static empty(): CatalogFacts {
    return new CatalogFacts({ format: FORMAT, credits: {}, series: [] }, EMPTY_VERSION);
  }

  /** False for the stand-in used while no facts could be loaded. */
  get known(): boolean {
    return this.version !== EMPTY_VERSION;
  }

  episode(contentId: string): EpisodeFact | null {
    return this.episodesById.get(contentId) ?? null;
  }

  series(seriesId: string): SeriesFact | null {
    return this.seriesById.get(seriesId) ?? null;
  }

  /** The series an id stands for: itself when it is a series, its series when it is an episode. */
  seriesOf(contentId: string): SeriesFact | null {
    return this.series(contentId) ?? this.series(this.episode(contentId)?.series_id ?? "");
  }

  /** Where the credits start, in seconds; null when the catalog does not know. */
  creditsStart(contentId: string): number | null {
    return this.credits.get(contentId) ?? null;
  }

  get seriesCount(): number {
    return this.seriesById.size;
  }
}

/** FNV-1a, 32 bits, as hex: a short signature, not a security measure. */
function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16);
}
