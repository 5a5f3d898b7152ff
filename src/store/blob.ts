import type { DType, FloatArray } from "../core/tensor.js";
import { ownsBuffer } from "../wire/tree.js";

/**
 * Typed arrays are stored as their own bytes. Typed arrays use the platform's byte order, so the
 * store refuses to open on a big-endian host (see `openStore`) and the bytes are little-endian.
 */
export function toBlob(data: FloatArray): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * The blob as a typed array: a view when the blob is the whole of its ArrayBuffer (as
 * better-sqlite3 hands them out), else a copy into a fresh one. A Float64Array cannot start at
 * an odd byte, and a view into Node's shared Buffer pool (where `pg` decodes small bytea values)
 * would pin the pool's slab and be detached with it when the array is moved to a worker.
 */
export function fromBlob(blob: Uint8Array, dtype: DType): FloatArray {
  const bytesPerElement = dtype === "float32" ? 4 : 8;
  if (blob.byteLength % bytesPerElement !== 0) {
    throw new Error(`a ${dtype} blob of ${blob.byteLength} bytes is not whole elements`);
  }
  const length = blob.byteLength / bytesPerElement;
  if (ownsBuffer(blob)) {
    return dtype === "float32"
      ? new Float32Array(blob.buffer, blob.byteOffset, length)
      : new Float64Array(blob.buffer, blob.byteOffset, length);
  }
  const copy = dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
  new Uint8Array(copy.buffer).set(blob);
  return copy;
}
