import { createRequire } from "node:module";
import { ADDON } from "../core/kernels/openblas-ops.js";
import { chunkedBase64 } from "./base64-wasm.js";

/** Base64 between byte arrays anywhere: the JS heap, shared memory, a WebAssembly memory. */
export interface Base64Codec {
  /** Decodes padded base64 `text` into `out`; false unless it is valid and fills `out` exactly. */
  decodeInto(text: Uint8Array, out: Uint8Array): boolean;
  /** `bytes` as padded base64 characters: the text, in a buffer of its own (transferable). */
  encode(bytes: Uint8Array): Uint8Array;
}

interface NativeBase64 {
  base64Decode(text: Uint8Array, out: Uint8Array): boolean;
  base64Encode(bytes: Uint8Array, text: Uint8Array): void;
}

/**
 * The codec of the native addon (native/openblas/base64.c, AVX2), which reads and writes the
 * arrays where they lie, 3–4× faster than the WebAssembly one through its chunks; null when the
 * addon is not built. It needs no OpenBLAS: the addon opens that library only when asked.
 */
export function nativeBase64(): Base64Codec | null {
  let addon: NativeBase64;
  try {
    addon = createRequire(import.meta.url)(ADDON) as NativeBase64;
  } catch {
    return null;
  }
  return {
    decodeInto: (text, out) => addon.base64Decode(text, out),
    encode(bytes) {
      // Every byte is written, so none is zeroed first; never in Node's shared pool.
      const text = Buffer.allocUnsafeSlow(Math.ceil(bytes.length / 3) * 4);
      addon.base64Encode(bytes, text);
      return text;
    },
  };
}

/** The fastest codec this thread has: the addon's when it is built, else WebAssembly's. */
export function bytesBase64(): Base64Codec {
  return nativeBase64() ?? chunkedBase64();
}
