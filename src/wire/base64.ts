/**
 * Base64 tensors (openapi.yaml, "Tensor") as they travel to the worker threads: the request's
 * text, checked for size on the main thread but decoded only in the worker, into the memory its
 * backend's ops read (the arena, or the heap); answers are encoded there too, from where the
 * values lie.
 */
import { endianness } from "node:os";
import type { Backend } from "../core/backend.js";
import type { DType, FloatArray, Tensor } from "../core/tensor.js";
import { dtypeOf, sizeOf } from "../core/tensor.js";
import { type Base64Codec, bytesBase64 } from "./base64-codec.js";
import { type Decode, wasmBase64 } from "./base64-wasm.js";
import { mapTree } from "./tree.js";

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

/**
 * A request's base64 tensor: its text as a string, or as the bytes the body parser lifted (see
 * parseJsonBody); the wire holds a JSON string either way.
 */
export interface RequestBase64Tensor {
  shape: number[];
  dtype: DType;
  base64: string | Uint8Array;
}

/** A tensor as a task carries it: decoded, or base64 for the worker to decode. */
export type TaskTensor = Tensor | RequestBase64Tensor;

/** A result tensor: decoded, or base64 a worker encoded. */
export type ResultTensor = Tensor | Base64Tensor;

/** A result tensor of a pass, which may also come as the bytes of its base64 text. */
export type PassTensor = ResultTensor | PackedBase64Tensor;

export const isBase64 = <T extends object>(t: T): t is T & RequestBase64Tensor => "base64" in t;

// Binary tensors are little-endian on the wire and typed arrays use the host's order.
if (endianness() !== "LE") throw new Error("this service needs a little-endian host");

export const BYTES: Record<DType, number> = { float32: 4, float64: 8 };

/** Bytes the text (of a length that is a multiple of 4) decodes to, from its padding alone. */
export function base64Bytes(text: string | Uint8Array): number {
  const n = text.length;
  const at = (i: number) => (typeof text === "string" ? text.charCodeAt(i) : text[i]);
  const padding = at(n - 1) !== 0x3d ? 0 : at(n - 2) !== 0x3d ? 1 : 2;
  return (n / 4) * 3 - padding;
}

/**
 * The problem with a base64 tensor (relative to its `base64` field), or null: only what is cheap
 * to see, its length against its shape and dtype; the characters and values are the decoder's.
 */
export function base64SizeProblem(t: RequestBase64Tensor): string | null {
  const bytes = t.base64.length % 4 === 0 ? base64Bytes(t.base64) : -1;
  const expected = sizeOf(t.shape) * BYTES[t.dtype];
  if (bytes === expected) return null;
  // Only on this path, already an error, is the text searched: the cause may be its characters.
  const text = typeof t.base64 === "string" ? t.base64 : Buffer.from(t.base64).toString("latin1");
  const bad = /[^A-Za-z0-9+/=]|=[^=]/.exec(text);
  if (bad) {
    return `is not valid base64: ${JSON.stringify(text[bad.index])} at character ${bad.index} is outside the RFC 4648 alphabet (A-Z a-z 0-9 + /, = padding at the end)`;
  }
  if (bytes === -1) {
    return `is not valid base64: its length ${text.length} is not a multiple of 4 (RFC 4648 padding with =)`;
  }
  return `holds ${bytes} bytes but shape [${t.shape.join(", ")}] of ${t.dtype} needs ${expected}`;
}

const INVALID = "is not valid base64 (RFC 4648, padded)";

/**
 * The WebAssembly SIMD decoder of assembly/base64.ts over `memory`: decodes the n characters at
 * byte address `text` to `out` and returns the bytes written, or -1 for text that is not padded
 * base64. It writes no byte past those valid text decodes to.
 */
export function base64Decoder(memory: WebAssembly.Memory): Decode {
  return wasmBase64(memory).decode;
}

/** Bytes of the longest base64 text in a task: the scratch its decoding borrows from the arena. */
export function longestBase64(task: unknown): number {
  let longest = 0;
  mapTree(task, (item) => {
    if (isBase64(item)) longest = Math.max(longest, item.base64.length);
    return undefined;
  });
  return longest;
}

/** The values of a base64 tensor, or what is wrong with them (relative to its `base64` field). */
export type Decoded = { data: FloatArray } | { problem: string };

/**
 * A decoder into `backend`'s memory: with an arena, WebAssembly SIMD decodes the text straight
 * into it; on the heap, the fastest codec the thread has (bytesBase64) does, or Node's decoder
 * for a string. The text's length and padding must give the tensor's size (the main thread
 * checked that already, in base64SizeProblem, to name the sizes); its characters are the
 * decoders' to check, and its values must be finite.
 */
export function base64DecoderFor(backend: Backend): (t: RequestBase64Tensor) => Decoded {
  const { arena } = backend;
  const decode = arena && base64Decoder(arena.memory);
  // Made on first use: a worker with an arena never needs it.
  let codec: Base64Codec | null = null;
  const heapCodec = () => {
    codec ??= bytesBase64();
    return codec;
  };
  const inArena = (base64: string | Uint8Array, dtype: DType, length: number) => {
    if (!arena || !decode) return null;
    // The values, not zeroed first (the decoder writes them all), with the text copied above them
    // for the moment; false when the text is not base64, null when the arena has no room.
    const start = arena.mark();
    const out = arena.bytes(length * BYTES[dtype]);
    const mark = arena.mark();
    const text = out && arena.bytes(base64.length);
    if (!out || !text) {
      arena.release(start);
      return null;
    }
    if (typeof base64 !== "string") text.set(base64);
    else Buffer.from(text.buffer, text.byteOffset, text.byteLength).write(base64, "latin1");
    const written = decode(text.byteOffset, text.length, out.byteOffset);
    arena.release(mark);
    if (written !== out.byteLength) return false;
    const { buffer } = arena.memory;
    return dtype === "float32"
      ? new Float32Array(buffer, out.byteOffset, length)
      : new Float64Array(buffer, out.byteOffset, length);
  };
  return (t) => {
    // Both decoders write what the text's length and padding say, which must be the whole tensor.
    const length = sizeOf(t.shape);
    const bytes = length * BYTES[t.dtype];
    if (t.base64.length % 4 !== 0 || base64Bytes(t.base64) !== bytes) return { problem: INVALID };
    const data =
      inArena(t.base64, t.dtype, length) ??
      decodeOnHeap(t.base64, backend.alloc(t.dtype, length), heapCodec);
    if (!data) return { problem: INVALID };
    const bad = backend.ops.firstNonFinite(data);
    if (bad !== -1) return { problem: `element ${bad} is ${data[bad]}, not a finite number` };
    return { data };
  };
}

/**
 * The values decoded into `data` (on the heap), or false. Text that came as bytes goes to the
 * codec, which writes the values in place; a string goes to Node's decoder, which skips
 * characters outside the alphabet, so any such character shows as fewer bytes written; it also
 * takes the URL-safe `-` and `_`, which RFC 4648's base64 does not. Both checks are much faster
 * than a regular expression over megabytes of text.
 */
function decodeOnHeap(
  base64: string | Uint8Array,
  data: FloatArray,
  codec: () => Base64Codec,
): FloatArray | false {
  const out = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof base64 !== "string") return codec().decodeInto(base64, out) && data;
  const written = Buffer.from(out.buffer, out.byteOffset, out.byteLength).write(base64, "base64");
  const valid = written === data.byteLength && !base64.includes("-") && !base64.includes("_");
  return valid && data;
}

/**
 * `value` with the text of every base64 tensor as bytes, so that a task moves it to a worker (a
 * transfer) rather than copying a string of megabytes. Bytes the body parser lifted are already
 * there, views of the request body's own buffer (or of a copy), which then moves whole; a string
 * is copied into a buffer of its own.
 */
export function packBase64<T>(value: T): T {
  return mapTree(value, (item) => {
    if (!isBase64(item)) return undefined;
    const { base64 } = item;
    if (typeof base64 !== "string") {
      // Text is never empty (a tensor has an element), so no bytes means a buffer already moved:
      // a route that sent the body to a worker and then read it again.
      if (base64.byteLength === 0)
        throw new Error("base64 text whose buffer a task has already moved to a worker");
      return item;
    }
    const bytes = Buffer.allocUnsafeSlow(base64.length);
    bytes.write(base64, "latin1");
    return { ...item, base64: bytes };
  });
}

/** A tensor's bytes as base64, read where they lie. */
export function encodeBase64(t: Tensor): Base64Tensor {
  const { data } = t;
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { shape: [...t.shape], dtype: dtypeOf(data), base64: bytes.toString("base64") };
}

/**
 * A tensor's bytes as base64 text in a buffer of its own (ASCII, the alphabet only), which moves
 * to the main thread and into an answer's bytes (see jsonBytes) without becoming a string.
 */
export function encodeBase64Bytes(t: Tensor, codec: Base64Codec): PackedBase64Tensor {
  const { data } = t;
  const base64 = codec.encode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return { shape: [...t.shape], dtype: dtypeOf(data), base64 };
}
