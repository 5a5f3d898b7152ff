import { describe, expect, it } from "vitest";
import { Nesterov } from "../../../src/core/optimizers/nesterov.js";
import { backend } from "../helpers.js";
import { expectTrace, runSteps } from "./helpers.js";

// The book's common/optimizer.py: v ← m·v - lr·g; W ← W + m²·v - (1 + m)·lr·g (v already updated),
// with W0 = [1, -2] and g = [0.5, -1], [0.5, 2], [-1, 0.5].
describe("Nesterov", () => {
  it("takes the book's steps with lr 0.01, momentum 0.9 by default", () => {
    const { trace, optimizer } = runSteps((params) => new Nesterov(params, backend));
    expect([(optimizer as Nesterov).lr, (optimizer as Nesterov).momentum]).toEqual([0.01, 0.9]);
    // m² = 0.81, (1 + m)·lr = 0.019; v as for Momentum: [-0.005, 0.01], [-0.0095, -0.011],
    // [0.00145, -0.0149].
    expectTrace(trace, [
      // [1 - 0.00405 - 0.0095, -2 + 0.0081 + 0.019] = [0.98645, -1.9729]
      [1 + 0.81 * -0.005 - 0.019 * 0.5, -2 + 0.81 * 0.01 - 0.019 * -1],
      // [0.98645 - 0.007695 - 0.0095, -1.9729 - 0.00891 - 0.038] = [0.969255, -2.01981]
      [0.98645 + 0.81 * -0.0095 - 0.019 * 0.5, -1.9729 + 0.81 * -0.011 - 0.019 * 2],
      // [0.969255 + 0.0011745 + 0.019, -2.01981 - 0.012069 - 0.0095] = [0.9894295, -2.041379]
      [0.969255 + 0.81 * 0.00145 - 0.019 * -1, -2.01981 + 0.81 * -0.0149 - 0.019 * 0.5],
    ]);
  });

  it("uses the given lr and momentum", () => {
    // lr 0.1, m 0.5: m² = 0.25, (1 + m)·lr = 0.15; v1 = [-0.05, 0.1], v2 = [-0.075, -0.15],
    // v3 = [0.0625, -0.125]
    const { trace } = runSteps(
      (params) => new Nesterov(params, backend, { lr: 0.1, momentum: 0.5 }),
    );
    expectTrace(trace, [
      [1 - 0.0125 - 0.075, -2 + 0.025 + 0.15], // [0.9125, -1.825]
      [0.9125 - 0.01875 - 0.075, -1.825 - 0.0375 - 0.3], // [0.81875, -2.1625]
      [0.81875 + 0.015625 + 0.15, -2.1625 - 0.03125 - 0.075], // [0.984375, -2.26875]
    ]);
  });
});
