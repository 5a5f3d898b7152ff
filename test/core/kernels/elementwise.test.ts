import { describe, expect, it } from "vitest";
import type { ArrayOps as MatKernels } from "../../../src/core/kernels/array-ops.js";
import { createTypescriptOps } from "../../../src/core/kernels/typescript-ops.js";
import type { WasmVariant } from "../../../src/core/kernels/wasm-ops.js";
import { allocate, DTYPES, type DType, type FloatArray } from "../../../src/core/tensor.js";
import { wasmKernels as createWasmKernels, mulberry32 } from "../helpers.js";

const tsKernels = createTypescriptOps();

const VARIANTS: WasmVariant[] = ["relaxed-simd", "simd"];
// Lengths around the vector widths (4 and 2 lanes): whole vectors, and scalar tails.
const LENGTHS = [1, 2, 3, 4, 5, 7, 8, 9, 31, 1000];
const MiB = 1024 * 1024;

describe.each(VARIANTS)("elementwise WebAssembly kernels (%s)", (variant) => {
  const { kernels: wasm, arena } = createWasmKernels(variant, 16 * MiB);
  arena.reserve(4 * MiB);
  const random = mulberry32(9);

  /** `arrays` random arrays of `n` values, each in the arena and as a heap twin for TypeScript. */
  function operands(dtype: DType, n: number, arrays: number, positive = false) {
    arena.reset();
    return Array.from({ length: arrays }, () => {
      const inArena = arena.alloc(dtype, n)!;
      for (let i = 0; i < n; i++) inArena[i] = positive ? random() + 0.01 : random() * 2 - 1;
      return { wasm: inArena, ts: inArena.slice() };
    });
  }

  /** Runs one kernel on both paths and compares every operand it may have written. */
  function compare(
    dtype: DType,
    n: number,
    count: number,
    run: (k: MatKernels, a: FloatArray[]) => void,
    positive: number[] = [],
  ) {
    const ops = operands(dtype, n, count);
    for (const i of positive)
      for (let j = 0; j < n; j++) ops[i].wasm[j] = ops[i].ts[j] = random() + 0.01;
    run(
      wasm,
      ops.map((o) => o.wasm),
    );
    run(
      tsKernels,
      ops.map((o) => o.ts),
    );
    const tolerance = dtype === "float32" ? 2e-6 : 1e-14;
    for (const { wasm: w, ts } of ops) {
      for (let i = 0; i < n; i++) {
        expect(Math.abs(w[i] - ts[i])).toBeLessThanOrEqual(
          tolerance * Math.max(1, Math.abs(ts[i])),
        );
      }
    }
  }

  for (const dtype of DTYPES) {
    it(`axpy, momentumStep and adamStep agree with TypeScript (${dtype})`, () => {
      for (const n of LENGTHS) {
        compare(dtype, n, 2, (k, [x, y]) => k.axpy(-0.37, x, y));
        compare(dtype, n, 3, (k, [W, g, v]) => k.momentumStep(W, g, v, 0.9, 0.05));
        // v (Adam's second moment) is never negative.
        compare(dtype, n, 4, (k, [W, g, m, v]) => k.adamStep(W, g, m, v, 0.9, 0.999, 0.003), [3]);
      }
    });

    it(`addRowVector, relu and reluBackward agree with TypeScript (${dtype})`, () => {
      for (const n of LENGTHS) {
        compare(dtype, 3 * n, 2, (k, [out, b]) => k.addRowVector(out, b.subarray(0, n), 3, n));
        compare(dtype, n, 2, (k, [x, out]) => k.relu(x, out));
        compare(dtype, n, 3, (k, [out, dout, dx]) => k.reluBackward(out, dout, dx));
      }
    });

    it(`firstNonFinite finds the first NaN or infinity, in a vector or in the tail (${dtype})`, () => {
      for (const n of LENGTHS) {
        const [{ wasm: a }] = operands(dtype, n, 1);
        expect(wasm.firstNonFinite(a)).toBe(-1);
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          for (const at of new Set([0, n >> 1, n - 1])) {
            const saved = a[at];
            a[at] = bad;
            if (at + 1 < n) a[n - 1] = Number.NaN;
            expect(wasm.firstNonFinite(a)).toBe(at);
            expect(wasm.firstNonFinite(a)).toBe(tsKernels.firstNonFinite(a));
            a[at] = saved;
            a.fill(0.5, at);
          }
        }
      }
    });
  }

  it("leaves arrays outside the arena to the TypeScript kernels, with the same result", () => {
    const x = allocate("float32", 5).fill(2);
    const y = allocate("float32", 5).fill(1);
    wasm.axpy(0.5, x, y);
    expect(Array.from(y)).toEqual([2, 2, 2, 2, 2]);
  });
});
