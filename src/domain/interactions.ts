/**
 * Everyone's viewing as a sparse users × items matrix: the input of the shared collaborative
 * model. Items and users are dense indices here; mapping them from and to content ids is the
 * caller's business.
 */

/** One user's signal on one item. */
export interface Signal {
  user: number;
  item: number;
  /** What the signal says, for the matrix's weighing (a view's completion, a rating). */
  value: number;
  /** When, epoch ms: orders a user's history. */
  at: number;
}

/** Compressed sparse rows: row r holds columns `index[offsets[r] .. offsets[r + 1])`. */
export interface SparseRows {
  rows: number;
  columns: number;
  offsets: Uint32Array;
  index: Uint32Array;
  values: Float32Array;
}

/**
 * Signals as a users × items matrix, each weighed by `weight` (0 leaves it out); a user with
 * several signals on one item keeps the strongest. The default keeps likes as ones: what
 * co-viewing models learn from.
 */
export function signalMatrix(
  signals: Iterable<Signal>,
  users: number,
  items: number,
  weight: (signal: Signal) => number = (s) => (s.value > 0 ? 1 : 0),
): SparseRows {
  const byUser: Map<number, number>[] = Array.from({ length: users }, () => new Map());
  for (const s of signals) {
    if (s.user < 0 || s.user >= users || s.item < 0 || s.item >= items) {
      throw new RangeError(`signal (${s.user}, ${s.item}) is outside ${users} users × ${items} items`);
    }
    const w = weight(s);
    if (!(w > 0)) continue;
    const row = byUser[s.user]!;
    row.set(s.item, Math.max(w, row.get(s.item) ?? 0));
  }
  const offsets = new Uint32Array(users + 1);
  for (let u = 0; u < users; u++) offsets[u + 1] = offsets[u]! + byUser[u]!.size;
  const index = new Uint32Array(offsets[users]!);
  const values = new Float32Array(offsets[users]!);
  for (let u = 0; u < users; u++) {
    let at = offsets[u]!;
    for (const [item, w] of [...byUser[u]!].sort((a, b) => a[0] - b[0])) {
      index[at] = item;
      values[at++] = w;
    }
  }
  return { rows: users, columns: items, offsets, index, values };
}

/** The same matrix by columns: items × users. */
export function transpose(m: SparseRows): SparseRows {
  const offsets = new Uint32Array(m.columns + 1);
  for (let k = 0; k < m.index.length; k++) offsets[m.index[k]! + 1]!++;
  for (let c = 0; c < m.columns; c++) offsets[c + 1] = offsets[c + 1]! + offsets[c]!;
  const next = offsets.slice(0, m.columns);
  const index = new Uint32Array(m.index.length);
  const values = new Float32Array(m.index.length);
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.offsets[r]!; k < m.offsets[r + 1]!; k++) {
      const c = m.index[k]!;
      const at = next[c]!;
      index[at] = r;
      values[at] = m.values[k]!;
      next[c] = at + 1;
    }
  }
  return { rows: m.columns, columns: m.rows, offsets, index, values };
}

/** How many users have each item. */
export function columnCounts(m: SparseRows): Uint32Array {
  const counts = new Uint32Array(m.columns);
  for (let k = 0; k < m.index.length; k++) counts[m.index[k]!]!++;
  return counts;
}

/** The sum of each item's weights: popularity, weighed like the matrix. */
export function columnSums(m: SparseRows): Float64Array {
  const sums = new Float64Array(m.columns);
  for (let k = 0; k < m.index.length; k++) sums[m.index[k]!]! += m.values[k]!;
  return sums;
}
