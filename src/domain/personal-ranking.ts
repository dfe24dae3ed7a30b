/**
 * The per-user part of recommendations: the user's own recent history scored against the shared
 * model's neighbours, with the content profile (and the adapter) on top. The profile also covers
 * what the shared model cannot: titles nobody has watched yet, users with no history, and the
 * reasons when no watched film stands behind an item. A scorer like the content-only one, so
 * `recommend` and `scoreContent` rank, diversify and explain with it unchanged.
 */
import type { FeatureSpace, ItemVector } from "./features";
import { accumulateScores, strongestContributor } from "./item-neighbours";
import { type Personalization, Scorer } from "./recommend";
import {
  DEFAULT_PERSONAL,
  type HistoryView,
  historyWeights,
  modelIndex,
  type PersonalOptions,
  type SharedModel,
} from "./shared-model";

/** How much the content parts add to the collaborative score (itself scaled to 1 for the user's best item). */
export interface BlendWeights {
  profile: number;
  adapter: number;
}

/** Chosen on MovieLens' validation split. */
export const SERVED_BLEND: Readonly<BlendWeights> = { profile: 0.05, adapter: 0 };

/** A shared model lined up with one catalog's feature space: built once per isolate per model version. */
export interface AlignedModel {
  model: SharedModel;
  index: Map<string, number>;
  /** Model item of each space item, -1 for a title the model does not know. */
  modelItemOf: Int32Array;
  /** Space item of each model item, -1 for a title no longer in the catalog. */
  spaceItemOf: Int32Array;
}

export function alignModel(model: SharedModel, space: FeatureSpace): AlignedModel {
  const index = modelIndex(model);
  const modelItemOf = new Int32Array(space.items.length).fill(-1);
  const spaceItemOf = new Int32Array(model.ids.length).fill(-1);
  for (const item of space.items) {
    const m = index.get(item.id);
    if (m === undefined) continue;
    modelItemOf[item.index] = m;
    spaceItemOf[m] = item.index;
  }
  return { model, index, modelItemOf, spaceItemOf };
}

export interface CollaborativeOptions extends PersonalOptions {
  blend: BlendWeights;
}

export const DEFAULT_COLLABORATIVE: Readonly<CollaborativeOptions> = { ...DEFAULT_PERSONAL, blend: SERVED_BLEND };

/**
 * Scores with the shared model when the user's history reaches it; otherwise (no model, a new
 * user, a history of titles nobody else watched) exactly as the content-only scorer does.
 */
export class CollaborativeScorer extends Scorer {
  private readonly collaborative: Float64Array | null;
  private readonly scale: number;
  private readonly historyItems: { item: number; weight: number }[];

  constructor(
    private readonly catalog: FeatureSpace,
    personalization: Personalization,
    private readonly aligned: AlignedModel | null,
    history: readonly HistoryView[],
    private readonly options: CollaborativeOptions = DEFAULT_COLLABORATIVE,
  ) {
    super(catalog, personalization);
    this.historyItems = aligned ? historyWeights(aligned.index, history, options) : [];
    let best = 0;
    let scores: Float64Array | null = null;
    if (aligned && this.historyItems.length > 0) {
      scores = new Float64Array(aligned.model.ids.length);
      accumulateScores(aligned.model.neighbours, this.historyItems, scores);
      for (let i = 0; i < scores.length; i++) if (scores[i]! > best) best = scores[i]!;
    }
    this.collaborative = best > 0 ? scores : null;
    this.scale = best > 0 ? 1 / best : 0;
  }

  /** Whether the shared model shapes this user's scores. */
  get collaborativeActive(): boolean {
    return this.collaborative !== null;
  }

  override get personalized(): boolean {
    return this.collaborative !== null || super.personalized;
  }

  /** The shared model's score for the item, scaled so that the user's best item is 1 (0 unknown). */
  collaborativeScore(item: ItemVector): number {
    const scores = this.collaborative;
    const m = this.aligned?.modelItemOf[item.index] ?? -1;
    return scores && m >= 0 ? scores[m]! * this.scale : 0;
  }

  override score(item: ItemVector): number {
    if (!this.collaborative) return super.score(item);
    const { blend } = this.options;
    let score = this.collaborativeScore(item);
    if (blend.profile > 0) score += blend.profile * this.affinity(item) * this.profileConfidence;
    if (blend.adapter > 0) {
      const p = this.finishProbability(item);
      if (p !== null) score += blend.adapter * (p - 0.5);
    }
    return score;
  }

  /** "Because you watched X" for the watched film that adds the most to the item; else the profile's reason. */
  override explain(item: ItemVector): { reason: string; because: string | null } {
    const m = this.aligned?.modelItemOf[item.index] ?? -1;
    if (this.collaborative && m >= 0) {
      const from = strongestContributor(this.aligned!.model.neighbours, this.historyItems, m);
      const fromItem = from >= 0 ? this.catalog.items[this.aligned!.spaceItemOf[from]!] : undefined;
      if (fromItem) return { reason: `Because you watched ${fromItem.title}`, because: fromItem.id };
    }
    return super.explain(item);
  }
}
