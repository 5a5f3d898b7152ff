/**
 * The worker thread entry of the compute pool: plain data in, one core call, plain data out, with
 * every result buffer moved back to the main thread rather than copied.
 */
import { move, transferableSymbol, valueSymbol } from "piscina";
import { NonFiniteError, ShapeError } from "../core/errors.js";
import {
  argmaxRows,
  EVALUATION_CHUNK,
  type Evaluation,
  evaluate as evaluateNetwork,
  labelIndices,
} from "../core/evaluation.js";
import { gradientCheck as checkGradients } from "../core/gradient-check.js";
import { initLayers } from "../core/init.js";
import {
  type LayerShape,
  type LayerSpec,
  type Pass,
  type WorkingSetOptions,
  workingSetBytes,
} from "../core/layer-spec.js";
import { softmax } from "../core/layers/softmax-with-loss.js";
import { Network } from "../core/network.js";
import { Rng } from "../core/rng.js";
import { type DType, reshape, sizeOf, type Tensor } from "../core/tensor.js";
import {
  base64DecoderFor,
  encodeBase64,
  encodeBase64Bytes,
  isBase64,
  longestBase64,
  type TaskTensor,
} from "../wire/base64.js";
import { bytesBase64 } from "../wire/base64-codec.js";
import { buffersOf, mapTree } from "../wire/tree.js";
import { reportTaskStarted } from "./task-events.js";
import type {
  BackwardResult,
  ComputeTask,
  CreateModelTask,
  EvaluateTask,
  ForwardResult,
  ParameterCheck,
  PredictResult,
  PredictTask,
  TaskFailure,
  TaskLayer,
  TaskOutcome,
} from "./tasks.js";
import { outOfArena, workerBackend } from "./worker-backend.js";

/** A failure this file finds in a core result, carried out of `outcome` like the core's errors. */
class FailedTask extends Error {
  constructor(readonly failure: TaskFailure) {
    super(failure.message);
  }
}

function moved<T>(value: T): T {
  return move({ [transferableSymbol]: buffersOf(value), [valueSymbol]: value } as never) as T;
}

const { backend, takeFallbacks } = workerBackend();
const decodeBase64 = base64DecoderFor(backend);
const base64Codec = bytesBase64();

/**
 * Runs `work` on a backend that has room for `bytes` (all it had before is freed), turning the
 * caller's mistakes into values. The result's tensors leave as base64 read straight from the
 * arena when `encoding` asks for it, else copied off the arena into buffers that are moved, not
 * copied, to the main thread.
 */
function outcome<T>(bytes: number, work: () => T, encoding?: string): TaskOutcome<T> {
  reportTaskStarted();
  backend.begin(bytes);
  backend.ops.computing(true);
  let result: TaskOutcome<T>;
  try {
    result = attempt(work, encoding);
  } finally {
    backend.ops.computing(false);
  }
  const fallbacks = takeFallbacks();
  const reported = fallbacks ? { ...result, fallbacks } : result;
  return reported.ok ? moved(reported) : reported;
}

function attempt<T>(work: () => T, encoding?: string): TaskOutcome<T> {
  try {
    const value =
      encoding === "base64"
        ? base64Tensors(work(), encodeBase64)
        : encoding === "base64Bytes"
          ? base64Tensors(work(), (t) => encodeBase64Bytes(t, base64Codec))
          : outOfArena(work(), backend);
    return { ok: true, value };
  } catch (error) {
    if (error instanceof FailedTask) return { ok: false, failure: error.failure };
    if (error instanceof ShapeError) {
      return { ok: false, failure: { kind: "shape", message: error.message, path: error.path } };
    }
    if (error instanceof NonFiniteError) {
      const { message, layer, layerType } = error;
      return { ok: false, failure: { kind: "nonFinite", message, layer, layerType } };
    }
    throw error;
  }
}

/** Every tensor ({shape, data}) in a result, as base64 (a string or its bytes). */
function base64Tensors<T>(value: T, encode: (t: Tensor) => unknown): T {
  return mapTree(value, (item) =>
    "shape" in item && "data" in item && ArrayBuffer.isView(item.data)
      ? encode(item as Tensor)
      : undefined,
  );
}

/** t's values: base64 text decoded straight into the arena, a decoded tensor as it is. */
function decoded(t: TaskTensor, path: string): Tensor {
  if (!isBase64(t)) return t;
  const result = decodeBase64(t);
  if ("problem" in result) {
    throw new FailedTask({ kind: "invalid", message: result.problem, path: `${path}.base64` });
  }
  return { shape: t.shape, data: result.data };
}

/** t in `dtype`, where the ops read it: copied only when it is not both already. */
function local(t: TaskTensor, dtype: DType, path: string): Tensor {
  return backend.local(decoded(t, path), dtype);
}

/**
 * The layers with base64 parameters decoded. Every tensor of a task is the task's own (decoded
 * here or moved from the main thread), so a network may adopt them rather than copy them.
 */
function layerSpecs(task: { layers: TaskLayer[]; layerPath?: string }): LayerSpec[] {
  return task.layers.map((layer, i): LayerSpec => {
    if (layer.type !== "affine") return layer;
    const at = task.layerPath ?? `layers[${i}]`;
    return { type: "affine", W: decoded(layer.W, `${at}.W`), b: decoded(layer.b, `${at}.b`) };
  });
}

/** The pass over all of x's rows, or over at most `chunk` of them at a time. */
function passOver(shape: readonly number[], chunk = Infinity): Pass {
  const rows = shape.length === 1 ? 1 : shape[0];
  return { rows: Math.min(rows, chunk), inputs: sizeOf(shape) / rows };
}

/**
 * The bytes a task needs: the network's working set for `pass`, the task's tensors as decoded
 * (into the arena, before the network copies them), and the scratch for decoding its longest
 * base64 text.
 */
function bytesFor(
  task: { dtype: DType; layers: LayerShape[] },
  pass: Pass,
  options?: WorkingSetOptions,
): number {
  let decoded = 0;
  mapTree(task, (item) => {
    if (!("shape" in item && ("base64" in item || "data" in item))) return undefined;
    decoded += sizeOf(item.shape as number[]) * 8 + 64;
    return item;
  });
  return workingSetBytes(task.layers, task.dtype, pass, options) + decoded + longestBase64(task);
}

function prepare(task: ComputeTask) {
  const network = Network.fromSpecs(layerSpecs(task), task.dtype, backend, { adopt: true });
  const x = local(task.x, task.dtype, "x");
  const t = task.t && local(task.t, task.dtype, "t");
  network.checkShapes(x.shape, t?.shape);
  return { network, x, t };
}

export function forward(task: ComputeTask): TaskOutcome<ForwardResult> {
  return outcome(
    bytesFor(task, passOver(task.x.shape)),
    () => {
      const { network, x, t } = prepare(task);
      // The answer is encoded or moved at once, and the network dropped: no copy of it needed.
      if (t && network.hasLoss) return network.loss(x, t, { view: true });
      return { out: network.forward(x, { view: true }) };
    },
    task.encoding,
  );
}

export function backward(task: ComputeTask): TaskOutcome<BackwardResult> {
  return outcome(
    bytesFor(task, passOver(task.x.shape)),
    () => {
      const { network, x, t } = prepare(task);
      let result: ForwardResult;
      let dx: Tensor | null;
      if (network.hasLoss) {
        if (!t)
          throw new ShapeError(
            "a network ending in softmaxWithLoss needs labels",
            null,
            null,
            null,
            "t",
          );
        const dloss = typeof task.dout === "number" ? task.dout : 1;
        result = network.loss(x, t);
        dx = network.backward({ dloss, needDx: true });
      } else {
        if (task.dout === undefined || typeof task.dout === "number") {
          throw new ShapeError(
            "a network without a loss layer needs a dout tensor",
            null,
            null,
            null,
            "dout",
          );
        }
        result = { out: network.forward(x) };
        dx = network.backward({ dout: local(task.dout, task.dtype, "dout"), needDx: true });
      }
      const grads = network.layers.map((layer) =>
        layer.params.length === 2 ? { W: layer.params[0].grad, b: layer.params[1].grad } : null,
      );
      return { ...result, dx: dx!, grads };
    },
    task.encoding,
  );
}

export function gradientCheck(task: ComputeTask): TaskOutcome<ParameterCheck[]> {
  return outcome(bytesFor(task, passOver(task.x.shape)), () => {
    const { network, x, t } = prepare(task);
    if (!t) throw new ShapeError("a gradient check needs labels", null, null, null, "t");
    const report = checkGradients(network, x, t, task.epsilon);
    // (f(v + h) - f(v - h)) / 2h is 0/0 where h is lost next to v (1e20 + 1e-4 === 1e20), and
    // overflows where 2h is tiny; such a difference is not a number the answer can carry.
    const bad = report.find(
      (p) => ![p.maxAbsDiff, p.meanAbsDiff, p.maxRelError].every(Number.isFinite),
    );
    if (bad) {
      throw new FailedTask({
        kind: "nonFinite",
        layer: bad.layer,
        layerType: "affine",
        message: `layer ${bad.layer} (affine): the central differences of ${bad.name} are not finite; epsilon ${task.epsilon} is too small for the size of its values`,
      });
    }
    return report;
  });
}

export function createModel(task: CreateModelTask): TaskOutcome<{ layers: LayerSpec[] }> {
  // Initialised layers live on the heap; given ones are decoded, then copied by a network.
  const bytes = "layers" in task ? bytesFor(task, { rows: 0, inputs: 0 }) : 0;
  return outcome(bytes, () => {
    if ("architecture" in task) {
      return { layers: initLayers(task.architecture, task.dtype, new Rng(task.seed)) };
    }
    // Built to validate the layers and cast them into the model's dtype.
    return { layers: Network.fromSpecs(layerSpecs(task), task.dtype, backend).specs() };
  });
}

/** Probabilities and argmax labels; a model without a loss layer gets a softmax of its scores. */
export function predict(task: PredictTask): TaskOutcome<PredictResult> {
  return outcome(
    bytesFor(task, passOver(task.x.shape)),
    () => {
      const { network, x } = prepare(task);
      const out = network.forward(x);
      const probabilities = network.hasLoss ? out : softmax(out);
      const labels = Array.from(argmaxRows(probabilities));
      return { probabilities, labels: x.shape.length === 1 ? labels[0] : labels };
    },
    task.encoding,
  );
}

export function evaluate(task: EvaluateTask): TaskOutcome<Evaluation> {
  // Every row is copied chunk by chunk into buffers of one chunk, where the pass runs.
  const shape = "rows" in task ? [task.rows.count, task.rows.inputSize] : task.x.shape;
  const pass = passOver(shape, EVALUATION_CHUNK);
  return outcome(bytesFor(task, pass, { rowBuffers: 1 }), () => {
    const network = Network.fromSpecs(layerSpecs(task), task.dtype, backend);
    if (!network.hasLoss) {
      throw new ShapeError(
        "evaluation needs a model ending in softmaxWithLoss",
        null,
        null,
        null,
        "layers",
      );
    }
    if ("rows" in task) {
      network.checkShapes([task.rows.count, task.rows.inputSize], [task.rows.count]);
      return evaluateNetwork(network, task.rows);
    }
    // evaluate copies x chunk by chunk into the network's dtype: no copy of the whole here.
    const x = decoded(task.x, "x");
    const t = decoded(task.t, "t");
    network.checkShapes(x.shape, t.shape);
    const count = x.shape.length === 1 ? 1 : x.shape[0];
    // A 1-D x is one sample, so a t of [classes] (not [1]) is its one-hot row, not indices.
    const oneRow = x.shape.length === 1 && t.shape.length === 1 && t.shape[0] > 1;
    const labels = labelIndices(oneRow ? reshape(t, [1, t.shape[0]]) : t);
    return evaluateNetwork(network, {
      x: x.data,
      labels,
      count,
      inputSize: sizeOf(x.shape) / count,
    });
  });
}
