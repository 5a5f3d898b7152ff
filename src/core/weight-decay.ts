/**
 * L2 weight decay (book ch. 6.4.2): the loss gains ½·λ·ΣW² over the weights, so each weight's
 * gradient gains λ·W. Biases are not decayed.
 */
import type { ArrayOps } from "./kernels/array-ops.js";
import type { Parameter } from "./parameter.js";

/** ∂L/∂W += λ·W for every weight; call after backward, before the optimizer step. */
export function addWeightDecayGrad(
  params: readonly Parameter[],
  lambda: number,
  ops: ArrayOps,
): void {
  for (const p of params) {
    if (p.role === "weight") ops.axpy(lambda, p.value.data, p.grad.data);
  }
}

/** ½·λ·ΣW² over the weights, summed in float64. */
export function weightDecayLoss(params: readonly Parameter[], lambda: number): number {
  let sum = 0;
  for (const p of params) {
    if (p.role !== "weight") continue;
    const W = p.value.data;
    for (let i = 0; i < W.length; i++) sum += W[i] * W[i];
  }
  return 0.5 * lambda * sum;
}
