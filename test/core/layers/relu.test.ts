import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkInputGradient } from "../../../src/core/gradient-check.js";
import { Relu } from "../../../src/core/layers/relu.js";
import { Network } from "../../../src/core/network.js";
import { clone, DTYPES, fromValues } from "../../../src/core/tensor.js";
import { backend, mulberry32, randomTensor } from "../helpers.js";

describe("Relu", () => {
  it("masks x <= 0 and passes no gradient at exactly 0", () => {
    const relu = new Relu(backend);
    const out = relu.forward(fromValues([1, 5], [-2, -0, 0, 1e-300, 3], "float64"));
    expect(Array.from(out.data)).toEqual([0, 0, 0, 1e-300, 3]);
    const dx = relu.backward(fromValues([1, 5], [10, 20, 30, 40, 50], "float64"), true)!;
    expect(Array.from(dx.data)).toEqual([0, 0, 0, 40, 50]);
  });

  it("keeps the dtype and shape of its input", () => {
    for (const dtype of DTYPES) {
      const relu = new Relu(backend);
      const out = relu.forward(fromValues([2, 1, 2], [1, -1, 2, -2], dtype));
      expect(out.shape).toEqual([2, 1, 2]);
      expect(out.data).toBeInstanceOf(dtype === "float32" ? Float32Array : Float64Array);
      const dx = relu.backward(fromValues([2, 1, 2], [1, 1, 1, 1], dtype), true)!;
      expect(dx.shape).toEqual([2, 1, 2]);
      expect(dx.data).toBeInstanceOf(out.data.constructor);
    }
  });

  it("never changes dout (the book's Relu.backward does)", () => {
    const relu = new Relu(backend);
    relu.forward(fromValues([4], [-1, 2, -3, 4], "float32"));
    const dout = fromValues([4], [5, 6, 7, 8], "float32");
    const before = clone(dout);
    relu.backward(dout, true);
    expect(dout).toEqual(before);
  });

  it("returns null for needDx false, and refuses a dout of another shape", () => {
    const relu = new Relu(backend);
    relu.forward(fromValues([2, 2], [1, 2, 3, 4], "float64"));
    expect(relu.backward(fromValues([2, 2], [1, 1, 1, 1], "float64"), false)).toBeNull();
    expect(() => relu.backward(fromValues([4], [1, 1, 1, 1], "float64"), true)).toThrow(/dout/);
  });

  it("matches central differences (inputs kept away from the kink)", () => {
    const random = mulberry32(1);
    const x = randomTensor([3, 4], "float64", random, { minAbs: 0.1 });
    const dout = randomTensor([3, 4], "float64", random);
    const net = Network.fromSpecs([{ type: "relu" }], "float64", backend);
    expect(checkInputGradient(net, x, { dout }, 1e-5).maxRelError).toBeLessThan(1e-7);
  });

  it("gives finite outputs for finite inputs, extremes included", () => {
    const value = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom(1e308, -1e308, 1e30, -1e30, 0, -0),
    );
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 20 }), (values) => {
        const relu = new Relu(backend);
        const out = relu.forward(fromValues([values.length], values, "float64"));
        expect(out.data.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
      }),
    );
  });
});

describe("layer buffers", () => {
  it("are reused across calls of the same size and replaced for another size", () => {
    const relu = new Relu(backend);
    const first = relu.forward(fromValues([2], [1, 2], "float64"));
    const second = relu.forward(fromValues([2], [3, 4], "float64"));
    expect(second.data).toBe(first.data); // valid until the next call: Network copies
    expect(Array.from(first.data)).toEqual([3, 4]);
    const third = relu.forward(fromValues([3], [1, 2, 3], "float64"));
    expect(third.data).not.toBe(first.data);
  });
});
