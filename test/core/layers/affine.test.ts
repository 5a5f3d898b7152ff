import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ShapeError } from "../../../src/core/errors.js";
import { checkInputGradient, checkParameters } from "../../../src/core/gradient-check.js";
import { Affine } from "../../../src/core/layers/affine.js";
import { Network } from "../../../src/core/network.js";
import { clone, DTYPES, fromValues, sizeOf } from "../../../src/core/tensor.js";
import { affineSpec, backend, mulberry32, randomTensor } from "../helpers.js";

describe("Affine", () => {
  it("computes x·W + b and its gradients on a hand-worked example", () => {
    // x [2, 2], W [2, 3], b [3]
    const affine = new Affine(
      backend,
      fromValues([2, 3], [1, 2, 3, 4, 5, 6], "float64"),
      fromValues([3], [10, 20, 30], "float64"),
    );
    const out = affine.forward(fromValues([2, 2], [1, 0, 1, -1], "float64"));
    expect(out.shape).toEqual([2, 3]);
    expect(Array.from(out.data)).toEqual([11, 22, 33, 7, 17, 27]);
    const dx = affine.backward(fromValues([2, 3], [1, 0, 0, 0, 1, 1], "float64"), true)!;
    expect(Array.from(dx.data)).toEqual([1, 4, 5, 11]); // dout·Wᵀ
    expect(Array.from(affine.W.grad.data)).toEqual([1, 1, 1, 0, -1, -1]); // xᵀ·dout
    expect(Array.from(affine.b.grad.data)).toEqual([1, 1, 1]); // Σ rows of dout
  });

  it("flattens an N-d input and gives dx back in its shape", () => {
    const affine = new Affine(
      backend,
      fromValues([4, 1], [1, 2, 3, 4], "float32"),
      fromValues([1], [0.5], "float32"),
    );
    const x = fromValues([2, 2, 2], [1, 1, 1, 1, 0, 0, 0, 1], "float32");
    expect(Array.from(affine.forward(x).data)).toEqual([10.5, 4.5]);
    const dx = affine.backward(fromValues([2, 1], [1, 2], "float32"), true)!;
    expect(dx.shape).toEqual([2, 2, 2]);
    expect(Array.from(dx.data)).toEqual([1, 2, 3, 4, 2, 4, 6, 8]);
  });

  it("overwrites its gradients on each backward, never accumulates", () => {
    const affine = new Affine(
      backend,
      fromValues([1, 1], [2], "float64"),
      fromValues([1], [0], "float64"),
    );
    for (let i = 0; i < 3; i++) {
      affine.forward(fromValues([1, 1], [3], "float64"));
      affine.backward(fromValues([1, 1], [1], "float64"), false);
    }
    expect(affine.W.grad.data[0]).toBe(3);
    expect(affine.b.grad.data[0]).toBe(1);
  });

  it("returns null for needDx false with the same parameter gradients", () => {
    const random = mulberry32(3);
    const W = randomTensor([5, 3], "float64", random);
    const b = randomTensor([3], "float64", random);
    const x = randomTensor([4, 5], "float64", random);
    const dout = randomTensor([4, 3], "float64", random);
    const a = new Affine(backend, W, b);
    a.forward(x);
    expect(a.backward(dout, true)).not.toBeNull();
    const withDx = a.params.map((p) => clone(p.grad));
    a.forward(x);
    expect(a.backward(dout, false)).toBeNull();
    expect(a.params.map((p) => clone(p.grad))).toEqual(withDx);
  });

  it("never changes dout", () => {
    const random = mulberry32(4);
    const a = new Affine(
      backend,
      randomTensor([3, 2], "float32", random),
      randomTensor([2], "float32", random),
    );
    a.forward(randomTensor([2, 3], "float32", random));
    const dout = randomTensor([2, 2], "float32", random);
    const before = clone(dout);
    a.backward(dout, true);
    expect(dout).toEqual(before);
  });

  it("names the layer, both shapes and W in a shape error", () => {
    const a = new Affine(
      backend,
      fromValues([40, 2], new Array(80).fill(0), "float64"),
      fromValues([2], [0, 0], "float64"),
    );
    const error = (() => {
      try {
        a.outputShape([5, 30], 2);
      } catch (e) {
        return e;
      }
    })() as ShapeError;
    expect(error).toBeInstanceOf(ShapeError);
    expect(error.path).toBe("layers[2].W");
    expect(error.layer).toBe(2);
    expect(error.message).toBe(
      "layer 2: affine input has 30 features but W has 40 rows (expected [5, 40], got [5, 30])",
    );
    expect(() => a.forward(fromValues([30], new Array(30).fill(0), "float64"))).toThrow(ShapeError);
  });

  it("matches central differences for dx, dW and db, with an N-d input", () => {
    const random = mulberry32(5);
    const x = randomTensor([3, 2, 3], "float64", random);
    const dout = randomTensor([3, 4], "float64", random);
    const net = Network.fromSpecs([affineSpec(6, 4, random)], "float64", backend);
    expect(checkInputGradient(net, x, { dout }, 1e-5).maxRelError).toBeLessThan(1e-7);
    const report = checkParameters(net, x, { dout }, 1e-5);
    expect(report.map((r) => r.name)).toEqual(["W", "b"]);
    for (const r of report) expect(r.maxRelError).toBeLessThan(1e-7);
  });

  it("gives dx the input's shape, for any shape and dtype", () => {
    const shapes = fc.record({
      n: fc.integer({ min: 1, max: 4 }),
      features: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
      outputs: fc.integer({ min: 1, max: 5 }),
      dtype: fc.constantFrom(...DTYPES),
      scale: fc.constantFrom(1, 1e-30, 1e10),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(shapes, ({ n, features, outputs, dtype, scale, seed }) => {
        const random = mulberry32(seed);
        const inputs = sizeOf(features);
        const a = new Affine(
          backend,
          randomTensor([inputs, outputs], dtype, random),
          randomTensor([outputs], dtype, random),
        );
        const x = randomTensor([n, ...features], dtype, random, { scale });
        const out = a.forward(x);
        expect(out.shape).toEqual([n, outputs]);
        const dx = a.backward(randomTensor([n, outputs], dtype, random), true)!;
        expect(dx.shape).toEqual(x.shape);
        expect(dx.data).toBeInstanceOf(x.data.constructor);
        expect(dx.data.every(Number.isFinite)).toBe(true);
      }),
    );
  });
});
