/**
 * From typed words to vocabulary candidates: the curated corrections, exact words, short-word
 * transpositions ("teh" → "the"), Damerau–Levenshtein neighbours within the length budget, and
 * prefixes for the word being typed.
 */
import type { SearchIndex } from "./search-index";
import { tokenize } from "./text";
import { adjacentTranspositions, findTerm, fuzzyTerms, prefixRange, prefixTypoBudget, typoBudget } from "./typo";

/** Words of a query beyond this are ignored: no title needs more, and each costs a lookup. */
export const MAX_QUERY_TERMS = 12;

/** A set of vocabulary words [lo, hi) that all match a query word the same way. */
export interface Candidate {
  lo: number;
  hi: number;
  distance: number;
  prefix: boolean;
}

export interface QueryTerm {
  /** The word as it is searched (after a curated correction). */
  text: string;
  /** Position of the word in the query. */
  position: number;
  /** True when the curated spell_corrections table supplied this word. */
  curated: boolean;
  candidates: Candidate[];
  /** Postings the candidates cover: the cost of this word and how common it is. */
  postings: number;
}

export type ResolveMode = "strict" | "expand" | "autocomplete";

/** The query's words after curated corrections: whole query first, then word by word. */
export function curatedWords(index: SearchIndex, q: string): { words: string[]; curated: boolean[] } {
  const typed = tokenize(q).slice(0, MAX_QUERY_TERMS);
  const table = index.data.corrections;
  const whole = table[typed.join(" ")];
  if (whole !== undefined) {
    const words = whole.split(" ");
    return { words, curated: words.map(() => true) };
  }
  const words: string[] = [];
  const curated: boolean[] = [];
  for (const word of typed) {
    const replacement = table[word];
    for (const w of replacement === undefined ? [word] : replacement.split(" ")) {
      words.push(w);
      curated.push(replacement !== undefined);
    }
  }
  return { words: words.slice(0, MAX_QUERY_TERMS), curated: curated.slice(0, MAX_QUERY_TERMS) };
}

function postingsOf(index: SearchIndex, candidates: readonly Candidate[]): number {
  const offsets = index.data.postingOffsets;
  let total = 0;
  for (const c of candidates) total += offsets[c.hi]! - offsets[c.lo]!;
  return total;
}

function single(term: number, distance: number): Candidate {
  return { lo: term, hi: term + 1, distance, prefix: false };
}

/** Candidates for one word; `last` marks the word still being typed. */
export function resolveWord(index: SearchIndex, word: string, last: boolean, mode: ResolveMode): Candidate[] {
  const terms = index.data.terms;
  const exact = findTerm(terms, word);
  const candidates: Candidate[] = [];
  if (mode === "autocomplete" && last) {
    const [lo, hi] = prefixRange(terms, word);
    if (hi > lo) candidates.push({ lo, hi, distance: 0, prefix: true });
    const budget = prefixTypoBudget(word.length);
    if (budget > 0) {
      for (const f of fuzzyTerms(terms, word, budget, { prefix: true, fixed: 2, lcp: index.lcp })) {
        if (f.term < lo || f.term >= hi)
          candidates.push({ lo: f.term, hi: f.term + 1, distance: f.distance, prefix: true });
      }
    }
    return candidates;
  }
  if (exact >= 0) {
    candidates.push(single(exact, 0));
    if (mode !== "expand") return candidates;
  }
  if (word.length < 5) {
    // Short words get no edit budget, only a swap of two letters that gives a known word.
    if (exact < 0) {
      for (const swapped of adjacentTranspositions(word)) {
        const t = findTerm(terms, swapped);
        if (t >= 0) candidates.push(single(t, 1));
      }
    }
  } else {
    for (const f of fuzzyTerms(terms, word, typoBudget(word.length), { lcp: index.lcp })) {
      if (f.term !== exact) candidates.push(single(f.term, f.distance));
    }
  }
  if (last && exact < 0 && word.length >= 3) {
    const [lo, hi] = prefixRange(terms, word);
    if (hi > lo) candidates.push({ lo, hi, distance: 0, prefix: true });
  }
  if (candidates.length === 0 && word.length === 4) {
    // Last resort before dropping a 4-letter word nothing else matched: one edit ("shek" → "shrek").
    for (const f of fuzzyTerms(terms, word, 1, { lcp: index.lcp })) candidates.push(single(f.term, f.distance));
  }
  return candidates;
}

export interface ResolvedQuery {
  /** The words as typed (normalized), before any correction. */
  typed: string[];
  /** The words to search, in order, after curated corrections. */
  words: string[];
  /** The distinct words with their candidates (a word without any is kept, empty). */
  terms: QueryTerm[];
}

export function resolveQuery(index: SearchIndex, q: string, mode: ResolveMode): ResolvedQuery {
  const typed = tokenize(q).slice(0, MAX_QUERY_TERMS);
  const { words, curated } = curatedWords(index, q);
  const seen = new Set<string>();
  const out: QueryTerm[] = [];
  words.forEach((word, position) => {
    const last = position === words.length - 1;
    if (seen.has(word) && !last) return;
    seen.add(word);
    const candidates = resolveWord(index, word, last, mode);
    candidates.sort((a, b) => a.distance - b.distance || Number(a.prefix) - Number(b.prefix));
    out.push({
      text: word,
      position,
      curated: curated[position] ?? false,
      candidates,
      postings: postingsOf(index, candidates),
    });
  });
  return { typed, words, terms: out };
}

/** A word too common to stand alone once another word of the query was dropped ("the"). */
export function isCommonWord(index: SearchIndex, term: QueryTerm): boolean {
  return term.postings > 50 && term.postings > index.size * 0.05;
}
