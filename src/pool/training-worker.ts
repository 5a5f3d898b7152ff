/**
 * The worker thread entry of a training job: builds the network and optimizer, runs the Trainer,
 * reports progress and evaluations over a MessagePort, checkpoints, and polls a shared control
 * word for cancel or stop between iterations.
 */
import { NonFiniteError, ShapeError } from "../core/errors.js";
import { EVALUATION_CHUNK, evaluate, type LabelledData, labelIndices } from "../core/evaluation.js";
import { type LayerSpec, Network } from "../core/network.js";
import { createOptimizer } from "../core/optimizers/index.js";
import { Rng, type RngState } from "../core/rng.js";
import { clone, sizeOf } from "../core/tensor.js";
import { Trainer } from "../core/trainer.js";
import type { Checkpoint, HistoryEntry } from "../store/repository.js";
import {
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

/** The trained layers as specs, with copies of their parameters. */
function snapshotLayers(network: Network): LayerSpec[] {
  return network.layers.map((layer): LayerSpec => {
    if (layer.type !== "affine") return { type: layer.type };
    const [W, b] = layer.params;
    return { type: "affine", W: clone(W.value), b: clone(b.value) };
  });
}

/**
 * Accuracy over `data`, on a copy of the network whose buffers are freed afterwards: the
 * training network keeps its own, and the arena does not grow with every evaluation.
 */
function accuracy(network: Network, data: LabelledData): number {
  const mark = arena?.mark();
  try {
    return evaluate(Network.fromSpecs(network.specs(), network.dtype), data).accuracy;
  } finally {
    if (mark !== undefined) arena?.release(mark);
  }
}

/**
 * The history entry's accuracies: in the compute pool's threads when the main thread offers that
 * (this thread then waits, its core free for them), else here, as also after any failure there.
 */
async function accuracies(
  task: TrainingTask,
  network: Network,
  trainSample: LabelledData,
  validation: LabelledData | undefined,
): Promise<{ trainAccuracy: number; validationAccuracy?: number }> {
  if (task.evaluateInPool) {
    const reply = new Promise<EvaluationReply>((resolve) => task.port.once("message", resolve));
    task.port.postMessage({ type: "evaluate", layers: snapshotLayers(network) });
    const answer = await reply;
    if (!("error" in answer)) return answer;
  }
  const trainAccuracy = accuracy(network, trainSample);
  return validation
    ? { trainAccuracy, validationAccuracy: accuracy(network, validation) }
    : { trainAccuracy };
}

export default async function train(task: TrainingTask): Promise<TrainingResult> {
  try {
    return await run(task);
  } finally {
    // The last message on the port: the main thread waits for it before the final status.
    task.port.postMessage({ type: "done" });
  }
}

const arena = installWorkerKernels();

async function run(task: TrainingTask): Promise<TrainingResult> {
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

  const checkpoint = () => {
    const saved: Checkpoint = {
      jobId: task.jobId,
      iteration,
      parameters: params.map((p) => p.value.data.slice()),
      optimizerState: optimizer.exportState(),
      rngState: rng.getState(),
      history: [...history],
      loss,
    };
    post({ type: "checkpoint", checkpoint: saved });
  };

  const started = performance.now();
  const startIteration = iteration;
  let lastProgress = started;
  let lastCheckpoint = started;
  const samplesPerSecond = () =>
    ((iteration - startIteration) * task.batchSize * 1000) /
    Math.max(1, performance.now() - started);

  while (iteration < task.iterations) {
    const control = Atomics.load(task.control, 0);
    if (control === CONTROL.stop) {
      checkpoint();
      return { status: "interrupted", iteration };
    }
    if (control === CONTROL.cancel) break;
    const next = iteration + 1;
    let stepLoss: number;
    let entry: HistoryEntry | undefined;
    try {
      stepLoss = trainer.step();
      if (
        Number.isFinite(stepLoss) &&
        (next % task.evaluateEvery === 0 || next === task.iterations)
      ) {
        // Rows outside the minibatch (the train sample, the validation data) can overflow too.
        const measured = await accuracies(task, network, trainSample, validation);
        entry = { iteration: next, loss: stepLoss, ...measured };
      }
    } catch (error) {
      if (error instanceof NonFiniteError)
        return { status: "diverged", iteration: next, lastFiniteLoss: loss, history };
      throw error;
    }
    if (!Number.isFinite(stepLoss))
      return { status: "diverged", iteration: next, lastFiniteLoss: loss, history };
    loss = stepLoss;
    iteration = next;

    const now = performance.now();
    if (entry) {
      history.push(entry);
      post({ type: "evaluation", entry });
      checkpoint();
      lastCheckpoint = now;
    } else if (now - lastCheckpoint >= task.checkpointEveryMs) {
      checkpoint();
      lastCheckpoint = now;
    }
    if (now - lastProgress >= task.progressEveryMs || iteration === task.iterations) {
      post({ type: "progress", iteration, loss, samplesPerSecond: samplesPerSecond() });
      lastProgress = now;
    }
  }
  return {
    status: iteration >= task.iterations ? "completed" : "cancelled",
    layers: snapshotLayers(network),
    iteration,
    loss,
    history,
    samplesPerSecond: samplesPerSecond(),
  };
}
