import { describe, expect, it } from "vitest";
import {
  AdaGrad,
  Adam,
  createOptimizer,
  Momentum,
  Nesterov,
  OPTIMIZER_TYPES,
  type OptimizerConfig,
  type OptimizerType,
  optimizerDefaults,
  RMSprop,
  resolveOptimizerConfig,
  SGD,
} from "../../../src/core/optimizers/index.js";
import type { Optimizer } from "../../../src/core/optimizers/optimizer.js";
import { Parameter } from "../../../src/core/parameter.js";
import { type DType, fromValues } from "../../../src/core/tensor.js";
import { backend } from "../helpers.js";
import { expectTrace, runSteps } from "./helpers.js";

/** A 3×2 weight and its [2] bias. */
function params(dtype: DType): Parameter[] {
  return [
    new Parameter(backend, fromValues([3, 2], [0.3, -0.1, 0.2, 0.5, -0.4, 0.05], dtype), "weight"),
    new Parameter(backend, fromValues([2], [0.01, -0.02], dtype), "bias"),
  ];
}

/** Gradients that differ per step and element, without randomness. */
function setGrads(ps: Parameter[], step: number): void {
  ps.forEach((p, k) => {
    for (let i = 0; i < p.grad.data.length; i++) p.grad.data[i] = Math.sin(step * 7 + i * 3 + k);
  });
}

function train(optimizer: Optimizer, ps: Parameter[], from: number, to: number): void {
  for (let step = from; step < to; step++) {
    setGrads(ps, step);
    optimizer.step();
  }
}

const configs: OptimizerConfig[] = OPTIMIZER_TYPES.map((type) => ({ type }));

describe("optimizer registry", () => {
  it("has the book's defaults (docs/API.md, Training jobs)", () => {
    expect(optimizerDefaults).toEqual({
      sgd: { lr: 0.01 },
      momentum: { lr: 0.01, momentum: 0.9 },
      nesterov: { lr: 0.01, momentum: 0.9 },
      adagrad: { lr: 0.01 },
      rmsprop: { lr: 0.01, decay: 0.99 },
      adam: { lr: 0.001, beta1: 0.9, beta2: 0.999 },
    });
  });

  it("creates each optimizer with defaults filled in and overrides applied", () => {
    const ps = params("float64");
    const classes: Record<OptimizerType, unknown> = {
      sgd: SGD,
      momentum: Momentum,
      nesterov: Nesterov,
      adagrad: AdaGrad,
      rmsprop: RMSprop,
      adam: Adam,
    };
    for (const type of OPTIMIZER_TYPES) {
      expect(createOptimizer({ type }, ps, backend)).toBeInstanceOf(classes[type] as never);
    }
    const adam = createOptimizer({ type: "adam", beta2: 0.99 }, ps, backend) as Adam;
    expect([adam.lr, adam.beta1, adam.beta2]).toEqual([0.001, 0.9, 0.99]);
    const momentum = createOptimizer({ type: "momentum", lr: 0.1 }, ps, backend) as Momentum;
    expect([momentum.lr, momentum.momentum]).toEqual([0.1, 0.9]);
  });

  it("resolves the effective values, leaving out what the optimizer does not read", () => {
    expect(resolveOptimizerConfig({ type: "adam", lr: 0.01, momentum: 0.5 })).toEqual({
      type: "adam",
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
    });
    expect(resolveOptimizerConfig({ type: "rmsprop" })).toEqual({
      type: "rmsprop",
      lr: 0.01,
      decay: 0.99,
    });
  });

  it("refuses unknown types, inherited object keys included", () => {
    for (const type of ["adamw", "toString", "constructor"]) {
      expect(() => createOptimizer({ type } as never, params("float64"), backend)).toThrow(
        RangeError,
      );
    }
  });
});

describe("Optimizer bookkeeping", () => {
  it.each(configs)(
    "$type: export, import into a fresh optimizer, continue = uninterrupted",
    (config) => {
      for (const dtype of ["float64", "float32"] as const) {
        const straight = params(dtype);
        train(createOptimizer(config, straight, backend), straight, 0, 6);

        const first = params(dtype);
        const before = createOptimizer(config, first, backend);
        train(before, first, 0, 3);
        const saved = before.exportState();
        const savedValues = first.map((p) => p.value.data.slice());
        expect(saved.step).toBe(3);
        // The export is a copy: further steps do not change it.
        const savedCopy = saved.slots.map((s) => s.map((a) => Array.from(a)));
        train(before, first, 3, 4);
        expect(saved.slots.map((s) => s.map((a) => Array.from(a)))).toEqual(savedCopy);

        // A resumed job: new parameters holding the checkpoint's values, a new optimizer.
        const fresh = params(dtype);
        fresh.forEach((p, i) => {
          p.value.data.set(savedValues[i]);
        });
        const after = createOptimizer(config, fresh, backend);
        after.importState(saved);
        expect(after.stepCount).toBe(3);
        train(after, fresh, 3, 6);
        fresh.forEach((p, i) => {
          expect(p.value.data).toBeInstanceOf(dtype === "float32" ? Float32Array : Float64Array);
          expect(Array.from(p.value.data)).toEqual(Array.from(straight[i].value.data));
        });
      }
    },
  );

  it("keeps float32 parameters and slots in float32, close to the float64 run", () => {
    for (const config of configs) {
      const make = (ps: Parameter[]) => createOptimizer(config, ps, backend);
      const f32 = runSteps(make, "float32");
      const f64 = runSteps(make, "float64");
      expect(f32.param.value.data).toBeInstanceOf(Float32Array);
      for (const slot of f32.optimizer.exportState().slots.flat()) {
        expect(slot).toBeInstanceOf(Float32Array);
      }
      expectTrace(f32.trace, f64.trace, 1e-6);
    }
  });

  it("keeps a separate state per parameter, keyed by the parameter", () => {
    const together = params("float64");
    const alone = params("float64");
    const both = new Momentum(together, backend);
    const each = alone.map((p) => new Momentum([p], backend));
    for (let step = 0; step < 4; step++) {
      setGrads(together, step);
      setGrads(alone, step);
      both.step();
      for (const o of each) o.step();
    }
    together.forEach((p, i) => {
      expect(Array.from(p.value.data)).toEqual(Array.from(alone[i].value.data));
    });
  });

  it("has as many slots per parameter as its rule needs", () => {
    const counts = OPTIMIZER_TYPES.map(
      (type) => createOptimizer({ type }, params("float64"), backend).exportState().slots[0].length,
    );
    expect(Object.fromEntries(OPTIMIZER_TYPES.map((t, i) => [t, counts[i]]))).toEqual({
      sgd: 0,
      momentum: 1,
      nesterov: 1,
      adagrad: 1,
      rmsprop: 1,
      adam: 2,
    });
  });

  it("refuses the same parameter twice", () => {
    const [w] = params("float64");
    expect(() => new SGD([w, w], backend)).toThrow();
  });

  it("refuses a state that does not fit, and keeps its own", () => {
    const ps = params("float64");
    const adam = new Adam(ps, backend);
    train(adam, ps, 0, 2);
    const good = adam.exportState();
    const bad = [
      { ...good, step: -1 },
      { ...good, step: 1.5 },
      { ...good, slots: good.slots.slice(1) },
      { ...good, slots: [good.slots[0].slice(1), good.slots[1]] },
      { ...good, slots: [good.slots[0], [new Float64Array(2), new Float64Array(3)]] },
    ];
    for (const state of bad) expect(() => adam.importState(state)).toThrow(RangeError);
    expect(adam.exportState()).toEqual(good);
  });
});
