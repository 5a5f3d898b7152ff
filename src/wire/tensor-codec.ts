import type { Limits } from "../config.js";
import { Backend } from "../core/backend.js";
import { allocate, type FloatArray, sizeOf, type Tensor } from "../core/tensor.js";
import {
  type Base64Tensor,
  base64DecoderFor,
  base64SizeProblem,
  encodeBase64,
  isBase64,
  type PackedBase64Tensor,
  type PassTensor,
  type RequestBase64Tensor,
  type ResultTensor,
  type TaskTensor,
} from "./base64.js";

/**
 * The three wire forms of a tensor (openapi.yaml, "Tensor") to and from the core's typed tensors.
 * Limits on rank and element count are checked before anything is allocated.
 */
export type TensorEncoding = "nested" | "flat" | "base64";

/**
 * A request tensor that remembers the form it came in, so answers can mirror it: decoded from
 * numbers, or base64 checked for size and left for the worker to decode into its arena.
 */
export type WireTensor =
  | (Tensor & { readonly encoding: "nested" | "flat" })
  | (RequestBase64Tensor & { readonly encoding: "base64" });

export interface FlatTensor {
  shape: number[];
  data: number[];
}
export type EncodedTensor = unknown[] | FlatTensor | Base64Tensor;

/** A tensor in a request, as its schema reads it: base64 text may be the body's bytes. */
export type RequestTensor = unknown[] | FlatTensor | RequestBase64Tensor;

/** A tensor that cannot be decoded; `path` is relative to the tensor's own field. */
export class TensorFormatError extends Error {
  constructor(
    readonly path: (string | number)[],
    message: string,
  ) {
    super(message);
  }
}

function checkShape(shape: readonly number[], limits: Limits, path: (string | number)[]): number {
  if (shape.length > limits.maxTensorRank) {
    throw new TensorFormatError(
      path,
      `rank ${shape.length} exceeds the limit of ${limits.maxTensorRank}`,
    );
  }
  const size = sizeOf(shape);
  if (size > limits.maxTensorElements) {
    throw new TensorFormatError(
      path,
      `${size} elements exceed the limit of ${limits.maxTensorElements}`,
    );
  }
  return size;
}

function nestedShape(value: unknown[], limits: Limits): number[] {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    if (shape.length === limits.maxTensorRank) {
      throw new TensorFormatError(
        [],
        `nesting deeper than the rank limit of ${limits.maxTensorRank}`,
      );
    }
    if (level.length === 0) throw new TensorFormatError([], "empty arrays have no shape");
    shape.push(level.length);
    level = level[0];
  }
  return shape;
}

function decodeNested(value: unknown[], limits: Limits): Tensor {
  const shape = nestedShape(value, limits);
  const data = allocate("float64", checkShape(shape, limits, []));
  let offset = 0;
  const path: number[] = [];
  const fill = (level: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (typeof level !== "number" || !Number.isFinite(level)) {
        throw new TensorFormatError([...path], `expected a finite number, got ${describe(level)}`);
      }
      data[offset++] = level;
      return;
    }
    if (!Array.isArray(level) || level.length !== shape[depth]) {
      throw new TensorFormatError(
        [...path],
        `not rectangular: expected an array of ${shape[depth]}, got ${describe(level)}`,
      );
    }
    for (let i = 0; i < level.length; i++) {
      path.push(i);
      fill(level[i], depth + 1);
      path.pop();
    }
  };
  fill(value, 0);
  return { shape, data };
}

function decodeFlat(value: FlatTensor, limits: Limits): Tensor {
  const size = checkShape(value.shape, limits, ["shape"]);
  if (value.data.length !== size) {
    throw new TensorFormatError(
      ["data"],
      `holds ${value.data.length} numbers but shape [${value.shape.join(", ")}] needs ${size}`,
    );
  }
  return { shape: value.shape, data: Float64Array.from(value.data) };
}

function checkBase64(value: RequestBase64Tensor, limits: Limits): WireTensor {
  checkShape(value.shape, limits, ["shape"]);
  const problem = base64SizeProblem(value);
  if (problem) throw new TensorFormatError(["base64"], problem);
  return { shape: value.shape, dtype: value.dtype, base64: value.base64, encoding: "base64" };
}

/** Decodes on the main thread, onto the JS heap. */
const decodeOnHeap = base64DecoderFor(Backend.typescript());

/** The values of a tensor the main thread needs to read (a base64 one is decoded here). */
export function materialize(t: TaskTensor): Tensor {
  if (!isBase64(t)) return { shape: t.shape, data: t.data };
  const decoded = decodeOnHeap(t);
  if ("problem" in decoded) throw new TensorFormatError(["base64"], decoded.problem);
  return { shape: t.shape, data: decoded.data };
}

export function decodeTensor(value: RequestTensor, limits: Limits): WireTensor {
  if (Array.isArray(value)) return { ...decodeNested(value, limits), encoding: "nested" };
  if ("base64" in value) return checkBase64(value, limits);
  return { ...decodeFlat(value, limits), encoding: "flat" };
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "number") return String(value);
  return value === null ? "null" : typeof value;
}

/**
 * The shortest decimal that reads back as the same float32, as a JS number: JSON then prints
 * `0.1`, not `0.10000000149011612`. Six digits never name two float32 values, so the loop starts
 * there (a shorter decimal that round-trips is also the nearest six-digit one).
 */
export function shortestFloat32(v: number): number {
  for (let digits = 6; digits < 9; digits++) {
    const candidate = Number(v.toPrecision(digits));
    if (Math.fround(candidate) === v) return candidate;
  }
  return Number(v.toPrecision(9));
}

function toNumbers(data: FloatArray): number[] {
  const out = new Array<number>(data.length);
  if (data instanceof Float32Array) {
    for (let i = 0; i < data.length; i++) out[i] = shortestFloat32(data[i]);
  } else {
    for (let i = 0; i < data.length; i++) out[i] = data[i];
  }
  return out;
}

function nest(values: number[], shape: readonly number[]): unknown[] {
  if (shape.length <= 1) return values;
  const rows = shape[0];
  const stride = values.length / rows;
  const out = new Array<unknown>(rows);
  for (let r = 0; r < rows; r++) {
    out[r] = nest(values.slice(r * stride, (r + 1) * stride), shape.slice(1));
  }
  return out;
}

/**
 * A result tensor in the wire form asked for; a worker may have encoded it as base64 already, as
 * a string or as the text's bytes (which only an answer written by jsonBytes can hold).
 */
export function encodeTensor(t: ResultTensor, encoding: TensorEncoding): EncodedTensor;
export function encodeTensor(
  t: PassTensor,
  encoding: TensorEncoding,
): EncodedTensor | PackedBase64Tensor;
export function encodeTensor(
  t: PassTensor,
  encoding: TensorEncoding,
): EncodedTensor | PackedBase64Tensor {
  if ("base64" in t) return t;
  if (encoding === "base64") return encodeBase64(t);
  const shape = [...t.shape];
  const values = toNumbers(t.data);
  return encoding === "flat" ? { shape, data: values } : nest(values, shape);
}
