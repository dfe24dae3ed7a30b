/**
 * Item features for personalization: each catalog item becomes a handful of one-hot feature keys
 * (genre, decade, platform, maturity rating, director) plus a popularity in [0, 1]. Keys are
 * readable strings ("genre:Drama") so stored profiles and adapters survive catalog changes; the
 * `FeatureSpace` turns them into compact integer vectors for scoring.
 */

import type { CatalogItem, ContentKind } from "./catalog";
import { effectiveRating, maturityLevel } from "./maturity";

export const FEATURE_GROUPS = ["genre", "director", "decade", "maturity", "platform"] as const;
export type FeatureGroup = (typeof FEATURE_GROUPS)[number];

/** How much each group counts when a profile is matched against an item (genre dominates). */
export const GROUP_WEIGHTS: Readonly<Record<FeatureGroup, number>> = {
  genre: 1,
  director: 0.3,
  decade: 0.15,
  maturity: 0.1,
  platform: 0.1,
};

/** The catalog fields features are made of: a `CatalogItem` or a row of the `content` table. */
export type FeatureSource = Pick<CatalogItem, "genres" | "year" | "platforms" | "maturity_rating" | "director">;

export const featureKey = (group: FeatureGroup, value: string) => `${group}:${value}`;

/** Splits "genre:Drama" into its group and value; null for a key of no known group. */
export function parseFeatureKey(key: string): { group: FeatureGroup; value: string } | null {
  const colon = key.indexOf(":");
  if (colon <= 0) return null;
  const group = key.slice(0, colon) as FeatureGroup;
  if (!(FEATURE_GROUPS as readonly string[]).includes(group)) return null;
  return { group, value: key.slice(colon + 1) };
}

export function decadeOf(year: number | null): string | null {
  return year === null || !Number.isFinite(year) ? null : `${Math.floor(year / 10) * 10}s`;
}

/** The feature keys of one item, deduplicated, in group order. */
export function featureKeys(item: FeatureSource): string[] {
  const keys = new Set<string>();
  for (const genre of item.genres) keys.add(featureKey("genre", genre));
  if (item.director) keys.add(featureKey("director", item.director));
  const decade = decadeOf(item.year);
  if (decade) keys.add(featureKey("decade", decade));
  if (item.maturity_rating) keys.add(featureKey("maturity", item.maturity_rating));
  for (const platform of item.platforms) keys.add(featureKey("platform", platform));
  return [...keys];
}

/** Log-scaled votes relative to the most voted item: a blockbuster is 1, an unknown film near 0. */
export function popularityOf(votes: number, maxVotes: number): number {
  if (!(maxVotes > 0) || !(votes > 0)) return 0;
  return Math.min(1, Math.log1p(votes) / Math.log1p(maxVotes));
}

/** The catalog fields scoring and explaining need. */
export type FeatureItem = FeatureSource & Pick<CatalogItem, "id" | "kind" | "title" | "series_id" | "rating" | "votes">;

/** One catalog item as the scorer sees it. */
export interface ItemVector {
  /** Position in `FeatureSpace.items`. */
  index: number;
  id: string;
  kind: ContentKind;
  title: string;
  seriesId: string | null;
  year: number | null;
  genres: string[];
  platforms: string[];
  rating: number | null;
  votes: number;
  director: string | null;
  /** Maturity level (src/domain/maturity.ts), null when unrated; an episode without a rating has its series'. */
  maturity: number | null;
  /** Vocabulary indices of the item's feature keys. */
  features: Int32Array;
  /**
   * Per feature, its share of a profile match: the group's weight split among the item's values
   * in that group, over the total group weight. A match is then one dot product.
   */
  matchWeights: Float64Array;
  popularity: number;
}

/** The catalog's vocabulary of feature keys and every item as a compact vector over it. */
export class FeatureSpace {
  readonly vocabulary: string[] = [];
  readonly indexOf = new Map<string, number>();
  /** FEATURE_GROUPS index of each vocabulary entry. */
  groupOf: Uint8Array = new Uint8Array(0);
  readonly items: ItemVector[] = [];
  readonly byId = new Map<string, ItemVector>();

  static fromCatalog(catalog: readonly FeatureItem[]): FeatureSpace {
    const space = new FeatureSpace();
    let maxVotes = 0;
    for (const item of catalog) maxVotes = Math.max(maxVotes, item.votes);
    const groups: number[] = [];
    const seriesRatings = new Map(catalog.filter((i) => i.kind === "series").map((i) => [i.id, i.maturity_rating]));
    for (const item of catalog) {
      const indices: number[] = [];
      for (const key of featureKeys(item)) {
        let index = space.indexOf.get(key);
        if (index === undefined) {
          index = space.vocabulary.length;
          space.vocabulary.push(key);
          space.indexOf.set(key, index);
          groups.push(FEATURE_GROUPS.indexOf((parseFeatureKey(key) as { group: FeatureGroup }).group));
        }
        indices.push(index);
      }
      const vector: ItemVector = {
        index: space.items.length,
        id: item.id,
        kind: item.kind,
        title: item.title,
        seriesId: item.series_id,
        year: item.year,
        genres: item.genres,
        platforms: item.platforms,
        rating: item.rating,
        votes: item.votes,
        director: item.director,
        maturity: maturityLevel(
          effectiveRating(item.maturity_rating, item.series_id ? seriesRatings.get(item.series_id) : null),
        ),
        features: Int32Array.from(indices),
        matchWeights: matchWeights(indices.map((i) => FEATURE_GROUPS[groups[i] as number] as FeatureGroup)),
        popularity: popularityOf(item.votes, maxVotes),
      };
      space.items.push(vector);
      space.byId.set(item.id, vector);
    }
    space.groupOf = Uint8Array.from(groups);
    return space;
  }

  get size(): number {
    return this.vocabulary.length;
  }

  /** A dense vector over the vocabulary from weights keyed by feature key; unknown keys drop out. */
  dense(weights: Readonly<Record<string, number>>): Float64Array {
    const vector = new Float64Array(this.vocabulary.length);
    for (const [key, weight] of Object.entries(weights)) {
      const index = this.indexOf.get(key);
      if (index !== undefined) vector[index] = weight;
    }
    return vector;
  }

  groupName(index: number): FeatureGroup {
    return FEATURE_GROUPS[this.groupOf[index] as number] as FeatureGroup;
  }
}

const GROUP_WEIGHT_TOTAL = FEATURE_GROUPS.reduce((sum, g) => sum + GROUP_WEIGHTS[g], 0);

function matchWeights(groups: readonly FeatureGroup[]): Float64Array {
  const counts = new Map<FeatureGroup, number>();
  for (const g of groups) counts.set(g, (counts.get(g) ?? 0) + 1);
  return Float64Array.from(groups, (g) => GROUP_WEIGHTS[g] / (counts.get(g) as number) / GROUP_WEIGHT_TOTAL);
}
