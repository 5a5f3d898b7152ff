import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ShapeError } from "../../../src/core/errors.js";
import { checkInputGradient } from "../../../src/core/gradient-check.js";
import { SoftmaxWithLoss, softmax } from "../../../src/core/layers/softmax-with-loss.js";
import { Network } from "../../../src/core/network.js";
import { type DType, fromValues } from "../../../src/core/tensor.js";
import { backend, expectClose, indices, mulberry32, oneHot, randomTensor } from "../helpers.js";

const e = Math.E;

describe("SoftmaxWithLoss", () => {
  it("gives softmax([1, 2, 3]) and the loss for an index label", () => {
    const layer = new SoftmaxWithLoss(backend);
    const y = layer.forward(fromValues([1, 3], [1, 2, 3], "float64"));
    const sum = e + e ** 2 + e ** 3;
    const expected = [e / sum, e ** 2 / sum, e ** 3 / sum]; // 0.0900, 0.2447, 0.6652
    expectClose(y.data, expected, { rtol: 1e-15, atol: 0 });
    expect(layer.loss(indices([2], "float64"))).toBeCloseTo(-Math.log(expected[2] + 1e-7), 15);
    const dx = layer.backward();
    expect(Array.from(dx.data)).toEqual([y.data[0], y.data[1], y.data[2] - 1]);
  });

  it("lossWithGradient gives forward, loss and backward(1)'s very bits, and backward(dout) after it", () => {
    const random = mulberry32(12);
    for (const dtype of ["float32", "float64"] as DType[]) {
      const x = randomTensor([7, 5], dtype, random, { scale: 6 });
      const t = indices([4, 0, 2, 2, 1, 3, 0], dtype);
      const apart = new SoftmaxWithLoss(backend);
      const y = Array.from(apart.forward(x).data);
      const loss = apart.loss(t);
      const dx = Array.from(apart.backward(1).data);
      const dx3 = Array.from(apart.backward(3).data);
      const fused = new SoftmaxWithLoss(backend);
      expect(fused.lossWithGradient(x, t)).toBe(loss);
      expect(Array.from(fused.probabilities!.data)).toEqual(y);
      expect(Array.from(fused.backward(1).data)).toEqual(dx);
      expect(Array.from(fused.backward(3).data)).toEqual(dx3);
      expect(Array.from(fused.backward().data)).toEqual(dx);
    }
  });

  it("averages the loss over the batch and scales dx by dout / N", () => {
    const layer = new SoftmaxWithLoss(backend);
    const y = layer.forward(fromValues([2, 2], [0, 0, 5, 5], "float64"));
    expect(Array.from(y.data)).toEqual([0.5, 0.5, 0.5, 0.5]);
    const loss = layer.loss(oneHot([0, 1], 2, "float64"));
    expect(loss).toBeCloseTo(-Math.log(0.5 + 1e-7), 15);
    expect(Array.from(layer.backward(2).data)).toEqual([-0.5, 0.5, 0.5, -0.5]); // 2·(y - t)/2
  });

  it("gives the same loss and dx for one-hot and index labels", () => {
    const random = mulberry32(6);
    const x = randomTensor([4, 3], "float64", random, { scale: 4 });
    const labels = [2, 0, 1, 1];
    const a = new SoftmaxWithLoss(backend);
    a.forward(x);
    const b = new SoftmaxWithLoss(backend);
    b.forward(x);
    expect(a.loss(oneHot(labels, 3, "float64"))).toBe(b.loss(indices(labels, "float64")));
    expect(Array.from(a.backward(0.5).data)).toEqual(Array.from(b.backward(0.5).data));
  });

  it("guards exp with the row max: huge scores give exact probabilities", () => {
    const y = new SoftmaxWithLoss(backend).forward(
      fromValues([2, 2], [1000, 1000, 1e308, -1e308], "float64"),
    );
    expect(Array.from(y.data)).toEqual([0.5, 0.5, 1, 0]);
  });

  it("rejects labels out of range, non-integer labels and mis-shaped t, on path t", () => {
    const layer = new SoftmaxWithLoss(backend);
    layer.forward(fromValues([2, 3], [1, 2, 3, 4, 5, 6], "float64"));
    for (const t of [
      indices([0, 3], "float64"),
      indices([0, -1], "float64"),
      indices([0, 1.5], "float64"),
      indices([0, 1, 2], "float64"),
      fromValues([3, 2], [1, 0, 0, 1, 1, 0], "float64"),
    ]) {
      expect(() => layer.loss(t)).toThrow(ShapeError);
      try {
        layer.loss(t);
      } catch (error) {
        expect((error as ShapeError).path).toBe("t");
      }
    }
  });

  it("takes only 2-D scores", () => {
    expect(() =>
      new SoftmaxWithLoss(backend).forward(fromValues([3], [1, 2, 3], "float64")),
    ).toThrow(ShapeError);
  });

  it("matches central differences, for one-hot and index labels", () => {
    const random = mulberry32(7);
    // Scores with a clear winner per row, labelled with it: y[t] >= 0.99 keeps the 1e-7 inside
    // the log from showing above the bound (see confidentLabels in helpers).
    const labels = [1, 0, 2];
    const x = randomTensor([3, 3], "float64", random);
    labels.forEach((label, i) => {
      x.data[i * 3 + label] += 8;
    });
    const net = Network.fromSpecs([{ type: "softmaxWithLoss" }], "float64", backend);
    for (const t of [indices(labels, "float64"), oneHot(labels, 3, "float64")]) {
      expect(checkInputGradient(net, x, { t }, 1e-5).maxRelError).toBeLessThan(1e-7);
    }
  });

  it("softmax() works on any rank, over the last axis", () => {
    const y = softmax(fromValues([3], [1, 2, 3], "float32"));
    expect(y.data).toBeInstanceOf(Float32Array);
    expect(y.data[2]).toBeCloseTo(0.66524096, 6);
  });

  it("gives finite rows summing to 1 for any finite scores, extremes included", () => {
    const cases: [DType, number][] = [
      ["float64", 1e308],
      ["float32", 1e30],
    ];
    for (const [dtype, big] of cases) {
      const value = fc.oneof(
        fc.double({ min: -big, max: big, noNaN: true }),
        fc.constantFrom(big, -big, 0),
      );
      const batch = fc
        .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }))
        .chain(([n, c]) =>
          fc.tuple(fc.constant([n, c]), fc.array(value, { minLength: n * c, maxLength: n * c })),
        );
      fc.assert(
        fc.property(batch, ([[n, c], values]) => {
          const layer = new SoftmaxWithLoss(backend);
          const y = layer.forward(fromValues([n, c], values, dtype));
          expect(y.data.every(Number.isFinite)).toBe(true);
          for (let i = 0; i < n; i++) {
            let sum = 0;
            for (let j = 0; j < c; j++) sum += y.data[i * c + j];
            expect(Math.abs(sum - 1)).toBeLessThan(dtype === "float64" ? 1e-12 : 1e-6);
          }
          const loss = layer.loss(indices(new Array(n).fill(c - 1), dtype));
          expect(Number.isFinite(loss)).toBe(true);
          expect(layer.backward().data.every(Number.isFinite)).toBe(true);
        }),
      );
    }
  });
});
