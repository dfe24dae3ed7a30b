import { describe, expect, it } from "vitest";
import {
  holdOutLastLiked,
  metricsAtK,
  pairedBootstrapRatio,
  type RatedEvent,
  topItems,
} from "../../src/domain/ranking-eval";

describe("offline ranking evaluation", () => {
  it("holds out each user's last liked films and keeps everything else for training", () => {
    const events: RatedEvent[] = [
      { user: 1, item: 10, rating: 5, at: 1 },
      { user: 1, item: 11, rating: 2, at: 2 },
      { user: 1, item: 12, rating: 4, at: 3 },
      { user: 1, item: 13, rating: 4.5, at: 4 },
      { user: 1, item: 14, rating: 3, at: 5 },
      { user: 2, item: 10, rating: 5, at: 1 },
    ];
    const split = holdOutLastLiked(events, 2, 4);
    expect(split.users).toEqual([{ user: 1, heldOut: [12, 13], training: [events[0], events[1], events[4]] }]);
    // A user with too few liked films trains everyone else but is not evaluated.
    expect(split.training).toEqual([events[0], events[1], events[4], events[5]]);
  });

  it("computes HR, Recall and NDCG at k by hand-checkable values", () => {
    const relevant = new Set([7, 9]);
    expect(metricsAtK([7, 9, 1], relevant, 3)).toEqual({ hit: 1, recall: 1, ndcg: 1 });
    const second = metricsAtK([1, 7, 2], relevant, 3);
    expect(second.hit).toBe(1);
    expect(second.recall).toBe(0.5);
    expect(second.ndcg).toBeCloseTo(1 / Math.log2(3) / (1 + 1 / Math.log2(3)), 12);
    expect(metricsAtK([1, 2, 3], relevant, 3)).toEqual({ hit: 0, recall: 0, ndcg: 0 });
    // Beyond k does not count.
    expect(metricsAtK([1, 2, 7], relevant, 2).hit).toBe(0);
  });

  it("a paired bootstrap of a recommender against itself is exactly 1, and brackets a real difference", () => {
    const a = Float64Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    expect(pairedBootstrapRatio(a, a)).toEqual({ ratio: 1, low: 1, high: 1 });
    const doubled = a.map((v) => v * 2);
    const r = pairedBootstrapRatio(doubled, a);
    expect(r).toEqual({ ratio: 2, low: 2, high: 2 });
    const noisy = a.map((v, i) => (i % 2 === 0 ? v * 2 : v));
    const n = pairedBootstrapRatio(noisy, a);
    expect(n.low).toBeLessThan(n.ratio);
    expect(n.high).toBeGreaterThan(n.ratio);
    expect(() => pairedBootstrapRatio(a, a.subarray(1))).toThrow(RangeError);
  });

  it("takes the k best unexcluded items, ties by the tie-break, then by index", () => {
    const scores = [0.5, 0.9, 0.5, 0.1, 0.9, 0];
    const popularity = [1, 1, 5, 0, 2, 9];
    expect(topItems(scores, 3, () => false, popularity)).toEqual([4, 1, 2]);
    expect(topItems(scores, 3, (i) => i === 4, popularity)).toEqual([1, 2, 0]);
    expect(topItems(scores, 10, () => false, popularity)).toEqual([4, 1, 2, 0, 3, 5]);
  });
});
