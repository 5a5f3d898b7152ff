import { describe, expect, it } from "vitest";
import { Backend, type FallbackReason, supportsPath } from "../../src/core/backend.js";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import { Network } from "../../src/core/network.js";
import { createOptimizer, type OptimizerConfig } from "../../src/core/optimizers/index.js";
import { Rng, type RngState } from "../../src/core/rng.js";
import { Trainer } from "../../src/core/trainer.js";
import { addWeightDecayGrad, weightDecayLoss } from "../../src/core/weight-decay.js";
import { affineSpec, mulberry32 } from "./helpers.js";

const MiB = 1024 * 1024;

const OPTIMIZERS: OptimizerConfig[] = [
  { type: "sgd", lr: 0.1 },
  { type: "momentum", lr: 0.05, momentum: 0.9 },
  { type: "adam", lr: 0.01, beta1: 0.9, beta2: 0.999 },
];

function setup(
  batchSize: number,
  optimizer: OptimizerConfig,
  backend: Backend,
  rng: RngState | null = null,
) {
  const random = mulberry32(5);
  const specs: LayerSpec[] = [
    affineSpec(30, 20, random, 0.3),
    { type: "relu" },
    affineSpec(20, 4, random, 0.3),
    { type: "softmaxWithLoss" },
  ];
  const count = 50;
  const data = {
    x: Float32Array.from({ length: count * 30 }, () => random() - 0.5),
    labels: Array.from({ length: count }, (_, i) => i % 4),
    count,
    inputSize: 30,
  };
  const network = Network.fromSpecs(specs, "float32", backend);
  const trainer = new Trainer(
    network,
    createOptimizer(optimizer, network.parameters(), backend),
    rng ? Rng.fromState(rng) : new Rng(3),
    data,
    {
      batchSize,
      weightDecay: 0.01,
    },
  );
  return { network, trainer, data };
}

describe("Trainer on the WebAssembly kernels", () => {
  it.each(OPTIMIZERS)(
    "allocates nothing after its first step, never leaving WebAssembly ($type)",
    (optimizer) => {
      const fallbacks: FallbackReason[] = [];
      const backend = Backend.create("relaxed-simd", {
        arenaBytes: 16 * MiB,
        onFallback: (reason) => fallbacks.push(reason),
      });
      backend.begin(MiB);
      const arena = backend.arena!;
      const { network, trainer } = setup(16, optimizer, backend);
      trainer.step();
      const top = arena.mark();
      for (let i = 0; i < 20; i++) trainer.step();
      expect(arena.mark()).toBe(top);
      expect(fallbacks).toEqual([]);
      for (const p of network.parameters()) expect(arena.owns(p.value.data)).toBe(true);
    },
  );

  it.each(OPTIMIZERS)("lowers the loss as the TypeScript path does ($type)", (optimizer) => {
    const losses = (path: "relaxed-simd" | "typescript") => {
      const backend = Backend.create(path, { arenaBytes: 16 * MiB });
      backend.begin(MiB);
      const { trainer } = setup(16, optimizer, backend);
      return Array.from({ length: 200 }, () => trainer.step());
    };
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const wasm = losses("relaxed-simd");
    const ts = losses("typescript");
    expect(mean(wasm.slice(-20))).toBeLessThan(0.8 * mean(wasm.slice(0, 20)));
    // Float32 rounding differs (fused multiply-add, sums and Adam's ratios in float32): close,
    // not equal, and the gap grows as the runs go on.
    wasm.slice(0, 50).forEach((loss, i) => {
      expect(Math.abs(loss - ts[i])).toBeLessThan(1e-4);
    });
    expect(Math.abs(mean(wasm.slice(-20)) - mean(ts.slice(-20)))).toBeLessThan(1e-3);
  });
});

// The paths whose ops gather ahead (openblas: on another core) and whose ops gather at once.
const GATHER_PATHS = (["openblas", "typescript"] as const).filter((path) => supportsPath(path));

describe.each(GATHER_PATHS)("Trainer's minibatches on the %s path", (path) => {
  const backend = () => {
    const b = Backend.create(path, { arenaBytes: 16 * MiB });
    b.begin(MiB);
    return b;
  };
  const optimizer: OptimizerConfig = { type: "momentum", lr: 0.05, momentum: 0.9 };

  it("are the batches a loop gathering each one when it is used draws, to the bit", () => {
    const { trainer } = setup(16, optimizer, backend());
    // The same step by hand, from the same seed: draw, gather at once, the labels, the update.
    const mine = setup(16, optimizer, backend());
    const { network } = mine;
    const rng = new Rng(3);
    const indices = new Int32Array(16);
    const x = network.backend.zeros([16, 30], "float32");
    const t = network.backend.zeros([16], "float32");
    const params = network.parameters();
    const byHand = () => {
      rng.fillIndices(indices, mine.data.count);
      network.backend.ops.gatherRows(mine.data.x, indices, x.data, 30);
      indices.forEach((row, i) => {
        t.data[i] = mine.data.labels[row];
      });
      const loss = network.lossValue(x, t) + weightDecayLoss(params, 0.01);
      network.backward({ dloss: 1, needDx: false });
      addWeightDecayGrad(params, 0.01, network.backend.ops);
      mine.trainer.optimizer.step();
      return loss;
    };
    for (let i = 0; i < 40; i++) expect(trainer.step(), `step ${i + 1}`).toBe(byHand());
  });

  it("resume from rngState() with the bits of the run that was not stopped", () => {
    const whole = setup(16, optimizer, backend());
    const first = Array.from({ length: 15 }, () => whole.trainer.step());
    const parameters = whole.network.parameters().map((p) => p.value.data.slice());
    const optimizerState = whole.trainer.optimizer.exportState();
    const rngState = whole.trainer.rngState();
    const rest = Array.from({ length: 15 }, () => whole.trainer.step());

    const resumed = setup(16, optimizer, backend(), rngState);
    resumed.network.parameters().forEach((p, i) => {
      p.value.data.set(parameters[i]);
    });
    resumed.trainer.optimizer.importState(optimizerState);
    expect(first.every(Number.isFinite)).toBe(true);
    expect(Array.from({ length: 15 }, () => resumed.trainer.step())).toEqual(rest);
  });
});
