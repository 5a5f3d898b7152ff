/**
 * Stochastic gradient descent (book ch. 6.1.2):
 *   W ← W - lr·∂L/∂W
 */
import type { Backend } from "../backend.js";
import type { Parameter } from "../parameter.js";
import type { FloatArray } from "../tensor.js";
import { Optimizer } from "./optimizer.js";

export interface SGDOptions {
  lr?: number;
}

export class SGD extends Optimizer {
  static readonly defaults = { lr: 0.01 } as const;
  readonly lr: number;

  constructor(
    params: readonly Parameter[],
    backend: Backend,
    { lr = SGD.defaults.lr }: SGDOptions = {},
  ) {
    super(params, backend, 0);
    this.lr = lr;
  }

  protected override update(W: FloatArray, g: FloatArray): void {
    this.ops.axpy(-this.lr, g, W);
  }
}
