import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { aliasWords, tokenize } from "../../src/search/text";
import {
  adjacentTranspositions,
  commonPrefixLengths,
  damerauLevenshtein,
  findTerm,
  fuzzyTerms,
  prefixRange,
  typoBudget,
} from "../../src/search/typo";

const sorted = (words: string[]) => [...new Set(words)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const word = fc.string({ unit: fc.constantFrom(..."abcdeht"), minLength: 1, maxLength: 9 });

describe("Damerau–Levenshtein distance", () => {
  it("counts a swap of two neighbours as one edit", () => {
    expect(damerauLevenshtein("teh", "the")).toBe(1);
    expect(damerauLevenshtein("adn", "and")).toBe(1);
    expect(damerauLevenshtein("godfahter", "godfather")).toBe(1);
    expect(damerauLevenshtein("matrx", "matrix")).toBe(1);
    expect(damerauLevenshtein("kitten", "sitting")).toBe(3);
    expect(damerauLevenshtein("", "abc")).toBe(3);
    expect(damerauLevenshtein("same", "same")).toBe(0);
  });

  it("stops early at the bound, answering bound + 1", () => {
    expect(damerauLevenshtein("abcdef", "uvwxyz", 2)).toBe(3);
    expect(damerauLevenshtein("a", "abcdef", 1)).toBe(2);
  });

  it("is symmetric, zero only for equal words, and never above the longer length", () => {
    fc.assert(
      fc.property(word, word, (a, b) => {
        const d = damerauLevenshtein(a, b);
        expect(damerauLevenshtein(b, a)).toBe(d);
        expect(d === 0).toBe(a === b);
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
        expect(d).toBeGreaterThanOrEqual(Math.abs(a.length - b.length));
      }),
    );
  });
});

describe("typo budget by word length", () => {
  it("gives none under 5 letters, one up to 8, two from 9", () => {
    expect([1, 2, 3, 4].map(typoBudget)).toEqual([0, 0, 0, 0]);
    expect([5, 6, 7, 8].map(typoBudget)).toEqual([1, 1, 1, 1]);
    expect([9, 12, 20].map(typoBudget)).toEqual([2, 2, 2]);
  });

  it("lists the swaps of neighbouring letters that short words get instead", () => {
    expect(adjacentTranspositions("teh").sort()).toEqual(["eth", "the"]);
    expect(adjacentTranspositions("aab")).toEqual(["aba"]);
    expect(adjacentTranspositions("a")).toEqual([]);
  });
});

describe("vocabulary lookups", () => {
  const vocabulary = sorted(["matrix", "matter", "mat", "mars", "the", "then", "they", "eth", "godfather"]);

  it("finds words and prefix ranges in the sorted vocabulary", () => {
    expect(vocabulary[findTerm(vocabulary, "the")]).toBe("the");
    expect(findTerm(vocabulary, "teh")).toBe(-1);
    const [lo, hi] = prefixRange(vocabulary, "mat");
    expect(vocabulary.slice(lo, hi)).toEqual(["mat", "matrix", "matter"]);
    const [none, empty] = prefixRange(vocabulary, "zz");
    expect(empty - none).toBe(0);
  });

  it("finds whole words within the edit bound, exactly as a brute force does", () => {
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 60 }),
        word,
        fc.integer({ min: 0, max: 2 }),
        (words, q, max) => {
          const terms = sorted(words);
          const got = fuzzyTerms(terms, q, max, { lcp: commonPrefixLengths(terms) })
            .map((f) => `${terms[f.term]}:${f.distance}`)
            .sort();
          const want = terms
            .map((t) => [t, damerauLevenshtein(q, t)] as const)
            .filter(([, d]) => d <= max)
            .map(([t, d]) => `${t}:${d}`)
            .sort();
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("finds words with a prefix within the bound, with the best distance over their prefixes", () => {
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 60 }),
        word,
        fc.integer({ min: 0, max: 2 }),
        (words, q, max) => {
          const terms = sorted(words);
          const got = fuzzyTerms(terms, q, max, { prefix: true })
            .map((f) => `${terms[f.term]}:${f.distance}`)
            .sort();
          const want = terms
            .map((t) => {
              let best = Number.POSITIVE_INFINITY;
              for (let k = 0; k <= t.length; k++) best = Math.min(best, damerauLevenshtein(q, t.slice(0, k)));
              return [t, best] as const;
            })
            .filter(([, d]) => d <= max)
            .map(([t, d]) => `${t}:${d}`)
            .sort();
          expect(got).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps the fixed leading letters exact", () => {
    const found = fuzzyTerms(vocabulary, "mtrix", 1, { fixed: 2 }).map((f) => vocabulary[f.term]);
    expect(found).toEqual([]);
    expect(fuzzyTerms(vocabulary, "matrx", 1, { fixed: 2 }).map((f) => vocabulary[f.term])).toEqual(["matrix"]);
  });
});

describe("title words", () => {
  it("folds case and accents, drops apostrophes, splits on everything else", () => {
    expect(tokenize("Amélie")).toEqual(["amelie"]);
    expect(tokenize("Schindler's List")).toEqual(["schindlers", "list"]);
    expect(tokenize("Terminator 2: Judgment Day")).toEqual(["terminator", "2", "judgment", "day"]);
    expect(tokenize("Fast & Furious")).toEqual(["fast", "and", "furious"]);
    expect(tokenize("  ")).toEqual([]);
  });

  it("also indexes the word before an apostrophe", () => {
    expect(aliasWords("Schindler's List")).toEqual(["schindler"]);
    expect(aliasWords("Ocean's Eleven")).toEqual(["ocean"]);
    expect(aliasWords("The Matrix")).toEqual([]);
  });
});
