/**
 * The catalog's items and the real development catalog: the 3,201 films of vega-datasets'
 * movies.json, plus generated series with seasons and episodes so that episodes exist.
 */
export type ContentKind = "movie" | "series" | "episode";

export interface CatalogItem {
  id: string;
  kind: ContentKind;
  title: string;
  series_id: string | null;
  season_number: number | null;
  episode_number: number | null;
  year: number | null;
  genres: string[];
  platforms: string[];
  rating: number | null;
  votes: number;
  runtime_minutes: number | null;
  maturity_rating: string | null;
  director: string | null;
  credits_start_seconds: number | null;
}

/** One row of vega-datasets' movies.json (only the fields the catalog uses). */
export interface VegaMovie {
  Title?: string | number | null;
  "Release Date"?: string | null;
  "Major Genre"?: string | null;
  Distributor?: string | null;
  "IMDB Rating"?: number | null;
  "IMDB Votes"?: number | null;
  "Running Time min"?: number | null;
  "MPAA Rating"?: string | null;
  Director?: string | null;
}

export function slug(text: string): string {
  return (
    text
      .normalize("NFKD")
      .replace(/[\u0300-\u036f]/g, "")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 80) || "untitled"
  );
}

/** "Jun 12 1998" → 1998; movies.json also has a few "12-Jun-98"-style dates. */
export function releaseYear(date: string | null | undefined): number | null {
  if (!date) return null;
  const four = /\b(1[89]\d\d|20\d\d)\b/.exec(date);
  if (four) return Number(four[1]);
  const two = /-(\d\d)$/.exec(date);
  if (two) {
    const yy = Number(two[1]);
    return yy > 30 ? 1900 + yy : 2000 + yy;
  }
  return null;
}

/** Films with stable ids (`film-<title>-<year>`), skipping rows without a title. */
export function filmsFromVega(rows: readonly VegaMovie[]): CatalogItem[] {
  const used = new Set<string>();
  const films: CatalogItem[] = [];
  for (const row of rows) {
    if (row.Title === null || row.Title === undefined || String(row.Title).trim() === "") continue;
    const title = String(row.Title).trim();
    const year = releaseYear(row["Release Date"]);
    let id = `film-${slug(title)}${year ? `-${year}` : ""}`;
    for (let n = 2; used.has(id); n++) id = `film-${slug(title)}${year ? `-${year}` : ""}-${n}`;
    used.add(id);
    const runtime = row["Running Time min"] ?? null;
    films.push({
      id,
      kind: "movie",
      title,
      series_id: null,
      season_number: null,
      episode_number: null,
      year,
      genres: row["Major Genre"] ? [row["Major Genre"]] : [],
      platforms: row.Distributor ? [row.Distributor] : [],
      rating: row["IMDB Rating"] ?? null,
      votes: row["IMDB Votes"] ?? 0,
      runtime_minutes: runtime,
      maturity_rating: row["MPAA Rating"] ?? null,
      director: row.Director ?? null,
      credits_start_seconds: runtime ? Math.round(runtime * 60 * 0.96) : null,
    });
  }
  return films;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same catalog everywhere. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERIES_WORDS = [
  [
    "Northern",
    "Silent",
    "Broken",
    "Golden",
    "Hidden",
    "Last",
    "Crimson",
    "Distant",
    "Wild",
    "Quiet",
    "Iron",
    "Midnight",
  ],
  [
    "Harbor",
    "Signal",
    "Kingdom",
    "Frontier",
    "Station",
    "Empire",
    "Garden",
    "Circuit",
    "Valley",
    "Archive",
    "Tide",
    "Orbit",
  ],
];
const SERIES_GENRES = ["Drama", "Comedy", "Thriller/Suspense", "Adventure", "Action", "Documentary", "Horror"];
/**
 * TV ratings as they fall by genre (children's adventure and comedy down to TV-Y, horror at TV-14
 * and up); null is a series nobody rated.
 */
const SERIES_RATINGS: Record<string, readonly (string | null)[]> = {
  Drama: ["TV-PG", "TV-14", "TV-14", "TV-MA", null],
  Comedy: ["TV-Y", "TV-Y7", "TV-G", "TV-PG", "TV-14", "TV-MA"],
  "Thriller/Suspense": ["TV-14", "TV-MA", "TV-MA"],
  Adventure: ["TV-Y", "TV-Y", "TV-Y7", "TV-G", "TV-PG"],
  Action: ["TV-Y7", "TV-PG", "TV-14", "TV-MA"],
  Documentary: ["TV-G", "TV-PG", "TV-14", null],
  Horror: ["TV-14", "TV-MA", "TV-MA"],
};
const SERIES_PLATFORMS = ["Warner Bros.", "Universal", "Paramount Pictures", "Sony Pictures", "Walt Disney Pictures"];

/** `count` series, each with 1-4 seasons of 6-10 episodes, deterministic for a seed. */
export function generateSeries(count: number, seed = 42): CatalogItem[] {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  const items: CatalogItem[] = [];
  const used = new Set<string>();
  for (let s = 0; s < count; s++) {
    let title = `${pick(SERIES_WORDS[0] as string[])} ${pick(SERIES_WORDS[1] as string[])}`;
    if (used.has(title)) title = `${title} ${s}`;
    used.add(title);
    const seriesId = `series-${slug(title)}`;
    const year = 1995 + Math.floor(random() * 30);
    const genres = [pick(SERIES_GENRES)];
    const platforms = [pick(SERIES_PLATFORMS)];
    const rating = Math.round((5 + random() * 4) * 10) / 10;
    const votes = Math.floor(1000 + random() ** 3 * 400_000);
    // One draw, as ever: every other generated value stays what it was.
    const maturity = pick(SERIES_RATINGS[genres[0] as string] ?? ["TV-14"]);
    items.push({
      id: seriesId,
      kind: "series",
      title,
      series_id: null,
      season_number: null,
      episode_number: null,
      year,
      genres,
      platforms,
      rating,
      votes,
      runtime_minutes: null,
      maturity_rating: maturity,
      director: null,
      credits_start_seconds: null,
    });
    const seasons = 1 + Math.floor(random() * 4);
    for (let season = 1; season <= seasons; season++) {
      const episodes = 6 + Math.floor(random() * 5);
      for (let episode = 1; episode <= episodes; episode++) {
        const runtime = 25 + Math.floor(random() * 35);
        items.push({
          id: `${seriesId}-s${String(season).padStart(2, "0")}e${String(episode).padStart(2, "0")}`,
          kind: "episode",
          title: `${title} S${season}E${episode}`,
          series_id: seriesId,
          season_number: season,
          episode_number: episode,
          year: year + season - 1,
          genres,
          platforms,
          rating,
          votes: Math.floor(votes / (season * 2)),
          runtime_minutes: runtime,
          maturity_rating: maturity,
          director: null,
          credits_start_seconds: runtime * 60 - 60,
        });
      }
    }
  }
  return items;
}

/** A series as television has them: its seasons' lengths (as aired so far), specials, episode runtime. */
interface SeriesShape {
  title: string;
  year: number;
  genres: string[];
  platforms: string[];
  maturity: string;
  rating: number;
  votes: number;
  /** Episodes per season, season 1 first; the last may be a season still airing. */
  seasons: number[];
  specials: number;
  runtime: number;
}

/**
 * Series shaped like real ones, beside the generated ones: a long-running sitcom (seasons of
 * 18-24 short episodes), a limited series (one season of five), and a drama whose third season is
 * still airing (4 of its 10 episodes out) with specials in season 0.
 */
const SHAPED_SERIES: SeriesShape[] = [
  {
    title: "Corner Office",
    year: 2011,
    genres: ["Comedy"],
    platforms: ["Universal"],
    maturity: "TV-PG",
    rating: 8.1,
    votes: 310_000,
    seasons: [22, 24, 24, 23, 22, 18],
    specials: 2,
    runtime: 22,
  },
  {
    title: "The Salt Road",
    year: 2022,
    genres: ["Drama"],
    platforms: ["Sony Pictures"],
    maturity: "TV-MA",
    rating: 8.6,
    votes: 95_000,
    seasons: [5],
    specials: 0,
    runtime: 58,
  },
  {
    title: "Night Signal",
    year: 2023,
    genres: ["Thriller/Suspense"],
    platforms: ["Warner Bros."],
    maturity: "TV-14",
    rating: 7.9,
    votes: 140_000,
    seasons: [10, 10, 4],
    specials: 2,
    runtime: 47,
  },
];

function shapedSeries(shape: SeriesShape): CatalogItem[] {
  const seriesId = `series-${slug(shape.title)}`;
  const common = {
    genres: shape.genres,
    platforms: shape.platforms,
    rating: shape.rating,
    maturity_rating: shape.maturity,
    director: null,
  };
  const items: CatalogItem[] = [
    {
      id: seriesId,
      kind: "series",
      title: shape.title,
      series_id: null,
      season_number: null,
      episode_number: null,
      year: shape.year,
      votes: shape.votes,
      runtime_minutes: null,
      credits_start_seconds: null,
      ...common,
    },
  ];
  const seasons = [shape.specials, ...shape.seasons];
  seasons.forEach((count, season) => {
    for (let episode = 1; episode <= count; episode++) {
      const runtime = season === 0 ? shape.runtime + 15 : shape.runtime;
      items.push({
        ...episodeOf(seriesId, shape.title, season, episode),
        year: shape.year + Math.max(0, season - 1),
        votes: Math.floor(shape.votes / (Math.max(1, season) * 2)),
        runtime_minutes: runtime,
        credits_start_seconds: runtime * 60 - 60,
        ...common,
      });
    }
  });
  return items;
}

function episodeOf(seriesId: string, title: string, season: number, episode: number) {
  return {
    id: `${seriesId}-s${String(season).padStart(2, "0")}e${String(episode).padStart(2, "0")}`,
    kind: "episode" as const,
    title: season === 0 ? `${title} Special ${episode}` : `${title} S${season}E${episode}`,
    series_id: seriesId,
    season_number: season,
    episode_number: episode,
  };
}

/**
 * The development catalog's series: `count` generated ones (ids stable for a seed), every fourth
 * of them with one or two specials in season 0, and the shaped ones above.
 */
export function developmentSeries(count: number, seed = 42): CatalogItem[] {
  const generated = generateSeries(count, seed);
  const random = seededRandom(seed + 1);
  const specials: CatalogItem[] = [];
  generated
    .filter((item) => item.kind === "series")
    .forEach((series, i) => {
      if (i % 4 !== 1) return;
      const first = generated.find((e) => e.series_id === series.id) as CatalogItem;
      for (let n = 1; n <= 1 + Math.floor(random() * 2); n++) {
        const runtime = 45 + Math.floor(random() * 30);
        specials.push({
          ...first,
          ...episodeOf(series.id, series.title, 0, n),
          votes: Math.floor(first.votes / 4),
          runtime_minutes: runtime,
          credits_start_seconds: runtime * 60 - 90,
        });
      }
    });
  return [...generated, ...specials, ...SHAPED_SERIES.flatMap(shapedSeries)];
}

const NAME_SYLLABLES = [
  "ka",
  "lo",
  "ri",
  "ven",
  "dor",
  "tha",
  "mi",
  "sar",
  "el",
  "quin",
  "bro",
  "nak",
  "zu",
  "fel",
  "gar",
  "ion",
  "ti",
  "mor",
  "ash",
  "lin",
  "ve",
  "ro",
  "na",
  "bel",
  "cor",
  "dra",
  "es",
  "fin",
  "gra",
  "hal",
  "is",
  "jor",
  "kel",
  "lum",
  "mar",
  "nor",
  "ol",
  "pra",
  "qua",
  "rin",
  "sel",
  "tor",
  "ul",
  "var",
  "wen",
  "xa",
  "yor",
  "zen",
];
const FILLER_WORDS = new Set(["the", "of", "a", "an", "and", "in", "on", "to", "for", "with", "at", "from", "by"]);

/**
 * A catalog of `count` items for scale benchmarks: the given films plus generated movies whose
 * titles mix the films' own words (as often as the films use them) with invented names, so the
 * vocabulary grows the way a real catalog's does. Deterministic for a seed.
 */
export function generateLargeCatalog(films: readonly CatalogItem[], count: number, seed = 7): CatalogItem[] {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  const capital = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);
  const words: string[] = [];
  for (const film of films) {
    for (const w of film.title.toLowerCase().split(/[^a-z]+/)) if (w.length >= 3 && !FILLER_WORDS.has(w)) words.push(w);
  }
  const genres = films.flatMap((f) => f.genres);
  const platforms = films.flatMap((f) => f.platforms);
  const maturity = ["G", "PG", "PG-13", "R", "Not Rated"];
  const name = () => {
    let n = "";
    const syllables = 2 + Math.floor(random() * 2);
    for (let s = 0; s < syllables; s++) n += pick(NAME_SYLLABLES);
    return capital(n);
  };
  const word = () => capital(pick(words));
  // Votes are log-normal, as IMDb's are: most titles have a few hundred, very few a hundred thousand.
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const patterns: (() => string)[] = [
    () => `${word()} ${word()}`,
    () => `The ${word()} ${word()}`,
    () => `${word()} of the ${word()}`,
    () => name(),
    () => `${name()}'s ${word()}`,
    () => `The ${word()} ${2 + Math.floor(random() * 4)}`,
    () => `${word()} ${word()} ${word()}`,
    () => `${name()} and the ${word()}`,
  ];
  const items: CatalogItem[] = [...films];
  for (let i = 0; items.length < count; i++) {
    const runtime = 70 + Math.floor(random() * 110);
    items.push({
      id: `gen-${i}`,
      kind: "movie",
      title: pick(patterns)(),
      series_id: null,
      season_number: null,
      episode_number: null,
      year: 1930 + Math.floor(random() * 95),
      genres: genres.length > 0 ? [pick(genres)] : [],
      platforms: platforms.length > 0 ? [pick(platforms)] : [],
      rating: Math.round((1.5 + random() * 4 + random() * 4) * 10) / 10,
      votes: Math.floor(Math.exp(5.5 + 1.6 * gaussian())),
      runtime_minutes: runtime,
      maturity_rating: pick(maturity),
      director: random() < 0.5 ? `${name()} ${name()}` : null,
      credits_start_seconds: Math.round(runtime * 60 * 0.95),
    });
  }
  return items.slice(0, count);
}
