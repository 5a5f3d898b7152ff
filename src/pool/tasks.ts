import type { LabelledData } from "../core/evaluation.js";
import type { Architecture } from "../core/init.js";
import type { LayerSpec } from "../core/layer-spec.js";
import type { DType } from "../core/tensor.js";
import type { PassTensor, ResultTensor, TaskTensor } from "../wire/base64.js";
import type { FallbackCounts } from "./worker-backend.js";

/**
 * What crosses the thread boundary: plain data and typed arrays (transferred, not copied).
 * Errors the caller caused come back as values, because an Error loses its fields in transit.
 */
/** A layer as a task carries it: W and b may still be base64. */
export type TaskLayer = LayerSpec<TaskTensor>;

export interface ComputeTask {
  dtype: DType;
  layers: TaskLayer[];
  /** How the request names the layers in errors: `layer` for one, else `layers[i]`. */
  layerPath?: "layer";
  x: TaskTensor;
  t?: TaskTensor;
  /** A tensor for networks without a loss layer; the scalar dLoss otherwise. */
  dout?: TaskTensor | number;
  epsilon?: number;
  /**
   * How result tensors come back: "base64" as base64 strings, "base64Bytes" as the text's ASCII
   * bytes (PackedBase64Tensor, moved: for an answer written as bytes), both encoded where the
   * worker's values lie; else as typed arrays.
   */
  encoding?: string;
}

export type CreateModelTask = { dtype: DType; name?: string } & (
  | { architecture: Architecture; seed: number }
  | { layers: TaskLayer[] }
);

export type EvaluateTask = { dtype: DType; layers: TaskLayer[] } & (
  | { x: TaskTensor; t: TaskTensor }
  /** Rows of a built-in dataset, in shared memory: they reach the thread without a copy. */
  | { rows: LabelledData }
);

export type PredictTask = { dtype: DType; layers: TaskLayer[]; x: TaskTensor; encoding?: string };

export interface PredictResult {
  probabilities: ResultTensor;
  labels: number[] | number;
}

export type Grads = ({ W: PassTensor; b: PassTensor } | null)[];

export interface ForwardResult {
  out: PassTensor;
  loss?: number;
}

export interface BackwardResult extends ForwardResult {
  dx: PassTensor;
  grads: Grads;
}

export interface ParameterCheck {
  layer: number;
  name: "W" | "b";
  maxAbsDiff: number;
  meanAbsDiff: number;
  maxRelError: number;
}

export type TaskFailure =
  | { kind: "shape"; message: string; path: string }
  /** A request value the main thread left to the worker to read, such as base64 text. */
  | { kind: "invalid"; message: string; path: string }
  | { kind: "nonFinite"; message: string; layer: number; layerType: string };

/** A task's result or the caller's mistake, with what fell off the fast path meanwhile. */
export type TaskOutcome<T> = ({ ok: true; value: T } | { ok: false; failure: TaskFailure }) & {
  fallbacks?: FallbackCounts;
};
