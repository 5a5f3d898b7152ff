import type { FloatArray } from "../tensor.js";

/** Keeps log away from 0, as the book's cross_entropy_error does. */
export const DELTA = 1e-7;

/**
 * y = exp(x - max) / Σ exp(x - max) over each row of `classes` values. Subtracting the row max keeps
 * every exp in (0, 1], and the max itself gives exp(0) = 1, so 1 <= Σ <= classes: no overflow and
 * no division by 0 for any finite x. `exps` (float64, at least `classes` long) holds one row so
 * float32 outputs are rounded once.
 */
export function softmaxRows(
  x: FloatArray,
  y: FloatArray,
  classes: number,
  exps: Float64Array,
  rows = x.length / classes,
): void {
  for (let row = 0, end = rows * classes; row < end; row += classes) {
    let max = -Infinity;
    for (let j = 0; j < classes; j++) if (x[row + j] > max) max = x[row + j];
    let sum = 0;
    for (let j = 0; j < classes; j++) {
      exps[j] = Math.exp(x[row + j] - max);
      sum += exps[j];
    }
    for (let j = 0; j < classes; j++) y[row + j] = exps[j] / sum;
  }
}

/**
 * The reference of ArrayOps.softmaxCrossEntropy: softmaxRows, then L = -(1/n) Σ log(y[i, t_i] + δ)
 * from the stored y, and dx = (y - onehot(t)) / n, the backward of dloss = 1.
 */
export function softmaxCrossEntropy(
  x: FloatArray,
  t: FloatArray,
  y: FloatArray,
  dx: FloatArray,
  n: number,
  classes: number,
  exps: Float64Array,
): number {
  for (let i = 0; i < n; i++) {
    const label = t[i];
    if (!(Number.isInteger(label) && label >= 0 && label < classes)) {
      throw new RangeError(`t[${i}] is not a class index in 0..${classes - 1}`);
    }
  }
  softmaxRows(x, y, classes, exps, n);
  const scale = 1 / n;
  let sum = 0;
  for (let k = 0, end = n * classes; k < end; k++) dx[k] = scale * y[k];
  for (let i = 0; i < n; i++) {
    const k = i * classes + t[i];
    sum += Math.log(y[k] + DELTA);
    dx[k] = scale * (y[k] - 1);
  }
  return -sum / n;
}
