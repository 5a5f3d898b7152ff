/**
 * The worker thread entry of a training job: builds the network and optimizer, runs the Trainer,
 * reports progress and evaluations over a MessagePort, checkpoints, and polls a shared control
 * word for cancel or stop between iterations.
 */
import { type MessagePort, receiveMessageOnPort } from "node:worker_threads";
import { NonFiniteError, ShapeError } from "../core/errors.js";
import { EVALUATION_CHUNK, evaluate, type LabelledData, labelIndices } from "../core/evaluation.js";
import { type LayerSpec, Network } from "../core/network.js";
import { createOptimizer } from "../core/optimizers/index.js";
import { Rng, type RngState } from "../core/rng.js";
import { type DType, sizeOf } from "../core/tensor.js";
import { Trainer } from "../core/trainer.js";
import type { Checkpoint, HistoryEntry } from "../store/repository.js";
import {
  type Accuracies,
  CONTROL,
  type EvaluationReply,
  type TaskData,
  type TrainingMessage,
  type TrainingResult,
  type TrainingTask,
} from "./training-tasks.js";
import { installWorkerKernels, workingSetBytes } from "./worker-arena.js";

/** The rows as given: minibatches and evaluations copy them into the network's dtype. */
function resolveData(data: TaskData): LabelledData {
  if ("rows" in data) return data.rows;
  const { x, t } = data;
  const count = x.shape[0];
  return { x: x.data, labels: labelIndices(t), count, inputSize: sizeOf(x.shape) / count };
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

/**
 * Accuracy over `data` of a network built from `layers` in the arena and freed afterwards: the
 * training network keeps its own buffers, and the arena does not grow with every evaluation.
 */
function accuracy(layers: LayerSpec[], dtype: DType, data: LabelledData): number {
  const mark = arena?.mark();
  try {
    return evaluate(Network.fromSpecs(layers, dtype), data).accuracy;
  } finally {
    if (mark !== undefined) arena?.release(mark);
  }
}

/** The history entry's accuracies for these layers (a network's specs), computed in this thread. */
function localAccuracies(
  layers: LayerSpec[],
  dtype: DType,
  trainSample: LabelledData,
  validation: LabelledData | undefined,
): Accuracies {
  const trainAccuracy = accuracy(layers, dtype, trainSample);
  return validation
    ? { trainAccuracy, validationAccuracy: accuracy(layers, dtype, validation) }
    : { trainAccuracy };
}

export default function train(task: TrainingTask): TrainingResult {
  try {
    return run(task);
  } finally {
    // The last message on the port: the main thread waits for it before the final status.
    task.port.postMessage({ type: "done" });
  }
}

const arena = installWorkerKernels();

function run(task: TrainingTask): TrainingResult {
  const post = (message: TrainingMessage, transfer: ArrayBuffer[] = []) =>
    task.port.postMessage(message, transfer);
  // The job's tensors stay in the arena for its whole run: parameters, gradients, optimizer
  // state, batch buffers, and (released after each) the evaluations' working sets.
  arena?.reset();
  const inputs = task.layers.flatMap((l) => (l.type === "affine" ? [l.W.shape[0]] : []))[0] ?? 0;
  arena?.reserve(
    workingSetBytes(task.layers, task.dtype, task.batchSize, inputs) +
      workingSetBytes(task.layers, task.dtype, EVALUATION_CHUNK, inputs),
  );
  const network = Network.fromSpecs(task.layers, task.dtype);
  let data: LabelledData;
  let validation: LabelledData | undefined;
  try {
    data = resolveData(task.data);
    network.checkShapes([data.count, data.inputSize], [data.count]);
    validation = task.validation && resolveData(task.validation);
    if (validation)
      network.checkShapes([validation.count, validation.inputSize], [validation.count]);
  } catch (error) {
    if (error instanceof ShapeError) {
      return { status: "invalid", message: error.message };
    }
    throw error;
  }
  const params = network.parameters();
  const optimizer = createOptimizer(task.optimizer, params);
  let rng = new Rng(task.seed);
  let iteration = 0;
  let history: HistoryEntry[] = [];
  let loss: number | null = null;
  if (task.checkpoint) {
    const saved = task.checkpoint;
    saved.parameters.forEach((values, i) => {
      params[i].value.data.set(values);
    });
    optimizer.importState(saved.optimizerState);
    rng = Rng.fromState(saved.rngState as RngState);
    iteration = saved.iteration;
    history = [...saved.history];
    loss = saved.loss;
  }
  const trainer = new Trainer(network, optimizer, rng, data, task);
  const trainSample = firstRows(data, task.trainEvaluationSamples);

  /** The job's whole state now: what a resume starts from. */
  const state = (): Checkpoint => ({
    jobId: task.jobId,
    iteration,
    parameters: params.map((p) => p.value.data.slice()),
    optimizerState: optimizer.exportState(),
    rngState: rng.getState(),
    history: [...history],
    loss,
  });
  let lastCheckpoint = performance.now();
  const record = (entry: HistoryEntry, saved: Checkpoint) => {
    history.push(entry);
    post({ type: "evaluation", entry });
    post({ type: "checkpoint", checkpoint: { ...saved, history: [...history] } });
    lastCheckpoint = performance.now();
  };

  /**
   * The evaluation the compute pool runs while this thread trains on (see TrainingTask.
   * evaluateInPool): the layers it measures, and the state of their iteration, which becomes a
   * checkpoint with its history entry once the answer is in. At most one is in flight, so the
   * history stays in order; none when evaluations run here.
   */
  let inFlight: { layers: LayerSpec[]; saved: Checkpoint } | null = null;
  /**
   * Records the evaluation in flight once its answer is in, waiting for it when `wait`. After a
   * failure in the pool it is computed here, from its own layers. Returns the divergence when
   * its data overflowed.
   */
  const settle = (wait: boolean): TrainingResult | null => {
    if (!inFlight) return null;
    const answer = wait ? waitForMessage(task.port) : receiveMessageOnPort(task.port)?.message;
    if (answer === undefined) return null;
    const { layers, saved } = inFlight;
    inFlight = null;
    const reply = answer as EvaluationReply;
    let measured: Accuracies;
    try {
      measured =
        "error" in reply ? localAccuracies(layers, task.dtype, trainSample, validation) : reply;
    } catch (error) {
      if (!(error instanceof NonFiniteError)) throw error;
      const at = { iteration: saved.iteration, lastFiniteLoss: saved.loss };
      return { status: "diverged", ...at, history };
    }
    record({ iteration: saved.iteration, loss: saved.loss!, ...measured }, saved);
    return null;
  };

  const started = performance.now();
  const startIteration = iteration;
  let lastProgress = started;
  const samplesPerSecond = () =>
    ((iteration - startIteration) * task.batchSize * 1000) /
    Math.max(1, performance.now() - started);

  while (iteration < task.iterations) {
    const control = Atomics.load(task.control, 0);
    if (control === CONTROL.stop) {
      const diverged = settle(true);
      if (diverged) return diverged;
      post({ type: "checkpoint", checkpoint: state() });
      return { status: "interrupted", iteration };
    }
    if (control === CONTROL.cancel) break;
    const next = iteration + 1;
    let stepLoss: number;
    try {
      stepLoss = trainer.step();
    } catch (error) {
      if (!(error instanceof NonFiniteError)) throw error;
      stepLoss = Number.NaN;
    }
    // A divergence keeps the history so far, the evaluation in flight included (an overflow in
    // that one, at an earlier iteration, is the divergence to report).
    if (!Number.isFinite(stepLoss)) {
      return settle(true) ?? { status: "diverged", iteration: next, lastFiniteLoss: loss, history };
    }
    const diverged = settle(false);
    if (diverged) return diverged;
    loss = stepLoss;
    iteration = next;

    const now = performance.now();
    if (next % task.evaluateEvery === 0 || next === task.iterations) {
      // The one before is answered first; it has had a whole evaluateEvery of steps to finish.
      const before = settle(true);
      if (before) return before;
      if (task.evaluateInPool) {
        inFlight = { layers: network.specs(), saved: state() };
        post({ type: "evaluate", layers: inFlight.layers });
      } else {
        try {
          // Rows outside the minibatch (the train sample, the validation data) can overflow too.
          const measured = localAccuracies(network.specs(), task.dtype, trainSample, validation);
          record({ iteration, loss: stepLoss, ...measured }, state());
        } catch (error) {
          if (error instanceof NonFiniteError)
            return { status: "diverged", iteration, lastFiniteLoss: stepLoss, history };
          throw error;
        }
      }
    } else if (now - lastCheckpoint >= task.checkpointEveryMs && !inFlight) {
      // Not while an evaluation is in flight: a resume from here would never record its entry.
      post({ type: "checkpoint", checkpoint: state() });
      lastCheckpoint = now;
    }
    if (now - lastProgress >= task.progressEveryMs || iteration === task.iterations) {
      post({ type: "progress", iteration, loss, samplesPerSecond: samplesPerSecond() });
      lastProgress = now;
    }
  }
  const diverged = settle(true);
  if (diverged) return diverged;
  return {
    status: iteration >= task.iterations ? "completed" : "cancelled",
    layers: network.specs(),
    iteration,
    loss,
    history,
    samplesPerSecond: samplesPerSecond(),
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
