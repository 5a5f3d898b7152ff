/**
 * AdaGrad (book ch. 6.1.5; Duchi, Hazan & Singer 2011, "Adaptive subgradient methods for online
 * learning and stochastic optimization"):
 *   h ← h + ∂L/∂W ⊙ ∂L/∂W
 *   W ← W - lr·∂L/∂W / (√h + 1e-7)
 */
import type { Backend } from "../backend.js";
import type { Parameter } from "../parameter.js";
import type { FloatArray } from "../tensor.js";
import { Optimizer } from "./optimizer.js";

const EPS = 1e-7;

export interface AdaGradOptions {
  lr?: number;
}

export class AdaGrad extends Optimizer {
  static readonly defaults = { lr: 0.01 } as const;
  readonly lr: number;

  constructor(
    params: readonly Parameter[],
    backend: Backend,
    { lr = AdaGrad.defaults.lr }: AdaGradOptions = {},
  ) {
    super(params, backend, 1);
    this.lr = lr;
  }

  protected override update(W: FloatArray, g: FloatArray, [h]: FloatArray[]): void {
    const { lr } = this;
    for (let i = 0; i < W.length; i++) {
      h[i] += g[i] * g[i];
      W[i] -= (lr * g[i]) / (Math.sqrt(h[i]) + EPS);
    }
  }
}
