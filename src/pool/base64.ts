/**
 * Base64 tensors (API.md, "Tensors") as they travel to the worker threads: the request's text,
 * checked for size on the main thread but decoded only in the worker, straight into the memory
 * the kernels read (the arena); answers are encoded there too, straight from it.
 */
import { endianness } from "node:os";
import { kernels } from "../core/kernels/index.js";
import { allocate, type DType, type FloatArray, sizeOf, type Tensor } from "../core/tensor.js";
import { mapTree } from "./tasks.js";

export interface Base64Tensor {
  shape: number[];
  dtype: DType;
  base64: string;
}

/** A base64 tensor between threads: the text's bytes, which move instead of being copied. */
export interface PackedBase64Tensor {
  shape: number[];
  dtype: DType;
  base64: Uint8Array;
}

/** A tensor as a task carries it: decoded, or base64 for the worker to decode. */
export type TaskTensor = Tensor | Base64Tensor | PackedBase64Tensor;

/** A result tensor: decoded, or base64 a worker encoded. */
export type ResultTensor = Tensor | Base64Tensor;

export const isBase64 = <T extends object>(t: T): t is T & (Base64Tensor | PackedBase64Tensor) =>
  "base64" in t;

// Binary tensors are little-endian on the wire and typed arrays use the host's order.
if (endianness() !== "LE") throw new Error("this service needs a little-endian host");

export const BYTES: Record<DType, number> = { float32: 4, float64: 8 };

/** Bytes the text decodes to, from its length and padding alone. */
export function base64Bytes(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

/**
 * The problem with a base64 tensor (relative to its `base64` field), or null: only what is cheap
 * to see, its length against its shape and dtype; the characters and values are the decoder's.
 */
export function base64SizeProblem(t: Base64Tensor): string | null {
  if (t.base64.length % 4 !== 0) return "is not valid base64 (RFC 4648, padded)";
  const bytes = base64Bytes(t.base64);
  const expected = sizeOf(t.shape) * BYTES[t.dtype];
  if (bytes === expected) return null;
  return `holds ${bytes} bytes but shape [${t.shape.join(", ")}] of ${t.dtype} needs ${expected}`;
}

/**
 * The tensor's values in its own dtype (in the arena, in a worker), or the problem with them.
 * Node's decoder skips characters outside the alphabet, so with the length already checked
 * (base64SizeProblem) any such character shows as fewer bytes written; it also takes the URL-safe
 * `-` and `_`, which RFC 4648's base64 does not. Both checks are much faster than a regular
 * expression over megabytes of text.
 */
export function decodeBase64(
  t: Base64Tensor | PackedBase64Tensor,
): { data: FloatArray } | { problem: string } {
  const { base64 } = t;
  const text =
    typeof base64 === "string"
      ? base64
      : Buffer.from(base64.buffer, base64.byteOffset, base64.byteLength).toString("latin1");
  const data = allocate(t.dtype, sizeOf(t.shape));
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const written = bytes.write(text, "base64");
  if (written !== data.byteLength || text.includes("-") || text.includes("_")) {
    return { problem: "is not valid base64 (RFC 4648, padded)" };
  }
  const bad = kernels.firstNonFinite(data);
  if (bad !== -1) return { problem: `element ${bad} is ${data[bad]}, not a finite number` };
  return { data };
}

/**
 * `value` with the text of every base64 tensor as bytes in a buffer of its own, so that a task
 * moves it to a worker (a transfer) rather than copying a string of megabytes; the worker turns
 * the bytes back into text in one copy.
 */
export function packBase64<T>(value: T): T {
  return mapTree(value, (item) => {
    if (!("base64" in item) || typeof item.base64 !== "string") return undefined;
    const text = item.base64;
    const bytes = new Uint8Array(text.length);
    Buffer.from(bytes.buffer).write(text, "latin1");
    return { ...item, base64: bytes };
  });
}

/** A tensor's bytes as base64, read where they lie. */
export function encodeBase64(t: Tensor): Base64Tensor {
  const { data } = t;
  const dtype: DType = data instanceof Float32Array ? "float32" : "float64";
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { shape: [...t.shape], dtype, base64: bytes.toString("base64") };
}
