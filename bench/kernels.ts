/**
 * `npm run bench`: the matrix products behind Affine and one training step of the book's
 * TwoLayerNet (784-50-10, ReLU, batch 100, SGD), on each of our kernel paths beside tfjs-core's CPU
 * and WebAssembly backends and, where python3 has numpy, numpy on one thread (bench/products.py),
 * all in one run, in float32 and float64 (tfjs has no float64). The machine is shared and noisy,
 * so the work runs in rounds: each round gives every contender of every row the same time box, in
 * a rotating order, then runs numpy once; the table shows medians over all rounds.
 */
import { cpus, loadavg } from "node:os";
import * as tf from "@tensorflow/tfjs-core";
import { bestKernelPath, type KernelPath, supportsPath } from "../src/core/backend.js";
import { Rng } from "../src/core/rng.js";
import type { DType, FloatArray } from "../src/core/tensor.js";
import { loadMnist, mnistDataDir } from "../src/datasets/mnist.js";
import {
  type Contender,
  type OurPath,
  ourPath,
  ourProduct,
  ourStep,
  type ProductWork,
  type StepWork,
  type TfBackend,
  tfjsProduct,
  tfjsStep,
} from "./contenders.js";
import {
  type NumpyRound,
  type NumpyWork,
  numpyRound,
  rerunWithoutOpenblasOverrides,
} from "./numpy.js";
import { registerBenchGradients } from "./tfjs-gradients.js";

// Our OpenBLAS at its best, as numpy's: the variables must be gone before the library loads.
rerunWithoutOpenblasOverrides();

const ROUNDS = 5;
/** Each contender's time box per row and round; it runs at least once. */
const BUDGET_MS = 60;
const MAX_REPS = 40;
/** Enough for every row's operands and both networks, in both dtypes. */
const ARENA_BYTES = 64 * 1024 * 1024;

// Quiet the backends' "install tfjs-node" notice: it is printed only outside tests.
tf.env().set("IS_TEST", true);
await import("@tensorflow/tfjs-backend-cpu");
const tfWasm = await import("@tensorflow/tfjs-backend-wasm");
// Under Node tfjs-wasm reports no thread support and loads its single-threaded SIMD build; this
// pins XNNPACK's pool to one thread all the same. It must precede the backend's initialisation.
tfWasm.setThreadsCount(1);
const uncaught = () => [
  ...process.listeners("uncaughtException"),
  ...process.listeners("unhandledRejection"),
];
const nodeHandlers = new Set<unknown>(uncaught());
await tf.setBackend("wasm");
// Its Emscripten glue rethrows every uncaught error from handlers of its own, which print the
// glue's whole minified source; Node reports them better.
for (const handler of process.listeners("uncaughtException")) {
  if (!nodeHandlers.has(handler)) process.off("uncaughtException", handler);
}
for (const handler of process.listeners("unhandledRejection")) {
  if (!nodeHandlers.has(handler)) process.off("unhandledRejection", handler);
}
registerBenchGradients();

const PATHS: readonly KernelPath[] = ["typescript", "simd", "relaxed-simd", "openblas"];
const TFJS: readonly TfBackend[] = ["cpu", "wasm"];
type Column = KernelPath | "tfjs-cpu" | "tfjs-wasm" | "numpy";
const COLUMNS: readonly Column[] = [...PATHS, "tfjs-cpu", "tfjs-wasm", "numpy"];

const paths = new Map<KernelPath, OurPath>(
  PATHS.filter((path) => supportsPath(path)).map((name) => [name, ourPath(name, ARENA_BYTES)]),
);
/** The path the service picks on this runtime: the one held to the targets. */
const best = bestKernelPath();

// The core's own seeded generator, so every run multiplies the same numbers.
const rng = new Rng(1);
const random = () => rng.uniform();

function uniform(length: number, scale = 1): Float64Array {
  const data = new Float64Array(length);
  for (let i = 0; i < length; i++) data[i] = (random() * 2 - 1) * scale;
  return data;
}

function median(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Milliseconds of repeated calls: at least one, then more while under the budget. */
function samples(fn: () => void, budgetMs: number, maxReps: number): number[] {
  const times: number[] = [];
  const started = performance.now();
  while (times.length < maxReps && (times.length === 0 || performance.now() - started < budgetMs)) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return times;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  return diff;
}

interface Row {
  readonly label: string;
  readonly dtype: DType;
  /** Of the matrix products alone. */
  readonly flops: number;
  readonly contenders: Map<Column, Contender>;
  readonly times: Map<Column, number[]>;
}

interface ProductRow extends Row {
  readonly work: ProductWork;
}

interface StepRow extends Row {
  readonly work: StepWork;
}

const products: ProductRow[] = [];
const steps: StepRow[] = [];
const isStep = (row: Row): row is StepRow => steps.includes(row as StepRow);

/** A contender's first answers must match the TypeScript path's before it is timed. */
function agree(label: string, column: Column, diff: number, tolerance: number): void {
  if (!(diff <= tolerance))
    throw new Error(`${label}: ${column} disagrees with typescript by ${diff}`);
}

/** Runs a new contender until warm, so no round times a cold JIT or first-call setup. */
function warm(contender: Contender): Contender {
  samples(contender.run, 2 * BUDGET_MS, 5);
  return contender;
}

async function productRow(
  dtype: DType,
  label: string,
  kind: ProductWork["kind"],
  [m, k, n]: [number, number, number],
): Promise<void> {
  const work: ProductWork = { kind, m, k, n, dtype, a: uniform(m * k), b: uniform(k * n) };
  const contenders = new Map<Column, Contender>();
  // Rounding differs with the order of the sums; k terms of at most 1 in magnitude each.
  const tolerance = k * (dtype === "float32" ? 1e-6 : 1e-14);
  let reference: FloatArray | null = null;
  for (const path of paths.values()) {
    const ours = ourProduct(path, work);
    ours.run();
    reference ??= ours.out.slice();
    agree(label, path.name, maxDiff(ours.out, reference), tolerance);
    contenders.set(path.name, warm(ours));
  }
  if (dtype === "float32") {
    for (const backend of TFJS) {
      const theirs = await tfjsProduct(backend, work);
      agree(label, `tfjs-${backend}`, maxDiff(theirs.result(), reference!), tolerance);
      contenders.set(`tfjs-${backend}`, warm(theirs));
    }
  }
  products.push({ label, dtype, flops: 2 * m * k * n, contenders, times: new Map(), work });
}

/** MNIST's train split, for a step on real images (four-fifths of their pixels are zeros). */
const mnist = await loadMnist("train");

/**
 * The step on x of uniform values in [0, 1), or on a batch of MNIST's train images drawn by the
 * bench's rng (which numpy gets by their rows).
 */
async function stepRow(dtype: DType, data: "uniform" | "mnist"): Promise<void> {
  const sizes = [100, 784, 50, 10] as const;
  const [batch, inputs, hidden, classes] = sizes;
  const mnistRows =
    data === "mnist"
      ? Array.from({ length: batch }, () => Math.floor(random() * mnist.count))
      : undefined;
  const work: StepWork = {
    dtype,
    sizes,
    lr: 0.1,
    W1: uniform(inputs * hidden, 0.01),
    W2: uniform(hidden * classes, 0.01),
    x: mnistRows
      ? Float64Array.from(
          { length: batch * inputs },
          (_, i) => mnist.x[mnistRows[Math.floor(i / inputs)] * inputs + (i % inputs)],
        )
      : uniform(batch * inputs).map(Math.abs),
    labels: mnistRows
      ? Float64Array.from(mnistRows, (r) => mnist.labels[r])
      : Float64Array.from({ length: batch }, () => Math.floor(random() * classes)),
    mnistRows,
  };
  const label = `train step ${inputs}-${hidden}-${classes}, ${data === "mnist" ? "MNIST " : ""}batch ${batch}`;
  const contenders = new Map<Column, Contender>();
  const tolerance = dtype === "float32" ? 1e-5 : 1e-12;
  let reference: FloatArray[] | null = null;
  const agreeAll = (column: Column, grads: FloatArray[]) => {
    for (const [i, g] of grads.entries()) {
      agree(`${label} gradient ${i}`, column, maxDiff(g, reference![i]), tolerance);
    }
  };
  for (const path of paths.values()) {
    const ours = ourStep(path, work);
    reference ??= ours.firstGrads;
    agreeAll(path.name, ours.firstGrads);
    contenders.set(path.name, warm(ours));
  }
  if (dtype === "float32") {
    for (const backend of TFJS) {
      const theirs = await tfjsStep(backend, work);
      agreeAll(`tfjs-${backend}`, theirs.firstGrads);
      contenders.set(`tfjs-${backend}`, warm(theirs));
    }
  }
  // Forward x·W1, h·W2; backward dW2 = hᵀ·dy, dh = dy·W2ᵀ, dW1 = xᵀ·dh (no dx for the input).
  const flops = 2 * batch * (2 * inputs * hidden + 3 * hidden * classes);
  steps.push({ label, dtype, flops, contenders, times: new Map(), work });
}

const started = performance.now();
const loadBefore = loadavg()[0];
for (const dtype of ["float32", "float64"] as const) {
  await productRow(dtype, "X·W      [100×784]·[784×50]", "NN", [100, 784, 50]);
  await productRow(dtype, "dout·Wᵀ  [100×50]·[50×784]", "NT", [100, 50, 784]);
  await productRow(dtype, "Xᵀ·dout  [784×100]·[100×50]", "TN", [784, 100, 50]);
  await productRow(dtype, "X·W      [1000×1000]·[1000×1000]", "NN", [1000, 1000, 1000]);
  await stepRow(dtype, "uniform");
  if (dtype === "float32") await stepRow(dtype, "mnist");
}
const rows: Row[] = ["float32", "float64"].flatMap((dtype) =>
  [...products, ...steps].filter((r) => r.dtype === dtype),
);

const rowId = (row: Row) => String(rows.indexOf(row));
const numpyWork: NumpyWork = {
  products: products.map((r) => {
    const { kind, m, k, n, dtype } = r.work;
    return { id: rowId(r), kind, m, k, n, dtype };
  }),
  steps: steps.map((r) => ({ id: rowId(r), dtype: r.dtype, mnistRows: r.work.mnistRows })),
  mnistDir: mnistDataDir(),
  budgetMs: BUDGET_MS,
  maxReps: MAX_REPS,
};

const record = (row: Row, column: Column, times: number[]) =>
  row.times.set(column, [...(row.times.get(column) ?? []), ...times]);

let numpy: NumpyRound | null = null;
let hasNumpy = true;
for (let round = 0; round < ROUNDS; round++) {
  for (const row of rows) {
    const columns = [...row.contenders.keys()];
    // A rotating order, so no contender always runs first (or right after a slow one).
    for (let i = 0; i < columns.length; i++) {
      const column = columns[(i + round) % columns.length];
      const contender = row.contenders.get(column)!;
      await contender.enter();
      record(row, column, samples(contender.run, BUDGET_MS, MAX_REPS));
    }
  }
  if (hasNumpy) {
    const answer = numpyRound(numpyWork);
    hasNumpy = answer !== null;
    numpy = answer ?? numpy;
    for (const row of rows) {
      if (answer) record(row, "numpy", answer.times[rowId(row)] ?? []);
    }
  }
}
const seconds = (performance.now() - started) / 1000;

const ms = (row: Row, column: Column): number | null => {
  const times = row.times.get(column);
  return times && times.length > 0 ? median(times) : null;
};
const fmtMs = (v: number | null) => (v === null ? "—" : v.toFixed(v < 10 ? 3 : v < 100 ? 2 : 1));
const ratio = (num: number | null, den: number | null, digits: number) =>
  num === null || den === null ? "—" : `${(num / den).toFixed(digits)}×`;
const gflops = (row: Row, v: number | null) =>
  v === null ? "—" : (row.flops / v / 1e6).toFixed(2);
const name = (row: Row) => `${row.dtype === "float32" ? "f32" : "f64"} ${row.label}`;

function printTable(title: string, header: string[], body: string[][]): void {
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join("  ");
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of body) console.log(line(row));
}

const unavailable = (column: Column) =>
  PATHS.includes(column as KernelPath) && !paths.has(column as KernelPath);
const cell = (row: Row, column: Column, show: (v: number | null) => string) =>
  unavailable(column) ? "n/a" : show(ms(row, column));

console.log(
  `${cpus()[0]?.model.trim()} ×${cpus().length}, Node ${process.version}; load average ${loadBefore.toFixed(2)} → ${loadavg()[0].toFixed(2)}; ${seconds.toFixed(0)} s`,
);
console.log(
  `tfjs ${tf.version_core}: tfjs-wasm SIMD ${await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT")}, ` +
    `threads supported ${await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT")}, ` +
    `setThreadsCount(1) → ${tfWasm.getThreadsCount()} thread; tfjs-cpu is plain JS, one thread`,
);
console.log(
  numpy
    ? `numpy ${numpy.numpy}, OpenBLAS ${numpy.blas ? `${numpy.blas.kernel} kernel, ${numpy.blas.threads} thread(s)` : "(kernel unknown)"}, OPENBLAS_NUM_THREADS=1`
    : "numpy: not run",
);
console.log(
  `ours = ${best} (the path the service picks here); medians of ${ROUNDS} rounds, ${BUDGET_MS} ms per contender per row per round`,
);

printTable(
  "milliseconds (ours/numpy: time ratio, lower is better; tfjs/ours: speed-up, higher is better)",
  [...["work", ...COLUMNS], "ours/numpy", "tfjs-cpu/ours", "tfjs-wasm/ours"],
  rows.map((row) => {
    const ours = ms(row, best);
    return [
      name(row),
      ...COLUMNS.map((c) => cell(row, c, fmtMs)),
      ratio(ours, ms(row, "numpy"), 2),
      ratio(ms(row, "tfjs-cpu"), ours, 2),
      ratio(ms(row, "tfjs-wasm"), ours, 2),
    ];
  }),
);
printTable(
  "GFLOP/s (the training step counts its five matrix products only)",
  ["work", ...COLUMNS],
  rows.map((row) => [name(row), ...COLUMNS.map((c) => cell(row, c, (v) => gflops(row, v)))]),
);

/** null: a contender it needs did not run. */
function target(ok: boolean | null, text: string): void {
  console.log(`${ok === null ? "SKIP" : ok ? "PASS" : "FAIL"}  ${text}`);
}
const f32 = rows.filter((r) => r.dtype === "float32");
const big = products.find((r) => r.dtype === "float32" && r.work.m === 1000)!;
const bigOurs = ms(big, best);
const bigNumpy = ms(big, "numpy");
console.log(`\ntargets (${best}, ratios of this run's medians)`);
if (bigOurs === null || bigNumpy === null) target(null, "f32 1000³ X·W: no numpy");
else {
  const r = bigNumpy / bigOurs;
  target(r >= 0.4, `f32 1000³ X·W: ${r.toFixed(2)}× numpy's GFLOP/s (at least 0.4×)`);
}
for (const row of f32.filter((r) => products.includes(r as ProductRow))) {
  const ours = ms(row, best)!;
  for (const [column, floor] of [
    ["tfjs-cpu", 10],
    ["tfjs-wasm", 1.5],
  ] as const) {
    const theirs = ms(row, column);
    const r = theirs === null ? null : theirs / ours;
    target(
      r === null ? null : r >= floor,
      `f32 ${row.label.replace(/ +/g, " ")}: ${r === null ? "—" : r.toFixed(2)}× ${column} (at least ${floor}×)`,
    );
  }
}
// Issue 16: the openblas path against numpy at its best (both OpenBLAS overrides unset).
if (paths.has("openblas")) {
  console.log("\ntargets (openblas, ratios of this run's medians)");
  for (const row of rows) {
    const ours = ms(row, "openblas");
    const theirs = ms(row, "numpy");
    const limit = isStep(row) ? 0.8 : 1.1;
    const r = ours === null || theirs === null ? null : ours / theirs;
    target(
      r === null ? null : r <= limit,
      `${name(row).replace(/ +/g, " ")}: ${r === null ? "—" : r.toFixed(2)}× numpy's time (at most ${limit}×)`,
    );
  }
}
const step = f32.find(isStep)!;
const stepNumpy = ms(step, "numpy");
if (stepNumpy === null) target(null, "f32 training step: no numpy");
else {
  const r = ms(step, best)! / stepNumpy;
  target(r <= 2.5, `f32 training step: ${r.toFixed(2)}× numpy's time (at most 2.5×)`);
}
