import { readFileSync } from "node:fs";
import { Arena } from "../arena.js";
import type { FloatArray } from "../tensor.js";
import type { ArrayOps } from "./array-ops.js";

/** The builds of assembly/kernels.ts: with relaxed SIMD's fused multiply-add, or plain SIMD. */
export type WasmVariant = "relaxed-simd" | "simd";

type Product = (a: number, b: number, out: number, d1: number, d2: number, d3: number) => void;

/**
 * The module's functions for one dtype (exported as `<name>_f32` and `<name>_f64`), over byte
 * addresses in the arena; the products also take the scratch address, bound here.
 */
interface DtypeExports {
  gemm: Product;
  gemmNT: Product;
  gemmTN: Product;
  colSum(a: number, out: number, m: number, n: number): void;
  axpy(alpha: number, x: number, y: number, n: number): void;
  momentumStep(W: number, g: number, v: number, mu: number, lr: number, n: number): void;
  adamStep(
    W: number,
    g: number,
    m: number,
    v: number,
    beta1: number,
    beta2: number,
    lrT: number,
    n: number,
  ): void;
  addRowVector(out: number, b: number, m: number, n: number): void;
  relu(x: number, out: number, n: number): void;
  reluBackward(out: number, dout: number, dx: number, n: number): void;
  firstNonFinite(a: number, n: number): number;
}

const PRODUCTS = ["gemm", "gemmNT", "gemmTN"] as const;
const OTHERS = [
  "colSum",
  "axpy",
  "momentumStep",
  "adamStep",
  "addRowVector",
  "relu",
  "reluBackward",
  "firstNonFinite",
];

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

/** An arena for a variant's ops: its first bytes hold the module's statics and scratch. */
export function wasmArena(maxBytes: number): Arena {
  return new Arena(STATICS + RESERVED_SCRATCH, maxBytes);
}

/**
 * The ops of a variant over `arena` (from wasmArena). Operands that all lie in the arena go to
 * WebAssembly without a copy; any other call (a view of the JS heap, or of an arena that has since
 * grown) takes `reference` and is reported to `onFallback`, so correctness never depends on where
 * a tensor lives, and slowness never goes unseen.
 */
export function createWasmOps(
  variant: WasmVariant,
  arena: Arena,
  reference: ArrayOps,
  onFallback: () => void,
): ArrayOps {
  const instance = new WebAssembly.Instance(wasmModule(variant), {
    env: { memory: arena.memory },
  });
  const exported = instance.exports as Record<string, (...args: number[]) => number>;
  if (exported.scratchBytes() > RESERVED_SCRATCH) {
    throw new Error(`the kernels need ${exported.scratchBytes()} bytes of scratch`);
  }
  const forDtype = (suffix: string): DtypeExports => {
    const fns: Record<string, unknown> = {};
    for (const name of PRODUCTS) {
      const product = exported[`${name}_${suffix}`];
      fns[name] = (a: number, b: number, out: number, d1: number, d2: number, d3: number) =>
        product(a, b, out, d1, d2, d3, STATICS);
    }
    for (const name of OTHERS) fns[name] = exported[`${name}_${suffix}`];
    return fns as unknown as DtypeExports;
  };
  const f32 = forDtype("f32");
  const f64 = forDtype("f64");
  const wasm = (v: FloatArray) => (v instanceof Float32Array ? f32 : f64);
  const inArena = (...views: FloatArray[]) => {
    if (views.every((v) => arena.owns(v))) return true;
    onFallback();
    return false;
  };
  const ts = reference;

  return {
    gemm(a, b, out, m, k, n) {
      if (!inArena(a, b, out)) return ts.gemm(a, b, out, m, k, n);
      wasm(a).gemm(a.byteOffset, b.byteOffset, out.byteOffset, m, k, n);
    },
    gemmNT(a, b, out, m, n, k) {
      if (!inArena(a, b, out)) return ts.gemmNT(a, b, out, m, n, k);
      wasm(a).gemmNT(a.byteOffset, b.byteOffset, out.byteOffset, m, n, k);
    },
    gemmTN(a, b, out, m, k, n) {
      if (!inArena(a, b, out)) return ts.gemmTN(a, b, out, m, k, n);
      wasm(a).gemmTN(a.byteOffset, b.byteOffset, out.byteOffset, m, k, n);
    },
    colSum(a, out, m, n) {
      if (!inArena(a, out)) return ts.colSum(a, out, m, n);
      wasm(a).colSum(a.byteOffset, out.byteOffset, m, n);
    },
    axpy(alpha, x, y) {
      if (!inArena(x, y)) return ts.axpy(alpha, x, y);
      wasm(x).axpy(alpha, x.byteOffset, y.byteOffset, y.length);
    },
    momentumStep(W, g, v, momentum, lr) {
      if (!inArena(W, g, v)) return ts.momentumStep(W, g, v, momentum, lr);
      wasm(W).momentumStep(W.byteOffset, g.byteOffset, v.byteOffset, momentum, lr, W.length);
    },
    adamStep(W, g, m, v, beta1, beta2, lrT) {
      if (!inArena(W, g, m, v)) return ts.adamStep(W, g, m, v, beta1, beta2, lrT);
      const { byteOffset: w } = W;
      wasm(W).adamStep(w, g.byteOffset, m.byteOffset, v.byteOffset, beta1, beta2, lrT, W.length);
    },
    addRowVector(out, b, m, n) {
      if (!inArena(out, b)) return ts.addRowVector(out, b, m, n);
      wasm(out).addRowVector(out.byteOffset, b.byteOffset, m, n);
    },
    relu(x, out) {
      if (!inArena(x, out)) return ts.relu(x, out);
      wasm(x).relu(x.byteOffset, out.byteOffset, x.length);
    },
    reluBackward(out, dout, dx) {
      if (!inArena(out, dout, dx)) return ts.reluBackward(out, dout, dx);
      wasm(out).reluBackward(out.byteOffset, dout.byteOffset, dx.byteOffset, dx.length);
    },
    firstNonFinite(a) {
      if (!inArena(a)) return ts.firstNonFinite(a);
      return wasm(a).firstNonFinite(a.byteOffset, a.length);
    },
    // Not worth a WebAssembly version: a copy and a few exps per row, which V8 runs as fast.
    gatherRows: ts.gatherRows,
    gatherRowsAhead: ts.gatherRowsAhead,
    gatherRowsWait: ts.gatherRowsWait,
    computing: ts.computing,
    softmaxCrossEntropy: ts.softmaxCrossEntropy,
  };
}
