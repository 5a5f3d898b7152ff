import { describe, expect, it } from "vitest";
import {
  Backend,
  bestKernelPath,
  type FallbackReason,
  KERNEL_PATHS,
  type KernelPath,
  supportsPath,
} from "../../src/core/backend.js";
import { loadOpenblasOps } from "../../src/core/kernels/openblas-ops.js";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import { workingSetBytes } from "../../src/core/layer-spec.js";
import { Network } from "../../src/core/network.js";
import { createOptimizer } from "../../src/core/optimizers/index.js";
import { DTYPES, type DType, type FloatArray, fromValues } from "../../src/core/tensor.js";
import { affineSpec, indices, mulberry32, randomTensor, reluMargin } from "./helpers.js";

const WASM_PATHS = ["relaxed-simd", "simd"] as const;
// CI installs OpenBLAS and builds the addon (.ci/run), and test/core/kernels/openblas-ops.test.ts
// fails there if it does not load; elsewhere the openblas cases here are left out.
const openblas = "ops" in loadOpenblasOps();
/** The paths held against the TypeScript reference. */
const FAST_PATHS: KernelPath[] = [...(openblas ? ["openblas" as const] : []), ...WASM_PATHS];
const ABSENT = "libopenblas-absent.so.9";
const MiB = 1024 * 1024;

// 300 inputs: two 256-deep slabs; 13 rows and 37 hidden units: edge tiles on both axes.
const random = mulberry32(44);
const specs: LayerSpec[] = [
  affineSpec(300, 37, random, 0.1),
  { type: "relu" },
  affineSpec(37, 10, random, 0.5),
  { type: "softmaxWithLoss" },
];
const x = randomTensor([13, 300], "float64", random);
const labels = Array.from({ length: 13 }, (_, i) => (i * 7) % 10);

/** A backend of `path` that records every fallback it reports. */
function recording(path: KernelPath, arenaBytes = 16 * MiB) {
  const fallbacks: FallbackReason[] = [];
  const backend = Backend.create(path, { arenaBytes, onFallback: (r) => fallbacks.push(r) });
  return { backend, fallbacks };
}

/** Loss, dx and every parameter gradient of one pass on `backend`, copied off its arena. */
function pass(backend: Backend, dtype: DType, optimizerSlots = 0) {
  // The network's working set, the x it copies in, and the slots of an optimizer, if any.
  const pass = { rows: 13, inputs: 300 };
  backend.begin(workingSetBytes(specs, dtype, pass, { optimizerSlots }) + 300 * 13 * 8);
  const net = Network.fromSpecs(specs, dtype, backend);
  const { loss } = net.loss(fromValues(x.shape, x.data, dtype), indices(labels, dtype));
  const dx = net.backward({ needDx: true })!;
  const grads = [dx.data, ...net.parameters().map((p) => p.grad.data.slice())];
  return { loss, grads, net };
}

/** |actual - expected| <= rtol·max|expected|, array by array. */
function expectNear(actual: FloatArray[], expected: FloatArray[], rtol: number): void {
  expect(actual.map((a) => a.length)).toEqual(expected.map((e) => e.length));
  expected.forEach((e, g) => {
    let scale = 0;
    for (const v of e) scale = Math.max(scale, Math.abs(v));
    expect(scale).toBeGreaterThan(0);
    e.forEach((v, i) => {
      if (!(Math.abs(actual[g][i] - v) <= rtol * scale)) {
        throw new Error(`gradient ${g}, element ${i}: ${actual[g][i]}, expected ${v}`);
      }
    });
  });
}

describe("Backend", () => {
  it("has every path on this runtime (vitest runs with --experimental-wasm-relaxed-simd)", () => {
    for (const path of KERNEL_PATHS)
      expect(supportsPath(path)).toBe(path !== "openblas" || openblas);
    expect(bestKernelPath()).toBe(openblas ? "openblas" : "relaxed-simd");
    expect(supportsPath("openblas", ABSENT)).toBe(false);
    expect(bestKernelPath(ABSENT)).toBe("relaxed-simd");
  });

  it("refuses an openblas backend over a library that is absent, saying why", () => {
    expect(() => Backend.create("openblas", { openblasLibrary: ABSENT })).toThrow(/^native BLAS/);
  });

  it.runIf(openblas)("runs openblas on the JS heap, with no arena and no fallback", () => {
    const { backend, fallbacks } = recording("openblas");
    expect(backend.arena).toBeNull();
    const { net } = pass(backend, "float32", 2);
    createOptimizer({ type: "adam" }, net.parameters(), backend).step();
    expect(net.parameters()[0].value.data).toBeInstanceOf(Float32Array);
    expect(backend.holds(new Float64Array(3))).toBe(true);
    expect(fallbacks).toEqual([]);
  });

  // A pre-activation of float32 may differ by 300·2⁻²⁴·Σ|x||W| ≈ 1.3e-4 between paths at worst.
  it("keeps the network away from ReLU's kink, where float32 rounding could flip a unit", () => {
    expect(reluMargin(specs, x)).toBeGreaterThan(1e-3);
  });

  for (const dtype of DTYPES) {
    // The paths sum in another order and, in float32, at another precision (float32 against
    // float64 per 256-deep slab): seen 3e-7 of the largest gradient in float32, 6e-16 in float64.
    const rtol = dtype === "float32" ? 1e-5 : 1e-12;

    it.each(FAST_PATHS)(`gives the TypeScript path's ${dtype} loss and gradients on %s`, (path) => {
      const expected = pass(Backend.typescript(), dtype);
      const actual = pass(recording(path).backend, dtype);
      expect(Math.abs(actual.loss - expected.loss)).toBeLessThanOrEqual(rtol * expected.loss);
      expectNear(actual.grads, expected.grads, rtol);
    });

    it.each(WASM_PATHS)(`runs a ${dtype} network on %s within its arena, no fallback`, (path) => {
      const { backend, fallbacks } = recording(path);
      const { net } = pass(backend, dtype, 2);
      createOptimizer({ type: "adam" }, net.parameters(), backend).step();
      for (const p of net.parameters()) {
        expect(backend.arena!.owns(p.value.data) && backend.arena!.owns(p.grad.data)).toBe(true);
      }
      expect(fallbacks).toEqual([]);
    });
  }

  it("is passed, not global: two networks on two backends in one thread keep their own", () => {
    const ts = Backend.typescript();
    const { backend: simd, fallbacks } = recording("simd");
    const onSimd = pass(simd, "float64");
    const onTs = pass(ts, "float64");
    // Interleaved: each network still computes on its own backend, in its own memory.
    const again = onSimd.net.loss(
      fromValues(x.shape, x.data, "float64"),
      indices(labels, "float64"),
    );
    expect(again.loss).toBe(onSimd.loss);
    expect(onSimd.net.backend).toBe(simd);
    expect(onTs.net.backend).toBe(ts);
    for (const p of onSimd.net.parameters()) expect(simd.arena!.owns(p.value.data)).toBe(true);
    for (const p of onTs.net.parameters()) expect(simd.arena!.owns(p.value.data)).toBe(false);
    expect(ts.arena).toBeNull();
    expectNear(onSimd.grads, onTs.grads, 1e-12);
    expect(fallbacks).toEqual([]);
  });

  it.each(WASM_PATHS)("allocates in the arena of %s, and counts what misses it", (path) => {
    const { backend, fallbacks } = recording(path, 2 * MiB);
    backend.begin(MiB);
    const data = backend.alloc("float32", 100);
    expect(backend.arena!.owns(data)).toBe(true);
    expect(data.every((v) => v === 0)).toBe(true);
    expect(backend.arena!.owns(backend.zeros([3, 5], "float64").data)).toBe(true);
    expect(fallbacks).toEqual([]);
    // Past the arena's maximum: zeroed memory of the JS heap, counted.
    const large = backend.alloc("float64", (4 * MiB) / 8);
    expect(large).toHaveLength((4 * MiB) / 8);
    expect(backend.arena!.owns(large)).toBe(false);
    expect(large.every((v) => v === 0)).toBe(true);
    expect(fallbacks).toEqual(["arena_full"]);
    // An op over it runs on the reference, counted too, and is still right.
    const out = backend.alloc("float64", 1);
    backend.ops.axpy(2, large.subarray(0, 1).fill(3), out);
    expect(out[0]).toBe(6);
    expect(fallbacks).toEqual(["arena_full", "operand_off_arena"]);
  });

  it("frees what a scoped piece of work allocated", () => {
    const { backend } = recording("simd");
    backend.begin(MiB);
    const before = backend.arena!.mark();
    const inside = backend.scoped(() => {
      backend.alloc("float64", 1000);
      return backend.arena!.mark();
    });
    expect(inside).toBeGreaterThan(before);
    expect(backend.arena!.mark()).toBe(before);
  });
});
