import type { Network } from "./network.js";
import { dtypeOf, type FloatArray, type Tensor } from "./tensor.js";

/** Index of the largest value of each row of a [rows, cols] tensor (first one on ties). */
export function argmaxRows(t: Tensor): Int32Array {
  const cols = t.shape[t.shape.length - 1];
  const rows = t.data.length / cols;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (t.data[r * cols + c] > t.data[r * cols + best]) best = c;
    out[r] = best;
  }
  return out;
}

/** Class indices from labels given one-hot ([N, classes]) or as indices ([N]). */
export function labelIndices(t: Tensor): Int32Array {
  return t.shape.length >= 2 ? argmaxRows(t) : Int32Array.from(t.data);
}

export interface LabelledData {
  /** `count × inputSize` row-major values, in any float dtype. */
  x: FloatArray;
  labels: ArrayLike<number>;
  count: number;
  inputSize: number;
}

export interface Evaluation {
  loss: number;
  accuracy: number;
  count: number;
  /**
   * Each chunk's summed loss (its mean times its rows), in order: evaluations of consecutive
   * whole chunks combine into the very loss one pass gives (`meanLoss`).
   */
  chunkLosses: number[];
}

/** The mean loss over `count` rows from their chunks' summed losses, added in order. */
export function meanLoss(chunkLosses: readonly number[], count: number): number {
  let sum = 0;
  for (const chunk of chunkLosses) sum += chunk;
  return sum / count;
}

/** Rows per forward pass of `evaluate`. */
export const EVALUATION_CHUNK = 1000;

/**
 * Mean loss and accuracy of a network ending in softmaxWithLoss over a whole data set, in chunks
 * so that memory stays bounded: each chunk's rows are read where they lie when the backend's ops
 * read them there, else copied (cast into the network's dtype) into one buffer allocated once.
 */
export function evaluate(
  network: Network,
  data: LabelledData,
  chunk = EVALUATION_CHUNK,
): Evaluation {
  const { dtype, backend } = network;
  const width = data.inputSize;
  const size = Math.min(chunk, data.count);
  // Rows the ops read where they lie (a heap backend, the network's dtype) are not copied.
  const inPlace = dtypeOf(data.x) === dtype && backend.holds(data.x);
  const xs = inPlace ? null : backend.alloc(dtype, size * width);
  const ts = backend.alloc(dtype, size);
  const chunkLosses: number[] = [];
  let correct = 0;
  for (let start = 0; start < data.count; start += chunk) {
    const rows = Math.min(chunk, data.count - start);
    const from = data.x.subarray(start * width, (start + rows) * width);
    let xData = from;
    if (xs) {
      xData = xs.subarray(0, rows * width);
      xData.set(from);
    }
    const x: Tensor = { shape: [rows, width], data: xData };
    const t: Tensor = { shape: [rows], data: ts.subarray(0, rows) };
    for (let i = 0; i < rows; i++) t.data[i] = data.labels[start + i];
    const { out, loss } = network.loss(x, t);
    chunkLosses.push(loss * rows);
    const predicted = argmaxRows(out);
    for (let i = 0; i < rows; i++) if (predicted[i] === data.labels[start + i]) correct++;
  }
  const { count } = data;
  return { loss: meanLoss(chunkLosses, count), accuracy: correct / count, count, chunkLosses };
}
