import { describe, expect, it } from "vitest";
import { AdaGrad } from "../../../src/core/optimizers/adagrad.js";
import { backend } from "../helpers.js";
import { expectTrace, runSteps } from "./helpers.js";

// h ← h + g²; W ← W - lr·g / (√h + 1e-7), with W0 = [1, -2] and g = [0.5, -1], [0.5, 2], [-1, 0.5].
describe("AdaGrad", () => {
  it("takes the book's steps with lr 0.01 by default", () => {
    const { trace, optimizer } = runSteps((params) => new AdaGrad(params, backend));
    expect((optimizer as AdaGrad).lr).toBe(0.01);
    // h1 = [0.25, 1], h2 = [0.5, 5], h3 = [1.5, 5.25]
    const w1 = [1 - 0.005 / (0.5 + 1e-7), -2 + 0.01 / (1 + 1e-7)]; // ≈ [0.990000002, -1.990000001]
    const w2 = [w1[0] - 0.005 / (Math.sqrt(0.5) + 1e-7), w1[1] - 0.02 / (Math.sqrt(5) + 1e-7)];
    const w3 = [w2[0] + 0.01 / (Math.sqrt(1.5) + 1e-7), w2[1] - 0.005 / (Math.sqrt(5.25) + 1e-7)];
    // w2 ≈ [0.98292894, -1.99894427], w3 ≈ [0.99109390, -2.00112645]
    expectTrace(trace, [w1, w2, w3]);
  });

  it("uses the given lr", () => {
    const { trace } = runSteps((params) => new AdaGrad(params, backend, { lr: 0.1 }));
    const w1 = [1 - 0.05 / (0.5 + 1e-7), -2 + 0.1 / (1 + 1e-7)];
    const w2 = [w1[0] - 0.05 / (Math.sqrt(0.5) + 1e-7), w1[1] - 0.2 / (Math.sqrt(5) + 1e-7)];
    const w3 = [w2[0] + 0.1 / (Math.sqrt(1.5) + 1e-7), w2[1] - 0.05 / (Math.sqrt(5.25) + 1e-7)];
    expectTrace(trace, [w1, w2, w3]);
  });
});
