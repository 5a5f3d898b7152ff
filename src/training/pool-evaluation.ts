import { EVALUATION_CHUNK, meanLoss } from "../core/evaluation.js";
import type { LayerSpec } from "../core/layer-spec.js";
import type { DType } from "../core/tensor.js";
import { loadDataset } from "../datasets/catalog.js";
import type { ComputePool } from "../pool/compute-pool.js";
import type { FallbackCounts } from "../pool/worker-backend.js";
import type { DatasetRef } from "./job-spec.js";

/** Mean loss and accuracy of a network over a dataset's samples. */
export interface DatasetMeasurement {
  loss: number;
  accuracy: number;
}

/**
 * Measures a network over a dataset's samples elsewhere than the caller's thread, on at most
 * `threads` threads at once.
 */
export type Evaluator = (
  dtype: DType,
  layers: LayerSpec[],
  dataset: DatasetRef,
  threads: number,
) => Promise<DatasetMeasurement>;

/**
 * Rows per task: a few milliseconds of work, so that requests arriving meanwhile wait behind at
 * most one part per thread, not behind the whole evaluation.
 */
const PART_ROWS = 2 * EVALUATION_CHUNK;

/**
 * An Evaluator over the compute pool's idle threads: the samples are split into parts of
 * PART_ROWS, one in flight per thread that was idle at the start (at most the caller's `threads`);
 * with none idle it refuses (the job's thread then evaluates), so requests keep the threads they
 * are using. Correct answers are
 * counted per part and summed, so the accuracy is the one a single pass gives, bit for bit (a
 * row's arithmetic does not depend on its part), and so is the loss: parts are whole chunks, whose
 * summed losses are added in order as one pass adds them.
 */
export function poolEvaluator(
  pool: ComputePool,
  countFallbacks: (counts: FallbackCounts | undefined) => void,
): Evaluator {
  return async (dtype, layers, { name, split, limit }, most) => {
    const threads = Math.min(pool.idleThreads, most);
    if (threads <= 0) throw new Error("no idle compute thread");
    const total = (await loadDataset(name, split, limit)).count;
    const parts = Math.ceil(total / PART_ROWS);
    let next = 0;
    let correct = 0;
    const partLosses: number[][] = [];
    const runner = async () => {
      for (let part = next++; part < parts; part = next++) {
        const offset = part * PART_ROWS;
        const outcome = await pool.run("evaluate", {
          dtype,
          // Each task gets its own copy: a task's buffers are moved to its thread.
          layers: layers.map((l) =>
            l.type === "affine" ? { type: "affine", W: copy(l.W), b: copy(l.b) } : { type: l.type },
          ),
          rows: await loadDataset(name, split, Math.min(PART_ROWS, total - offset), offset),
        });
        countFallbacks(outcome.fallbacks);
        if (!outcome.ok) throw new Error(outcome.failure.message);
        const { accuracy, count, chunkLosses } = outcome.value;
        correct += Math.round(accuracy * count);
        partLosses[part] = chunkLosses;
      }
    };
    await Promise.all(Array.from({ length: Math.min(threads, parts) }, runner));
    return { loss: meanLoss(partLosses.flat(), total), accuracy: correct / total };
  };
}

const copy = (t: { shape: readonly number[]; data: Float32Array | Float64Array }) => ({
  shape: [...t.shape],
  data: t.data.slice(),
});
