import type { OptimizerConfig } from "../core/optimizers/index.js";
import type { Tensor } from "../core/tensor.js";

export interface DatasetRef {
  name: string;
  split: string;
  limit?: number;
}

/**
 * A job's training (or validation) data, over the form its tensors take where it is: the wire's
 * tensors in a request, decoded tensors once submitted, the names of the job's stored tensors in
 * its spec.
 */
export type DataRef<T = Tensor> = { dataset: DatasetRef } | { x: T; t: T };

/** An inline tensor in a job's spec: stored beside the job, under this name. */
export interface StoredTensor {
  stored: string;
}

/**
 * A training job's request as the store keeps it, once: defaults resolved, iterations counted,
 * inline tensors stored beside it as bytes. A job resumes from the store alone.
 */
export interface JobSpec {
  optimizer: OptimizerConfig;
  batchSize: number;
  iterations: number;
  /** Samples in the training data, for epochs. */
  trainSize: number;
  weightDecay: number;
  evaluateEvery: number;
  trainEvaluationSamples: number;
  seed: number;
  data: DataRef<StoredTensor>;
  validation?: DataRef<StoredTensor>;
}

export interface JobProgress {
  iteration: number;
  iterations: number;
  epoch: number;
  fraction: number;
}

export function progressOf(spec: JobSpec, iteration: number): JobProgress {
  const { batchSize, iterations, trainSize } = spec;
  return {
    iteration,
    iterations,
    epoch: (iteration * batchSize) / trainSize,
    fraction: iteration / iterations,
  };
}
