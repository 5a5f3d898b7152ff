import type { Network } from "./network.js";
import { allocate, dtypeOf, type FloatArray, type Tensor } from "./tensor.js";

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
}

/**
 * Mean loss and accuracy of a network ending in softmaxWithLoss over a whole data set, in chunks
 * so that memory stays bounded; rows are cast into the network's dtype chunk by chunk.
 */
export function evaluate(network: Network, data: LabelledData, chunk = 1000): Evaluation {
  const dtype = network.dtype;
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.count; start += chunk) {
    const rows = Math.min(chunk, data.count - start);
    const slice = data.x.subarray(start * data.inputSize, (start + rows) * data.inputSize);
    let values: FloatArray = slice;
    if (dtypeOf(slice) !== dtype) {
      values = allocate(dtype, slice.length);
      values.set(slice);
    }
    const x: Tensor = { shape: [rows, data.inputSize], data: values };
    const t: Tensor = { shape: [rows], data: allocate(dtype, rows) };
    for (let i = 0; i < rows; i++) t.data[i] = data.labels[start + i];
    const { out, loss } = network.loss(x, t);
    lossSum += loss * rows;
    const predicted = argmaxRows(out);
    for (let i = 0; i < rows; i++) if (predicted[i] === data.labels[start + i]) correct++;
  }
  return { loss: lossSum / data.count, accuracy: correct / data.count, count: data.count };
}
