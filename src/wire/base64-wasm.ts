/**
 * The WebAssembly SIMD base64 codec (assembly/base64.ts), over a memory given to it (a worker's
 * arena) or over a small memory of its own that heap bytes pass through chunk by chunk: Node has
 * no decoder from bytes (only from a string, which bytes become by a copy) nor an encoder to bytes.
 */
import { readFileSync } from "node:fs";
import type { Base64Codec } from "./base64-codec.js";

/** Decodes the n characters at byte address `text` to `out`: the bytes written, or -1. */
export type Decode = (text: number, n: number, out: number) => number;
/** Encodes the n bytes at `bytes` as padded base64 at `text`: the characters written. */
export type Encode = (bytes: number, n: number, text: number) => number;

/** Compiled once per thread: every instance (one per memory) shares the code. */
let module: WebAssembly.Module | null = null;

/**
 * The codec over `memory`. `decode` returns -1 for text that is not padded base64 and writes no
 * byte past those valid text decodes to; `encode` writes exactly 4·⌈n/3⌉ characters.
 */
export function wasmBase64(memory: WebAssembly.Memory): { decode: Decode; encode: Encode } {
  // `npm run build` writes the module to dist/kernels/; this file runs from src/wire/ under
  // vitest and from dist/wire/ otherwise, both two levels below the project.
  module ??= new WebAssembly.Module(
    readFileSync(new URL("../../dist/kernels/base64.wasm", import.meta.url)),
  );
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  return { decode: exports.decode as Decode, encode: exports.encode as Encode };
}

/** Characters per chunk of text, a multiple of 4; a chunk of bytes is what they decode to. */
const TEXT_CHUNK = 65_536;
const BYTES_CHUNK = (TEXT_CHUNK / 4) * 3;

/**
 * A codec that copies each chunk into its own two pages ([0, TEXT_CHUNK) text, then bytes) and
 * the result out: chunks small enough to stay in cache, so the copies cost little beside the
 * coding, and a memory that never grows (no view of it is ever detached).
 */
export function chunkedBase64(): Base64Codec {
  const memory = new WebAssembly.Memory({ initial: 2, maximum: 2 });
  const { decode, encode } = wasmBase64(memory);
  const heap = new Uint8Array(memory.buffer);
  return {
    decodeInto(text, out) {
      let o = 0;
      for (let i = 0; i < text.length; i += TEXT_CHUNK) {
        const chunk = text.subarray(i, i + TEXT_CHUNK);
        heap.set(chunk, 0);
        const written = decode(0, chunk.length, TEXT_CHUNK);
        // Padding belongs at the very end: a chunk before the last must decode whole.
        const whole = written === BYTES_CHUNK || i + TEXT_CHUNK >= text.length;
        if (written < 0 || !whole || o + written > out.length) return false;
        out.set(heap.subarray(TEXT_CHUNK, TEXT_CHUNK + written), o);
        o += written;
      }
      return o === out.length;
    },
    encode(bytes) {
      const text = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
      let o = 0;
      for (let i = 0; i < bytes.length; i += BYTES_CHUNK) {
        const chunk = bytes.subarray(i, i + BYTES_CHUNK);
        heap.set(chunk, TEXT_CHUNK);
        const written = encode(TEXT_CHUNK, chunk.length, 0);
        text.set(heap.subarray(0, written), o);
        o += written;
      }
      return text;
    },
  };
}
