import { describe, expect, it } from "vitest";
import { SGD } from "../../../src/core/optimizers/sgd.js";
import { backend } from "../helpers.js";
import { expectTrace, runSteps } from "./helpers.js";

// W ← W - lr·g, with W0 = [1, -2] and g = [0.5, -1], [0.5, 2], [-1, 0.5].
describe("SGD", () => {
  it("takes the book's steps with lr 0.01 by default", () => {
    const { trace, optimizer } = runSteps((params) => new SGD(params, backend));
    expect((optimizer as SGD).lr).toBe(0.01);
    expectTrace(trace, [
      [1 - 0.01 * 0.5, -2 - 0.01 * -1], // [0.995, -1.99]
      [0.995 - 0.01 * 0.5, -1.99 - 0.01 * 2], // [0.99, -2.01]
      [0.99 - 0.01 * -1, -2.01 - 0.01 * 0.5], // [1, -2.015]
    ]);
  });

  it("uses the given lr", () => {
    const { trace } = runSteps((params) => new SGD(params, backend, { lr: 0.1 }));
    expectTrace(trace, [
      [0.95, -1.9], // [1 - 0.05, -2 + 0.1]
      [0.9, -2.1], // [0.95 - 0.05, -1.9 - 0.2]
      [1, -2.15], // [0.9 + 0.1, -2.1 - 0.05]
    ]);
  });
});
