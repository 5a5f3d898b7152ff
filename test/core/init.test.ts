import { describe, expect, it } from "vitest";
import { type Architecture, initLayers, initStd } from "../../src/core/init.js";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import { Rng } from "../../src/core/rng.js";
import type { Tensor } from "../../src/core/tensor.js";

function arch(overrides: Partial<Architecture> = {}): Architecture {
  return {
    inputSize: 784,
    hiddenSizes: [50],
    outputSize: 10,
    activation: "relu",
    weightInit: "he",
    ...overrides,
  };
}

function affines(layers: LayerSpec[]): { W: Tensor; b: Tensor }[] {
  return layers.flatMap((l) => (l.type === "affine" ? [{ W: l.W, b: l.b }] : []));
}

function mean(data: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i];
  return sum / data.length;
}

function std(data: ArrayLike<number>): number {
  const m = mean(data);
  let sq = 0;
  for (let i = 0; i < data.length; i++) sq += (data[i] - m) ** 2;
  return Math.sqrt(sq / data.length);
}

function bytes(t: Tensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

describe("initLayers", () => {
  it("builds affine, relu, affine, softmaxWithLoss for 784-[50]-10", () => {
    const layers = initLayers(arch(), "float32", new Rng(0));
    expect(layers.map((l) => l.type)).toEqual(["affine", "relu", "affine", "softmaxWithLoss"]);
    const [l0, l1] = affines(layers);
    expect(l0.W.shape).toEqual([784, 50]);
    expect(l0.b.shape).toEqual([50]);
    expect(l1.W.shape).toEqual([50, 10]);
    expect(l1.b.shape).toEqual([10]);
    expect(l0.W.data).toBeInstanceOf(Float32Array);
    expect(l0.W.data.length).toBe(784 * 50);
    expect(l0.b.data).toBeInstanceOf(Float32Array);
  });

  it("chains the shapes of several hidden layers, with the chosen activation", () => {
    const a = arch({ hiddenSizes: [100, 60, 30], activation: "sigmoid", weightInit: "xavier" });
    const layers = initLayers(a, "float64", new Rng(0));
    expect(layers.map((l) => l.type)).toEqual([
      "affine",
      "sigmoid",
      "affine",
      "sigmoid",
      "affine",
      "sigmoid",
      "affine",
      "softmaxWithLoss",
    ]);
    expect(affines(layers).map(({ W, b }) => [W.shape, b.shape])).toEqual([
      [[784, 100], [100]],
      [[100, 60], [60]],
      [[60, 30], [30]],
      [[30, 10], [10]],
    ]);
    expect(affines(layers)[0].W.data).toBeInstanceOf(Float64Array);
  });

  it("with no hidden layer is affine, softmaxWithLoss", () => {
    const layers = initLayers(arch({ hiddenSizes: [] }), "float64", new Rng(0));
    expect(layers.map((l) => l.type)).toEqual(["affine", "softmaxWithLoss"]);
    expect(affines(layers)[0].W.shape).toEqual([784, 10]);
  });

  it("starts every bias at 0", () => {
    const layers = initLayers(arch({ hiddenSizes: [40, 20] }), "float32", new Rng(5));
    for (const { b } of affines(layers)) expect(b.data.every((v) => v === 0)).toBe(true);
  });

  // Sample std of N normals has a standard error of about σ/√(2N).
  it.each([
    ["he", Math.sqrt(2 / 200), Math.sqrt(2 / 500)],
    ["xavier", Math.sqrt(1 / 200), Math.sqrt(1 / 500)],
    [0.01, 0.01, 0.01],
  ] as const)("draws W with std from the fan-in: %s", (weightInit, std0, std1) => {
    const layers = initLayers(
      arch({ inputSize: 200, hiddenSizes: [500], outputSize: 10, weightInit }),
      "float64",
      new Rng(1),
    );
    const [l0, l1] = affines(layers);
    expect(Math.abs(std(l0.W.data) / std0 - 1)).toBeLessThan(0.015); // 1e5 draws
    expect(Math.abs(std(l1.W.data) / std1 - 1)).toBeLessThan(0.05); // 5000 draws
    // Standard error of the mean: σ/√1e5 ≈ 0.003σ.
    expect(Math.abs(mean(l0.W.data))).toBeLessThan(0.015 * std0);
  });

  it("computes the book's std", () => {
    expect(initStd("he", 50)).toBeCloseTo(0.2, 15); // √(2/50)
    expect(initStd("xavier", 100)).toBeCloseTo(0.1, 15); // √(1/100)
    expect(initStd(0.05, 784)).toBe(0.05);
  });

  it("gives the same bits for the same seed, and other bits for another", () => {
    const a = arch({ hiddenSizes: [30, 20] });
    for (const dtype of ["float32", "float64"] as const) {
      const x = affines(initLayers(a, dtype, new Rng(123)));
      const y = affines(initLayers(a, dtype, new Rng(123)));
      const z = affines(initLayers(a, dtype, new Rng(124)));
      x.forEach((layer, i) => {
        expect(bytes(layer.W).equals(bytes(y[i].W))).toBe(true);
        expect(bytes(layer.b).equals(bytes(y[i].b))).toBe(true);
        expect(bytes(layer.W).equals(bytes(z[i].W))).toBe(false);
      });
    }
  });

  it("draws layer by layer, W row-major, std·normal() rounded once into the dtype", () => {
    const a = arch({ inputSize: 3, hiddenSizes: [4], outputSize: 2 });
    const [l0, l1] = affines(initLayers(a, "float32", new Rng(9)));
    const rng = new Rng(9);
    const want0 = Array.from({ length: 12 }, () => Math.fround(Math.sqrt(2 / 3) * rng.normal()));
    const want1 = Array.from({ length: 8 }, () => Math.fround(Math.sqrt(2 / 4) * rng.normal()));
    expect(Array.from(l0.W.data)).toEqual(want0);
    expect(Array.from(l1.W.data)).toEqual(want1);
  });

  it("with std 0 gives all-zero weights", () => {
    const [l0] = affines(initLayers(arch({ weightInit: 0 }), "float64", new Rng(0)));
    expect(l0.W.data.every((v) => v === 0)).toBe(true);
  });

  it("refuses bad sizes and stds", () => {
    expect(() => initLayers(arch({ weightInit: -1 }), "float32", new Rng(0))).toThrow(RangeError);
    expect(() => initLayers(arch({ weightInit: Number.NaN }), "float32", new Rng(0))).toThrow(
      RangeError,
    );
    expect(() => initLayers(arch({ hiddenSizes: [0] }), "float32", new Rng(0))).toThrow(RangeError);
    expect(() => initLayers(arch({ inputSize: 2.5 }), "float32", new Rng(0))).toThrow(RangeError);
  });
});
