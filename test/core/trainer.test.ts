import { describe, expect, it } from "vitest";
import { Backend, type FallbackReason } from "../../src/core/backend.js";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import { Network } from "../../src/core/network.js";
import { createOptimizer, type OptimizerConfig } from "../../src/core/optimizers/index.js";
import { Rng } from "../../src/core/rng.js";
import { Trainer } from "../../src/core/trainer.js";
import { affineSpec, mulberry32 } from "./helpers.js";

const MiB = 1024 * 1024;

const OPTIMIZERS: OptimizerConfig[] = [
  { type: "sgd", lr: 0.1 },
  { type: "momentum", lr: 0.05, momentum: 0.9 },
  { type: "adam", lr: 0.01, beta1: 0.9, beta2: 0.999 },
];

function setup(batchSize: number, optimizer: OptimizerConfig, backend: Backend) {
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
    new Rng(3),
    data,
    {
      batchSize,
      weightDecay: 0.01,
    },
  );
  return { network, trainer };
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
