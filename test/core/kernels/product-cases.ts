/**
 * The products every kernel path is tested on against the TypeScript reference, and the bound on
 * how far apart rounding may put them.
 */
import type { ArrayOps } from "../../../src/core/kernels/array-ops.js";
import type { DType, FloatArray } from "../../../src/core/tensor.js";
import { mulberry32 } from "../helpers.js";

/**
 * Every operation is run as a product out [m×n] of depth k, whatever its argument order, so that
 * one list of shapes aims at the same blocking edges in all four: 4-row × 8 (float32) or 4
 * (float64) column register tiles, 64-row blocks, 256-deep slabs, and B slabs NC = 512 (float32)
 * or 256 (float64) columns wide.
 */
export type Shape = readonly [m: number, k: number, n: number];

const EDGE_SHAPES: Shape[] = [
  [1, 1, 1],
  [2, 0, 3],
  // whole tiles, and edge tiles on either axis and on both
  [4, 3, 8],
  [8, 5, 16],
  [3, 7, 8],
  [4, 6, 5],
  [5, 7, 9],
  [7, 13, 15],
  [1, 9, 31],
  [31, 9, 1],
  // 256-deep slabs
  [5, 256, 9],
  [6, 257, 10],
  [3, 512, 11],
  [9, 600, 7],
  // 64-row blocks
  [64, 5, 8],
  [65, 9, 9],
  [130, 17, 13],
  // B slabs of NC columns
  [5, 9, 256],
  [5, 13, 257],
  [3, 257, 270],
  [6, 300, 512],
  [5, 9, 513],
  [7, 11, 530],
  // MNIST's 784-50-10 network on batches of 100: forward, dW = xᵀ·dout, dx = dout·Wᵀ
  [100, 784, 50],
  [100, 50, 10],
  [784, 100, 50],
  [50, 100, 10],
  [100, 50, 784],
  [100, 10, 50],
];

/** A log-uniform size in [1, max]. */
const size = (random: () => number, max: number) =>
  Math.max(1, Math.round(Math.exp(random() * Math.log(max))));

/** Edge cases, then seeded random shapes of at most 300 000 multiply-adds. */
export const SHAPES: Shape[] = [...EDGE_SHAPES];
for (const random = mulberry32(2024); SHAPES.length < EDGE_SHAPES.length + 8; ) {
  const shape: Shape = [size(random, 150), size(random, 700), size(random, 600)];
  if (shape[0] * shape[1] * shape[2] <= 300_000) SHAPES.push(shape);
}

export interface Operation {
  readonly name: keyof ArrayOps;
  /** Lengths of a, b and out for a product of this shape. */
  lengths(shape: Shape): [number, number, number];
  run(kernels: ArrayOps, a: FloatArray, b: FloatArray, out: FloatArray, shape: Shape): void;
}

export const OPERATIONS: readonly Operation[] = [
  {
    name: "gemm",
    lengths: ([m, k, n]) => [m * k, k * n, m * n],
    run: (K, a, b, out, [m, k, n]) => K.gemm(a, b, out, m, k, n),
  },
  {
    // out [m×n] = a [m×k] · (b [n×k])ᵀ
    name: "gemmNT",
    lengths: ([m, k, n]) => [m * k, n * k, m * n],
    run: (K, a, b, out, [m, k, n]) => K.gemmNT(a, b, out, m, k, n),
  },
  {
    // out [m×n] = (a [k×m])ᵀ · b [k×n]
    name: "gemmTN",
    lengths: ([m, k, n]) => [k * m, k * n, m * n],
    run: (K, a, b, out, [m, k, n]) => K.gemmTN(a, b, out, k, m, n),
  },
  {
    // out [n] = Σ over the k rows of a [k×n]; b is unused
    name: "colSum",
    lengths: ([, k, n]) => [k * n, 0, n],
    run: (K, a, _b, out, [, k, n]) => K.colSum(a, out, k, n),
  },
];

export function filled(dtype: DType, length: number, draw: () => number): FloatArray {
  const data = dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
  for (let i = 0; i < length; i++) data[i] = draw();
  return data;
}

export const uniform = (random: () => number) => () => random() * 2 - 1;

/** Integers in [-8, 8]: every partial sum of k ≤ 784 products stays below 2²⁴, exact in float32. */
export const integer = (random: () => number) => () => Math.floor(random() * 17) - 8;

export const nans = (dtype: DType, length: number) => filled(dtype, length, () => Number.NaN);

export function absolute(data: FloatArray): Float64Array {
  const abs = new Float64Array(data.length);
  for (let i = 0; i < data.length; i++) abs[i] = Math.abs(data[i]);
  return abs;
}

/**
 * Bounds on |candidate - TypeScript|, as multiples of Σ_p |A(i, p)|·|B(p, j)|. A sum of k
 * products rounded after each operation is off by at most γ_k·Σ|a||b|, γ_k = k·u/(1 - k·u)
 * (Higham, "Accuracy and Stability of Numerical Algorithms", §3.1); colSum is the case b = 1.
 * The WebAssembly code and OpenBLAS add all k products in the dtype (in some order, fused or
 * not): γ_k. The TypeScript code adds each
 * 256-deep slab in float64 and rounds the running total into `out` once per slab (s = ⌈k/256⌉
 * times): γ_s in float32 (its float64 sums are 2⁻²⁹ times finer), γ_(k+s) in float64. The
 * difference of the two is bounded by the sum of their bounds; 1.01 covers the 1 - k·u and the
 * float64 rounding of Σ|a||b| itself.
 */
export function errorFactor(dtype: DType, k: number): number {
  const slabs = Math.ceil(k / 256);
  return dtype === "float32"
    ? 1.01 * (k + slabs + 1) * 2 ** -24
    : 1.01 * (2 * k + slabs) * 2 ** -53;
}
