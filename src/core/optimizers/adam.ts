/**
 * Adam (book ch. 6.1.6; Kingma & Ba 2015, "Adam: A method for stochastic optimization", with the
 * bias correction folded into the step size as in the paper's §2 and the book's
 * common/optimizer.py), at step t = 1, 2, …:
 *   lr_t = lr·√(1 - β2^t) / (1 - β1^t)
 *   m ← m + (1 - β1)·(g - m)
 *   v ← v + (1 - β2)·(g² - v)
 *   W ← W - lr_t·m / (√v + 1e-7)
 */
import type { Backend } from "../backend.js";
import type { Parameter } from "../parameter.js";
import type { FloatArray } from "../tensor.js";
import { Optimizer } from "./optimizer.js";

export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
}

export class Adam extends Optimizer {
  static readonly defaults = { lr: 0.001, beta1: 0.9, beta2: 0.999 } as const;
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;

  constructor(
    params: readonly Parameter[],
    backend: Backend,
    {
      lr = Adam.defaults.lr,
      beta1 = Adam.defaults.beta1,
      beta2 = Adam.defaults.beta2,
    }: AdamOptions = {},
  ) {
    super(params, backend, 2);
    this.lr = lr;
    this.beta1 = beta1;
    this.beta2 = beta2;
  }

  protected override update(W: FloatArray, g: FloatArray, [m, v]: FloatArray[], t: number): void {
    const { beta1, beta2 } = this;
    const lrT = (this.lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    this.ops.adamStep(W, g, m, v, beta1, beta2, lrT);
  }
}
