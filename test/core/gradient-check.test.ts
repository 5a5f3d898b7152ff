import { describe, expect, it } from "vitest";
import { ShapeError } from "../../src/core/errors.js";
import {
  checkInputGradient,
  compareGradients,
  gradientCheck,
  numericalGradient,
} from "../../src/core/gradient-check.js";
import { Network } from "../../src/core/network.js";
import { fromValues } from "../../src/core/tensor.js";
import { affineSpec, backend, expectClose, indices, mulberry32, randomTensor } from "./helpers.js";

describe("numericalGradient", () => {
  it("differentiates a cubic by central differences and restores every element", () => {
    const v = Float64Array.of(1, -2, 0.5);
    // f = Σ v³, f' = 3v²; central differences are off by h² (the v''' / 6 term) exactly
    const f = () => v.reduce((sum, x) => sum + x ** 3, 0);
    const grad = numericalGradient(f, v, 1e-3);
    expectClose(grad, [3 + 1e-6, 12 + 1e-6, 0.75 + 1e-6], { rtol: 0, atol: 1e-9 });
    expect(Array.from(v)).toEqual([1, -2, 0.5]);
  });

  it("divides by the step actually stored in a float32 array", () => {
    const v = Float32Array.of(1000);
    // v ± 1e-4 rounds to a float32 step of 2·1.2207e-4 around 1000: the quotient stays exact.
    const grad = numericalGradient(() => 2 * v[0], v, 1e-4);
    expect(grad[0]).toBe(2);
    expect(v[0]).toBe(1000);
  });

  it("restores the element when f throws", () => {
    const v = Float64Array.of(5);
    expect(() =>
      numericalGradient(() => {
        throw new Error("boom");
      }, v),
    ).toThrow("boom");
    expect(v[0]).toBe(5);
  });
});

describe("compareGradients", () => {
  it("reports max and mean absolute differences and |a - n| / (|a| + |n|)", () => {
    const diff = compareGradients([1, -2, 0, 0], [1.5, -2, 0, 1e-9]);
    expect(diff.maxAbsDiff).toBe(0.5);
    expect(diff.meanAbsDiff).toBeCloseTo((0.5 + 1e-9) / 4, 15);
    expect(diff.maxRelError).toBe(1); // 0 against 1e-9; 0 against 0 counts as 0
  });
});

describe("gradientCheck", () => {
  it("reports each W and b by layer index and leaves backprop's gradients in place", () => {
    const random = mulberry32(3);
    const net = Network.fromSpecs(
      [
        affineSpec(3, 4, random),
        { type: "sigmoid" },
        affineSpec(4, 2, random),
        { type: "softmaxWithLoss" },
      ],
      "float64",
      backend,
    );
    const x = randomTensor([2, 3], "float64", random);
    const t = indices([0, 1], "float64");
    const values = net.parameters().map((p) => Array.from(p.value.data));
    const report = gradientCheck(net, x, t);
    expect(report.map((r) => [r.layer, r.name])).toEqual([
      [0, "W"],
      [0, "b"],
      [2, "W"],
      [2, "b"],
    ]);
    for (const r of report) {
      expect(r.maxAbsDiff).toBeLessThan(1e-7);
      expect(r.meanAbsDiff).toBeLessThanOrEqual(r.maxAbsDiff);
      expect(r.maxRelError).toBeLessThan(1e-5);
    }
    expect(net.parameters().map((p) => Array.from(p.value.data))).toEqual(values);
    const grads = net.parameters().map((p) => Array.from(p.grad.data));
    net.loss(x, t);
    net.backward({ needDx: false });
    expect(net.parameters().map((p) => Array.from(p.grad.data))).toEqual(grads);
  });

  it("needs a loss layer", () => {
    const net = Network.fromSpecs([{ type: "relu" }], "float64", backend);
    const x = fromValues([1, 2], [1, 2], "float64");
    expect(() => gradientCheck(net, x, indices([0], "float64"))).toThrow(ShapeError);
  });

  it("flags a gradient that does not belong to the objective", () => {
    const random = mulberry32(4);
    const net = Network.fromSpecs([affineSpec(2, 2, random)], "float64", backend);
    const x = randomTensor([2, 2], "float64", random);
    const dout = randomTensor([2, 2], "float64", random);
    expect(checkInputGradient(net, x, { dout }).maxRelError).toBeLessThan(1e-7);
    // Backprop from another dout than the one the numerical objective Σ out·dout weighs by.
    net.forward(x);
    const wrong = net.backward({ dout: randomTensor([2, 2], "float64", random), needDx: true })!;
    const input = randomTensor([2, 2], "float64", random);
    input.data.set(x.data);
    const numeric = numericalGradient(() => {
      const out = net.forward(input).data;
      let sum = 0;
      for (let i = 0; i < out.length; i++) sum += out[i] * dout.data[i];
      return sum;
    }, input.data);
    expect(compareGradients(wrong.data, numeric).maxRelError).toBeGreaterThan(1e-3);
  });
});
