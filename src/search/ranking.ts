/**
 * Ranking: text relevance first, then popularity, then the user's genre affinity. The weights
 * form bands: a band's widest spread never reaches one unit of the band above it, so more
 * matched words always win, then fewer typos (exact above fuzzy), then whole words above a
 * prefix, then an exact title; popularity, coverage and affinity blend inside the last band.
 */
export const WEIGHTS = {
  matchedWord: 100_000,
  typo: 1_000,
  prefix: 200,
  exactTitle: 100,
  coverage: 20,
  startsWith: 5,
  popularity: 30,
  affinity: 15,
} as const;

export interface TextMatch {
  matched: number;
  typos: number;
  prefixes: number;
  exactTitle: boolean;
  /** Share of the title's words the query covers, in (0, 1]. */
  coverage: number;
  startsWith: boolean;
}

/** Score of one document; `popularity` is in [0, 1], `affinity` in [-1, 1] (a disliked genre sinks). */
export function score(match: TextMatch, popularity: number, affinity: number): number {
  return (
    WEIGHTS.matchedWord * match.matched -
    WEIGHTS.typo * match.typos -
    WEIGHTS.prefix * match.prefixes +
    (match.exactTitle ? WEIGHTS.exactTitle : 0) +
    WEIGHTS.coverage * match.coverage +
    (match.startsWith ? WEIGHTS.startsWith : 0) +
    WEIGHTS.popularity * popularity +
    WEIGHTS.affinity * affinity
  );
}

/** A user's genre affinity: genre → weight in [-1, 1] (negative for genres they avoid). */
export type GenreAffinity = ReadonlyMap<string, number>;

/**
 * Positions (into `scores`/`docs`) of the best `k` entries, best first: score descending, then
 * document number ascending (the popularity order), so the order is total and repeatable.
 */
export function topK(scores: Float64Array, docs: ArrayLike<number>, k: number): number[] {
  const n = scores.length;
  const better = (a: number, b: number) => scores[a]! > scores[b]! || (scores[a] === scores[b] && docs[a]! < docs[b]!);
  if (k <= 0) return [];
  if (k * 4 >= n) {
    const all = Array.from({ length: n }, (_, i) => i);
    all.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
    return all.slice(0, k);
  }
  // A min-heap of the k best seen so far: its root is the worst of them.
  const heap: number[] = [];
  const siftDown = (start: number) => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < heap.length && better(heap[worst]!, heap[l]!)) worst = l;
      if (r < heap.length && better(heap[worst]!, heap[r]!)) worst = r;
      if (worst === i) return;
      [heap[i], heap[worst]] = [heap[worst]!, heap[i]!];
      i = worst;
    }
  };
  for (let i = 0; i < n; i++) {
    if (heap.length < k) {
      heap.push(i);
      let c = heap.length - 1;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!better(heap[p]!, heap[c]!)) break;
        [heap[p], heap[c]] = [heap[c]!, heap[p]!];
        c = p;
      }
    } else if (better(i, heap[0]!)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
}
