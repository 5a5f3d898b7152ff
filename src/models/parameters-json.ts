/**
 * GET /v1/models/{id}/parameters as a stream of JSON text in slices. The largest model accepted is
 * MAX_MODEL_PARAMETERS float64 values, whose numbers are ~170 MB of text: built whole, it holds
 * the event loop for seconds and can exceed V8's longest string. Each slice formats a bounded
 * number of values; the route sends them a turn of the event loop apart (http/paced-body.ts).
 */
import type { LayerSpec } from "../core/layer-spec.js";
import { type DType, dtypeOf, type FloatArray, type Tensor } from "../core/tensor.js";
import { shortestFloat32, type TensorEncoding } from "../wire/tensor-codec.js";

/** Values formatted as decimal text per slice (a few milliseconds of work). */
export const NUMBERS_PER_SLICE = 16_384;
/** Bytes encoded as base64 per slice: a multiple of 3, so slices join without padding between. */
export const BYTES_PER_SLICE = 3 * 262_144;

export interface ExportedParameters {
  dtype: DType;
  layers: readonly LayerSpec[];
}

/**
 * `data[from, to)` as JSON numbers joined by commas; float32 without float64 noise. Through
 * JSON.stringify of a plain array, which formats doubles several times faster than a typed
 * array's join.
 */
function numbers(data: FloatArray, from: number, to: number, scratch: number[]): string {
  scratch.length = to - from;
  if (data instanceof Float64Array) {
    for (let i = from; i < to; i++) scratch[i - from] = data[i];
  } else {
    for (let i = from; i < to; i++) scratch[i - from] = shortestFloat32(data[i]);
  }
  const text = JSON.stringify(scratch);
  return text.slice(1, -1);
}

/**
 * What goes between value `i - 1` and value `i` of a nested tensor: a comma within an innermost
 * row, else a bracket closed and opened again for every axis that wraps at `i` ("],[" at a row
 * of a matrix, "]],[[" where a 3-D tensor's plane ends).
 */
function separator(shape: readonly number[], i: number): string {
  const inner = shape[shape.length - 1];
  if (shape.length <= 1 || i % inner !== 0) return ",";
  const row = i / inner;
  let wraps = 1;
  let span = 1;
  for (let axis = shape.length - 2; axis >= 1; axis--) {
    span *= shape[axis];
    if (row % span !== 0) break;
    wraps++;
  }
  return `${"]".repeat(wraps)},${"[".repeat(wraps)}`;
}

/** The text of one tensor in `encoding`, in slices of bounded work. */
function* tensorText(t: Tensor, encoding: TensorEncoding): Generator<string> {
  const { data, shape } = t;
  if (encoding === "base64") {
    yield `{"shape":${JSON.stringify(shape)},"dtype":"${dtypeOf(data)}","base64":"`;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    for (let at = 0; at < bytes.length; at += BYTES_PER_SLICE) {
      yield bytes.toString("base64", at, Math.min(bytes.length, at + BYTES_PER_SLICE));
    }
    yield `"}`;
    return;
  }
  const nested = encoding === "nested" && shape.length > 1;
  const depth = nested ? shape.length : 1;
  yield encoding === "flat" ? `{"shape":${JSON.stringify(shape)},"data":[` : "[".repeat(depth);
  const scratch: number[] = [];
  const inner = nested ? shape[shape.length - 1] : data.length;
  for (let at = 0; at < data.length; ) {
    const end = Math.min(data.length, at + NUMBERS_PER_SLICE);
    const parts: string[] = [];
    // A slice splits at every innermost row it crosses, to put the brackets between them.
    while (at < end) {
      const to = Math.min(end, (Math.floor(at / inner) + 1) * inner);
      if (at > 0) parts.push(nested ? separator(shape, at) : ",");
      parts.push(numbers(data, at, to, scratch));
      at = to;
    }
    yield parts.join("");
  }
  yield encoding === "flat" ? "]}" : "]".repeat(depth);
}

/** Every piece of the answer's text, in order; the small ones are joined to the next big one. */
function* pieces(model: ExportedParameters, encoding: TensorEncoding): Generator<string> {
  yield `{"dtype":"${model.dtype}","layers":[`;
  for (const [i, layer] of model.layers.entries()) {
    const comma = i === 0 ? "" : ",";
    if (layer.type !== "affine") {
      yield `${comma}{"type":"${layer.type}"}`;
      continue;
    }
    yield `${comma}{"type":"affine","W":`;
    yield* tensorText(layer.W, encoding);
    yield `,"b":`;
    yield* tensorText(layer.b, encoding);
    yield "}";
  }
  yield "]}";
}

/** Small pieces below this many characters wait for the next one, to keep writes few. */
const SMALL = 4096;

/** The answer `{dtype, layers}` as ASCII chunks, each at most one slice of values' work. */
export function* parametersJson(
  model: ExportedParameters,
  encoding: TensorEncoding,
): Generator<Buffer> {
  let pending = "";
  for (const piece of pieces(model, encoding)) {
    pending += piece;
    if (pending.length < SMALL) continue;
    yield Buffer.from(pending, "latin1");
    pending = "";
  }
  if (pending) yield Buffer.from(pending, "latin1");
}
