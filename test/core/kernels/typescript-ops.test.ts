import { describe, expect, it } from "vitest";
import { createTypescriptOps } from "../../../src/core/kernels/typescript-ops.js";
import { allocate, DTYPES, type DType, type FloatArray } from "../../../src/core/tensor.js";
import { expectClose, mulberry32, naiveMatMul } from "../helpers.js";

const tsKernels = createTypescriptOps();
const random = mulberry32(7);

function randomArray(length: number, dtype: DType): FloatArray {
  const data = allocate(dtype, length);
  for (let i = 0; i < length; i++) data[i] = random() * 2 - 1;
  return data;
}

/** An output full of NaN: a kernel that accumulates into `out` instead of overwriting it fails. */
function poisoned(length: number, dtype: DType): FloatArray {
  return allocate(dtype, length).fill(Number.NaN);
}

// float32 inputs are exact in float64; the kernels sum in float64 and round once per 256-deep
// slab, so a tolerance relative to Σ|a||b| covers the float32 output rounding.
const tolerance = (dtype: DType, k: number) =>
  dtype === "float64" ? { rtol: 1e-12, atol: 1e-13 * k } : { rtol: 2e-6, atol: 1e-6 * k };

// Odd sizes around the 4×4 tile, plus sizes across the 128-row and 256-deep block edges.
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [1, 5, 1],
  [3, 1, 5],
  [5, 17, 3],
  [17, 33, 65],
  [65, 3, 17],
  [4, 4, 4],
  [8, 12, 16],
  [33, 65, 1],
  [1, 65, 33],
  [130, 300, 7],
  [7, 300, 130],
  [129, 257, 9],
];

describe("tsKernels", () => {
  for (const dtype of DTYPES) {
    describe(dtype, () => {
      it.each(SIZES)("gemm: out[m×n] = a[m×k]·b[k×n] for %i, %i, %i", (m, k, n) => {
        const a = randomArray(m * k, dtype);
        const b = randomArray(k * n, dtype);
        const out = poisoned(m * n, dtype);
        tsKernels.gemm(a, b, out, m, k, n);
        const expected = naiveMatMul(
          (i, p) => a[i * k + p],
          (p, j) => b[p * n + j],
          m,
          k,
          n,
        );
        expectClose(out, expected, tolerance(dtype, k));
      });

      it.each(SIZES)("gemmNT: out[m×k] = a[m×n]·bᵀ for %i, %i, %i", (m, n, k) => {
        const a = randomArray(m * n, dtype);
        const b = randomArray(k * n, dtype);
        const out = poisoned(m * k, dtype);
        tsKernels.gemmNT(a, b, out, m, n, k);
        const expected = naiveMatMul(
          (i, p) => a[i * n + p],
          (p, j) => b[j * n + p],
          m,
          n,
          k,
        );
        expectClose(out, expected, tolerance(dtype, n));
      });

      it.each(SIZES)("gemmTN: out[k×n] = aᵀ·b for a [%i×%i], b [m×%i]", (m, k, n) => {
        const a = randomArray(m * k, dtype);
        const b = randomArray(m * n, dtype);
        const out = poisoned(k * n, dtype);
        tsKernels.gemmTN(a, b, out, m, k, n);
        const expected = naiveMatMul(
          (i, p) => a[p * k + i],
          (p, j) => b[p * n + j],
          k,
          m,
          n,
        );
        expectClose(out, expected, tolerance(dtype, m));
      });

      it.each(SIZES)("colSum of a [%i×%i] (and [%i] wide)", (m, n) => {
        const a = randomArray(m * n, dtype);
        const out = poisoned(n, dtype);
        tsKernels.colSum(a, out, m, n);
        const expected = naiveMatMul(
          () => 1,
          (p, j) => a[p * n + j],
          1,
          m,
          n,
        );
        expectClose(out, expected, tolerance(dtype, m));
      });
    });
  }

  it("writes only the first m×n elements of a longer output", () => {
    const out = new Float64Array(7).fill(42);
    tsKernels.gemm(Float64Array.of(1, 2), Float64Array.of(3, 4), out, 2, 1, 2);
    expect(Array.from(out)).toEqual([3, 4, 6, 8, 42, 42, 42]);
  });

  it("gives zeros for an empty inner dimension", () => {
    const out = new Float32Array(6).fill(Number.NaN);
    tsKernels.gemm(new Float32Array(0), new Float32Array(0), out, 2, 0, 3);
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("multiplies a hand-worked 2×3 by 3×2", () => {
    const out = new Float64Array(4);
    tsKernels.gemm(
      Float64Array.of(1, 2, 3, 4, 5, 6),
      Float64Array.of(7, 8, 9, 10, 11, 12),
      out,
      2,
      3,
      2,
    );
    expect(Array.from(out)).toEqual([58, 64, 139, 154]);
  });

  it("gathers hand-picked rows, casting float32 into float64 exactly", () => {
    const src = Float32Array.of(0.1, 0.2, 1.5, 2.5, -3, 4);
    const out = new Float64Array(6).fill(Number.NaN);
    tsKernels.gatherRows(src, Int32Array.of(2, 0, 2), out, 2);
    expect(Array.from(out)).toEqual([-3, 4, Math.fround(0.1), Math.fround(0.2), -3, 4]);
  });

  it("softmaxCrossEntropy: hand-worked softmax, loss and gradient of [[1, 2, 3], [0, 0, 0]]", () => {
    const x = Float64Array.of(1, 2, 3, 0, 0, 0);
    const [y, dx] = [new Float64Array(6).fill(Number.NaN), new Float64Array(6).fill(Number.NaN)];
    const loss = tsKernels.softmaxCrossEntropy(x, Float64Array.of(2, 0), y, dx, 2, 3);
    // softmax(1, 2, 3) = e^(j-3) / (e^-2 + e^-1 + 1)
    const sum = Math.exp(-2) + Math.exp(-1) + 1;
    const first = [Math.exp(-2) / sum, Math.exp(-1) / sum, 1 / sum];
    expectClose(y, [...first, 1 / 3, 1 / 3, 1 / 3], { rtol: 1e-15, atol: 0 });
    expect(loss).toBeCloseTo(-(Math.log(first[2] + 1e-7) + Math.log(1 / 3 + 1e-7)) / 2, 14);
    expectClose(dx, [first[0] / 2, first[1] / 2, (first[2] - 1) / 2, -1 / 3, 1 / 6, 1 / 6], {
      rtol: 1e-14,
      atol: 1e-16,
    });
  });

  it("softmaxCrossEntropy's dx is the loss's gradient, by central differences", () => {
    const [n, classes] = [4, 5];
    const x = randomArray(n * classes, "float64").map((v) => v * 3);
    const t = Float64Array.of(0, 4, 2, 2);
    const scratch = () => new Float64Array(n * classes);
    const dx = scratch();
    tsKernels.softmaxCrossEntropy(x, t, scratch(), dx, n, classes);
    const h = 1e-6;
    for (let i = 0; i < x.length; i++) {
      const at = (shift: number) => {
        const moved = x.slice();
        moved[i] += shift;
        return tsKernels.softmaxCrossEntropy(moved, t, scratch(), scratch(), n, classes);
      };
      // δ = 1e-7 inside the log moves the gradient by about δ/y, far below this tolerance.
      expect(Math.abs((at(h) - at(-h)) / (2 * h) - dx[i])).toBeLessThan(1e-6);
    }
  });
});
