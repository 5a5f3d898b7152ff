import { afterEach, describe, expect, it, vi } from "vitest";
import {
  bestKernelPath,
  KERNEL_PATHS,
  type KernelPath,
  kernels,
  type MatKernels,
  supportsPath,
  tsKernels,
  useKernels,
} from "../../../src/core/kernels/index.js";
import { type LayerSpec, Network } from "../../../src/core/network.js";
import {
  allocate,
  DTYPES,
  type DType,
  type FloatArray,
  fromValues,
  zeros,
} from "../../../src/core/tensor.js";
import { affineSpec, indices, mulberry32, randomTensor, reluMargin } from "../helpers.js";

const WASM_PATHS = KERNEL_PATHS.filter((path) => path !== "typescript");
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

/** Loss, dx and every parameter gradient of one pass on `path`, all copied off the arena. */
function pass(path: KernelPath, dtype: DType) {
  const arena = useKernels(path, 16 * MiB);
  arena?.reserve(4 * MiB);
  const net = Network.fromSpecs(specs, dtype);
  const { loss } = net.loss(fromValues(x.shape, x.data, dtype), indices(labels, dtype));
  const dx = net.backward({ needDx: true })!;
  const grads = [dx.data, ...net.parameters().map((p) => p.grad.data.slice())];
  return { loss, grads, net, arena };
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

describe("useKernels", () => {
  afterEach(() => {
    vi.restoreAllMocks();
    useKernels("typescript", 0);
  });

  it("has every path on this runtime (vitest runs with --experimental-wasm-relaxed-simd)", () => {
    for (const path of KERNEL_PATHS) expect(supportsPath(path)).toBe(true);
    expect(bestKernelPath()).toBe("relaxed-simd");
  });

  // A pre-activation of float32 may differ by 300·2⁻²⁴·Σ|x||W| ≈ 1.3e-4 between paths at worst.
  it("keeps the network away from ReLU's kink, where float32 rounding could flip a unit", () => {
    expect(reluMargin(specs, x)).toBeGreaterThan(1e-3);
  });

  for (const dtype of DTYPES) {
    // The paths sum in another order and, in float32, at another precision (float32 against
    // float64 per 256-deep slab): seen 3e-7 of the largest gradient in float32, 6e-16 in float64.
    const rtol = dtype === "float32" ? 1e-5 : 1e-12;

    it.each(WASM_PATHS)(`gives the TypeScript path's ${dtype} loss and gradients on %s`, (path) => {
      const expected = pass("typescript", dtype);
      const actual = pass(path, dtype);
      expect(Math.abs(actual.loss - expected.loss)).toBeLessThanOrEqual(rtol * expected.loss);
      expectNear(actual.grads, expected.grads, rtol);
    });

    it.each(WASM_PATHS)(`runs a ${dtype} network on %s without the TypeScript fallback`, (path) => {
      const names = Object.keys(tsKernels) as (keyof MatKernels)[];
      const spies = names.map((name) => vi.spyOn(tsKernels, name));
      const { net, arena } = pass(path, dtype);
      expect(kernels).not.toBe(tsKernels);
      for (const p of net.parameters()) {
        expect(arena!.owns(p.value.data) && arena!.owns(p.grad.data)).toBe(true);
      }
      const fallbacks = names.filter((_, i) => spies[i].mock.calls.length > 0);
      expect(fallbacks).toEqual([]);
    });
  }

  it.each(WASM_PATHS)("routes the core's allocations to the arena of %s", (path) => {
    const arena = useKernels(path, 2 * MiB)!;
    arena.reserve(MiB);
    const data = allocate("float32", 100);
    expect(arena.owns(data)).toBe(true);
    expect(data.every((v) => v === 0)).toBe(true);
    expect(arena.owns(zeros([3, 5], "float64").data)).toBe(true);
    // Past the arena's maximum: zeroed memory of the JS heap.
    const large = allocate("float64", (4 * MiB) / 8);
    expect(large).toHaveLength((4 * MiB) / 8);
    expect(arena.owns(large)).toBe(false);
    expect(large.every((v) => v === 0)).toBe(true);

    expect(useKernels("typescript", 0)).toBeNull();
    expect(kernels).toBe(tsKernels);
    expect(arena.owns(allocate("float32", 100))).toBe(false);
  });
});
