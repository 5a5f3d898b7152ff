import { EVALUATION_CHUNK } from "../core/evaluation.js";
import type { LayerSpec } from "../core/network.js";
import type { DType } from "../core/tensor.js";
import { listDatasets } from "../datasets/catalog.js";
import type { ComputePool } from "../pool/compute-pool.js";

export interface DatasetRef {
  name: string;
  split: string;
  limit?: number;
}

/** Accuracy of a network over a dataset's samples, computed elsewhere than the caller's thread. */
export type Evaluator = (dtype: DType, layers: LayerSpec[], dataset: DatasetRef) => Promise<number>;

/**
 * An Evaluator over the compute pool: the samples are split into one part per thread and the
 * parts run at once. Correct answers are counted per part and summed, so the accuracy is the one a
 * single pass gives, bit for bit (a row's arithmetic does not depend on which part holds it).
 */
export function poolEvaluator(pool: ComputePool, threads: number): Evaluator {
  return async (dtype, layers, { name, split, limit }) => {
    const size = listDatasets().find((d) => d.name === name)?.splits[split as "train" | "test"];
    if (size === undefined) throw new Error(`unknown dataset ${name}/${split}`);
    const total = Math.min(limit ?? size, size);
    const parts = Math.max(1, Math.min(threads, Math.ceil(total / EVALUATION_CHUNK)));
    const rows = Math.ceil(total / parts);
    const outcomes = await Promise.all(
      Array.from({ length: parts }, (_, i) =>
        pool.run("evaluate", {
          dtype,
          // Each task gets its own copy: a task's buffers are moved to its thread.
          layers: layers.map((l) =>
            l.type === "affine" ? { type: "affine", W: copy(l.W), b: copy(l.b) } : { type: l.type },
          ),
          dataset: { name, split, offset: i * rows, limit: Math.min(rows, total - i * rows) },
        }),
      ),
    );
    let correct = 0;
    for (const outcome of outcomes) {
      if (!outcome.ok) throw new Error(outcome.failure.message);
      correct += Math.round(outcome.value.accuracy * outcome.value.count);
    }
    return correct / total;
  };
}

const copy = (t: { shape: readonly number[]; data: Float32Array | Float64Array }) => ({
  shape: [...t.shape],
  data: t.data.slice(),
});
