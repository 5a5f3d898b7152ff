import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkInputGradient } from "../../../src/core/gradient-check.js";
import { Sigmoid, sigmoid } from "../../../src/core/layers/sigmoid.js";
import { Network } from "../../../src/core/network.js";
import { clone, DTYPES, type DType, fromValues } from "../../../src/core/tensor.js";
import { backend, mulberry32, randomTensor } from "../helpers.js";

describe("Sigmoid", () => {
  it("gives hand-worked values and dx = dout·y·(1 - y)", () => {
    const layer = new Sigmoid(backend);
    const out = layer.forward(fromValues([3], [0, Math.log(3), -Math.log(3)], "float64"));
    expect(out.data[0]).toBe(0.5);
    expect(out.data[1]).toBeCloseTo(0.75, 15);
    expect(out.data[2]).toBeCloseTo(0.25, 15);
    const dx = layer.backward(fromValues([3], [2, 1, 1], "float64"), true)!;
    expect(dx.data[0]).toBe(0.5); // 2·0.5·0.5
    expect(dx.data[1]).toBeCloseTo(0.1875, 15);
    expect(dx.data[2]).toBeCloseTo(0.1875, 15);
  });

  it("is exactly 0 or 1, and finite, at ±1000 and ±1e308", () => {
    for (const dtype of DTYPES) {
      const big = dtype === "float64" ? 1e308 : 1e38; // float32 ends at 3.4e38
      const layer = new Sigmoid(backend);
      const out = layer.forward(fromValues([4], [1000, -1000, big, -big], dtype));
      expect(Array.from(out.data)).toEqual([1, 0, 1, 0]);
      const dx = layer.backward(fromValues([4], [1, 1, 1, 1], dtype), true)!;
      expect(Array.from(dx.data)).toEqual([0, 0, 0, 0]);
    }
    expect(sigmoid(-1e308)).toBe(0);
    expect(sigmoid(-744)).toBeGreaterThan(0); // e^-744 is still a (subnormal) double: no early cut-off
  });

  it("keeps the dtype of its input and never changes dout", () => {
    const layer = new Sigmoid(backend);
    const out = layer.forward(fromValues([2, 2], [1, 2, 3, 4], "float32"));
    expect(out.data).toBeInstanceOf(Float32Array);
    const dout = fromValues([2, 2], [1, -2, 3, -4], "float64");
    const before = clone(dout);
    const dx = layer.backward(dout, true)!;
    expect(dx.data).toBeInstanceOf(Float32Array);
    expect(dout).toEqual(before);
  });

  it("matches central differences", () => {
    const random = mulberry32(2);
    const x = randomTensor([4, 3], "float64", random, { scale: 3 });
    const dout = randomTensor([4, 3], "float64", random);
    const net = Network.fromSpecs([{ type: "sigmoid" }], "float64", backend);
    expect(checkInputGradient(net, x, { dout }, 1e-5).maxRelError).toBeLessThan(1e-7);
  });

  it("stays in [0, 1] for any finite input, extremes included", () => {
    const cases: [DType, number][] = [
      ["float64", 1e308],
      ["float32", 1e30],
    ];
    for (const [dtype, big] of cases) {
      const value = fc.oneof(
        fc.double({ min: -big, max: big, noNaN: true }),
        fc.constantFrom(big, -big, 1000, -1000, 0),
      );
      fc.assert(
        fc.property(fc.array(value, { minLength: 1, maxLength: 20 }), (values) => {
          const layer = new Sigmoid(backend);
          const out = layer.forward(fromValues([values.length], values, dtype));
          expect(out.data.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)).toBe(true);
          const dx = layer.backward(fromValues([values.length], values, dtype), true)!;
          expect(dx.data.every(Number.isFinite)).toBe(true);
        }),
      );
    }
  });
});
