/**
 * Typo tolerance: Damerau–Levenshtein distance (optimal string alignment: an adjacent
 * transposition is one edit), a budget by word length, and fuzzy lookups in a sorted vocabulary
 * walked as an implicit trie (consecutive words share their common prefix's rows).
 */

/**
 * Edits allowed for a whole word of this length: none under 5 letters, 1 up to 8, then 2.
 * (Short words still get transpositions, and a 4-letter word nothing else matches one edit.)
 */
export function typoBudget(length: number): number {
  if (length < 5) return 0;
  if (length < 9) return 1;
  return 2;
}

/** Edits allowed for a typed prefix (autocomplete): none under 4 letters, 1 up to 7, then 2. */
export function prefixTypoBudget(length: number): number {
  if (length < 4) return 0;
  if (length < 8) return 1;
  return 2;
}

/** Distance between a and b, or max + 1 as soon as it is known to exceed max. */
export function damerauLevenshtein(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (a === b) return 0;
  const m = a.length;
  const n = b.length;
  if (Math.abs(m - n) > max) return max + 1;
  let before = new Array<number>(n + 1).fill(0);
  let previous = Array.from({ length: n + 1 }, (_, j) => j);
  let current = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= m; i++) {
    current[0] = i;
    let rowMin = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, (before[j - 2] as number) + 1);
      }
      current[j] = value;
      if (value < rowMin) rowMin = value;
    }
    if (rowMin > max) return max + 1;
    [before, previous, current] = [previous, current, before];
  }
  const distance = previous[n] as number;
  return distance > max ? max + 1 : distance;
}

/** Every distinct word made by swapping two adjacent letters ("teh" → "eth", "the"). */
export function adjacentTranspositions(word: string): string[] {
  const out = new Set<string>();
  for (let i = 0; i + 1 < word.length; i++) {
    if (word[i] === word[i + 1]) continue;
    out.add(word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2));
  }
  return [...out];
}

/** Index of `word` in the sorted vocabulary, or -1. */
export function findTerm(terms: readonly string[], word: string): number {
  let lo = 0;
  let hi = terms.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((terms[mid] as string) < word) lo = mid + 1;
    else hi = mid;
  }
  return lo < terms.length && terms[lo] === word ? lo : -1;
}

/** [lo, hi): the vocabulary's words that start with `prefix`. */
export function prefixRange(terms: readonly string[], prefix: string, from = 0, to = terms.length): [number, number] {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((terms[mid] as string) < prefix) lo = mid + 1;
    else hi = mid;
  }
  const start = lo;
  const bound = `${prefix}\uffff`;
  hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((terms[mid] as string) < bound) lo = mid + 1;
    else hi = mid;
  }
  return [start, lo];
}

export interface FuzzyTerm {
  term: number;
  distance: number;
}

/** lcp[i]: letters terms[i] shares with terms[i - 1] (0 for the first); the implicit trie's shape. */
export function commonPrefixLengths(terms: readonly string[]): Uint16Array {
  const lcp = new Uint16Array(terms.length);
  for (let i = 1; i < terms.length; i++) {
    const a = terms[i - 1] as string;
    const b = terms[i] as string;
    const limit = Math.min(a.length, b.length, 0xffff);
    let k = 0;
    while (k < limit && a.charCodeAt(k) === b.charCodeAt(k)) k++;
    lcp[i] = k;
  }
  return lcp;
}

/**
 * Vocabulary words within `max` edits of `query` (whole words), or, with `prefix`, words having
 * a prefix within `max` edits of `query` (the distance is the best over the word's prefixes).
 * `fixed` leading letters must match exactly, which narrows the walk to one range. The sorted
 * vocabulary is walked as a trie: a word reuses the rows of the letters it shares with the word
 * before, and a prefix that cannot come back under `max` skips every word below it.
 */
export function fuzzyTerms(
  terms: readonly string[],
  query: string,
  max: number,
  options: { prefix?: boolean; fixed?: number; lcp?: Uint16Array } = {},
): FuzzyTerm[] {
  const fixed = Math.min(options.fixed ?? 0, query.length);
  const [from, to] = fixed > 0 ? prefixRange(terms, query.slice(0, fixed)) : [0, terms.length];
  const lcp = options.lcp ?? commonPrefixLengths(terms);
  const prefixMode = options.prefix === true;
  const m = query.length;
  const width = m + 1;
  const q = new Int32Array(m);
  for (let j = 0; j < m; j++) q[j] = query.charCodeAt(j);
  let depthCapacity = 32;
  let rows = new Int32Array((depthCapacity + 1) * width);
  let rowMins = new Int32Array(depthCapacity + 1);
  let pathBest = new Int32Array(depthCapacity + 1);
  for (let j = 0; j <= m; j++) rows[j] = j;
  pathBest[0] = m;
  const found: FuzzyTerm[] = [];
  let valid = 0; // rows 0..valid hold the previous word's first `valid` letters
  let i = from;
  while (i < to) {
    const word = terms[i] as string;
    const length = word.length;
    if (length > depthCapacity) {
      depthCapacity = length * 2;
      const grown = new Int32Array((depthCapacity + 1) * width);
      grown.set(rows);
      rows = grown;
      const mins = new Int32Array(depthCapacity + 1);
      mins.set(rowMins);
      rowMins = mins;
      const best = new Int32Array(depthCapacity + 1);
      best.set(pathBest);
      pathBest = best;
    }
    const shared = i === from ? 0 : Math.min(lcp[i] as number, valid);
    let pruneAt = -1;
    for (let k = shared + 1; k <= length; k++) {
      const c = word.charCodeAt(k - 1);
      const previousChar = k > 1 ? word.charCodeAt(k - 2) : -1;
      const up = (k - 1) * width;
      const here = k * width;
      const twoUp = (k - 2) * width;
      rows[here] = k;
      let rowMin = k;
      for (let j = 1; j <= m; j++) {
        const qj = q[j - 1] as number;
        let value = (rows[up + j - 1] as number) + (qj === c ? 0 : 1);
        const deletion = (rows[up + j] as number) + 1;
        if (deletion < value) value = deletion;
        const insertion = (rows[here + j - 1] as number) + 1;
        if (insertion < value) value = insertion;
        if (j > 1 && k > 1 && c === q[j - 2] && previousChar === qj) {
          const swap = (rows[twoUp + j - 2] as number) + 1;
          if (swap < value) value = swap;
        }
        rows[here + j] = value;
        if (value < rowMin) rowMin = value;
      }
      rowMins[k] = rowMin;
      const last = rows[here + m] as number;
      const before = pathBest[k - 1] as number;
      pathBest[k] = last < before ? last : before;
      // No longer word can come back under max: a transposition reaches back one row only.
      if (rowMin > max && (rowMins[k - 1] as number) >= max) {
        pruneAt = k;
        break;
      }
    }
    if (pruneAt >= 0) {
      valid = pruneAt;
      let end = i + 1;
      while (end < to && (lcp[end] as number) >= pruneAt) end++;
      // Prefix mode: a shorter prefix already matched, and no deeper one can do better.
      const best = pathBest[pruneAt] as number;
      if (prefixMode && best <= max) for (let t = i; t < end; t++) found.push({ term: t, distance: best });
      i = end;
      continue;
    }
    valid = length;
    const distance = prefixMode ? (pathBest[length] as number) : (rows[length * width + m] as number);
    if (distance <= max) found.push({ term: i, distance });
    i++;
  }
  return found;
}
