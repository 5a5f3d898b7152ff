/**
 * The work `npm run bench` times, set up once per contender: our kernel paths, each a Backend
 * (a WebAssembly one with an arena of its own, which everything it computes is allocated in), and
 * tfjs-core on its CPU and WebAssembly backends. Every contender starts from the same numbers, and
 * its first answer is checked against the TypeScript path's before anything is timed.
 */
import * as tf from "@tensorflow/tfjs-core";
import { Backend, type KernelPath } from "../src/core/backend.js";
import type { LayerSpec } from "../src/core/layer-spec.js";
import { Network } from "../src/core/network.js";
import { SGD } from "../src/core/optimizers/sgd.js";
import type { DType, FloatArray } from "../src/core/tensor.js";

/** What the round loop runs: `enter` makes the contender current, `run` is the timed call. */
export interface Contender {
  enter(): Promise<unknown>;
  run(): void;
}

/** out[m×n] with inner size k: NT multiplies by bᵀ (dx = dout·Wᵀ), TN by aᵀ (dW = xᵀ·dout). */
export interface ProductWork {
  readonly kind: "NN" | "NT" | "TN";
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly dtype: DType;
  readonly a: Float64Array;
  readonly b: Float64Array;
}

/** One SGD step of 784-50-10 ReLU at batch 100, from these weights, inputs and class labels. */
export interface StepWork {
  readonly dtype: DType;
  readonly sizes: readonly [batch: number, inputs: number, hidden: number, classes: number];
  readonly lr: number;
  readonly W1: Float64Array;
  readonly W2: Float64Array;
  readonly x: Float64Array;
  readonly labels: Float64Array;
  /** The rows of MNIST's train split x and labels are, when they are MNIST's. */
  readonly mnistRows?: number[];
}

export interface OurPath {
  readonly name: KernelPath;
  readonly backend: Backend;
}

/** A path with its arena grown once to `bytes`: growing later would detach the bench's views. */
export function ourPath(name: KernelPath, bytes: number): OurPath {
  const backend = Backend.create(name, { arenaBytes: 2 * bytes });
  backend.begin(bytes);
  return { name, backend };
}

/** Throws unless every view lies in the path's arena, where its WebAssembly code takes them. */
function checkPlaced(path: OurPath, views: FloatArray[]): void {
  if (!views.every((v) => path.backend.holds(v))) {
    throw new Error(`${path.name}: an operand lies outside the arena; the bench would time TS`);
  }
}

/** `values` in `dtype`, where the path's ops read them. */
function place(path: OurPath, values: ArrayLike<number>, dtype: DType): FloatArray {
  return path.backend.fromValues([values.length], values, dtype).data;
}

export function ourProduct(path: OurPath, w: ProductWork): Contender & { out: FloatArray } {
  const { m, k, n } = w;
  const a = place(path, w.a, w.dtype);
  const b = place(path, w.b, w.dtype);
  const out = path.backend.alloc(w.dtype, m * n);
  checkPlaced(path, [a, b, out]);
  const kernels = path.backend.ops;
  const run =
    w.kind === "NN"
      ? () => kernels.gemm(a, b, out, m, k, n)
      : w.kind === "NT"
        ? () => kernels.gemmNT(a, b, out, m, k, n)
        : () => kernels.gemmTN(a, b, out, k, m, n);
  return { enter: async () => {}, run, out };
}

function specs(w: StepWork): LayerSpec[] {
  const [, inputs, hidden, classes] = w.sizes;
  return [
    {
      type: "affine",
      W: { shape: [inputs, hidden], data: w.W1 },
      b: { shape: [hidden], data: new Float64Array(hidden) },
    },
    { type: "relu" },
    {
      type: "affine",
      W: { shape: [hidden, classes], data: w.W2 },
      b: { shape: [classes], data: new Float64Array(classes) },
    },
    { type: "softmaxWithLoss" },
  ];
}

/** Our step as a training job runs it (Trainer.step without the minibatch gathering). */
export function ourStep(path: OurPath, w: StepWork): Contender & { firstGrads: FloatArray[] } {
  const [batch, inputs] = w.sizes;
  const net = Network.fromSpecs(specs(w), w.dtype, path.backend);
  const x = { shape: [batch, inputs], data: place(path, w.x, w.dtype) };
  const t = { shape: [batch], data: place(path, w.labels, w.dtype) };
  const params = net.parameters();
  // The first pass allocates the layers' buffers, in the arena like everything else here.
  net.loss(x, t);
  net.backward({ dloss: 1, needDx: false });
  checkPlaced(path, [x.data, t.data, ...params.flatMap((p) => [p.value.data, p.grad.data])]);
  const firstGrads = params.map((p) => p.grad.data.slice());
  const sgd = new SGD(params, path.backend, { lr: w.lr });
  const run = () => {
    net.lossValue(x, t);
    net.backward({ dloss: 1, needDx: false });
    sgd.step();
  };
  return { enter: async () => {}, run, firstGrads };
}

export type TfBackend = "cpu" | "wasm";

/** tf.matMul on `backend`, read back with dataSync so the work is done inside the timing. */
export async function tfjsProduct(
  backend: TfBackend,
  w: ProductWork,
): Promise<Contender & { result(): Float32Array }> {
  await tf.setBackend(backend);
  const { m, k, n, kind } = w;
  // Tensors stay on the backend current at their birth; another backend would move them.
  const a = tf.tensor2d(Float32Array.from(w.a), kind === "TN" ? [k, m] : [m, k]);
  const b = tf.tensor2d(Float32Array.from(w.b), kind === "NT" ? [n, k] : [k, n]);
  const result = () => {
    const c = tf.matMul(a, b, kind === "TN", kind === "NT");
    const data = c.dataSync() as Float32Array;
    c.dispose();
    return data;
  };
  return { enter: () => tf.setBackend(backend), run: result, result };
}

/** The same step written with tf ops and tf.variableGrads (bench/tfjs-gradients.ts). */
export async function tfjsStep(
  backend: TfBackend,
  w: StepWork,
): Promise<Contender & { firstGrads: Float32Array[] }> {
  await tf.setBackend(backend);
  const [batch, inputs, hidden, classes] = w.sizes;
  const vars = [
    tf.variable(tf.tensor2d(Float32Array.from(w.W1), [inputs, hidden])),
    tf.variable(tf.zeros([hidden])),
    tf.variable(tf.tensor2d(Float32Array.from(w.W2), [hidden, classes])),
    tf.variable(tf.zeros([classes])),
  ];
  const [W1, b1, W2, b2] = vars;
  const x = tf.tensor2d(Float32Array.from(w.x), [batch, inputs]);
  const t = tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from(w.labels), "int32"), classes), "float32");
  const loss = (): tf.Scalar => {
    const h = tf.relu(tf.add(tf.matMul(x, W1), b1));
    const y = tf.softmax(tf.add(tf.matMul(h, W2), b2));
    return tf.neg(tf.mean(tf.sum(tf.mul(t, tf.log(tf.add(y, 1e-7))), 1))) as tf.Scalar;
  };
  const firstGrads = tf.tidy(() => {
    const { grads } = tf.variableGrads(loss);
    return vars.map((v) => grads[v.name].dataSync() as Float32Array);
  });
  const run = () => {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(loss);
      for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], w.lr)));
    });
    b2.dataSync();
  };
  return { enter: () => tf.setBackend(backend), run, firstGrads };
}
