/**
 * One training job on its thread: the book's training loop (a Trainer step per iteration) with
 * what a job adds around it: evaluations every `evaluateEvery` steps (in the compute pool while
 * this thread trains on, or here), checkpoints, progress, and the control word that cancels or
 * stops it between iterations. It reports everything over its port and keeps no history: the
 * main thread's JobEvents own it.
 */
import { type MessagePort, receiveMessageOnPort } from "node:worker_threads";
import type { Backend } from "../core/backend.js";
import { NonFiniteError, ShapeError } from "../core/errors.js";
import { EVALUATION_CHUNK, evaluate, type LabelledData } from "../core/evaluation.js";
import { type LayerSpec, workingSetBytes } from "../core/layer-spec.js";
import { Network } from "../core/network.js";
import { createOptimizer, type Optimizer, optimizerSlotCount } from "../core/optimizers/index.js";
import { Rng } from "../core/rng.js";
import { Trainer } from "../core/trainer.js";
import type { Checkpoint, HistoryEntry, Measurements } from "../training/checkpoint.js";
import {
  CONTROL,
  type EvaluationReply,
  type TrainingMessage,
  type TrainingResult,
  type TrainingTask,
} from "./training-tasks.js";
import type { FallbackCounts } from "./worker-backend.js";

/** Ends the run early with this result (a divergence found while settling an evaluation). */
class Stop {
  constructor(readonly result: TrainingResult) {}
}

/**
 * Evaluations in the compute pool at once, at most: the next one is sent while the one before is
 * still measured, so an evaluation that takes longer than evaluateEvery steps (the pool's core
 * shared, a slow part) holds training up only when the one before it has not finished either.
 */
const IN_FLIGHT = 2;

/** An evaluation the compute pool runs: the layers it measures and the state of their iteration. */
interface InFlight {
  layers: LayerSpec[];
  saved: Checkpoint;
}

export class TrainingRun {
  private readonly network: Network;
  private readonly optimizer: Optimizer;
  private readonly trainer: Trainer;
  private readonly trainSample: LabelledData;
  private iteration = 0;
  private loss: number | null = null;
  /** Oldest first, as the pool answers them; none when evaluations run here. */
  private readonly inFlight: InFlight[] = [];
  private lastCheckpoint = performance.now();

  /** Builds the job's network on `backend`; throws a ShapeError when the data does not fit it. */
  constructor(
    private readonly task: TrainingTask,
    private readonly backend: Backend,
    private readonly takeFallbacks: () => FallbackCounts | undefined,
  ) {
    const { data, validation, dtype, layers } = task;
    // The job's tensors stay on the backend for its whole run: parameters, gradients, optimizer
    // state, minibatch buffers, and (freed after each) an evaluation's network and chunk.
    const inputs = data.inputSize;
    const slots = optimizerSlotCount(task.optimizer.type);
    backend.begin(
      workingSetBytes(
        layers,
        dtype,
        { rows: task.batchSize, inputs },
        {
          optimizerSlots: slots,
          rowBuffers: 2,
        },
      ) + workingSetBytes(layers, dtype, { rows: EVALUATION_CHUNK, inputs }, { rowBuffers: 1 }),
    );
    this.network = Network.fromSpecs(layers, dtype, backend);
    this.network.checkShapes([data.count, inputs], [data.count]);
    if (validation) {
      this.network.checkShapes([validation.count, validation.inputSize], [validation.count]);
    }
    const params = this.network.parameters();
    this.optimizer = createOptimizer(task.optimizer, params, backend);
    const rng = new Rng(task.seed);
    const saved = task.checkpoint;
    if (saved) {
      saved.parameters.forEach((values, i) => {
        params[i].value.data.set(values);
      });
      this.optimizer.importState(saved.optimizerState);
      rng.setState(saved.rngState);
      this.iteration = saved.iteration;
      this.loss = saved.loss;
    }
    this.trainer = new Trainer(this.network, this.optimizer, rng, data, task);
    this.trainSample = firstRows(data, task.trainEvaluationSamples);
  }

  run(): TrainingResult {
    try {
      return this.loop();
    } catch (error) {
      if (error instanceof Stop) return error.result;
      throw error;
    }
  }

  private loop(): TrainingResult {
    const { task } = this;
    const started = performance.now();
    const startIteration = this.iteration;
    let lastProgress = started;
    const samplesPerSecond = () =>
      ((this.iteration - startIteration) * task.batchSize * 1000) /
      Math.max(1, performance.now() - started);

    while (this.iteration < task.iterations) {
      const control = Atomics.load(task.control, 0);
      if (control === CONTROL.stop) {
        this.settle(0);
        this.post({ type: "checkpoint", checkpoint: this.state() });
        return { status: "interrupted", iteration: this.iteration };
      }
      if (control === CONTROL.cancel) break;
      const next = this.iteration + 1;
      const stepLoss = this.step();
      // A divergence keeps the evaluations in flight (an overflow in one of those, at an earlier
      // iteration, is the divergence to report).
      if (!Number.isFinite(stepLoss)) {
        this.settle(0);
        return { status: "diverged", iteration: next, lastFiniteLoss: this.loss };
      }
      this.settle(Number.POSITIVE_INFINITY); // the answers that are in, without waiting
      this.loss = stepLoss;
      this.iteration = next;

      const now = performance.now();
      if (next % task.evaluateEvery === 0 || next === task.iterations) {
        this.evaluateNow(stepLoss);
      } else if (now - this.lastCheckpoint >= task.checkpointEveryMs && !this.inFlight.length) {
        // Not while an evaluation is in flight: a resume from here would never record its entry.
        this.checkpoint(this.state());
      }
      if (now - lastProgress >= task.progressEveryMs || next === task.iterations) {
        const fallbacks = this.takeFallbacks();
        const rate = samplesPerSecond();
        this.post({
          type: "progress",
          iteration: next,
          loss: stepLoss,
          samplesPerSecond: rate,
          ...(fallbacks && { fallbacks }),
        });
        lastProgress = now;
      }
    }
    this.settle(0);
    return {
      status: this.iteration >= task.iterations ? "completed" : "cancelled",
      layers: this.network.specs(),
      iteration: this.iteration,
      loss: this.loss,
      samplesPerSecond: samplesPerSecond(),
    };
  }

  /** One Trainer step; NaN when it overflowed. */
  private step(): number {
    try {
      return this.trainer.step();
    } catch (error) {
      if (!(error instanceof NonFiniteError)) throw error;
      return Number.NaN;
    }
  }

  /** The evaluation of this iteration: sent to the pool, or measured here and recorded. */
  private evaluateNow(stepLoss: number): void {
    if (this.task.evaluateInPool) {
      // The oldest one has had IN_FLIGHT - 1 whole evaluateEvery of steps to finish.
      this.settle(IN_FLIGHT - 1);
      const layers = this.network.specs();
      this.inFlight.push({ layers, saved: this.state() });
      const last = this.iteration === this.task.iterations;
      this.post({ type: "evaluate", layers, last });
      return;
    }
    const measured = this.measure(this.network.specs(), this.iteration, stepLoss);
    this.record({ iteration: this.iteration, loss: stepLoss, ...measured }, this.state());
  }

  /**
   * Records the evaluations in flight whose answers are in, oldest first, waiting for answers
   * while more than `keep` are in flight. One that failed in the pool is measured here, from its
   * own layers.
   */
  private settle(keep: number): void {
    const { port } = this.task;
    while (this.inFlight.length > 0) {
      const wait = this.inFlight.length > keep;
      const answer = wait ? this.waitForAnswer() : receiveMessageOnPort(port)?.message;
      if (answer === undefined) return;
      const { layers, saved } = this.inFlight.shift()!;
      const reply = answer as EvaluationReply;
      const measured = "error" in reply ? this.measure(layers, saved.iteration, saved.loss) : reply;
      this.record({ iteration: saved.iteration, loss: saved.loss!, ...measured }, saved);
    }
  }

  /** The next evaluation's answer, waited for idle: the evaluation may have this core meanwhile. */
  private waitForAnswer(): unknown {
    const { ops } = this.backend;
    ops.computing(false);
    try {
      return waitForMessage(this.task.port);
    } finally {
      ops.computing(true);
    }
  }

  /**
   * Loss and accuracy of `layers` on the train sample and the validation data, in a network built
   * on this thread's backend and freed afterwards. Rows outside the minibatch can overflow too:
   * that is the divergence of `iteration`.
   */
  private measure(layers: LayerSpec[], iteration: number, loss: number | null): Measurements {
    const { backend, task } = this;
    const on = (data: LabelledData) =>
      backend.scoped(() => evaluate(Network.fromSpecs(layers, task.dtype, backend), data));
    try {
      const train = on(this.trainSample);
      const measured: Measurements = { trainLoss: train.loss, trainAccuracy: train.accuracy };
      if (!task.validation) return measured;
      const validation = on(task.validation);
      return {
        ...measured,
        validationLoss: validation.loss,
        validationAccuracy: validation.accuracy,
      };
    } catch (error) {
      if (error instanceof NonFiniteError) {
        throw new Stop({ status: "diverged", iteration, lastFiniteLoss: loss });
      }
      throw error;
    }
  }

  private record(entry: HistoryEntry, saved: Checkpoint): void {
    this.post({ type: "evaluation", entry });
    this.checkpoint(saved);
  }

  private checkpoint(saved: Checkpoint): void {
    this.post({ type: "checkpoint", checkpoint: saved });
    this.lastCheckpoint = performance.now();
  }

  /** The job's whole state now: what a resume starts from. */
  private state(): Checkpoint {
    return {
      jobId: this.task.jobId,
      iteration: this.iteration,
      parameters: this.network.parameters().map((p) => p.value.data.slice()),
      optimizerState: this.optimizer.exportState(),
      rngState: this.trainer.rngState(),
      loss: this.loss,
      kernels: this.backend.path,
    };
  }

  private post(message: TrainingMessage): void {
    this.task.port.postMessage(message);
  }
}

/** The job's thread entry: the run's result, or `invalid` when its data does not fit its model. */
export function runTraining(
  task: TrainingTask,
  backend: Backend,
  takeFallbacks: () => FallbackCounts | undefined,
): TrainingResult {
  let run: TrainingRun;
  try {
    run = new TrainingRun(task, backend, takeFallbacks);
  } catch (error) {
    if (error instanceof ShapeError) return { status: "invalid", message: error.message };
    throw error;
  }
  return run.run();
}

function firstRows(data: LabelledData, count: number): LabelledData {
  if (count >= data.count) return data;
  return {
    x: data.x.subarray(0, count * data.inputSize),
    labels: Array.prototype.slice.call(data.labels, 0, count) as number[],
    count,
    inputSize: data.inputSize,
  };
}

/** The next message on `port`, waited for without the event loop (this thread's loop is busy). */
function waitForMessage(port: MessagePort): unknown {
  for (;;) {
    const received = receiveMessageOnPort(port);
    if (received) return received.message;
    Atomics.wait(sleeper, 0, 0, 1);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
