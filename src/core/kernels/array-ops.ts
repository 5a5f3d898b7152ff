import type { FloatArray } from "../tensor.js";

/**
 * The array operations of the core, over row-major typed arrays of one dtype: the matrix products
 * behind Affine, and the elementwise loops of the hot path (bias, ReLU, the finiteness checks, the
 * updates of SGD, Momentum and Adam, minibatch gathering, softmax with its loss).
 * Outputs are overwritten unless a method says it adds. The TypeScript implementation is the
 * reference; the WebAssembly SIMD one replaces it in worker threads.
 */
export interface ArrayOps {
  /** out[m×n] = a[m×k] · b[k×n] */
  gemm(a: FloatArray, b: FloatArray, out: FloatArray, m: number, k: number, n: number): void;
  /** out[m×k] = a[m×n] · bᵀ, b being [k×n] (dx = dout · Wᵀ) */
  gemmNT(a: FloatArray, b: FloatArray, out: FloatArray, m: number, n: number, k: number): void;
  /** out[k×n] = aᵀ · b, a being [m×k] and b [m×n] (dW = xᵀ · dout) */
  gemmTN(a: FloatArray, b: FloatArray, out: FloatArray, m: number, k: number, n: number): void;
  /** out[n] = Σ_rows a[m×n] (db = Σ dout) */
  colSum(a: FloatArray, out: FloatArray, m: number, n: number): void;
  /** y += alpha·x, elementwise (SGD's step, weight decay's gradient) */
  axpy(alpha: number, x: FloatArray, y: FloatArray): void;
  /** Momentum SGD's step: v = momentum·v - lr·g, then W += v */
  momentumStep(W: FloatArray, g: FloatArray, v: FloatArray, momentum: number, lr: number): void;
  /**
   * Adam's step, the bias correction folded into lrT: m += (1 - β1)(g - m),
   * v += (1 - β2)(g² - v), W -= lrT·m / (√v + 1e-7)
   */
  adamStep(
    W: FloatArray,
    g: FloatArray,
    m: FloatArray,
    v: FloatArray,
    beta1: number,
    beta2: number,
    lrT: number,
  ): void;
  /** out[m×n] += b[n] on every row (Affine's bias) */
  addRowVector(out: FloatArray, b: FloatArray, m: number, n: number): void;
  /** out = x where x > 0, else 0; NaN passes through, for the finiteness check to find */
  relu(x: FloatArray, out: FloatArray): void;
  /** dx = dout where out > 0, else 0 (out being ReLU's output) */
  reluBackward(out: FloatArray, dout: FloatArray, dx: FloatArray): void;
  /** Index of the first NaN or ±∞, or -1. */
  firstNonFinite(a: FloatArray): number;
  /**
   * out[i×width…] = src[rows[i]×width…] for every i, cast into out's dtype (a minibatch drawn
   * by index); a RangeError for a row src does not have.
   */
  gatherRows(src: FloatArray, rows: Int32Array, out: FloatArray, width: number): void;
  /**
   * gatherRows begun, perhaps finished on another core while this thread computes: `out` holds the
   * rows once gatherRowsWait() has returned, and until then neither `rows` nor `out` may be used.
   * One at a time per thread: a gather not waited for is finished first. Arguments are checked,
   * and a bad one thrown, before anything is copied.
   */
  gatherRowsAhead(src: FloatArray, rows: Int32Array, out: FloatArray, width: number): void;
  /** Returns once the last gatherRowsAhead's rows are all in its `out`. */
  gatherRowsWait(): void;
  /**
   * This thread begins (true) a pool task's work, or ends it or waits within it (false). Ops that
   * lend large work to another core do so only while no other thread is computing, whose core
   * that would take.
   */
  computing(busy: boolean): void;
  /**
   * SoftmaxWithLoss against class indices t[n], forward, loss and backward (for dloss = 1) in one
   * pass over x[n×classes]: y = softmax(x) per row, dx = (y - onehot(t)) / n; returns
   * -Σ log(y[i, t_i] + 1e-7) / n. A RangeError for a t_i that is no class index.
   */
  softmaxCrossEntropy(
    x: FloatArray,
    t: FloatArray,
    y: FloatArray,
    dx: FloatArray,
    n: number,
    classes: number,
  ): number;
}
