import type { MessagePort } from "node:worker_threads";
import type { LabelledData } from "../core/evaluation.js";
import type { LayerSpec } from "../core/layer-spec.js";
import type { OptimizerConfig } from "../core/optimizers/index.js";
import type { DType } from "../core/tensor.js";
import type { Checkpoint, HistoryEntry, Measurements } from "../training/checkpoint.js";
import type { FallbackCounts } from "./worker-backend.js";

/** Values of the shared control word a running job polls between iterations. */
export const CONTROL = { run: 0, cancel: 1, stop: 2 } as const;

/** One job as its thread runs it: plain data, the rows in shared memory or moved to it. */
export interface TrainingTask {
  jobId: string;
  dtype: DType;
  layers: LayerSpec[];
  optimizer: OptimizerConfig;
  batchSize: number;
  iterations: number;
  weightDecay: number;
  evaluateEvery: number;
  trainEvaluationSamples: number;
  seed: number;
  data: LabelledData;
  validation?: LabelledData;
  /** Resume from here instead of the model's parameters. */
  checkpoint?: Checkpoint;
  checkpointEveryMs: number;
  progressEveryMs: number;
  /** Messages to the main thread (TrainingMessage). */
  port: MessagePort;
  /** Int32Array over a SharedArrayBuffer: CONTROL.run, cancel or stop. */
  control: Int32Array;
  /**
   * The main thread answers `evaluate` messages (with an EvaluationReply on the port, one at a time
   * in the order asked) by running the evaluations in the compute pool's threads, while this one
   * trains on.
   */
  evaluateInPool: boolean;
}

/** The main thread's answer to an `evaluate` message; on an error the worker evaluates itself. */
export type EvaluationReply = Measurements | { error: string };

export type TrainingMessage =
  | {
      type: "progress";
      iteration: number;
      loss: number;
      samplesPerSecond: number;
      fallbacks?: FallbackCounts;
    }
  | { type: "evaluation"; entry: HistoryEntry }
  | { type: "checkpoint"; checkpoint: Checkpoint }
  /**
   * Asks for the measurements of these layers (see TrainingTask.evaluateInPool); `last`: the
   * job's thread has nothing left to train and waits for the answer.
   */
  | { type: "evaluate"; layers: LayerSpec[]; last: boolean };

export type TrainingResult =
  | {
      /** completed: all iterations; cancelled: asked to stop and keep what it learned. */
      status: "completed" | "cancelled";
      layers: LayerSpec[];
      iteration: number;
      loss: number | null;
      samplesPerSecond: number;
    }
  /** Stopped for a shutdown; the last checkpoint (just sent) resumes it. */
  | { status: "interrupted"; iteration: number }
  | { status: "diverged"; iteration: number; lastFiniteLoss: number | null }
  | { status: "invalid"; message: string };
