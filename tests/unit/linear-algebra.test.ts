import { describe, expect, it } from "vitest";
import { seededRandom } from "../../src/domain/catalog";
import { invertSpd, NotPositiveDefinite } from "../../src/domain/linear-algebra";

/** A random Gram matrix plus a ridge: symmetric positive definite. */
function randomSpd(n: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const rows = n + 3;
  const x = Array.from({ length: rows * n }, () => (random() < 0.4 ? 1 : 0));
  const a = new Float64Array(n * n);
  for (let u = 0; u < rows; u++)
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j]! += x[u * n + i]! * x[u * n + j]!;
  for (let i = 0; i < n; i++) a[i * n + i]! += 0.5 + random();
  return a;
}

describe("inverse of a symmetric positive-definite matrix", () => {
  it("inverts a 2×2 matrix to its closed form", () => {
    // [[4, 2], [2, 3]]⁻¹ = [[3, -2], [-2, 4]] / 8
    const inverse = invertSpd(Float64Array.from([4, 2, 2, 3]), 2);
    expect([...inverse].map((v) => v * 8)).toEqual([3, -2, -2, 4].map((v) => expect.closeTo(v, 12)));
  });

  it("gives A·A⁻¹ = I and a symmetric inverse at every size around its 4-row blocks", () => {
    for (let n = 1; n <= 13; n++) {
      const a = randomSpd(n, n);
      const inverse = invertSpd(a.slice(), n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += a[i * n + k]! * inverse[k * n + j]!;
          expect(s).toBeCloseTo(i === j ? 1 : 0, 9);
          expect(inverse[i * n + j]).toBe(inverse[j * n + i]);
        }
      }
    }
  });

  it("refuses a matrix that is not positive definite", () => {
    expect(() => invertSpd(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(NotPositiveDefinite);
    expect(() => invertSpd(new Float64Array(3), 2)).toThrow(RangeError);
  });
});
