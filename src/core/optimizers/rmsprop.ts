/**
 * RMSprop (book's common/optimizer.py; Tieleman & Hinton 2012, Coursera NN lecture 6.5):
 *   h ← ρ·h + (1 - ρ)·∂L/∂W ⊙ ∂L/∂W        (ρ = decay)
 *   W ← W - lr·∂L/∂W / (√h + 1e-7)
 */
import type { Backend } from "../backend.js";
import type { Parameter } from "../parameter.js";
import type { FloatArray } from "../tensor.js";
import { Optimizer } from "./optimizer.js";

const EPS = 1e-7;

export interface RMSpropOptions {
  lr?: number;
  decay?: number;
}

export class RMSprop extends Optimizer {
  static readonly defaults = { lr: 0.01, decay: 0.99 } as const;
  readonly lr: number;
  readonly decay: number;

  constructor(
    params: readonly Parameter[],
    backend: Backend,
    { lr = RMSprop.defaults.lr, decay = RMSprop.defaults.decay }: RMSpropOptions = {},
  ) {
    super(params, backend, 1);
    this.lr = lr;
    this.decay = decay;
  }

  protected override update(W: FloatArray, g: FloatArray, [h]: FloatArray[]): void {
    const { lr, decay } = this;
    for (let i = 0; i < W.length; i++) {
      h[i] = decay * h[i] + (1 - decay) * g[i] * g[i];
      W[i] -= (lr * g[i]) / (Math.sqrt(h[i]) + EPS);
    }
  }
}
