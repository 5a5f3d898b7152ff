/**
 * Momentum SGD (book ch. 6.1.4; Polyak 1964, "Some methods of speeding up the convergence of
 * iteration methods"):
 *   v ← m·v - lr·∂L/∂W
 *   W ← W + v
 */
import type { Backend } from "../backend.js";
import type { Parameter } from "../parameter.js";
import type { FloatArray } from "../tensor.js";
import { Optimizer } from "./optimizer.js";

export interface MomentumOptions {
  lr?: number;
  momentum?: number;
}

export class Momentum extends Optimizer {
  static readonly defaults = { lr: 0.01, momentum: 0.9 } as const;
  readonly lr: number;
  readonly momentum: number;

  constructor(
    params: readonly Parameter[],
    backend: Backend,
    { lr = Momentum.defaults.lr, momentum = Momentum.defaults.momentum }: MomentumOptions = {},
  ) {
    super(params, backend, 1);
    this.lr = lr;
    this.momentum = momentum;
  }

  protected override update(W: FloatArray, g: FloatArray, [v]: FloatArray[]): void {
    this.ops.momentumStep(W, g, v, this.momentum, this.lr);
  }
}
