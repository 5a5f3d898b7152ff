import type { LabelledData } from "../core/evaluation.js";
import type { Architecture } from "../core/init.js";
import type { LayerSpec } from "../core/network.js";
import type { DType } from "../core/tensor.js";
import type { ResultTensor, TaskTensor } from "./base64.js";

/**
 * What crosses the thread boundary: plain data and typed arrays (transferred, not copied).
 * Errors the caller caused come back as values, because an Error loses its fields in transit.
 */
/** A layer as a task carries it: a LayerSpec whose W and b may still be base64. */
export type TaskLayer =
  | Exclude<LayerSpec, { type: "affine" }>
  | { readonly type: "affine"; readonly W: TaskTensor; readonly b: TaskTensor };

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
  /** "base64": result tensors come back encoded, read straight from the worker's arena. */
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

export type Grads = ({ W: ResultTensor; b: ResultTensor } | null)[];

export interface ForwardResult {
  out: ResultTensor;
  loss?: number;
}

export interface BackwardResult extends ForwardResult {
  dx: ResultTensor;
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

export type TaskOutcome<T> = { ok: true; value: T } | { ok: false; failure: TaskFailure };

/**
 * `value` rebuilt through its arrays and plain objects, with `replace` offered every object and
 * typed array on the way (outermost first): what it returns, when not undefined, stands in for
 * that item, which is then not walked into. Typed arrays are leaves.
 */
export function mapTree<T>(value: T, replace: (item: object) => unknown): T {
  const walk = (item: unknown): unknown => {
    if (item === null || typeof item !== "object") return item;
    const replaced = replace(item);
    if (replaced !== undefined) return replaced;
    if (ArrayBuffer.isView(item)) return item;
    if (Array.isArray(item)) return item.map(walk);
    return Object.fromEntries(Object.entries(item).map(([key, v]) => [key, walk(v)]));
  };
  return walk(value) as T;
}

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
