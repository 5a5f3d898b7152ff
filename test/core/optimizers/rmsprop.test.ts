import { describe, expect, it } from "vitest";
import { RMSprop } from "../../../src/core/optimizers/rmsprop.js";
import { backend } from "../helpers.js";
import { expectTrace, runSteps } from "./helpers.js";

// h ← ρ·h + (1 - ρ)·g²; W ← W - lr·g / (√h + 1e-7),
// with W0 = [1, -2] and g = [0.5, -1], [0.5, 2], [-1, 0.5].
describe("RMSprop", () => {
  it("takes the book's steps with lr 0.01, decay 0.99 by default", () => {
    const { trace, optimizer } = runSteps((params) => new RMSprop(params, backend));
    expect([(optimizer as RMSprop).lr, (optimizer as RMSprop).decay]).toEqual([0.01, 0.99]);
    // h1 = 0.01·[0.25, 1] = [0.0025, 0.01]
    // h2 = 0.99·h1 + 0.01·[0.25, 4] = [0.002475 + 0.0025, 0.0099 + 0.04] = [0.004975, 0.0499]
    // h3 = 0.99·h2 + 0.01·[1, 0.25] = [0.00492525 + 0.01, 0.049401 + 0.0025] = [0.01492525, 0.051901]
    const w1 = [1 - 0.005 / (0.05 + 1e-7), -2 + 0.01 / (0.1 + 1e-7)]; // ≈ [0.9000002, -1.9000001]
    const w2 = [
      w1[0] - 0.005 / (Math.sqrt(0.004975) + 1e-7),
      w1[1] - 0.02 / (Math.sqrt(0.0499) + 1e-7),
    ]; // ≈ [0.82911218, -1.98953236]
    const w3 = [
      w2[0] + 0.01 / (Math.sqrt(0.01492525) + 1e-7),
      w2[1] - 0.005 / (Math.sqrt(0.051901) + 1e-7),
    ]; // ≈ [0.91096598, -2.01147970]
    expectTrace(trace, [w1, w2, w3]);
  });

  it("uses the given lr and decay", () => {
    // lr 0.1, ρ 0.5: h1 = 0.5·[0.25, 1] = [0.125, 0.5]; h2 = [0.0625 + 0.125, 0.25 + 2] =
    // [0.1875, 2.25]; h3 = [0.09375 + 0.5, 1.125 + 0.125] = [0.59375, 1.25]
    const { trace } = runSteps((params) => new RMSprop(params, backend, { lr: 0.1, decay: 0.5 }));
    const w1 = [1 - 0.05 / (Math.sqrt(0.125) + 1e-7), -2 + 0.1 / (Math.sqrt(0.5) + 1e-7)];
    const w2 = [w1[0] - 0.05 / (Math.sqrt(0.1875) + 1e-7), w1[1] - 0.2 / (1.5 + 1e-7)];
    const w3 = [w2[0] + 0.1 / (Math.sqrt(0.59375) + 1e-7), w2[1] - 0.05 / (Math.sqrt(1.25) + 1e-7)];
    expectTrace(trace, [w1, w2, w3]);
  });
});
