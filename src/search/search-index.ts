/**
 * The in-memory search index: columns per document, a sorted vocabulary, and posting lists.
 * Documents are stored most popular first, so a document's number is also its popularity rank
 * and every "popular first" walk is a walk in document order.
 */
import type { CatalogItem, ContentKind } from "../domain/catalog";
import { effectiveRating, maturityLevel, UNRATED_LEVEL } from "../domain/maturity";
import { aliasWords, tokenize } from "./text";
import { commonPrefixLengths } from "./typo";

export const KINDS: readonly ContentKind[] = ["movie", "series", "episode"];
export const NO_YEAR = 0;
export const NO_RATING = 0xffff;

/** Everything a snapshot holds: plain arrays and typed arrays, nothing derived. */
export interface IndexData {
  ids: string[];
  titles: string[];
  kinds: Uint8Array;
  /** 0 when unknown. */
  years: Uint16Array;
  /** rating × 100, NO_RATING when unknown. */
  ratings: Uint16Array;
  /** Maturity level (src/domain/maturity.ts), UNRATED_LEVEL when unrated; an episode without one has its series'. */
  maturity: Uint8Array;
  votes: Uint32Array;
  /** Plays from watch history (distinct users) when the index was built. */
  plays: Uint32Array;
  /** Title words counted once per occurrence: how much of a title a query covers. */
  tokenCounts: Uint8Array;
  genreNames: string[];
  genreOffsets: Uint32Array;
  genreValues: Uint16Array;
  platformNames: string[];
  platformOffsets: Uint32Array;
  platformValues: Uint16Array;
  /** Sorted (UTF-16 order) vocabulary of title words. */
  terms: string[];
  postingOffsets: Uint32Array;
  /** For each term, the documents that contain it, ascending. */
  postingDocs: Uint32Array;
  /** Parallel to postingDocs: the first position of the term in the title (capped at 255). */
  postingPositions: Uint8Array;
  /** Curated corrections (misspelled → corrected), normalized. */
  corrections: Record<string, string>;
  /** Weight of one play against one vote in the popularity the documents are ordered by. */
  playWeight: number;
}

export interface BuildOptions {
  plays?: ReadonlyMap<string, number>;
  corrections?: Readonly<Record<string, string>>;
  playWeight?: number;
}

function dictionary(values: (readonly string[])[]): {
  names: string[];
  offsets: Uint32Array;
  codes: Uint16Array;
} {
  const seen = new Set<string>();
  for (const list of values) for (const value of list) seen.add(value);
  const names = [...seen].sort();
  const code = new Map(names.map((name, i) => [name, i]));
  const offsets = new Uint32Array(values.length + 1);
  const codes: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const list = values[i] as readonly string[];
    const start = codes.length;
    for (const value of list) {
      const c = code.get(value) as number;
      if (codes.indexOf(c, start) < 0) codes.push(c);
    }
    offsets[i + 1] = codes.length;
  }
  return { names, offsets, codes: Uint16Array.from(codes) };
}

/** A typed array filled from the documents (TypedArray.from with a mapper is slow in V8). */
function column<T extends Uint8Array | Uint16Array | Uint32Array>(
  make: new (n: number) => T,
  docs: readonly CatalogItem[],
  value: (item: CatalogItem) => number,
): T {
  const out = new make(docs.length);
  for (let i = 0; i < docs.length; i++) out[i] = value(docs[i] as CatalogItem);
  return out;
}

/** Builds the index from catalog items; the result depends only on its inputs. */
export function buildIndexData(items: readonly CatalogItem[], options: BuildOptions = {}): IndexData {
  const playWeight = options.playWeight ?? 1000;
  const playsOf = (id: string) => options.plays?.get(id) ?? 0;
  // Popularity computed once per item, not once per comparison.
  const popularity = Float64Array.from(items, (item) => item.votes + playWeight * playsOf(item.id));
  // Ties go by id: rank the ids once with the native string sort, then compare numbers only.
  const idRank = new Map(
    items
      .map((item) => item.id)
      .sort()
      .map((id, rank) => [id, rank]),
  );
  const ranks = Float64Array.from(items, (item) => idRank.get(item.id) as number);
  const order = Array.from({ length: items.length }, (_, i) => i);
  order.sort(
    (a, b) => (popularity[b] as number) - (popularity[a] as number) || (ranks[a] as number) - (ranks[b] as number),
  );
  const docs = order.map((i) => items[i] as CatalogItem);
  const n = docs.length;

  const termDocs = new Map<string, { docs: number[]; positions: number[] }>();
  const tokenCounts = new Uint8Array(n);
  const add = (word: string, doc: number, position: number) => {
    let entry = termDocs.get(word);
    if (!entry) {
      entry = { docs: [], positions: [] };
      termDocs.set(word, entry);
    }
    // Each document is added once per word, at the word's first position.
    if (entry.docs[entry.docs.length - 1] === doc) return;
    entry.docs.push(doc);
    entry.positions.push(Math.min(255, position));
  };
  docs.forEach((item, doc) => {
    const words = tokenize(item.title);
    tokenCounts[doc] = Math.min(255, words.length);
    for (let position = 0; position < words.length; position++) add(words[position] as string, doc, position);
    if (/['’`]/.test(item.title)) for (const alias of aliasWords(item.title)) add(alias, doc, 255);
  });
  const terms = [...termDocs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const postingOffsets = new Uint32Array(terms.length + 1);
  let total = 0;
  terms.forEach((term, t) => {
    total += (termDocs.get(term) as { docs: number[] }).docs.length;
    postingOffsets[t + 1] = total;
  });
  const postingDocs = new Uint32Array(total);
  const postingPositions = new Uint8Array(total);
  terms.forEach((term, t) => {
    const entry = termDocs.get(term) as { docs: number[]; positions: number[] };
    postingDocs.set(entry.docs, postingOffsets[t] as number);
    postingPositions.set(entry.positions, postingOffsets[t] as number);
  });

  const seriesRatings = new Map(items.filter((i) => i.kind === "series").map((i) => [i.id, i.maturity_rating]));
  const levelOf = (d: CatalogItem) =>
    maturityLevel(effectiveRating(d.maturity_rating, d.series_id ? seriesRatings.get(d.series_id) : null)) ??
    UNRATED_LEVEL;
  const genres = dictionary(docs.map((d) => d.genres));
  const platforms = dictionary(docs.map((d) => d.platforms));
  const corrections: Record<string, string> = {};
  for (const [wrong, right] of Object.entries(options.corrections ?? {})) {
    const from = tokenize(wrong).join(" ");
    const to = tokenize(right).join(" ");
    if (from && to && from !== to) corrections[from] = to;
  }
  return {
    ids: docs.map((d) => d.id),
    titles: docs.map((d) => d.title.replace(/[\r\n]+/g, " ")),
    kinds: column(Uint8Array, docs, (d) => KINDS.indexOf(d.kind)),
    years: column(Uint16Array, docs, (d) => (d.year && d.year > 0 && d.year < 65535 ? d.year : NO_YEAR)),
    ratings: column(Uint16Array, docs, (d) =>
      d.rating === null || !Number.isFinite(d.rating)
        ? NO_RATING
        : Math.max(0, Math.min(65534, Math.round(d.rating * 100))),
    ),
    maturity: column(Uint8Array, docs, levelOf),
    votes: column(Uint32Array, docs, (d) => Math.max(0, Math.min(0xffffffff, Math.floor(d.votes)))),
    plays: column(Uint32Array, docs, (d) => playsOf(d.id)),
    tokenCounts,
    genreNames: genres.names,
    genreOffsets: genres.offsets,
    genreValues: genres.codes,
    platformNames: platforms.names,
    platformOffsets: platforms.offsets,
    platformValues: platforms.codes,
    terms,
    postingOffsets,
    postingDocs,
    postingPositions,
    corrections,
    playWeight,
  };
}

export interface QueryBuffers {
  docs: Uint32Array;
  matched: Uint8Array;
  typos: Uint8Array;
  prefixes: Uint8Array;
  startsWith: Uint8Array;
  kept: Uint32Array;
  scores: Float64Array;
}

/** An index ready to query: the data plus what is derived from it once per load. */
export class SearchIndex {
  readonly size: number;
  /** log-scaled popularity in [0, 1]. */
  readonly popularity: Float32Array;
  /** Shared-prefix lengths of consecutive vocabulary words, for the fuzzy walk. */
  readonly lcp: Uint16Array;
  /** Scratch space for one query at a time (queries run synchronously). */
  readonly mark: Uint32Array;
  readonly code: Uint8Array;
  private generation = 0;
  private buffers: QueryBuffers | null = null;
  private byId: Map<string, number> | null = null;

  constructor(
    readonly data: IndexData,
    readonly version = "unversioned",
  ) {
    const n = data.ids.length;
    this.size = n;
    this.popularity = new Float32Array(n);
    let max = 0;
    for (let d = 0; d < n; d++) max = Math.max(max, data.votes[d]! + data.playWeight * data.plays[d]!);
    const scale = Math.log1p(max) || 1;
    for (let d = 0; d < n; d++)
      this.popularity[d] = Math.log1p(data.votes[d]! + data.playWeight * data.plays[d]!) / scale;
    this.mark = new Uint32Array(n);
    this.code = new Uint8Array(n);
    this.lcp = commonPrefixLengths(data.terms);
  }

  static build(items: readonly CatalogItem[], options?: BuildOptions, version?: string): SearchIndex {
    return new SearchIndex(buildIndexData(items, options), version);
  }

  /** A fresh mark value; wraps around by clearing the marks. */
  nextGeneration(): number {
    if (this.generation >= 0xfffffff0) {
      this.mark.fill(0);
      this.generation = 0;
    }
    return ++this.generation;
  }

  /** Per-query arrays, one slot per document, reused by every query (no garbage per query). */
  queryBuffers(): QueryBuffers {
    if (!this.buffers) {
      const n = this.size;
      this.buffers = {
        docs: new Uint32Array(n),
        matched: new Uint8Array(n),
        typos: new Uint8Array(n),
        prefixes: new Uint8Array(n),
        startsWith: new Uint8Array(n),
        kept: new Uint32Array(n),
        scores: new Float64Array(n),
      };
    }
    return this.buffers;
  }

  /** The document of a content id (undefined when the index does not hold it); the map is built on first use. */
  docOf(id: string): number | undefined {
    if (!this.byId) {
      const ids = this.data.ids;
      this.byId = new Map();
      for (let d = 0; d < ids.length; d++) this.byId.set(ids[d]!, d);
    }
    return this.byId.get(id);
  }

  /** A document's maturity level, null when unrated. */
  maturityLevel(doc: number): number | null {
    const level = this.data.maturity[doc]!;
    return level === UNRATED_LEVEL ? null : level;
  }

  documentFrequency(term: number): number {
    return this.data.postingOffsets[term + 1]! - this.data.postingOffsets[term]!;
  }

  genresOf(doc: number): string[] {
    const { genreOffsets, genreValues, genreNames } = this.data;
    const out: string[] = [];
    for (let i = genreOffsets[doc]!; i < genreOffsets[doc + 1]!; i++) out.push(genreNames[genreValues[i]!]!);
    return out;
  }

  platformsOf(doc: number): string[] {
    const { platformOffsets, platformValues, platformNames } = this.data;
    const out: string[] = [];
    for (let i = platformOffsets[doc]!; i < platformOffsets[doc + 1]!; i++)
      out.push(platformNames[platformValues[i]!]!);
    return out;
  }

  year(doc: number): number | null {
    const y = this.data.years[doc]!;
    return y === NO_YEAR ? null : y;
  }

  rating(doc: number): number | null {
    const r = this.data.ratings[doc]!;
    return r === NO_RATING ? null : r / 100;
  }

  kind(doc: number): ContentKind {
    return KINDS[this.data.kinds[doc]!]!;
  }

  /** The public shape of one document in results. */
  document(doc: number) {
    return {
      id: this.data.ids[doc]!,
      title: this.data.titles[doc]!,
      kind: this.kind(doc),
      year: this.year(doc),
      genres: this.genresOf(doc),
      platforms: this.platformsOf(doc),
      rating: this.rating(doc),
      votes: this.data.votes[doc]!,
    };
  }
}

/** The normalized form a query and a correction key share. */
export const normalizedQuery = (text: string) => tokenize(text).join(" ");
