import { expect } from "vitest";
import type { Optimizer } from "../../../src/core/optimizers/optimizer.js";
import { Parameter } from "../../../src/core/parameter.js";
import { type DType, fromValues } from "../../../src/core/tensor.js";
import { backend } from "../helpers.js";

/** The worked example of every optimizer test: W starts at [1, -2], with these grads per step. */
export const W0 = [1, -2];
export const GRADS = [
  [0.5, -1],
  [0.5, 2],
  [-1, 0.5],
];

/** W after each of the three steps of `make`'s optimizer over one [2] weight. */
export function runSteps(
  make: (params: Parameter[]) => Optimizer,
  dtype: DType = "float64",
): { trace: number[][]; param: Parameter; optimizer: Optimizer } {
  const param = new Parameter(backend, fromValues([2], W0, dtype), "weight");
  const optimizer = make([param]);
  const trace = GRADS.map((g) => {
    param.grad.data.set(g);
    optimizer.step();
    return Array.from(param.value.data);
  });
  return { trace, param, optimizer };
}

/** Equal up to float64 rounding (the order of operations may differ from the hand formula). */
export function expectTrace(actual: number[][], expected: number[][], relative = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, step) => {
    row.forEach((value, i) => {
      const want = expected[step][i];
      const error = Math.abs(value - want) / Math.max(Math.abs(want), 1e-300);
      expect(error, `step ${step + 1}, W[${i}] = ${value}, expected ${want}`).toBeLessThan(
        relative,
      );
    });
  });
}
