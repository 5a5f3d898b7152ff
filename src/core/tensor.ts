/**
 * A tensor is a shape plus row-major data in a typed array. The data is always a view over an
 * ArrayBuffer (or SharedArrayBuffer / WebAssembly memory), never an array of numbers, so it can be
 * moved to a worker thread or live in an arena without a copy.
 */
export type DType = "float32" | "float64";
export type FloatArray = Float32Array | Float64Array;

export interface Tensor {
  readonly shape: readonly number[];
  readonly data: FloatArray;
}

export const DTYPES: readonly DType[] = ["float32", "float64"];

export function dtypeOf(data: FloatArray): DType {
  return data instanceof Float32Array ? "float32" : "float64";
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Zeroed data on the JS heap; a Backend allocates where its ops read (Backend.alloc). */
export function allocate(dtype: DType, length: number): FloatArray {
  return dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
}

export function zeros(shape: readonly number[], dtype: DType): Tensor {
  return { shape: [...shape], data: allocate(dtype, sizeOf(shape)) };
}

export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, dtypeOf(t.data));
}

/** A tensor from numbers (tests, small constants); the values are rounded into `dtype`. */
export function fromValues(
  shape: readonly number[],
  values: ArrayLike<number>,
  dtype: DType,
): Tensor {
  if (values.length !== sizeOf(shape)) {
    throw new RangeError(`${values.length} values do not fill shape ${shapeToString(shape)}`);
  }
  const data = allocate(dtype, values.length);
  data.set(values);
  return { shape: [...shape], data };
}

/** The same tensor in another dtype (a copy), or the tensor itself when it already has it. */
export function cast(t: Tensor, dtype: DType): Tensor {
  if (dtypeOf(t.data) === dtype) return t;
  return fromValues(t.shape, t.data, dtype);
}

export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  if (sizeOf(shape) !== t.data.length) {
    throw new RangeError(`cannot reshape ${shapeToString(t.shape)} to ${shapeToString(shape)}`);
  }
  return { shape: [...shape], data: t.data };
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function shapeToString(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Index of the first non-finite element, or -1. */
export function firstNonFinite(data: FloatArray): number {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) return i;
  }
  return -1;
}

/** A copy with its own data. */
export function clone(t: Tensor): Tensor {
  return { shape: [...t.shape], data: t.data.slice() };
}
