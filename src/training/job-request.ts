import type { Limits } from "../config.js";
import type { LayerSpec } from "../core/network.js";
import type { OptimizerConfig } from "../core/optimizers/index.js";
import type { DType } from "../core/tensor.js";
import { loadDataset } from "../datasets/catalog.js";
import { decodeTensor, encodeTensor, materialize } from "../http/tensor-codec.js";
import type { Base64Tensor } from "../pool/base64.js";
import type { DataRef, TaskData } from "../pool/training-tasks.js";

type StoredData =
  | { dataset: { name: string; split: string; limit?: number } }
  | { x: Base64Tensor; t: Base64Tensor };

/**
 * A training job's request as the store keeps it: defaults resolved, iterations counted, and any
 * inline tensors as base64, so a job can be resumed exactly from the store alone.
 */
export interface StoredTrainingRequest {
  optimizer: OptimizerConfig;
  batchSize: number;
  iterations: number;
  /** Samples in the training data, for epochs. */
  trainSize: number;
  weightDecay: number;
  evaluateEvery: number;
  trainEvaluationSamples: number;
  seed: number;
  data: StoredData;
  validation?: StoredData;
}

export function storeData(ref: DataRef): StoredData {
  if ("dataset" in ref) return { dataset: ref.dataset };
  return {
    x: encodeTensor(ref.x, "base64") as Base64Tensor,
    t: encodeTensor(ref.t, "base64") as Base64Tensor,
  };
}

/** The data of a stored request as a job's thread takes it; a dataset's rows are loaded here. */
export async function loadData(stored: StoredData, limits: Limits): Promise<TaskData> {
  if ("dataset" in stored) {
    const { name, split, limit } = stored.dataset;
    return { rows: await loadDataset(name, split, limit) };
  }
  const read = (t: Base64Tensor) => materialize(decodeTensor(t, limits));
  return { x: read(stored.x), t: read(stored.t) };
}

export type { DType, LayerSpec };
