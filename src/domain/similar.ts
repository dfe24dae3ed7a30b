/**
 * "More like this": the titles viewers of a title also watched, from the shared model's
 * neighbours, strongest first; then, and for a title nobody has watched yet, the titles that
 * share the most of its features (genres, director, decade, …).
 */
import type { ContentKind } from "./catalog";
import type { FeatureSpace, ItemVector } from "./features";
import type { AlignedModel } from "./personal-ranking";
import { DEFAULT_KINDS } from "./recommend";

export interface SimilarItem {
  item: ItemVector;
  /** In (0, 1], best first. */
  score: number;
  reason: string;
  /** The title the list is for. */
  because: string;
  source: "co-viewing" | "features";
}

/** Cosine of two items' feature vectors (each feature at its share of a profile match). */
export function featureSimilarity(a: ItemVector, b: ItemVector): number {
  let dot = 0;
  let j = 0;
  // Features are in vocabulary order of first appearance, not sorted: match through a small scan.
  for (let i = 0; i < a.features.length; i++) {
    for (j = 0; j < b.features.length; j++) {
      if (a.features[i] === b.features[j]) {
        dot += a.matchWeights[i]! * b.matchWeights[j]!;
        break;
      }
    }
  }
  if (dot === 0) return 0;
  const norm = (v: ItemVector) => Math.sqrt(v.matchWeights.reduce((s, w) => s + w * w, 0));
  return dot / (norm(a) * norm(b));
}

function featureReason(of: ItemVector, item: ItemVector): string {
  if (of.director && item.director === of.director) return `Also directed by ${of.director}, like ${of.title}`;
  const shared = item.genres.filter((g) => of.genres.includes(g));
  if (shared.length > 0) return `${shared.slice(0, 2).join(" and ")}, like ${of.title}`;
  return `Like ${of.title}`;
}

export function similarItems(
  space: FeatureSpace,
  aligned: AlignedModel | null,
  of: ItemVector,
  options: { limit: number; kinds?: readonly ContentKind[]; allow?: (item: ItemVector) => boolean },
): SimilarItem[] {
  const kinds = new Set(options.kinds ?? DEFAULT_KINDS);
  const allow = options.allow ?? (() => true);
  // Never the title itself, nor another part of the same series.
  const group = of.seriesId ?? of.id;
  const eligible = (item: ItemVector) => kinds.has(item.kind) && (item.seriesId ?? item.id) !== group && allow(item);
  const out: SimilarItem[] = [];
  const taken = new Set<number>();

  const m = aligned ? aligned.modelItemOf[of.index]! : -1;
  if (aligned && m >= 0) {
    const { offsets, neighbours, weights } = aligned.model.neighbours;
    const coViewed: { item: ItemVector; weight: number }[] = [];
    for (let a = offsets[m]!; a < offsets[m + 1]!; a++) {
      const s = aligned.spaceItemOf[neighbours[a]!]!;
      const item = s >= 0 ? space.items[s] : undefined;
      if (item && weights[a]! > 0 && eligible(item)) coViewed.push({ item, weight: weights[a]! });
    }
    coViewed.sort(
      (x, y) => y.weight - x.weight || y.item.popularity - x.item.popularity || (x.item.id < y.item.id ? -1 : 1),
    );
    const best = coViewed[0]?.weight ?? 1;
    for (const { item, weight } of coViewed.slice(0, options.limit)) {
      out.push({
        item,
        score: weight / best,
        reason: `Often watched with ${of.title}`,
        because: of.id,
        source: "co-viewing",
      });
      taken.add(item.index);
    }
  }
  if (out.length >= options.limit) return out;

  // Features fill the rest, below every co-viewed title.
  const ceiling = out.length > 0 ? out[out.length - 1]!.score : 1;
  const byFeatures: { item: ItemVector; similarity: number }[] = [];
  for (const item of space.items) {
    if (taken.has(item.index) || !eligible(item)) continue;
    const similarity = featureSimilarity(of, item);
    if (similarity > 0) byFeatures.push({ item, similarity });
  }
  byFeatures.sort(
    (x, y) => y.similarity - x.similarity || y.item.popularity - x.item.popularity || (x.item.id < y.item.id ? -1 : 1),
  );
  for (const { item, similarity } of byFeatures.slice(0, options.limit - out.length)) {
    out.push({
      item,
      score: Math.min(ceiling, similarity),
      reason: featureReason(of, item),
      because: of.id,
      source: "features",
    });
  }
  return out;
}
