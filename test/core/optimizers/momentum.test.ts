import { describe, expect, it } from "vitest";
import { Momentum } from "../../../src/core/optimizers/momentum.js";
import { backend } from "../helpers.js";
import { expectTrace, runSteps } from "./helpers.js";

// v ← m·v - lr·g; W ← W + v, with W0 = [1, -2] and g = [0.5, -1], [0.5, 2], [-1, 0.5].
describe("Momentum", () => {
  it("takes the book's steps with lr 0.01, momentum 0.9 by default", () => {
    const { trace, optimizer } = runSteps((params) => new Momentum(params, backend));
    expect([(optimizer as Momentum).lr, (optimizer as Momentum).momentum]).toEqual([0.01, 0.9]);
    // v1 = [-0.005, 0.01]
    // v2 = 0.9·v1 - 0.01·g2 = [-0.0045 - 0.005, 0.009 - 0.02] = [-0.0095, -0.011]
    // v3 = 0.9·v2 - 0.01·g3 = [-0.00855 + 0.01, -0.0099 - 0.005] = [0.00145, -0.0149]
    expectTrace(trace, [
      [0.995, -1.99],
      [0.995 - 0.0095, -1.99 - 0.011], // [0.9855, -2.001]
      [0.9855 + 0.00145, -2.001 - 0.0149], // [0.98695, -2.0159]
    ]);
  });

  it("uses the given lr and momentum", () => {
    // lr 0.1, m 0.5: v1 = [-0.05, 0.1]; v2 = [-0.025 - 0.05, 0.05 - 0.2] = [-0.075, -0.15];
    // v3 = [-0.0375 + 0.1, -0.075 - 0.05] = [0.0625, -0.125]
    const { trace } = runSteps(
      (params) => new Momentum(params, backend, { lr: 0.1, momentum: 0.5 }),
    );
    expectTrace(trace, [
      [0.95, -1.9],
      [0.875, -2.05],
      [0.9375, -2.175],
    ]);
  });
});
