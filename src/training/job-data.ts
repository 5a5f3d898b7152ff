import type { Limits } from "../config.js";
import { type LabelledData, labelIndices } from "../core/evaluation.js";
import type { Tensor } from "../core/tensor.js";
import { loadDataset } from "../datasets/catalog.js";
import type { Base64Tensor } from "../wire/base64.js";
import { decodeTensor, materialize } from "../wire/tensor-codec.js";
import type { DataRef, StoredTensor } from "./job-spec.js";

/**
 * A job's data as its thread takes it: a built-in dataset's rows (read once per process, shared),
 * or its inline tensors as stored, labels as class indices.
 */
export async function loadJobData(
  ref: DataRef<StoredTensor | Base64Tensor>,
  tensors: ReadonlyMap<string, Tensor>,
  limits: Limits,
): Promise<LabelledData> {
  if ("dataset" in ref) {
    const { name, split, limit } = ref.dataset;
    return loadDataset(name, split, limit);
  }
  const x = stored(ref.x, tensors, limits);
  const t = stored(ref.t, tensors, limits);
  const count = x.shape[0];
  return { x: x.data, labels: labelIndices(t), count, inputSize: x.data.length / count };
}

/** A stored tensor; jobs queued before tensors were stored apart carry theirs as base64. */
function stored(
  ref: StoredTensor | Base64Tensor,
  tensors: ReadonlyMap<string, Tensor>,
  limits: Limits,
): Tensor {
  if ("base64" in ref) return materialize(decodeTensor(ref, limits));
  const tensor = tensors.get(ref.stored);
  if (!tensor) throw new Error(`the job's tensor ${ref.stored} is missing from the store`);
  return tensor;
}
