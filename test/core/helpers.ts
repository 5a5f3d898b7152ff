import { Backend } from "../../src/core/backend.js";
import type { ArrayOps } from "../../src/core/kernels/array-ops.js";
import { createTypescriptOps } from "../../src/core/kernels/typescript-ops.js";
import { createWasmOps, type WasmVariant, wasmArena } from "../../src/core/kernels/wasm-ops.js";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import { Network } from "../../src/core/network.js";
import { allocate, type DType, sizeOf, type Tensor } from "../../src/core/tensor.js";

/** The reference backend the core's tests compute on, unless a test names another. */
export const backend = Backend.typescript();

/** The tests' one seeded generator (mulberry32), so no test depends on Math.random. */
export { seeded as mulberry32 } from "../helpers/tensors.js";

/**
 * Values uniform in ±[minAbs, scale]; minAbs > 0 keeps them away from 0 (ReLU's kink).
 */
export function randomTensor(
  shape: readonly number[],
  dtype: DType,
  random: () => number,
  { scale = 1, minAbs = 0 } = {},
): Tensor {
  const data = allocate(dtype, sizeOf(shape));
  for (let i = 0; i < data.length; i++) {
    const magnitude = minAbs + random() * (scale - minAbs);
    data[i] = random() < 0.5 ? -magnitude : magnitude;
  }
  return { shape: [...shape], data };
}

export function oneHot(labels: readonly number[], classes: number, dtype: DType): Tensor {
  const data = allocate(dtype, labels.length * classes);
  labels.forEach((label, i) => {
    data[i * classes + label] = 1;
  });
  return { shape: [labels.length, classes], data };
}

export function indices(labels: readonly number[], dtype: DType): Tensor {
  const data = allocate(dtype, labels.length);
  data.set(labels);
  return { shape: [labels.length], data };
}

export function affineSpec(
  inputs: number,
  outputs: number,
  random: () => number,
  scale = 1,
): LayerSpec {
  return {
    type: "affine",
    W: randomTensor([inputs, outputs], "float64", random, { scale }),
    b: randomTensor([outputs], "float64", random, { scale }),
  };
}

/** The smallest |input| any ReLU of the network sees for x: how far the pass is from a kink. */
export function reluMargin(specs: readonly LayerSpec[], x: Tensor): number {
  let margin = Infinity;
  specs.forEach((spec, i) => {
    if (spec.type !== "relu") return;
    const input = i === 0 ? x : Network.fromSpecs(specs.slice(0, i), "float64", backend).forward(x);
    for (const v of input.data) margin = Math.min(margin, Math.abs(v));
  });
  return margin;
}

/** Row-wise argmax. */
export function argmax(t: Tensor): number[] {
  const classes = t.shape[t.shape.length - 1];
  const labels: number[] = [];
  for (let row = 0; row < t.data.length; row += classes) {
    let best = 0;
    for (let j = 1; j < classes; j++) if (t.data[row + j] > t.data[row + best]) best = j;
    labels.push(best);
  }
  return labels;
}

/**
 * Labels every row with class `label` and raises the last affine's bias for it until the network
 * gives that class a probability of at least 0.7 in every row. Why: backprop's dout·(y - t)/N is
 * the derivative of -log(y[t]), but the loss is -log(y[t] + 1e-7), so a sample's numerical
 * gradient is backprop's times y[t] / (y[t] + 1e-7). In |a - n| / (|a| + |n|) that is an error of
 * about 5e-8 / y[t] per sample, under 1e-7 only when y[t] > 0.5.
 */
export function confidentLabels(specs: LayerSpec[], x: Tensor, label: number): number[] {
  const last = specs.findLast((s) => s.type === "affine");
  if (last?.type !== "affine") throw new Error("no affine layer to bias");
  for (let attempt = 0; attempt < 40; attempt++) {
    const probabilities = Network.fromSpecs(specs, "float64", backend).forward(x);
    const classes = last.b.shape[0];
    const rows = probabilities.data.length / classes;
    let worst = 1;
    for (let i = 0; i < rows; i++) worst = Math.min(worst, probabilities.data[i * classes + label]);
    if (worst >= 0.9) return new Array(rows).fill(label);
    last.b.data[label] += 0.25;
  }
  throw new Error("could not make the network confident");
}

/** Plain triple loop, in float64: the reference for the kernels. */
export function naiveMatMul(
  A: (i: number, p: number) => number,
  B: (p: number, j: number) => number,
  m: number,
  k: number,
  n: number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += A(i, p) * B(p, j);
      out[i * n + j] = sum;
    }
  }
  return out;
}

/** |a - e| <= atol + rtol·|e| elementwise, with the first offender in the failure message. */
export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { rtol = 1e-12, atol = 1e-12 } = {},
): void {
  if (actual.length !== expected.length) {
    throw new Error(`length ${actual.length} differs from expected ${expected.length}`);
  }
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

/**
 * A variant's WebAssembly ops over an arena of their own, falling back to `reference` (a set of
 * TypeScript ops a test may spy on) for operands outside it.
 */
export function wasmKernels(
  variant: WasmVariant,
  maxBytes: number,
  reference: ArrayOps = createTypescriptOps(),
  onFallback: () => void = () => {},
) {
  const arena = wasmArena(maxBytes);
  return { kernels: createWasmOps(variant, arena, reference, onFallback), arena };
}
