import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { Backend } from "../../src/core/backend.js";
import { evaluate } from "../../src/core/evaluation.js";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import { Network } from "../../src/core/network.js";
import { loadDataset } from "../../src/datasets/catalog.js";
import { ComputePool } from "../../src/pool/compute-pool.js";
import { poolEvaluator } from "../../src/training/pool-evaluation.js";
import { affineSpec, mulberry32 } from "../core/helpers.js";
import { tempDir } from "../helpers/temp.js";

const random = mulberry32(16);
const layers: LayerSpec[] = [
  affineSpec(784, 20, random, 0.05),
  { type: "relu" },
  affineSpec(20, 10, random, 0.3),
  { type: "softmaxWithLoss" },
];
// Three parts of PART_ROWS (2000), the last one short.
const samples = { name: "mnist" as const, split: "test" as const, limit: 5500 };

describe("the pool's evaluator", () => {
  let pool: ComputePool;
  /** The most tasks the pool ran at once since the last reset. */
  let most = 0;
  let running = 0;
  /** The real pool, its tasks counted as they run. */
  let counted: ComputePool;

  beforeAll(() => {
    const config = loadConfig({ POOL_THREADS: "3", KERNELS: "typescript", DATA_DIR: tempDir() });
    pool = new ComputePool(config.pool);
    counted = Object.create(pool, {
      run: {
        value: async (...args: Parameters<ComputePool["run"]>) => {
          most = Math.max(most, ++running);
          try {
            return await pool.run(...args);
          } finally {
            running--;
          }
        },
      },
    });
  });
  afterAll(() => pool.close());

  it("keeps to the threads it is given, with the very loss and accuracy of one pass", async () => {
    const data = await loadDataset(samples.name, samples.split, samples.limit);
    const backend = Backend.typescript();
    const expected = evaluate(Network.fromSpecs(layers, "float64", backend), data);
    const evaluator = poolEvaluator(counted, () => {});
    for (const threads of [1, 2, Number.POSITIVE_INFINITY]) {
      most = 0;
      const measured = await evaluator("float64", layers, samples, threads);
      expect(measured, `threads ${threads}`).toEqual({
        loss: expected.loss,
        accuracy: expected.accuracy,
      });
      // Three parts: as many in flight as allowed, never more than the pool's three threads.
      expect(most, `threads ${threads}`).toBe(Math.min(threads, 3));
    }
  });

  it("refuses when it may take no thread (the job's thread then evaluates)", async () => {
    await expect(poolEvaluator(counted, () => {})("float64", layers, samples, 0)).rejects.toThrow(
      "no idle compute thread",
    );
  });
});
