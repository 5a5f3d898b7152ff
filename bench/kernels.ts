/**
 * `npm run bench`: the matrix products behind Affine and one training step of the book's
 * TwoLayerNet (784-50-10, ReLU, batch 100), ours (TypeScript kernels) beside tfjs-core on its CPU
 * backend doing the same work, in float32. Median of repeated runs after a warm-up.
 */
import * as tf from "@tensorflow/tfjs-core";
import { tsKernels } from "../src/core/kernels/ts-kernels.js";
import { Network } from "../src/core/network.js";
import type { Tensor } from "../src/core/tensor.js";
import { registerBenchGradients } from "./tfjs-gradients.js";

// Quiet the backend's "install tfjs-node" notice: it is printed only outside tests.
tf.env().set("IS_TEST", true);
await import("@tensorflow/tfjs-backend-cpu");
await tf.setBackend("cpu");
registerBenchGradients();

/** mulberry32, so every run multiplies the same numbers. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = seeded(1);

function uniform(length: number, scale = 1): Float32Array {
  const data = new Float32Array(length);
  for (let i = 0; i < length; i++) data[i] = (random() * 2 - 1) * scale;
  return data;
}

function medianOf(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function time(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

/**
 * Median milliseconds of ours (`runs` times) and of tfjs (`tfRuns` times, spread evenly among
 * ours), after a warm-up of each. Interleaving gives both the same share of a busy machine.
 */
function race(
  ours: () => void,
  tfjs: () => void,
  runs: number,
  tfRuns: number,
): { ours: number; tfjs: number } {
  for (let i = 0; i < 3; i++) ours();
  tfjs();
  const oursTimes: number[] = [];
  const tfTimes: number[] = [];
  const every = Math.ceil(runs / tfRuns);
  for (let i = 0; i < runs; i++) {
    oursTimes.push(time(ours));
    if (i % every === 0) tfTimes.push(time(tfjs));
  }
  return { ours: medianOf(oursTimes), tfjs: medianOf(tfTimes) };
}

interface Row {
  name: string;
  flops: number;
  ours: number;
  tfjs: number;
}

const rows: Row[] = [];

/** out = a·b with the given transposes, ours and tf.matMul, over the same float32 data. */
function product(
  name: string,
  m: number,
  k: number,
  n: number,
  kind: "NN" | "NT" | "TN",
  runs: number,
) {
  // The shapes of a and b as stored: NT multiplies by bᵀ (dx = dout·Wᵀ), TN by aᵀ (dW = xᵀ·dout).
  const aShape: [number, number] = kind === "TN" ? [k, m] : [m, k];
  const bShape: [number, number] = kind === "NT" ? [n, k] : [k, n];
  const a = uniform(m * k);
  const b = uniform(k * n);
  const out = new Float32Array(m * n);
  const ours =
    kind === "NN"
      ? () => tsKernels.gemm(a, b, out, m, k, n)
      : kind === "NT"
        ? () => tsKernels.gemmNT(a, b, out, m, k, n)
        : () => tsKernels.gemmTN(a, b, out, k, m, n);
  const tfA = tf.tensor2d(a, aShape);
  const tfB = tf.tensor2d(b, bShape);
  const theirs = () => {
    const c = tf.matMul(tfA, tfB, kind === "TN", kind === "NT");
    c.dataSync();
    c.dispose();
  };
  const times = race(ours, theirs, runs, Math.max(3, Math.ceil(runs / 4)));
  tfA.dispose();
  tfB.dispose();
  rows.push({ name, flops: 2 * m * k * n, ...times });
}

/** One SGD step of 784-50-10 at batch 100: forward, loss, backward (no input gradient), update. */
function trainingStep(runs: number) {
  const [batch, inputs, hidden, classes, lr] = [100, 784, 50, 10, 0.1];
  const W1 = uniform(inputs * hidden, 0.01);
  const b1 = new Float32Array(hidden);
  const W2 = uniform(hidden * classes, 0.01);
  const b2 = new Float32Array(classes);
  const xData = uniform(batch * inputs).map(Math.abs);
  const x: Tensor = { shape: [batch, inputs], data: xData };
  const labels = Float32Array.from({ length: batch }, () => Math.floor(random() * classes));
  const t: Tensor = { shape: [batch], data: labels };
  // Matrix products only: forward x·W1, h·W2; backward dW2, dh = dout·W2ᵀ, dW1.
  const flops = 2 * batch * (3 * inputs * hidden + 3 * hidden * classes);

  const net = Network.fromSpecs(
    [
      {
        type: "affine",
        W: { shape: [inputs, hidden], data: W1 },
        b: { shape: [hidden], data: b1 },
      },
      { type: "relu" },
      {
        type: "affine",
        W: { shape: [hidden, classes], data: W2 },
        b: { shape: [classes], data: b2 },
      },
      { type: "softmaxWithLoss" },
    ],
    "float32",
  );
  const params = net.parameters();
  net.loss(x, t);
  net.backward({ needDx: false });
  const firstGrads = params.map((p) => p.grad.data.slice());
  const ours = () => {
    net.loss(x, t);
    net.backward({ needDx: false });
    for (const p of params) {
      const value = p.value.data;
      const grad = p.grad.data;
      for (let i = 0; i < value.length; i++) value[i] -= lr * grad[i];
    }
  };

  const vars = [
    tf.variable(tf.tensor2d(W1, [inputs, hidden])),
    tf.variable(tf.tensor1d(b1)),
    tf.variable(tf.tensor2d(W2, [hidden, classes])),
    tf.variable(tf.tensor1d(b2)),
  ];
  const [vW1, vb1, vW2, vb2] = vars;
  const tfX = tf.tensor2d(xData, [batch, inputs]);
  const tfT = tf.cast(tf.oneHot(tf.tensor1d(labels, "int32"), classes), "float32");
  const loss = (): tf.Scalar => {
    const h = tf.relu(tf.add(tf.matMul(tfX, vW1), vb1));
    const y = tf.softmax(tf.add(tf.matMul(h, vW2), vb2));
    return tf.neg(tf.mean(tf.sum(tf.mul(tfT, tf.log(tf.add(y, 1e-7))), 1))) as tf.Scalar;
  };
  // Both sides start from the same weights: their first gradients must agree.
  tf.tidy(() => {
    const { grads } = tf.variableGrads(loss);
    vars.forEach((v, i) => {
      const theirs = grads[v.name].dataSync();
      let diff = 0;
      for (let j = 0; j < theirs.length; j++) {
        diff = Math.max(diff, Math.abs(theirs[j] - firstGrads[i][j]));
      }
      if (!(diff < 1e-5)) throw new Error(`tfjs and ours disagree on gradient ${i}: ${diff}`);
    });
  });
  const theirs = () => {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(loss);
      for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], lr)));
    });
    vb2.dataSync();
  };
  const times = race(ours, theirs, runs, Math.max(3, Math.ceil(runs / 4)));
  for (const v of [...vars, tfX, tfT]) v.dispose();
  rows.push({ name: "train step 784-50-10, batch 100", flops, ...times });
}

product("X·W        [100×784]·[784×50]", 100, 784, 50, "NN", 60);
product("dout·Wᵀ    [100×50]·[50×784]", 100, 50, 784, "NT", 60);
product("Xᵀ·dout    [784×100]·[100×50]", 784, 100, 50, "TN", 60);
product("X·W        [1000×1000]·[1000×1000]", 1000, 1000, 1000, "NN", 5);
trainingStep(60);

const gflops = (flops: number, ms: number) => (flops / ms / 1e6).toFixed(2);
const header = ["", "ours ms", "GFLOP/s", "tfjs-cpu ms", "GFLOP/s", "ours/tfjs"];
const table = rows.map((r) => [
  r.name,
  r.ours.toFixed(3),
  gflops(r.flops, r.ours),
  r.tfjs.toFixed(3),
  gflops(r.flops, r.tfjs),
  `${(r.tfjs / r.ours).toFixed(1)}×`,
]);
const widths = header.map((h, c) => Math.max(h.length, ...table.map((row) => row[c].length)));
const line = (cells: string[]) =>
  cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  ");
console.log("float32, median of repeated runs after warm-up");
console.log(line(header));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const row of table) console.log(line(row));
