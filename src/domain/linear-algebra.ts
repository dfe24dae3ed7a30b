/**
 * The one dense routine the item models need: the inverse of a symmetric positive-definite
 * matrix (a Gram matrix plus a ridge), in place, as LAPACK's potrf + potri do it: Cholesky
 * A = L·Lᵀ, then M = L⁻¹, then A⁻¹ = Mᵀ·M. Every inner loop is a dot product over two contiguous
 * rows, four rows at a time so that each row read from memory serves four sums: about n³/2
 * multiply-adds in all. The recommendations benchmark measures it against ml-matrix's Cholesky
 * and LU inverses (an order of magnitude slower here).
 */

export class NotPositiveDefinite extends Error {
  override name = "NotPositiveDefinite";
}

/**
 * Replaces the row-major n×n symmetric positive-definite `a` by its inverse (both triangles) and
 * returns it. Throws NotPositiveDefinite (leaving `a` spoiled) when a pivot is not positive.
 */
export function invertSpd(a: Float64Array, n: number): Float64Array {
  if (a.length < n * n) throw new RangeError(`a ${n}×${n} matrix needs ${n * n} values, not ${a.length}`);
  const diagonal = new Float64Array(n);
  cholesky(a, n, diagonal);
  invertLower(a, n, diagonal);
  multiplyTransposed(a, n);
  return a;
}

/** L in the strict lower triangle of `a`, its diagonal in `diagonal`. */
function cholesky(a: Float64Array, n: number, diagonal: Float64Array): void {
  for (let i0 = 0; i0 < n; i0 += 4) {
    const rows = Math.min(4, n - i0);
    const r0 = i0 * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    // Columns left of the block: every row of the block shares the row j read.
    for (let j = 0; j < i0; j++) {
      const rj = j * n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      if (rows === 4) {
        for (let k = 0; k < j; k++) {
          const l = a[rj + k]!;
          s0 += a[r0 + k]! * l;
          s1 += a[r1 + k]! * l;
          s2 += a[r2 + k]! * l;
          s3 += a[r3 + k]! * l;
        }
      } else {
        for (let k = 0; k < j; k++) {
          const l = a[rj + k]!;
          s0 += a[r0 + k]! * l;
          if (rows > 1) s1 += a[r1 + k]! * l;
          if (rows > 2) s2 += a[r2 + k]! * l;
        }
      }
      const d = diagonal[j]!;
      a[r0 + j] = (a[r0 + j]! - s0) / d;
      if (rows > 1) a[r1 + j] = (a[r1 + j]! - s1) / d;
      if (rows > 2) a[r2 + j] = (a[r2 + j]! - s2) / d;
      if (rows > 3) a[r3 + j] = (a[r3 + j]! - s3) / d;
    }
    // The block's own small triangle.
    for (let i = i0; i < i0 + rows; i++) {
      const ri = i * n;
      for (let j = i0; j <= i; j++) {
        const rj = j * n;
        let s = 0;
        for (let k = 0; k < j; k++) s += a[ri + k]! * a[rj + k]!;
        if (j < i) {
          a[ri + j] = (a[ri + j]! - s) / diagonal[j]!;
        } else {
          const pivot = a[ri + i]! - s;
          if (!(pivot > 0)) throw new NotPositiveDefinite(`pivot ${i} is ${pivot}`);
          diagonal[i] = Math.sqrt(pivot);
        }
      }
    }
  }
}

/**
 * M = L⁻¹ by columns: column j solves L·m = e_j. Column j of M is stored as row j of the upper
 * triangle of `a` (diagonal included), which L does not use.
 */
function invertLower(a: Float64Array, n: number, diagonal: Float64Array): void {
  for (let j0 = 0; j0 < n; j0 += 4) {
    const columns = Math.min(4, n - j0);
    const m0 = j0 * n;
    const m1 = m0 + n;
    const m2 = m1 + n;
    const m3 = m2 + n;
    const start = j0 + columns;
    // The block's own small triangle; entries of a column above its diagonal are zero and never read.
    for (let c = 0; c < columns; c++) {
      const j = j0 + c;
      const mj = j * n;
      a[mj + j] = 1 / diagonal[j]!;
      for (let i = j + 1; i < start; i++) {
        const ri = i * n;
        let s = 0;
        for (let k = j; k < i; k++) s += a[ri + k]! * a[mj + k]!;
        a[mj + i] = -s / diagonal[i]!;
      }
    }
    for (let i = start; i < n; i++) {
      const ri = i * n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let k = j0; k < start; k++) {
        const l = a[ri + k]!;
        const c = k - j0;
        s0 += l * a[m0 + k]!;
        if (c >= 1) s1 += l * a[m1 + k]!;
        if (c >= 2) s2 += l * a[m2 + k]!;
        if (c >= 3) s3 += l * a[m3 + k]!;
      }
      if (columns === 4) {
        for (let k = start; k < i; k++) {
          const l = a[ri + k]!;
          s0 += l * a[m0 + k]!;
          s1 += l * a[m1 + k]!;
          s2 += l * a[m2 + k]!;
          s3 += l * a[m3 + k]!;
        }
      } else {
        for (let k = start; k < i; k++) {
          const l = a[ri + k]!;
          s0 += l * a[m0 + k]!;
          if (columns > 1) s1 += l * a[m1 + k]!;
          if (columns > 2) s2 += l * a[m2 + k]!;
        }
      }
      const d = diagonal[i]!;
      a[m0 + i] = -s0 / d;
      if (columns > 1) a[m1 + i] = -s1 / d;
      if (columns > 2) a[m2 + i] = -s2 / d;
      if (columns > 3) a[m3 + i] = -s3 / d;
    }
  }
}

/**
 * A⁻¹ = Mᵀ·M from the columns of M held as the upper rows of `a`: entry (p, q), p ≤ q, is the
 * dot product of rows p and q from q on. Rows are finished in order, four at a time through a
 * scratch buffer, so every row still read is intact; the lower triangle is mirrored last.
 */
function multiplyTransposed(a: Float64Array, n: number): void {
  const scratch = new Float64Array(4 * n);
  for (let p0 = 0; p0 < n; p0 += 4) {
    const rows = Math.min(4, n - p0);
    const a0 = p0 * n;
    const a1 = a0 + n;
    const a2 = a1 + n;
    const a3 = a2 + n;
    for (let q = p0; q < n; q++) {
      const rq = q * n;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      if (rows === 4 && q >= p0 + 3) {
        for (let k = q; k < n; k++) {
          const m = a[rq + k]!;
          s0 += a[a0 + k]! * m;
          s1 += a[a1 + k]! * m;
          s2 += a[a2 + k]! * m;
          s3 += a[a3 + k]! * m;
        }
      } else {
        for (let k = q; k < n; k++) {
          const m = a[rq + k]!;
          s0 += a[a0 + k]! * m;
          if (rows > 1 && q >= p0 + 1) s1 += a[a1 + k]! * m;
          if (rows > 2 && q >= p0 + 2) s2 += a[a2 + k]! * m;
          if (rows > 3 && q >= p0 + 3) s3 += a[a3 + k]! * m;
        }
      }
      scratch[q] = s0;
      scratch[n + q] = s1;
      scratch[2 * n + q] = s2;
      scratch[3 * n + q] = s3;
    }
    for (let r = 0; r < rows; r++) {
      const p = p0 + r;
      const rp = p * n;
      for (let q = p; q < n; q++) a[rp + q] = scratch[r * n + q]!;
    }
  }
  for (let p = 0; p < n; p++) for (let q = 0; q < p; q++) a[p * n + q] = a[q * n + p]!;
}
