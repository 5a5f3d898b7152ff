import { describe, expect, it } from "vitest";
import { Parameter } from "../../src/core/parameter.js";
import { type DType, fromValues } from "../../src/core/tensor.js";
import { addWeightDecayGrad, weightDecayLoss } from "../../src/core/weight-decay.js";
import { backend } from "./helpers.js";

function param(
  shape: number[],
  values: number[],
  grad: number[],
  role: "weight" | "bias",
  dtype: DType = "float64",
): Parameter {
  const p = new Parameter(backend, fromValues(shape, values, dtype), role);
  p.grad.data.set(grad);
  return p;
}

function network(dtype: DType = "float64"): Parameter[] {
  return [
    param([2, 2], [1, 2, 3, -4], [0.1, 0.2, 0.3, 0.4], "weight", dtype),
    param([2], [5, 6], [1, -1], "bias", dtype),
    param([1, 1], [0.5], [0], "weight", dtype),
    param([1], [-7], [2], "bias", dtype),
  ];
}

describe("weight decay", () => {
  it("adds λ·W to the weights' gradients and leaves biases alone", () => {
    const params = network();
    addWeightDecayGrad(params, 0.1, backend.ops);
    // dW0 = [0.1 + 0.1·1, 0.2 + 0.1·2, 0.3 + 0.1·3, 0.4 + 0.1·(-4)] = [0.2, 0.4, 0.6, 0]
    const [w0, b0, w1, b1] = params;
    for (const [i, v] of [0.2, 0.4, 0.6, 0].entries()) expect(w0.grad.data[i]).toBeCloseTo(v, 15);
    // dW1 = 0 + 0.1·0.5 = 0.05
    expect(w1.grad.data[0]).toBeCloseTo(0.05, 15);
    expect(Array.from(b0.grad.data)).toEqual([1, -1]);
    expect(Array.from(b1.grad.data)).toEqual([2]);
    // The values themselves do not move.
    expect(Array.from(w0.value.data)).toEqual([1, 2, 3, -4]);
    expect(Array.from(b0.value.data)).toEqual([5, 6]);
  });

  it("adds ½·λ·ΣW² over the weights only", () => {
    // ΣW² = 1 + 4 + 9 + 16 + 0.25 = 30.25 (biases 25 + 36 + 49 left out); ½·0.1·30.25 = 1.5125
    expect(weightDecayLoss(network(), 0.1)).toBeCloseTo(1.5125, 14);
    expect(weightDecayLoss(network(), 0)).toBe(0);
    expect(weightDecayLoss([], 0.1)).toBe(0);
  });

  it("with λ = 0 changes nothing", () => {
    const params = network();
    addWeightDecayGrad(params, 0, backend.ops);
    expect(Array.from(params[0].grad.data)).toEqual([0.1, 0.2, 0.3, 0.4]);
  });

  it("works in float32 and keeps the gradient a Float32Array", () => {
    const params = network("float32");
    addWeightDecayGrad(params, 0.5, backend.ops);
    expect(params[0].grad.data).toBeInstanceOf(Float32Array);
    // dW0 = [0.1 + 0.5, 0.2 + 1, 0.3 + 1.5, 0.4 - 2]
    const want = [0.6, 1.2, 1.8, -1.6];
    for (const [i, v] of want.entries()) expect(params[0].grad.data[i]).toBeCloseTo(v, 6);
    // ½·0.5·30.25 = 7.5625
    expect(weightDecayLoss(params, 0.5)).toBeCloseTo(7.5625, 6);
  });
});
