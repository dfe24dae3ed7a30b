/**
 * The in-memory search index: columns per document, a sorted vocabulary, and posting lists.
 * Documents are stored most popular first, so a document's number is also its popularity rank
 * and every "popular first" walk is a walk in document order.
 */
import type { CatalogItem, ContentKind } from "../domain/catalog";
import { aliasWords, normalizeText, tokenize } from "./text";
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
  const names = [...new Set(values.flat())].sort();
  const code = new Map(names.map((name, i) => [name, i]));
  const offsets = new Uint32Array(values.length + 1);
  const codes: number[] = [];
  values.forEach((list, i) => {
    for (const value of new Set(list)) codes.push(code.get(value) as number);
    offsets[i + 1] = codes.length;
  });
  return { names, offsets, codes: Uint16Array.from(codes) };
}

/** Builds the index from catalog items; the result depends only on its inputs. */
export function buildIndexData(items: readonly CatalogItem[], options: BuildOptions = {}): IndexData {
  const playWeight = options.playWeight ?? 1000;
  const playsOf = (id: string) => options.plays?.get(id) ?? 0;
  const popularity = (item: CatalogItem) => item.votes + playWeight * playsOf(item.id);
  const docs = [...items].sort((a, b) => popularity(b) - popularity(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const n = docs.length;

  const termDocs = new Map<string, { docs: number[]; positions: number[] }>();
  const tokenCounts = new Uint8Array(n);
  docs.forEach((item, doc) => {
    const words = tokenize(item.title);
    tokenCounts[doc] = Math.min(255, words.length);
    const firstPosition = new Map<string, number>();
    words.forEach((word, position) => {
      if (!firstPosition.has(word)) firstPosition.set(word, position);
    });
    for (const alias of aliasWords(item.title)) if (!firstPosition.has(alias)) firstPosition.set(alias, 255);
    for (const [word, position] of firstPosition) {
      let entry = termDocs.get(word);
      if (!entry) {
        entry = { docs: [], positions: [] };
        termDocs.set(word, entry);
      }
      entry.docs.push(doc);
      entry.positions.push(Math.min(255, position));
    }
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
    kinds: Uint8Array.from(docs, (d) => KINDS.indexOf(d.kind)),
    years: Uint16Array.from(docs, (d) => (d.year && d.year > 0 && d.year < 65535 ? d.year : NO_YEAR)),
    ratings: Uint16Array.from(docs, (d) =>
      d.rating === null || !Number.isFinite(d.rating)
        ? NO_RATING
        : Math.max(0, Math.min(65534, Math.round(d.rating * 100))),
    ),
    votes: Uint32Array.from(docs, (d) => Math.max(0, Math.min(0xffffffff, Math.floor(d.votes)))),
    plays: Uint32Array.from(docs, (d) => playsOf(d.id)),
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
  private forward: { offsets: Uint32Array; terms: Uint32Array } | null = null;

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

  documentFrequency(term: number): number {
    return this.data.postingOffsets[term + 1]! - this.data.postingOffsets[term]!;
  }

  /** Terms of each document (ascending term numbers), built on first use. */
  forwardIndex(): { offsets: Uint32Array; terms: Uint32Array } {
    if (this.forward) return this.forward;
    const { postingOffsets, postingDocs, terms } = this.data;
    const counts = new Uint32Array(this.size + 1);
    for (let p = 0; p < postingDocs.length; p++) counts[postingDocs[p]! + 1]!++;
    for (let d = 0; d < this.size; d++) counts[d + 1]! += counts[d]!;
    const offsets = counts.slice();
    const fill = counts.slice(0, this.size);
    const out = new Uint32Array(postingDocs.length);
    for (let t = 0; t < terms.length; t++) {
      for (let p = postingOffsets[t]!; p < postingOffsets[t + 1]!; p++) {
        const doc = postingDocs[p]!;
        out[fill[doc]!++] = t;
      }
    }
    this.forward = { offsets, terms: out };
    return this.forward;
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
export const normalizedQuery = (text: string) => tokenize(normalizeText(text)).join(" ");
