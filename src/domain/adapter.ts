/**
 * The per-user adapter: a small logistic regression over item feature keys, trained on the user's
 * own signals (finished = 1, abandoned = 0), that predicts whether the user would finish an item.
 * Deterministic: the same views give the same model.
 */
import { featureKeys } from "./features";
import { isAbandoned, isFinished, recencyWeight, type View } from "./profile";

export interface TrainingExample {
  keys: string[];
  label: 0 | 1;
  /** Recent signals count more. */
  weight: number;
}

export interface AdapterModel {
  bias: number;
  /** Feature key → weight; keys it never saw weigh 0. */
  weights: Record<string, number>;
  examples: number;
  positives: number;
  negatives: number;
  /** Weighted log-loss on the training examples. */
  loss: number;
}

export interface TrainingOptions {
  epochs: number;
  learningRate: number;
  /** L2 penalty: keeps a feature seen once from deciding alone. */
  l2: number;
}

export const DEFAULT_TRAINING: TrainingOptions = { epochs: 300, learningRate: 1, l2: 0.02 };
export const MIN_POSITIVES = 2;
export const MIN_NEGATIVES = 2;
/** Old signals still count a little: a taste does not vanish after a few half-lives. */
const MIN_EXAMPLE_WEIGHT = 0.1;

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const round = (x: number) => Math.round(x * 10_000) / 10_000;

/** Finished views are positives, abandoned ones negatives; views in between teach nothing. */
export function trainingExamples(views: readonly View[], halfLifeDays: number): TrainingExample[] {
  const known = views.filter((v) => v.features !== null);
  if (known.length === 0) return [];
  const newest = Math.max(...known.map((v) => v.at));
  const examples: TrainingExample[] = [];
  for (const view of known) {
    const label = isFinished(view) ? 1 : isAbandoned(view) ? 0 : null;
    if (label === null) continue;
    const keys = featureKeys(view.features as NonNullable<View["features"]>);
    if (keys.length === 0) continue;
    const weight = Math.max(MIN_EXAMPLE_WEIGHT, recencyWeight(view.at, newest, halfLifeDays));
    examples.push({ keys, label, weight });
  }
  return examples;
}

/** Why a user has no adapter yet, or null when there is enough to train one. */
export function insufficientData(examples: readonly TrainingExample[]): string | null {
  const positives = examples.filter((e) => e.label === 1).length;
  const negatives = examples.length - positives;
  if (positives < MIN_POSITIVES || negatives < MIN_NEGATIVES) {
    return `needs at least ${MIN_POSITIVES} finished and ${MIN_NEGATIVES} abandoned views (has ${positives} and ${negatives})`;
  }
  return null;
}

/** Full-batch gradient descent on the weighted log-loss; null when there is too little data. */
export function trainAdapter(
  examples: readonly TrainingExample[],
  options: TrainingOptions = DEFAULT_TRAINING,
): AdapterModel | null {
  if (insufficientData(examples) !== null) return null;
  const index = new Map<string, number>();
  const rows = examples.map((e) =>
    Int32Array.from(
      e.keys.map((key) => {
        let i = index.get(key);
        if (i === undefined) {
          i = index.size;
          index.set(key, i);
        }
        return i;
      }),
    ),
  );
  const totalWeight = examples.reduce((sum, e) => sum + e.weight, 0);
  const positiveWeight = examples.reduce((sum, e) => sum + e.weight * e.label, 0);
  const baseRate = Math.min(0.99, Math.max(0.01, positiveWeight / totalWeight));
  // Starting at the base rate's log-odds leaves unseen features neutral.
  let bias = Math.log(baseRate / (1 - baseRate));
  const weights = new Float64Array(index.size);
  const gradient = new Float64Array(index.size);

  for (let epoch = 0; epoch < options.epochs; epoch++) {
    gradient.fill(0);
    let biasGradient = 0;
    for (let n = 0; n < rows.length; n++) {
      const row = rows[n] as Int32Array;
      const example = examples[n] as TrainingExample;
      let z = bias;
      for (const i of row) z += weights[i] as number;
      const error = (sigmoid(z) - example.label) * example.weight;
      biasGradient += error;
      for (const i of row) gradient[i] = (gradient[i] as number) + error;
    }
    bias -= (options.learningRate * biasGradient) / totalWeight;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i] as number;
      weights[i] = w - options.learningRate * ((gradient[i] as number) / totalWeight + options.l2 * w);
    }
  }

  let loss = 0;
  for (let n = 0; n < rows.length; n++) {
    const example = examples[n] as TrainingExample;
    let z = bias;
    for (const i of rows[n] as Int32Array) z += weights[i] as number;
    const p = Math.min(1 - 1e-9, Math.max(1e-9, sigmoid(z)));
    loss -= example.weight * (example.label ? Math.log(p) : Math.log(1 - p));
  }
  const stored: Record<string, number> = {};
  for (const [key, i] of [...index].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const w = round(weights[i] as number);
    if (w !== 0) stored[key] = w;
  }
  const positives = examples.filter((e) => e.label === 1).length;
  return {
    bias: round(bias),
    weights: stored,
    examples: examples.length,
    positives,
    negatives: examples.length - positives,
    loss: round(loss / totalWeight),
  };
}

/** The probability the user finishes an item with these feature keys. */
export function finishProbability(model: AdapterModel, keys: readonly string[]): number {
  let z = model.bias;
  for (const key of keys) z += model.weights[key] ?? 0;
  return sigmoid(z);
}
