/**
 * The gradients of the tfjs ops the bench's training step uses. tfjs-core's CommonJS build, which
 * Node loads, registers none (the @tensorflow/tfjs umbrella package imports
 * tfjs-core/dist/register_all_gradients, an ESM file Node cannot resolve here). These follow
 * tfjs-core's own src/gradients/*_grad.ts (Apache-2.0), so tf.variableGrads does the work tfjs
 * itself would.
 */
import * as tf from "@tensorflow/tfjs-core";

const { getReductionAxes } = tf.broadcast_util;

/** dy summed over the axes broadcasting added, back to `shape`. */
function unbroadcast(dy: tf.Tensor, shape: number[], outShape: number[]): tf.Tensor {
  const axes = getReductionAxes(shape, outShape);
  return tf.reshape(axes.length > 0 ? tf.sum(dy, axes) : dy, shape);
}

/** dy with `x`'s reduced axes restored as size 1, broadcast over x. */
function expand(dy: tf.Tensor, x: tf.Tensor, axis: number | number[] | undefined): tf.Tensor {
  const shape = x.shape.slice();
  for (const a of tf.util.parseAxisParam(axis ?? shape.map((_, i) => i), x.shape)) shape[a] = 1;
  return tf.mul(tf.reshape(dy, shape), tf.ones(x.shape));
}

type Attrs = Record<string, unknown>;

const configs: tf.GradConfig[] = [
  {
    kernelName: "BatchMatMul",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, [a, b], attrs) => {
      const { transposeA, transposeB } = attrs as Attrs;
      if (transposeA || transposeB) throw new Error("only a·b is used here");
      const d = dy as tf.Tensor;
      return { a: () => tf.matMul(d, b, false, true), b: () => tf.matMul(a, d, true, false) };
    },
  },
  {
    kernelName: "Add",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, [a, b]) => {
      const d = dy as tf.Tensor;
      return {
        a: () => unbroadcast(d, a.shape, d.shape),
        b: () => unbroadcast(d, b.shape, d.shape),
      };
    },
  },
  {
    kernelName: "Multiply",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, [a, b]) => {
      const d = dy as tf.Tensor;
      return {
        a: () => unbroadcast(tf.mul(d, b), a.shape, d.shape),
        b: () => unbroadcast(tf.mul(d, a), b.shape, d.shape),
      };
    },
  },
  {
    kernelName: "Relu",
    inputsToSave: ["x"],
    gradFunc: (dy, [x]) => ({ x: () => tf.mul(dy as tf.Tensor, tf.step(x)) }),
  },
  {
    kernelName: "Softmax",
    outputsToSave: [true],
    gradFunc: (dy, [y], attrs) => {
      const dyTimesY = tf.mul(dy as tf.Tensor, y);
      const dim = (attrs as Attrs).dim as number;
      return { logits: () => tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, [dim], true), y)) };
    },
  },
  {
    kernelName: "Log",
    inputsToSave: ["x"],
    gradFunc: (dy, [x]) => ({ x: () => tf.div(dy as tf.Tensor, x) }),
  },
  {
    kernelName: "Sum",
    inputsToSave: ["x"],
    gradFunc: (dy, [x], attrs) => {
      const derX = expand(dy as tf.Tensor, x, (attrs as Attrs).axis as number[]);
      return { x: () => derX };
    },
  },
  {
    kernelName: "Mean",
    inputsToSave: ["x"],
    gradFunc: (dy, [x], attrs) => {
      const d = dy as tf.Tensor;
      // Each input element counts 1 / (number of elements averaged) toward its mean.
      return { x: () => tf.div(expand(d, x, (attrs as Attrs).axis as number[]), x.size / d.size) };
    },
  },
  {
    kernelName: "Neg",
    gradFunc: (dy) => ({ x: () => tf.neg(dy as tf.Tensor) }),
  },
];

/** Registers the gradients above unless tfjs already has them. */
export function registerBenchGradients(): void {
  for (const config of configs) {
    if (tf.getGradient(config.kernelName) === undefined) tf.registerGradient(config);
  }
}
