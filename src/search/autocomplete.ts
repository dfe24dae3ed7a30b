/**
 * Autocomplete: every finished word must match (typo-tolerant like search), the word being typed
 * matches the start of any title word, with typos allowed after its first two letters. Exact
 * prefixes come first, then one typo, then two; popular first within each.
 */
import { levelTable, type MaturityLimit } from "../domain/maturity";
import { matchAll } from "./query";
import { topK } from "./ranking";
import { KINDS, type SearchIndex } from "./search-index";
import { resolveQuery } from "./terms";

export interface Suggestion {
  doc: number;
  /** In (0, 1]: typo tier first, popularity within it. */
  score: number;
}

const EPISODE = KINDS.indexOf("episode");
/** Typos beyond this share the last tier. */
const TYPO_TIERS = 3;

/** Exact prefixes score in [0.75, 1], one typo in [0.5, 0.75], ...: tiers never overlap. */
export function suggestionScore(typos: number, popularity: number): number {
  return (TYPO_TIERS - Math.min(typos, TYPO_TIERS) + popularity) / (TYPO_TIERS + 1);
}

/** Whether a document may be suggested: episodes are reached through their series, and the limit applies. */
function suggestable(index: SearchIndex, maturity: MaturityLimit | null): (doc: number) => boolean {
  const { kinds, maturity: levels } = index.data;
  if (!maturity) return (doc) => kinds[doc] !== EPISODE;
  const allowed = levelTable(maturity);
  return (doc) => kinds[doc] !== EPISODE && allowed[levels[doc]!] === 1;
}

/** The most popular titles the caller may see. */
export function popularTitles(index: SearchIndex, limit: number, maturity: MaturityLimit | null = null): Suggestion[] {
  const out: Suggestion[] = [];
  const shown = suggestable(index, maturity);
  for (let doc = 0; doc < index.size && out.length < limit; doc++) {
    if (shown(doc)) out.push({ doc, score: suggestionScore(0, index.popularity[doc]!) });
  }
  return out;
}

export function autocomplete(
  index: SearchIndex,
  q: string,
  limit: number,
  maturity: MaturityLimit | null = null,
): Suggestion[] {
  // A trailing space means the last word is finished, not a prefix.
  const finished = /\s$/.test(q);
  const query = resolveQuery(index, q, finished ? "strict" : "autocomplete");
  if (query.terms.length === 0) return popularTitles(index, limit, maturity);
  if (query.terms.some((t) => t.candidates.length === 0)) return [];
  const set = matchAll(index, query.terms);
  const { kept: docs, scores } = index.queryBuffers();
  const shown = suggestable(index, maturity);
  let n = 0;
  for (let i = 0; i < set.size; i++) {
    const doc = set.docs[i]!;
    if (!shown(doc)) continue;
    docs[n] = doc;
    scores[n] = suggestionScore(set.typos[i]!, index.popularity[doc]!);
    n++;
  }
  const kept = docs.subarray(0, n);
  const ranked = scores.subarray(0, n);
  return topK(ranked, kept, limit).map((i) => ({ doc: kept[i]!, score: ranked[i]! }));
}
