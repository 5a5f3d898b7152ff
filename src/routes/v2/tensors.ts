/**
 * Open Inference Protocol tensors to and from the core's typed tensors: JSON `data` (flat or
 * nested) and the binary extension's raw little-endian bytes. Float32 and float64 bytes become
 * the tensor's data as they are, as a view of the request body where its alignment allows.
 */
import type { Limits } from "../../config.js";
import { type FloatArray, sizeOf, type Tensor } from "../../core/tensor.js";
import { validationFailed } from "../../http/problem.js";
import type { Datatype } from "../../schemas/v2.js";

type IntArray =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array;

/** The datatypes an input may have: IEEE floats and integers; integers become float64. */
const NUMERIC = {
  FP32: Float32Array,
  FP64: Float64Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
} as const;
type Numeric = keyof typeof NUMERIC;

const isNumeric = (datatype: Datatype): datatype is Numeric => datatype in NUMERIC;

export const bytesPer = (datatype: Numeric) => NUMERIC[datatype].BYTES_PER_ELEMENT;

/** One input as the request gives it: JSON values or binary bytes, at `path` for errors. */
export interface InputSource {
  path: string;
  shape: number[];
  datatype: Datatype;
  data?: unknown[];
  bytes?: Uint8Array;
}

const invalid = (path: string, message: string) => validationFailed([{ path, message }]);

function checkShape(input: InputSource, limits: Limits): number {
  const { shape, path } = input;
  if (shape.length > limits.maxTensorRank) {
    throw invalid(
      `${path}.shape`,
      `rank ${shape.length} exceeds the limit of ${limits.maxTensorRank}`,
    );
  }
  const size = sizeOf(shape);
  if (size > limits.maxTensorElements) {
    throw invalid(
      `${path}.shape`,
      `${size} elements exceed the limit of ${limits.maxTensorElements}`,
    );
  }
  return size;
}

function datatypeOf(input: InputSource): Numeric {
  if (isNumeric(input.datatype)) return input.datatype;
  throw invalid(
    `${input.path}.datatype`,
    `${input.datatype} is not supported: send FP32, FP64 or an integer type`,
  );
}

/**
 * The input as a tensor: float32 for FP32, float64 otherwise (the worker casts it to the model's
 * dtype). Values are checked (finite; integers for integer types, within 2^53), as /v1 checks
 * its tensors, before any computation.
 */
export function decodeInput(input: InputSource, limits: Limits): Tensor {
  const datatype = datatypeOf(input);
  const size = checkShape(input, limits);
  const data = input.bytes ? fromBytes(input, datatype, size) : fromJson(input, datatype, size);
  return { shape: [...input.shape], data };
}

function fromBytes(input: InputSource, datatype: Numeric, size: number): FloatArray {
  const bytes = input.bytes as Uint8Array;
  const width = bytesPer(datatype);
  if (bytes.byteLength !== size * width) {
    throw invalid(
      `${input.path}.parameters.binary_data_size`,
      `is ${bytes.byteLength} bytes but shape [${input.shape.join(", ")}] of ${datatype} needs ${size * width}`,
    );
  }
  const Type = NUMERIC[datatype];
  // A view where the bytes are aligned for the type; else one copy, to a buffer of its own.
  const aligned = bytes.byteOffset % width === 0 ? bytes : new Uint8Array(bytes);
  const values = new Type(aligned.buffer as ArrayBuffer, aligned.byteOffset, size);
  if (values instanceof Float32Array || values instanceof Float64Array) {
    const bad = firstNonFinite(values);
    if (bad !== -1) {
      throw invalid(`${input.path}.data[${bad}]`, `${values[bad]} is not a finite number`);
    }
    return values;
  }
  return integersToFloat64(values as IntArray, input.path);
}

function integersToFloat64(values: IntArray, path: string): Float64Array {
  const out = new Float64Array(values.length);
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
    for (let i = 0; i < values.length; i++) {
      const v = Number(values[i]);
      if (!Number.isSafeInteger(v)) throw invalid(`${path}.data[${i}]`, "is beyond 2^53");
      out[i] = v;
    }
  } else {
    out.set(values);
  }
  return out;
}

function firstNonFinite(values: FloatArray): number {
  for (let i = 0; i < values.length; i++) {
    // v - v is NaN exactly for NaN and ±Infinity.
    if (values[i] - values[i] !== 0) return i;
  }
  return -1;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === "number") return String(value);
  return value === null ? "null" : typeof value;
}

const RANGES: Partial<Record<Numeric, [number, number]>> = {
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 2 ** 32 - 1],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-(2 ** 31), 2 ** 31 - 1],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** JSON values, flat or nested row-major, `size` of them; nested ones must follow the shape. */
function fromJson(input: InputSource, datatype: Numeric, size: number): FloatArray {
  const { path, shape } = input;
  if (input.data === undefined) {
    throw invalid(`${path}.data`, "is required without parameters.binary_data_size");
  }
  const out = datatype === "FP32" ? new Float32Array(size) : new Float64Array(size);
  const range = RANGES[datatype];
  let n = 0;
  const fail = (at: string, message: string): never => {
    throw invalid(`${path}.data${at}`, message);
  };
  const fill = (level: unknown[], depth: number, at: string) => {
    const nested = depth < shape.length - 1 && Array.isArray(level[0]);
    if (nested && level.length !== shape[depth]) {
      fail(
        at,
        `holds ${level.length} items but dimension ${depth} of the shape is ${shape[depth]}`,
      );
    }
    for (let i = 0; i < level.length; i++) {
      const v = level[i];
      if (nested) {
        if (!Array.isArray(v)) fail(`${at}[${i}]`, "expected an array, as its siblings are");
        fill(v as unknown[], depth + 1, `${at}[${i}]`);
        continue;
      }
      if (typeof v !== "number" || !Number.isFinite(v)) {
        fail(`${at}[${i}]`, `expected a finite number, got ${describe(v)}`);
      }
      const value = v as number;
      if (range && (!Number.isInteger(value) || value < range[0] || value > range[1])) {
        fail(`${at}[${i}]`, `${value} is not a ${datatype} value`);
      }
      if (n === size)
        fail("", `holds more than the ${size} values shape [${shape.join(", ")}] needs`);
      out[n++] = value;
    }
  };
  fill(input.data, 0, "");
  if (n !== size) {
    fail("", `holds ${n} values but shape [${shape.join(", ")}] needs ${size}`);
  }
  return out;
}
