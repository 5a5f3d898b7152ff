import { readFileSync } from "node:fs";
import { Arena } from "../arena.js";
import type { FloatArray } from "../tensor.js";
import type { MatKernels } from "./kernels.js";
import { tsKernels } from "./ts-kernels.js";

/** The builds of assembly/matmul.ts: with relaxed SIMD's fused multiply-add, or plain SIMD. */
export type WasmVariant = "relaxed-simd" | "simd";

interface MatmulExports {
  scratchBytes(): number;
  gemm_f32: Product;
  gemmNT_f32: Product;
  gemmTN_f32: Product;
  colSum_f32: ColSum;
  gemm_f64: Product;
  gemmNT_f64: Product;
  gemmTN_f64: Product;
  colSum_f64: ColSum;
}
type Product = (
  a: number,
  b: number,
  out: number,
  d1: number,
  d2: number,
  d3: number,
  scratch: number,
) => void;
type ColSum = (a: number, out: number, m: number, n: number) => void;

/** The first page belongs to the module's own statics; the kernels' scratch follows it. */
const STATICS = 65_536;
const RESERVED_SCRATCH = 1024 * 1024;

// `npm run build` writes the modules to dist/kernels/; this file runs from src/core/kernels/
// under vitest and from dist/core/kernels/ otherwise, both three levels below the project.
const modules = new Map<WasmVariant, WebAssembly.Module>();

/** The compiled module of a variant; throws when the runtime lacks one of its instructions. */
export function wasmModule(variant: WasmVariant): WebAssembly.Module {
  let module = modules.get(variant);
  if (!module) {
    const url = new URL(`../../../dist/kernels/${variant}.wasm`, import.meta.url);
    module = new WebAssembly.Module(readFileSync(url));
    modules.set(variant, module);
  }
  return module;
}

/** True when this runtime compiles the variant (relaxed SIMD needs a flag on Node 20). */
export function supportsVariant(variant: WasmVariant): boolean {
  try {
    wasmModule(variant);
    return true;
  } catch {
    return false;
  }
}

export interface WasmKernels {
  readonly kernels: MatKernels;
  /** Where tensors must lie for the WebAssembly code to take them. */
  readonly arena: Arena;
}

/**
 * The products over a new arena of at most `maxBytes`. Operands that all lie in the arena go to
 * WebAssembly without a copy; any other call (a view of the JS heap, or of an arena that has since
 * grown) takes the TypeScript kernels, so correctness never depends on where a tensor lives.
 */
export function createWasmKernels(variant: WasmVariant, maxBytes: number): WasmKernels {
  const arena = new Arena(STATICS + RESERVED_SCRATCH, maxBytes);
  const wasm = new WebAssembly.Instance(wasmModule(variant), { env: { memory: arena.memory } })
    .exports as unknown as MatmulExports;
  if (wasm.scratchBytes() > RESERVED_SCRATCH) {
    throw new Error(`the kernels need ${wasm.scratchBytes()} bytes of scratch`);
  }
  const scratch = STATICS;
  const inArena = (...views: FloatArray[]) => views.every((v) => arena.owns(v));
  const f32 = (v: FloatArray) => v instanceof Float32Array;
  const kernels: MatKernels = {
    gemm(a, b, out, m, k, n) {
      if (!inArena(a, b, out)) return tsKernels.gemm(a, b, out, m, k, n);
      const run = f32(a) ? wasm.gemm_f32 : wasm.gemm_f64;
      run(a.byteOffset, b.byteOffset, out.byteOffset, m, k, n, scratch);
    },
    gemmNT(a, b, out, m, n, k) {
      if (!inArena(a, b, out)) return tsKernels.gemmNT(a, b, out, m, n, k);
      const run = f32(a) ? wasm.gemmNT_f32 : wasm.gemmNT_f64;
      run(a.byteOffset, b.byteOffset, out.byteOffset, m, n, k, scratch);
    },
    gemmTN(a, b, out, m, k, n) {
      if (!inArena(a, b, out)) return tsKernels.gemmTN(a, b, out, m, k, n);
      const run = f32(a) ? wasm.gemmTN_f32 : wasm.gemmTN_f64;
      run(a.byteOffset, b.byteOffset, out.byteOffset, m, k, n, scratch);
    },
    colSum(a, out, m, n) {
      if (!inArena(a, out)) return tsKernels.colSum(a, out, m, n);
      (f32(a) ? wasm.colSum_f32 : wasm.colSum_f64)(a.byteOffset, out.byteOffset, m, n);
    },
  };
  return { kernels, arena };
}
