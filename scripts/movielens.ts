/**
 * MovieLens ml-latest-small (100,004 ratings by 671 users on 9,066 films), as Debian's
 * `r-cran-dslabs` ships it. Its license forbids redistribution, so the data is made at run time
 * into a git-ignored cache and never committed: `npx tsx scripts/movielens.ts` installs the
 * package when it is missing (as root, through apt-get), exports the data frame and prints what
 * it holds.
 *
 * The `movielens` data frame has one row per rating: movieId, title (without the year), year,
 * genres ("Action|Adventure", or "(no genres listed)"), userId, rating (0.5 to 5 in half stars),
 * timestamp (epoch seconds). A few films have no title and no year (R's NA).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CatalogItem } from "../src/domain/catalog";

export interface MovieLensFilm {
  movieId: number;
  title: string | null;
  year: number | null;
  genres: string[];
}

export interface MovieLensRating {
  userId: number;
  movieId: number;
  /** 0.5 to 5 stars. */
  rating: number;
  /** Epoch seconds. */
  timestamp: number;
}

export interface MovieLens {
  /** Every rated film, by ascending movieId. */
  films: MovieLensFilm[];
  /** In the data frame's order (by user, then movieId). */
  ratings: MovieLensRating[];
}

const here = dirname(fileURLToPath(import.meta.url));
/** Where the exported CSV lives unless MOVIELENS_CSV names a file; `.cache/` is git-ignored. */
export const DEFAULT_CACHE = resolve(here, "../.cache/movielens/ml.csv");
export const INSTALL_COMMAND = "apt-get install -y --no-install-recommends r-cran-dslabs";
const EXPORT_EXPRESSION = 'library(dslabs);data(movielens);write.csv(movielens,"ml.csv",row.names=FALSE)';

export class MovieLensUnavailable extends Error {
  override name = "MovieLensUnavailable";
}

export interface EnsureOptions {
  /** The CSV to find or make; default MOVIELENS_CSV, else the cache. */
  file?: string;
  /** Install r-cran-dslabs through apt-get when it is missing (root only); default true. */
  install?: boolean;
  log?: (line: string) => void;
}

function run(command: string, args: string[], cwd?: string): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: "utf8" });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}`.trim() };
}

const hasDslabs = () => run("Rscript", ["-e", "library(dslabs)"]).ok;

/** The CSV's path, exporting it first (and installing r-cran-dslabs) when it is not there yet. */
export function ensureMovieLens(options: EnsureOptions = {}): string {
  const file = resolve(options.file ?? process.env.MOVIELENS_CSV ?? DEFAULT_CACHE);
  const log = options.log ?? ((line: string) => console.error(line));
  if (existsSync(file)) return file;
  if (!hasDslabs()) {
    const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
    const canInstall = (options.install ?? true) && isRoot && run("sh", ["-c", "command -v apt-get"]).ok;
    const howTo = `MovieLens comes from Debian's r-cran-dslabs, which is not installed: run \`${INSTALL_COMMAND}\` as root, then this again`;
    if (!canInstall) throw new MovieLensUnavailable(howTo);
    log(`movielens: installing r-cran-dslabs (${INSTALL_COMMAND}) ...`);
    let installed = run("sh", ["-c", `DEBIAN_FRONTEND=noninteractive ${INSTALL_COMMAND}`]);
    if (!installed.ok) {
      log("movielens: the install failed; refreshing the package lists (apt-get update) and trying again ...");
      run("apt-get", ["update", "-qq"]);
      installed = run("sh", ["-c", `DEBIAN_FRONTEND=noninteractive ${INSTALL_COMMAND}`]);
    }
    if (!installed.ok || !hasDslabs()) {
      throw new MovieLensUnavailable(`${howTo}\n${installed.output.split("\n").slice(-5).join("\n")}`);
    }
  }
  log(`movielens: exporting dslabs' movielens data frame to ${file} ...`);
  // Export into a scratch folder beside the target, then move: a broken export never looks cached.
  const scratch = `${file}.export`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const exported = run("Rscript", ["-e", EXPORT_EXPRESSION], scratch);
  if (!exported.ok || !existsSync(join(scratch, "ml.csv"))) {
    rmSync(scratch, { recursive: true, force: true });
    throw new MovieLensUnavailable(`the Rscript export failed:\n${exported.output}`);
  }
  renameSync(join(scratch, "ml.csv"), file);
  rmSync(scratch, { recursive: true, force: true });
  return file;
}

/**
 * The rows of R's `write.csv`: fields separated by commas, strings in double quotes (a quote
 * inside doubled), missing values as a bare NA, which comes back as null.
 */
export function parseRCsv(text: string): (string | null)[][] {
  const rows: (string | null)[][] = [];
  let row: (string | null)[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let value: string | null;
    if (text[i] === '"') {
      let out = "";
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) throw new Error("unterminated quoted field");
        out += text.slice(i, quote);
        i = quote + 1;
        if (text[i] === '"') {
          out += '"';
          i++;
        } else break;
      }
      value = out;
    } else {
      let end = i;
      while (end < n && text[end] !== "," && text[end] !== "\n" && text[end] !== "\r") end++;
      const raw = text.slice(i, end);
      value = raw === "NA" ? null : raw;
      i = end;
    }
    row.push(value);
    if (text[i] === ",") {
      i++;
    } else {
      if (text[i] === "\r") i++;
      if (text[i] === "\n") i++;
      rows.push(row);
      row = [];
    }
  }
  if (row.length > 0) rows.push(row);
  return rows;
}

const COLUMNS = ["movieId", "title", "year", "genres", "userId", "rating", "timestamp"] as const;

/** Films and ratings from the exported CSV; throws on a file that is not the data frame. */
export function parseMovieLens(text: string): MovieLens {
  const [header, ...rows] = parseRCsv(text);
  if (!header || COLUMNS.some((name, i) => header[i] !== name)) {
    throw new Error(`not dslabs' movielens export: columns ${JSON.stringify(header)}, expected ${COLUMNS.join(",")}`);
  }
  const films = new Map<number, MovieLensFilm>();
  const ratings: MovieLensRating[] = [];
  for (const [line, row] of rows.entries()) {
    const [movieId, title, year, genres, userId, rating, timestamp] = row;
    const numbers = [Number(movieId), Number(userId), Number(rating), Number(timestamp)];
    if (row.length !== COLUMNS.length || numbers.some((x) => !Number.isFinite(x))) {
      throw new Error(`row ${line + 2} of the MovieLens export is malformed: ${JSON.stringify(row)}`);
    }
    const id = numbers[0] as number;
    if (!films.has(id)) {
      films.set(id, {
        movieId: id,
        title: title ?? null,
        year: year === null ? null : Number(year),
        genres: genres && genres !== "(no genres listed)" ? genres.split("|") : [],
      });
    }
    ratings.push({
      movieId: id,
      userId: numbers[1] as number,
      rating: numbers[2] as number,
      timestamp: numbers[3] as number,
    });
  }
  return { films: [...films.values()].sort((a, b) => a.movieId - b.movieId), ratings };
}

/**
 * A rating as a view: 4 stars or more a finished film, 2 or less one abandoned early, in between
 * one stopped partway.
 */
export function viewOfRating(stars: number): { completion: number; watched: boolean } {
  if (stars >= 4) return { completion: 1, watched: true };
  return stars <= 2 ? { completion: 0.2, watched: false } : { completion: 0.6, watched: false };
}

/** The content id of a MovieLens film in catalogs made from it. */
export const movieLensContentId = (movieId: number) => `ml-${movieId}`;

/** The films as catalog items (genres and year are all MovieLens knows); `votes` by movieId, 0 when absent. */
export function movieLensCatalog(films: readonly MovieLensFilm[], votes?: ReadonlyMap<number, number>): CatalogItem[] {
  return films.map((film) => ({
    id: movieLensContentId(film.movieId),
    kind: "movie",
    title: film.title ?? `MovieLens film ${film.movieId}`,
    series_id: null,
    season_number: null,
    episode_number: null,
    year: film.year,
    genres: film.genres,
    platforms: [],
    rating: null,
    votes: votes?.get(film.movieId) ?? 0,
    runtime_minutes: null,
    maturity_rating: null,
    director: null,
    credits_start_seconds: null,
  }));
}

/** MovieLens, made available first when needed. */
export function loadMovieLens(options: EnsureOptions = {}): MovieLens {
  return parseMovieLens(readFileSync(ensureMovieLens(options), "utf8"));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const started = performance.now();
    const data = loadMovieLens({ install: !process.argv.includes("--no-install") });
    const users = new Set(data.ratings.map((r) => r.userId)).size;
    const positives = data.ratings.filter((r) => r.rating >= 4).length;
    const times = data.ratings.map((r) => r.timestamp);
    const day = (s: number) => new Date(s * 1000).toISOString().slice(0, 10);
    console.log(
      `MovieLens ml-latest-small at ${ensureMovieLens({ install: false })}: ${data.ratings.length} ratings ` +
        `(${positives} of 4 stars or more) by ${users} users on ${data.films.length} films, ` +
        `${day(Math.min(...times))} to ${day(Math.max(...times))}; read in ${(performance.now() - started).toFixed(0)} ms`,
    );
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
