/**
 * What a training job leaves behind as it goes: one history entry per evaluation (the job's
 * history, which only the store keeps), and checkpoints, each holding exactly what resuming needs
 * to continue bit for bit, and nothing of the history.
 */
import type { KernelPath } from "../core/backend.js";
import type { OptimizerState } from "../core/optimizers/index.js";
import type { RngState } from "../core/rng.js";
import type { FloatArray } from "../core/tensor.js";

/** Dataset loss and accuracy at an evaluation: of the train sample, and of the validation data. */
export interface Measurements {
  trainLoss: number;
  trainAccuracy: number;
  validationLoss?: number;
  validationAccuracy?: number;
}

/** One evaluation: the minibatch loss of that iteration and what was measured on whole sets. */
export type HistoryEntry = { iteration: number; loss: number } & Partial<Measurements>;

export interface Checkpoint {
  jobId: string;
  iteration: number;
  /** In the network's `parameters()` order. */
  parameters: FloatArray[];
  optimizerState: OptimizerState;
  rngState: RngState;
  /** The minibatch loss of `iteration`; null before the first step. */
  loss: number | null;
  /** The kernels that computed it: another path gives other bits from here on. */
  kernels: KernelPath;
}
