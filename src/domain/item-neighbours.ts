/**
 * The shared collaborative model: for every item, the items a user who liked it is likely to
 * like too, each with a weight. A user's scores are then the sum, over the films in their
 * history, of those films' neighbour weights: cheap at the edge, whatever the catalog size.
 *
 * Two ways to learn the weights from everyone's positive signals:
 *  - cosine item-kNN: co-likes over the geometric mean of the two items' likes;
 *  - EASE (Steck 2019, "Embarrassingly Shallow Autoencoders"): the item-item ridge regression
 *    B = argmin ‖X − XB‖² + λ‖B‖², diag(B) = 0, in closed form from P = (XᵀX + λI)⁻¹ as
 *    B_ij = −P_ij / P_jj. When users are fewer than items the same P comes from a users × users
 *    inverse (Woodbury): P = (I − Xᵀ(XXᵀ + λI)⁻¹X) / λ.
 * Either is kept sparse: each item's `k` strongest neighbours.
 */
import { columnCounts, type SparseRows, transpose } from "./interactions";
import { invertSpd } from "./linear-algebra";

export interface NeighbourModel {
  items: number;
  /** Row i (an item the user has) lists its neighbours j at `neighbours[offsets[i] .. offsets[i + 1])`, ascending. */
  offsets: Uint32Array;
  neighbours: Uint32Array;
  /** What liking item i adds to the score of neighbour j. */
  weights: Float32Array;
}

/** Collects each item's strongest neighbours, row by row, into a NeighbourModel. */
class RowCollector {
  private readonly offsets: Uint32Array;
  private neighbours: Uint32Array;
  private weights: Float32Array;
  private size = 0;
  private lastRow = -1;
  private readonly heapIndex: Uint32Array;
  private readonly heapValue: Float64Array;

  constructor(
    private readonly items: number,
    k: number,
    private readonly keepNegative: boolean,
  ) {
    this.offsets = new Uint32Array(items + 1);
    const capacity = Math.min(items * Math.min(k, items), 1 << 20);
    this.neighbours = new Uint32Array(capacity);
    this.weights = new Float32Array(capacity);
    this.heapIndex = new Uint32Array(Math.min(k, items));
    this.heapValue = new Float64Array(Math.min(k, items));
  }

  /**
   * Keeps the `k` entries of `row` (a dense row over the items, or only its `touched` columns)
   * that weigh most: largest values, or largest magnitudes with `keepNegative`. Row i never lists i.
   */
  add(i: number, row: Float64Array, touched?: ArrayLike<number>, touchedCount = touched?.length ?? 0): void {
    if (i <= this.lastRow || i >= this.items) throw new RangeError(`rows are added once each, in order (${i})`);
    this.lastRow = i;
    const heapIndex = this.heapIndex;
    const heapValue = this.heapValue;
    const k = heapIndex.length;
    let size = 0;
    const consider = (j: number) => {
      if (j === i) return;
      const w = row[j]!;
      if (w === 0 || !Number.isFinite(w) || (!this.keepNegative && w < 0)) return;
      const strength = this.keepNegative ? Math.abs(w) : w;
      if (size < k) {
        // Min-heap on strength: the root is the weakest of the kept.
        let at = size++;
        while (at > 0) {
          const parent = (at - 1) >> 1;
          if (heapValue[parent]! <= strength) break;
          heapValue[at] = heapValue[parent]!;
          heapIndex[at] = heapIndex[parent]!;
          at = parent;
        }
        heapValue[at] = strength;
        heapIndex[at] = j;
      } else if (strength > heapValue[0]!) {
        let at = 0;
        for (;;) {
          const left = 2 * at + 1;
          if (left >= size) break;
          const right = left + 1;
          const child = right < size && heapValue[right]! < heapValue[left]! ? right : left;
          if (heapValue[child]! >= strength) break;
          heapValue[at] = heapValue[child]!;
          heapIndex[at] = heapIndex[child]!;
          at = child;
        }
        heapValue[at] = strength;
        heapIndex[at] = j;
      }
    };
    if (touched) for (let t = 0; t < touchedCount; t++) consider(touched[t]!);
    else for (let j = 0; j < row.length; j++) consider(j);
    // In item order: the same input gives the same bytes.
    const kept = heapIndex.subarray(0, size).sort();
    this.reserve(size);
    for (const j of kept) {
      this.neighbours[this.size] = j;
      this.weights[this.size] = row[j]!;
      this.size++;
    }
    this.offsets[i + 1] = size;
  }

  private reserve(extra: number): void {
    if (this.size + extra <= this.neighbours.length) return;
    const capacity = Math.max(this.size + extra, this.neighbours.length * 2);
    const neighbours = new Uint32Array(capacity);
    neighbours.set(this.neighbours.subarray(0, this.size));
    const weights = new Float32Array(capacity);
    weights.set(this.weights.subarray(0, this.size));
    this.neighbours = neighbours;
    this.weights = weights;
  }

  /** The model; rows never added are empty. */
  finish(): NeighbourModel {
    // offsets[i + 1] holds row i's length until here.
    for (let i = 0; i < this.items; i++) this.offsets[i + 1] = this.offsets[i]! + this.offsets[i + 1]!;
    return {
      items: this.items,
      offsets: this.offsets,
      neighbours: this.neighbours.slice(0, this.size),
      weights: this.weights.slice(0, this.size),
    };
  }
}

export interface CosineOptions {
  /** Neighbours kept per item. */
  k: number;
  /** Added to the denominator: pairs with few co-likes count less (0: plain cosine). */
  shrink?: number;
}

/**
 * Item-kNN: sim(i, j) = Σ_u x_ui·x_uj / (‖x_i‖·‖x_j‖ + shrink) over a users × items matrix of
 * signals (with ones: co-likes over the geometric mean of the two items' likes).
 */
export function cosineNeighbours(signals: SparseRows, options: CosineOptions): NeighbourModel {
  const items = signals.columns;
  const byItem = transpose(signals);
  const norms = new Float64Array(items);
  for (let k = 0; k < signals.index.length; k++) norms[signals.index[k]!]! += signals.values[k]! ** 2;
  for (let i = 0; i < items; i++) norms[i] = Math.sqrt(norms[i]!);
  const shrink = options.shrink ?? 0;
  const collector = new RowCollector(items, options.k, false);
  const row = new Float64Array(items);
  const touched = new Uint32Array(items);
  for (let i = 0; i < items; i++) {
    let count = 0;
    for (let a = byItem.offsets[i]!; a < byItem.offsets[i + 1]!; a++) {
      const u = byItem.index[a]!;
      const xui = byItem.values[a]!;
      for (let b = signals.offsets[u]!; b < signals.offsets[u + 1]!; b++) {
        const j = signals.index[b]!;
        if (row[j] === 0) touched[count++] = j;
        row[j]! += xui * signals.values[b]!;
      }
    }
    for (let t = 0; t < count; t++) {
      const j = touched[t]!;
      row[j] = row[j]! / (norms[i]! * norms[j]! + shrink);
    }
    collector.add(i, row, touched, count);
    for (let t = 0; t < count; t++) row[touched[t]!] = 0;
  }
  return collector.finish();
}

export interface EaseOptions {
  /** The ridge: larger trusts co-views of rarely seen items less. */
  lambda: number;
  /** Neighbours kept per item (all of them with `Infinity`). */
  k: number;
  /** Keep the strongest negative weights too (a film that predicts another will not be watched). */
  keepNegative?: boolean;
  /** Learn over the `head` most seen items only; the others get no neighbours. */
  head?: number;
  /** Which inverse to take; by default the smaller one. */
  solve?: "primal" | "dual";
}

/** The items EASE learns over: those with a signal, the `head` most frequent when given. */
export function easeItems(signals: SparseRows, head = Number.POSITIVE_INFINITY): Uint32Array {
  const counts = columnCounts(signals);
  const seen = Array.from({ length: signals.columns }, (_, i) => i).filter((i) => counts[i]! > 0);
  seen.sort((a, b) => counts[b]! - counts[a]! || a - b);
  return Uint32Array.from(seen.slice(0, Math.min(seen.length, head))).sort();
}

/** The signals of the users who have any on the given items, columns renumbered 0..n-1. */
export function restrictColumns(signals: SparseRows, active: Uint32Array): SparseRows {
  const local = new Int32Array(signals.columns).fill(-1);
  active.forEach((item, c) => {
    local[item] = c;
  });
  const offsets: number[] = [0];
  const index: number[] = [];
  const values: number[] = [];
  for (let u = 0; u < signals.rows; u++) {
    for (let a = signals.offsets[u]!; a < signals.offsets[u + 1]!; a++) {
      const c = local[signals.index[a]!]!;
      if (c < 0) continue;
      index.push(c);
      values.push(signals.values[a]!);
    }
    if (index.length > offsets[offsets.length - 1]!) offsets.push(index.length);
  }
  return {
    rows: offsets.length - 1,
    columns: active.length,
    offsets: Uint32Array.from(offsets),
    index: Uint32Array.from(index),
    values: Float32Array.from(values),
  };
}

/** EASE over a users × items matrix of signals, kept sparse. */
export function easeNeighbours(signals: SparseRows, options: EaseOptions): NeighbourModel {
  const active = easeItems(signals, options.head);
  return easeOver({ rows: restrictColumns(signals, active) }, active, signals.columns, options);
}

/**
 * EASE over the `active` items (ascending), from their signals (columns renumbered 0..n-1, as
 * `restrictColumns` gives them) or from their Gram matrix XᵀX accumulated elsewhere, without the
 * ridge. The neighbour lists are over `items` titles.
 */
export function easeOver(
  source: { rows: SparseRows } | { gram: Float64Array },
  active: Uint32Array,
  items: number,
  options: Omit<EaseOptions, "head">,
): NeighbourModel {
  const collector = new RowCollector(items, options.k, options.keepNegative ?? false);
  const row = new Float64Array(items);
  const n = active.length;
  const emit = (c: number, localRow: Float64Array) => {
    for (let d = 0; d < n; d++) row[active[d]!] = localRow[d]!;
    collector.add(active[c]!, row, active);
  };
  if ("gram" in source) {
    const gram = source.gram;
    for (let c = 0; c < n; c++) gram[c * n + c]! += options.lambda;
    easePrimal(gram, n, emit);
    return collector.finish();
  }
  const x = source.rows;
  const solve = options.solve ?? (x.rows < x.columns ? "dual" : "primal");
  if (solve === "primal") easePrimal(gramWithRidge(x, options.lambda), n, emit);
  else easeDual(x, options.lambda, emit);
  return collector.finish();
}

/** Adds one user's signals (columns local to the Gram's n items) to XᵀX: a multiply-add per pair. */
export function addToGram(
  gram: Float64Array,
  n: number,
  index: ArrayLike<number>,
  values: ArrayLike<number>,
  from = 0,
  to = index.length,
): void {
  for (let a = from; a < to; a++) {
    const ra = index[a]! * n;
    const va = values[a]!;
    for (let b = from; b < to; b++) gram[ra + index[b]!]! += va * values[b]!;
  }
}

/** XᵀX + λI, dense n×n: one multiply-add per pair of one user's signals. */
export function gramWithRidge(x: SparseRows, lambda: number): Float64Array {
  const n = x.columns;
  const gram = new Float64Array(n * n);
  for (let u = 0; u < x.rows; u++) addToGram(gram, n, x.index, x.values, x.offsets[u]!, x.offsets[u + 1]!);
  for (let c = 0; c < n; c++) gram[c * n + c]! += lambda;
  return gram;
}

/** Gram matrix plus ridge, inverted in place: n³/2 multiply-adds and n² floats for n items. */
function easePrimal(gram: Float64Array, n: number, emit: (c: number, row: Float64Array) => void): void {
  const p = invertSpd(gram, n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j < n; j++) out[j] = i === j ? 0 : -p[ri + j]! / p[j * n + j]!;
    emit(i, out);
  }
}

/**
 * The same B from the users × users side: Q = Xᵀ(XXᵀ + λI)⁻¹X, B_ij = Q_ij / (1 − Q_jj).
 * m³/2 + m·nnz + n·nnz multiply-adds and m·n floats, for m users, n items and nnz signals.
 */
function easeDual(x: SparseRows, lambda: number, emit: (c: number, row: Float64Array) => void): void {
  const m = x.rows;
  const n = x.columns;
  const byItem = transpose(x);
  // K = XXᵀ + λI, one user's row at a time against a dense copy of that user's signals.
  const kernel = new Float64Array(m * m);
  const dense = new Float64Array(n);
  for (let u = 0; u < m; u++) {
    for (let a = x.offsets[u]!; a < x.offsets[u + 1]!; a++) dense[x.index[a]!] = x.values[a]!;
    for (let v = 0; v <= u; v++) {
      let shared = 0;
      for (let b = x.offsets[v]!; b < x.offsets[v + 1]!; b++) shared += dense[x.index[b]!]! * x.values[b]!;
      kernel[u * m + v] = shared;
      kernel[v * m + u] = shared;
    }
    kernel[u * m + u]! += lambda;
    for (let a = x.offsets[u]!; a < x.offsets[u + 1]!; a++) dense[x.index[a]!] = 0;
  }
  invertSpd(kernel, m);
  // Y = K⁻¹X, users × items.
  const y = new Float64Array(m * n);
  for (let v = 0; v < m; v++) {
    for (let u = 0; u < m; u++) {
      const weight = kernel[u * m + v]!;
      const ru = u * n;
      for (let a = x.offsets[v]!; a < x.offsets[v + 1]!; a++) y[ru + x.index[a]!]! += weight * x.values[a]!;
    }
  }
  const qDiagonal = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    let s = 0;
    for (let a = byItem.offsets[c]!; a < byItem.offsets[c + 1]!; a++)
      s += byItem.values[a]! * y[byItem.index[a]! * n + c]!;
    qDiagonal[c] = s;
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    out.fill(0);
    for (let a = byItem.offsets[i]!; a < byItem.offsets[i + 1]!; a++) {
      const ru = byItem.index[a]! * n;
      const xui = byItem.values[a]!;
      for (let j = 0; j < n; j++) out[j]! += xui * y[ru + j]!;
    }
    for (let j = 0; j < n; j++) out[j] = i === j ? 0 : out[j]! / (1 - qDiagonal[j]!);
    emit(i, out);
  }
}

/** Adds what each history item's neighbours get to `scores`: Σ weight(h) · B[h, j]. */
export function accumulateScores(
  model: NeighbourModel,
  history: readonly { item: number; weight: number }[],
  scores: Float64Array,
): void {
  const { offsets, neighbours, weights } = model;
  for (const { item, weight } of history) {
    if (item < 0 || item >= model.items) continue;
    for (let a = offsets[item]!; a < offsets[item + 1]!; a++) scores[neighbours[a]!]! += weight * weights[a]!;
  }
}

/**
 * The history item that adds the most to `item`'s score (the film a reason names), or -1 when
 * none adds anything.
 */
export function strongestContributor(
  model: NeighbourModel,
  history: readonly { item: number; weight: number }[],
  item: number,
): number {
  let best = -1;
  let bestContribution = 0;
  for (const { item: from, weight } of history) {
    if (from < 0 || from >= model.items) continue;
    // Rows are in ascending neighbour order: find the item by bisection.
    let lo = model.offsets[from]!;
    let hi = model.offsets[from + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (model.neighbours[mid]! < item) lo = mid + 1;
      else hi = mid;
    }
    if (lo === model.offsets[from + 1]! || model.neighbours[lo] !== item) continue;
    const contribution = weight * model.weights[lo]!;
    if (contribution > bestContribution) {
      best = from;
      bestContribution = contribution;
    }
  }
  return best;
}
