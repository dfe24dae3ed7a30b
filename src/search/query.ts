/**
 * Query execution over an in-memory index: match (all words, typo-tolerant), filter, facets over
 * the whole match set, rank, and cut one page. Pure and synchronous.
 */
import type { ContentKind } from "../domain/catalog";
import { levelTable, type MaturityLimit } from "../domain/maturity";
import { type GenreAffinity, score, topK, WEIGHTS } from "./ranking";
import { KINDS, NO_RATING, NO_YEAR, type SearchIndex } from "./search-index";
import { isCommonWord, type QueryTerm, resolveQuery } from "./terms";

export interface SearchFilters {
  genres?: readonly string[];
  platforms?: readonly string[];
  kinds?: readonly ContentKind[];
  yearMin?: number;
  yearMax?: number;
  ratingMin?: number;
  /** The caller's maturity limit: what it does not allow is not found, counted or faceted. */
  maturity?: MaturityLimit | null;
}

export interface SearchRequest {
  q: string;
  offset: number;
  limit: number;
  filters?: SearchFilters;
  facets?: boolean;
  affinity?: GenreAffinity | null;
}

export interface FacetValue {
  value: string;
  count: number;
}

export interface Facets {
  genres: FacetValue[];
  platforms: FacetValue[];
  year_range: { min: number | null; max: number | null };
  rating_range: { min: number | null; max: number | null };
}

export interface SearchHit {
  doc: number;
  score: number;
}

export interface SearchOutcome {
  hits: SearchHit[];
  total: number;
  corrected_query: string | null;
  facets: Facets | null;
}

/** Facet lists longer than this keep their largest values. */
export const MAX_FACET_VALUES = 100;

/** Documents matching the query's words, with how each matched (parallel typed arrays). */
export interface MatchSet {
  size: number;
  docs: Uint32Array;
  matched: Uint8Array;
  typos: Uint8Array;
  prefixes: Uint8Array;
  startsWith: Uint8Array;
}

function matchSet(capacity: number): MatchSet {
  return {
    size: 0,
    docs: new Uint32Array(capacity),
    matched: new Uint8Array(capacity),
    typos: new Uint8Array(capacity),
    prefixes: new Uint8Array(capacity),
    startsWith: new Uint8Array(capacity),
  };
}

/**
 * Walks a term's candidates, best first, and leaves in `index.code` the best way each document
 * matches: distance << 3 | prefix << 2 | (not at the title's start). Calls `onFirst` once per
 * document.
 */
function markTerm(index: SearchIndex, term: QueryTerm, onFirst?: (doc: number) => void): number {
  const gen = index.nextGeneration();
  const { mark, code } = index;
  const { postingOffsets, postingDocs, postingPositions } = index.data;
  for (const c of term.candidates) {
    const base = (Math.min(c.distance, 31) << 3) | (c.prefix ? 4 : 0);
    for (let p = postingOffsets[c.lo]!, end = postingOffsets[c.hi]!; p < end; p++) {
      const doc = postingDocs[p]!;
      const value = base | (postingPositions[p] === 0 ? 0 : 1);
      if (mark[doc] !== gen) {
        mark[doc] = gen;
        code[doc] = value;
        onFirst?.(doc);
      } else if (value < code[doc]!) code[doc] = value;
    }
  }
  return gen;
}

/** Documents matching all terms (every term must have candidates). */
export function matchAll(index: SearchIndex, terms: readonly QueryTerm[]): MatchSet {
  const order = [...terms].sort((a, b) => a.postings - b.postings);
  const first = order[0]!;
  const buffers = index.queryBuffers();
  const set: MatchSet = { size: 0, ...buffers };
  markTerm(index, first, (doc) => {
    set.docs[set.size++] = doc;
  });
  const firstIsOpening = first.position === 0;
  for (let i = 0; i < set.size; i++) {
    const c = index.code[set.docs[i]!]!;
    set.matched[i] = 1;
    set.typos[i] = c >> 3;
    set.prefixes[i] = (c >> 2) & 1;
    set.startsWith[i] = firstIsOpening && (c & 1) === 0 ? 1 : 0;
  }
  for (let t = 1; t < order.length && set.size > 0; t++) {
    const term = order[t]!;
    const isOpening = term.position === 0;
    const gen = markTerm(index, term);
    let w = 0;
    for (let r = 0; r < set.size; r++) {
      const doc = set.docs[r]!;
      if (index.mark[doc] !== gen) continue;
      const c = index.code[doc]!;
      set.docs[w] = doc;
      set.matched[w] = set.matched[r]! + 1;
      set.typos[w] = set.typos[r]! + (c >> 3);
      set.prefixes[w] = set.prefixes[r]! + ((c >> 2) & 1);
      set.startsWith[w] = set.startsWith[r]! | (isOpening && (c & 1) === 0 ? 1 : 0);
      w++;
    }
    set.size = w;
  }
  return set;
}

/**
 * When no document has every word: the documents with the most words, down to one word, never
 * counting a match on common words alone.
 */
function matchMost(index: SearchIndex, terms: readonly QueryTerm[]): MatchSet {
  const found = new Map<
    number,
    { matched: number; typos: number; prefixes: number; startsWith: number; rare: boolean }
  >();
  for (const term of terms) {
    const common = isCommonWord(index, term);
    const docs: number[] = [];
    markTerm(index, term, (doc) => docs.push(doc));
    for (const doc of docs) {
      const c = index.code[doc]!;
      let entry = found.get(doc);
      if (!entry) {
        entry = { matched: 0, typos: 0, prefixes: 0, startsWith: 0, rare: false };
        found.set(doc, entry);
      }
      entry.matched++;
      entry.typos += c >> 3;
      entry.prefixes += (c >> 2) & 1;
      if (term.position === 0 && (c & 1) === 0) entry.startsWith = 1;
      if (!common) entry.rare = true;
    }
  }
  const set = matchSet(found.size);
  for (let need = terms.length - 1; need >= 1 && set.size === 0; need--) {
    for (const [doc, e] of found) {
      if (e.matched < need || !e.rare) continue;
      const i = set.size++;
      set.docs[i] = doc;
      set.matched[i] = e.matched;
      set.typos[i] = Math.min(255, e.typos);
      set.prefixes[i] = e.prefixes;
      set.startsWith[i] = e.startsWith;
    }
  }
  return set;
}

/** The document filter, or null when nothing is filtered. */
function documentFilter(index: SearchIndex, filters: SearchFilters | undefined): ((doc: number) => boolean) | null {
  if (!filters) return null;
  const checks: ((doc: number) => boolean)[] = [];
  const { data } = index;
  const valueFilter = (
    wanted: readonly string[] | undefined,
    names: string[],
    offsets: Uint32Array,
    values: Uint16Array,
  ) => {
    if (!wanted || wanted.length === 0) return;
    const allowed = new Uint8Array(names.length);
    for (const w of wanted) {
      const i = names.indexOf(w);
      if (i >= 0) allowed[i] = 1;
    }
    checks.push((doc) => {
      for (let i = offsets[doc]!; i < offsets[doc + 1]!; i++) if (allowed[values[i]!]) return true;
      return false;
    });
  };
  valueFilter(filters.genres, data.genreNames, data.genreOffsets, data.genreValues);
  valueFilter(filters.platforms, data.platformNames, data.platformOffsets, data.platformValues);
  if (filters.kinds && filters.kinds.length > 0) {
    const allowed = new Set(filters.kinds.map((k) => KINDS.indexOf(k)));
    checks.push((doc) => allowed.has(data.kinds[doc]!));
  }
  const { yearMin, yearMax, ratingMin } = filters;
  if (yearMin !== undefined) checks.push((doc) => data.years[doc] !== NO_YEAR && data.years[doc]! >= yearMin);
  if (yearMax !== undefined) checks.push((doc) => data.years[doc] !== NO_YEAR && data.years[doc]! <= yearMax);
  if (ratingMin !== undefined) {
    const min = Math.round(ratingMin * 100);
    checks.push((doc) => data.ratings[doc] !== NO_RATING && data.ratings[doc]! >= min);
  }
  if (filters.maturity) {
    // One table read per document: the limit costs what a kind filter costs.
    const allowed = levelTable(filters.maturity);
    const levels = data.maturity;
    checks.push((doc) => allowed[levels[doc]!] === 1);
  }
  if (checks.length === 0) return null;
  if (checks.length === 1) return checks[0]!;
  if (checks.length === 2) {
    const [first, second] = checks as [(doc: number) => boolean, (doc: number) => boolean];
    return (doc) => first(doc) && second(doc);
  }
  return (doc) => checks.every((check) => check(doc));
}

function sortedFacet(names: readonly string[], counts: Uint32Array): FacetValue[] {
  const out: FacetValue[] = [];
  counts.forEach((count, i) => {
    if (count > 0) out.push({ value: names[i]!, count });
  });
  out.sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  return out.slice(0, MAX_FACET_VALUES);
}

/** Genre and platform counts and year/rating ranges over every matching document. */
export function computeFacets(index: SearchIndex, docs: ArrayLike<number>): Facets {
  const { data } = index;
  const genres = new Uint32Array(data.genreNames.length);
  const platforms = new Uint32Array(data.platformNames.length);
  let yearMin = Number.POSITIVE_INFINITY;
  let yearMax = Number.NEGATIVE_INFINITY;
  let ratingMin = Number.POSITIVE_INFINITY;
  let ratingMax = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < docs.length; i++) {
    const doc = docs[i]!;
    for (let g = data.genreOffsets[doc]!; g < data.genreOffsets[doc + 1]!; g++) genres[data.genreValues[g]!]!++;
    for (let p = data.platformOffsets[doc]!; p < data.platformOffsets[doc + 1]!; p++)
      platforms[data.platformValues[p]!]!++;
    const year = data.years[doc]!;
    if (year !== NO_YEAR) {
      if (year < yearMin) yearMin = year;
      if (year > yearMax) yearMax = year;
    }
    const rating = data.ratings[doc]!;
    if (rating !== NO_RATING) {
      if (rating < ratingMin) ratingMin = rating;
      if (rating > ratingMax) ratingMax = rating;
    }
  }
  const finite = (v: number, scale = 1) => (Number.isFinite(v) ? v / scale : null);
  return {
    genres: sortedFacet(data.genreNames, genres),
    platforms: sortedFacet(data.platformNames, platforms),
    year_range: { min: finite(yearMin), max: finite(yearMax) },
    rating_range: { min: finite(ratingMin, 100), max: finite(ratingMax, 100) },
  };
}

/** The document's best genre weight (genres the user has no weight for count 0); 0 without genres. */
function affinityOf(index: SearchIndex, doc: number, affinity: GenreAffinity | null | undefined): number {
  if (!affinity || affinity.size === 0) return 0;
  const { genreOffsets, genreValues, genreNames } = index.data;
  const start = genreOffsets[doc]!;
  const end = genreOffsets[doc + 1]!;
  if (start === end) return 0;
  let best = Number.NEGATIVE_INFINITY;
  for (let g = start; g < end; g++) {
    const weight = affinity.get(genreNames[genreValues[g]!]!) ?? 0;
    if (weight > best) best = weight;
  }
  return best;
}

/** Which vocabulary word the best document matched for each fuzzy query word. */
function replacementsFor(index: SearchIndex, terms: readonly QueryTerm[], doc: number): Map<string, string> {
  const { postingOffsets, postingDocs, terms: vocabulary } = index.data;
  const contains = (t: number) => {
    let lo = postingOffsets[t]!;
    const end = postingOffsets[t + 1]!;
    let hi = end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (postingDocs[mid]! < doc) lo = mid + 1;
      else hi = mid;
    }
    return lo < end && postingDocs[lo] === doc;
  };
  const out = new Map<string, string>();
  for (const term of terms) {
    for (const c of term.candidates) {
      if (c.prefix) continue;
      if (!contains(c.lo)) continue;
      if (c.distance > 0) out.set(term.text, vocabulary[c.lo]!);
      break;
    }
  }
  return out;
}

/** Runs one search: the page of hits, the exact total, the correction and the facets. */
export function search(index: SearchIndex, request: SearchRequest): SearchOutcome {
  const query = resolveQuery(index, request.q, "strict");
  if (query.terms.length === 0) return browse(index, request);
  let terms = query.terms.filter((t) => t.candidates.length > 0);
  const dropped = query.terms.length - terms.length;
  const filter = documentFilter(index, request.filters);

  let set = matchSet(0);
  if (terms.length > 0 && !(dropped > 0 && terms.every((t) => isCommonWord(index, t)))) {
    set = matchAll(index, terms);
    if (set.size === 0) {
      // Known words may be typos of other known words ("forest gump"): widen them and retry.
      const expanded = resolveQuery(index, request.q, "expand").terms.filter((t) => t.candidates.length > 0);
      const widened = matchAll(index, expanded);
      if (widened.size > 0) {
        set = widened;
        terms = expanded;
      } else if (terms.length > 1) {
        set = matchMost(index, terms);
      }
    }
  }

  const queryWords = query.words.length;
  const termCount = terms.length;
  const { kept, scores } = index.queryBuffers();
  const { tokenCounts } = index.data;
  let total = 0;
  for (let i = 0; i < set.size; i++) {
    const doc = set.docs[i]!;
    if (filter && !filter(doc)) continue;
    const typos = set.typos[i]!;
    const prefixes = set.prefixes[i]!;
    const titleWords = tokenCounts[doc]! || 1;
    kept[total] = doc;
    scores[total] = score(
      {
        matched: set.matched[i]!,
        typos,
        prefixes,
        exactTitle: typos === 0 && prefixes === 0 && set.matched[i] === termCount && titleWords === queryWords,
        coverage: Math.min(1, queryWords / titleWords),
        startsWith: set.startsWith[i] === 1,
      },
      index.popularity[doc]!,
      affinityOf(index, doc, request.affinity),
    );
    total++;
  }
  const docs = kept.subarray(0, total);
  const ranked = scores.subarray(0, total);
  const best = topK(ranked, docs, request.offset + request.limit);
  const hits = best.slice(request.offset).map((i) => ({ doc: docs[i]!, score: ranked[i]! }));

  let corrected: string | null = null;
  const top = best[0];
  if (top !== undefined) {
    const replacements = replacementsFor(index, terms, docs[top]!);
    const searchedTexts = new Set(terms.map((t) => t.text));
    const searched = query.words
      .filter((w) => searchedTexts.has(w))
      .map((w) => replacements.get(w) ?? w)
      .join(" ");
    if (searched !== query.typed.join(" ")) corrected = searched;
  }
  return {
    hits,
    total,
    corrected_query: corrected,
    facets: request.facets === false ? null : computeFacets(index, docs),
  };
}

/** No words: every document that passes the filters, most popular first (or by affinity). */
function browse(index: SearchIndex, request: SearchRequest): SearchOutcome {
  const filter = documentFilter(index, request.filters);
  const want = request.offset + request.limit;
  const personal = request.affinity && request.affinity.size > 0 ? request.affinity : null;
  const { kept: docs, scores } = index.queryBuffers();
  let total = 0;
  for (let doc = 0; doc < index.size; doc++) if (!filter || filter(doc)) docs[total++] = doc;
  const matching = docs.subarray(0, total);
  let hits: SearchHit[];
  const scoreOf = (doc: number) =>
    WEIGHTS.popularity * index.popularity[doc]! + (personal ? WEIGHTS.affinity * affinityOf(index, doc, personal) : 0);
  if (!personal) {
    // Documents are stored most popular first: the page is a slice.
    hits = Array.from(matching.subarray(request.offset, want), (doc) => ({ doc, score: scoreOf(doc) }));
  } else {
    for (let i = 0; i < total; i++) scores[i] = scoreOf(matching[i]!);
    const ranked = scores.subarray(0, total);
    hits = topK(ranked, matching, want)
      .slice(request.offset)
      .map((i) => ({ doc: matching[i]!, score: ranked[i]! }));
  }
  return {
    hits,
    total,
    corrected_query: null,
    facets: request.facets === false ? null : computeFacets(index, matching),
  };
}
