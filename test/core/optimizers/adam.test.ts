import { describe, expect, it } from "vitest";
import { Adam } from "../../../src/core/optimizers/adam.js";
import { backend } from "../helpers.js";
import { expectTrace, runSteps } from "./helpers.js";

// The book's Adam, at t = 1, 2, 3:
//   lr_t = lr·√(1 - β2^t) / (1 - β1^t); m += (1 - β1)(g - m); v += (1 - β2)(g² - v);
//   W -= lr_t·m / (√v + 1e-7)
// with W0 = [1, -2] and g = [0.5, -1], [0.5, 2], [-1, 0.5].
describe("Adam", () => {
  it("takes the book's steps with lr 0.001, beta1 0.9, beta2 0.999 by default", () => {
    const { trace, optimizer } = runSteps((params) => new Adam(params, backend));
    const adam = optimizer as Adam;
    expect([adam.lr, adam.beta1, adam.beta2]).toEqual([0.001, 0.9, 0.999]);
    // t = 1: lr_1 = 0.001·√0.001 / 0.1 ≈ 3.1623e-4
    //   m1 = 0.1·g1 = [0.05, -0.1]; v1 = 0.001·g1² = [0.00025, 0.001]
    const lr1 = (0.001 * Math.sqrt(0.001)) / 0.1;
    const w1 = [
      1 - (lr1 * 0.05) / (Math.sqrt(0.00025) + 1e-7),
      -2 - (lr1 * -0.1) / (Math.sqrt(0.001) + 1e-7),
    ]; // ≈ [0.99900001, -1.99900000]: the first step is about lr·sign(g)
    // t = 2: lr_2 = 0.001·√(1 - 0.998001) / (1 - 0.81) = 0.001·√0.001999 / 0.19 ≈ 2.3532e-4
    //   m2 = m1 + 0.1·(g2 - m1) = [0.05 + 0.045, -0.1 + 0.21] = [0.095, 0.11]
    //   v2 = v1 + 0.001·(g2² - v1) = [0.00025 + 0.00024975, 0.001 + 0.003999] = [0.00049975, 0.004999]
    const lr2 = (0.001 * Math.sqrt(0.001999)) / 0.19;
    const w2 = [
      w1[0] - (lr2 * 0.095) / (Math.sqrt(0.00049975) + 1e-7),
      w1[1] - (lr2 * 0.11) / (Math.sqrt(0.004999) + 1e-7),
    ]; // ≈ [0.99800001, -1.99936611]
    // t = 3: lr_3 = 0.001·√(1 - 0.997002999) / (1 - 0.729) = 0.001·√0.002997001 / 0.271
    //   m3 = m2 + 0.1·(g3 - m2) = [0.095 - 0.1095, 0.11 + 0.039] = [-0.0145, 0.149]
    //   v3 = v2 + 0.001·(g3² - v2) = [0.00049975 + 0.00099950025, 0.004999 + 0.000245001]
    //      = [0.00149925025, 0.005244001]
    const lr3 = (0.001 * Math.sqrt(0.002997001)) / 0.271;
    const w3 = [
      w2[0] - (lr3 * -0.0145) / (Math.sqrt(0.00149925025) + 1e-7),
      w2[1] - (lr3 * 0.149) / (Math.sqrt(0.005244001) + 1e-7),
    ]; // ≈ [0.99807566, -1.99978176]
    expectTrace(trace, [w1, w2, w3]);
  });

  it("uses the given lr, beta1 and beta2", () => {
    const { trace } = runSteps(
      (params) => new Adam(params, backend, { lr: 0.01, beta1: 0.5, beta2: 0.75 }),
    );
    // t = 1: lr_1 = 0.01·√0.25 / 0.5 = 0.01; m1 = [0.25, -0.5]; v1 = 0.25·g1² = [0.0625, 0.25]
    const w1 = [1 - (0.01 * 0.25) / (0.25 + 1e-7), -2 + (0.01 * 0.5) / (0.5 + 1e-7)];
    // t = 2: lr_2 = 0.01·√(1 - 0.5625) / (1 - 0.25) = 0.01·√0.4375 / 0.75
    //   m2 = m1 + 0.5·(g2 - m1) = [0.375, 0.75]; v2 = v1 + 0.25·(g2² - v1) = [0.109375, 1.1875]
    const lr2 = (0.01 * Math.sqrt(0.4375)) / 0.75;
    const w2 = [
      w1[0] - (lr2 * 0.375) / (Math.sqrt(0.109375) + 1e-7),
      w1[1] - (lr2 * 0.75) / (Math.sqrt(1.1875) + 1e-7),
    ];
    // t = 3: lr_3 = 0.01·√(1 - 0.421875) / (1 - 0.125) = 0.01·√0.578125 / 0.875
    //   m3 = m2 + 0.5·(g3 - m2) = [-0.3125, 0.625]
    //   v3 = v2 + 0.25·(g3² - v2) = [0.109375 + 0.22265625, 1.1875 - 0.234375] = [0.33203125, 0.953125]
    const lr3 = (0.01 * Math.sqrt(0.578125)) / 0.875;
    const w3 = [
      w2[0] - (lr3 * -0.3125) / (Math.sqrt(0.33203125) + 1e-7),
      w2[1] - (lr3 * 0.625) / (Math.sqrt(0.953125) + 1e-7),
    ];
    expectTrace(trace, [w1, w2, w3]);
  });

  it("keeps m and v as its two slots", () => {
    const { optimizer } = runSteps((params) => new Adam(params, backend));
    const { step, slots } = optimizer.exportState();
    expect(step).toBe(3);
    const [[m, v]] = slots;
    expect(m[0]).toBeCloseTo(-0.0145, 15);
    expect(m[1]).toBeCloseTo(0.149, 15);
    expect(v[0]).toBeCloseTo(0.00149925025, 15);
    expect(v[1]).toBeCloseTo(0.005244001, 15);
  });
});
