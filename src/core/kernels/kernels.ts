import type { FloatArray } from "../tensor.js";

/**
 * The matrix products behind Affine, over row-major typed arrays of one dtype. Every output is
 * overwritten, never accumulated into. A faster implementation (WebAssembly SIMD) can replace the
 * TypeScript one behind this interface.
 */
export interface MatKernels {
  /** out[m×n] = a[m×k] · b[k×n] */
  gemm(a: FloatArray, b: FloatArray, out: FloatArray, m: number, k: number, n: number): void;
  /** out[m×k] = a[m×n] · bᵀ, b being [k×n] (dx = dout · Wᵀ) */
  gemmNT(a: FloatArray, b: FloatArray, out: FloatArray, m: number, n: number, k: number): void;
  /** out[k×n] = aᵀ · b, a being [m×k] and b [m×n] (dW = xᵀ · dout) */
  gemmTN(a: FloatArray, b: FloatArray, out: FloatArray, m: number, k: number, n: number): void;
  /** out[n] = Σ_rows a[m×n] (db = Σ dout) */
  colSum(a: FloatArray, out: FloatArray, m: number, n: number): void;
}
