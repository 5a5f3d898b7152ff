import { ShapeError } from "./errors.js";
import type { Network } from "./network.js";
import type { FloatArray, Tensor } from "./tensor.js";

/**
 * ∂f/∂value[i] ≈ (f(v + h) - f(v - h)) / 2h for every element (central differences, book ch. 4.4),
 * each element restored afterwards. The step is the one actually stored, so float32 rounding of
 * v ± h does not bias the quotient.
 */
export function numericalGradient(f: () => number, value: FloatArray, h = 1e-4): Float64Array {
  const grad = new Float64Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const old = value[i];
    try {
      value[i] = old + h;
      const up = value[i];
      const fUp = f();
      value[i] = old - h;
      const down = value[i];
      const fDown = f();
      grad[i] = (fUp - fDown) / (up - down);
    } finally {
      value[i] = old;
    }
  }
  return grad;
}

export interface GradientDiff {
  maxAbsDiff: number;
  meanAbsDiff: number;
  /** max over elements of |a - n| / max(|a| + |n|, tiny) */
  maxRelError: number;
}

export interface ParameterGradientCheck extends GradientDiff {
  /** Index of the affine layer in the network. */
  layer: number;
  name: "W" | "b";
}

/** Differences between an analytic (backprop) and a numerical gradient of the same length. */
export function compareGradients(
  analytic: ArrayLike<number>,
  numeric: ArrayLike<number>,
): GradientDiff {
  let maxAbsDiff = 0;
  let sumAbsDiff = 0;
  let maxRelError = 0;
  for (let i = 0; i < analytic.length; i++) {
    const a = analytic[i];
    const n = numeric[i];
    const diff = Math.abs(a - n);
    maxAbsDiff = Math.max(maxAbsDiff, diff);
    sumAbsDiff += diff;
    maxRelError = Math.max(
      maxRelError,
      diff / Math.max(Math.abs(a) + Math.abs(n), Number.MIN_VALUE),
    );
  }
  return {
    maxAbsDiff,
    meanAbsDiff: analytic.length ? sumAbsDiff / analytic.length : 0,
    maxRelError,
  };
}

/**
 * What a check differentiates: the loss against labels t (a network ending in softmaxWithLoss),
 * or, for a network without one, Σ out ⊙ dout, whose gradient backward({ dout }) computes.
 */
export type Objective = { readonly t: Tensor } | { readonly dout: Tensor };

function objectiveValue(network: Network, x: Tensor, objective: Objective): number {
  if ("t" in objective) return network.loss(x, objective.t).loss;
  const out = network.forward(x).data;
  const dout = objective.dout.data;
  let sum = 0;
  for (let i = 0; i < out.length; i++) sum += out[i] * dout[i];
  return sum;
}

function backprop(network: Network, x: Tensor, objective: Objective, needDx: boolean) {
  objectiveValue(network, x, objective);
  return "t" in objective
    ? network.backward({ needDx })
    : network.backward({ dout: objective.dout, needDx });
}

/** Backprop against central differences for every W and b, in parameter order. */
export function checkParameters(
  network: Network,
  x: Tensor,
  objective: Objective,
  epsilon = 1e-4,
): ParameterGradientCheck[] {
  // Forward passes leave gradients alone, so backprop's stay in place for the comparisons.
  backprop(network, x, objective, false);
  const report: ParameterGradientCheck[] = [];
  network.layers.forEach((layer, index) => {
    layer.params.forEach((p, k) => {
      const numeric = numericalGradient(
        () => objectiveValue(network, x, objective),
        p.value.data,
        epsilon,
      );
      const diff = compareGradients(p.grad.data, numeric);
      report.push({ layer: index, name: k === 0 ? "W" : "b", ...diff });
    });
  });
  return report;
}

/**
 * The gradient check of POST /v1/networks/gradient-check: per parameter, backprop against central
 * differences of the loss against t.
 */
export function gradientCheck(
  network: Network,
  x: Tensor,
  t: Tensor,
  epsilon = 1e-4,
): ParameterGradientCheck[] {
  if (!network.hasLoss) {
    throw new ShapeError(
      "a gradient check needs a network ending in softmaxWithLoss",
      null,
      null,
      null,
      "layers",
    );
  }
  return checkParameters(network, x, { t }, epsilon);
}

/** Backprop's dx against central differences over the elements of x. */
export function checkInputGradient(
  network: Network,
  x: Tensor,
  objective: Objective,
  epsilon = 1e-4,
): GradientDiff {
  // A copy of its own, perturbed in place, where the network's ops read it.
  const input = network.backend.fromValues(x.shape, x.data, network.dtype);
  const dx = backprop(network, input, objective, true)!;
  const numeric = numericalGradient(
    () => objectiveValue(network, input, objective),
    input.data,
    epsilon,
  );
  return compareGradients(dx.data, numeric);
}
