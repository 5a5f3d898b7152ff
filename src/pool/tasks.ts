import type { Architecture } from "../core/init.js";
import type { LayerSpec } from "../core/network.js";
import type { DType, Tensor } from "../core/tensor.js";

/**
 * What crosses the thread boundary: plain data and typed arrays (transferred, not copied).
 * Errors the caller caused come back as values, because an Error loses its fields in transit.
 */
export interface ComputeTask {
  dtype: DType;
  layers: LayerSpec[];
  x: Tensor;
  t?: Tensor;
  /** A tensor for networks without a loss layer; the scalar dLoss otherwise. */
  dout?: Tensor | number;
  epsilon?: number;
}

export type CreateModelTask = { dtype: DType; name?: string } & (
  | { architecture: Architecture; seed: number }
  | { layers: LayerSpec[] }
);

export type EvaluateTask = { dtype: DType; layers: LayerSpec[] } & (
  | { x: Tensor; t: Tensor }
  | { dataset: { name: string; split: string; limit?: number } }
);

export interface PredictResult {
  probabilities: Tensor;
  labels: number[] | number;
}

export type Grads = ({ W: Tensor; b: Tensor } | null)[];

export interface ForwardResult {
  out: Tensor;
  loss?: number;
}

export interface BackwardResult extends ForwardResult {
  dx: Tensor;
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
  | { kind: "nonFinite"; message: string; layer: number; layerType: string };

export type TaskOutcome<T> = { ok: true; value: T } | { ok: false; failure: TaskFailure };

/** Every typed-array buffer reachable from a value, for a transfer list. */
export function buffersOf(value: unknown, into: ArrayBuffer[] = []): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && !into.includes(value.buffer))
      into.push(value.buffer);
  } else if (Array.isArray(value)) {
    for (const item of value) buffersOf(item, into);
  } else if (value !== null && typeof value === "object") {
    for (const item of Object.values(value)) buffersOf(item, into);
  }
  return into;
}
