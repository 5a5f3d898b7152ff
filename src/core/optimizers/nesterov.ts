/**
 * Nesterov's accelerated gradient exactly as the book's common/optimizer.py writes it:
 *   v ← m·v - lr·∂L/∂W
 *   W ← W + m²·v - (1 + m)·lr·∂L/∂W        (v already updated)
 * This is the reformulation of Bengio, Boulanger-Lewandowski & Pascanu 2013 ("Advances in
 * optimizing recurrent networks", arXiv:1212.0901), except that the paper takes m²·v before the update of v;
 * the API promises the book's rule, so it is kept.
 */
import type { Backend } from "../backend.js";
import type { Parameter } from "../parameter.js";
import type { FloatArray } from "../tensor.js";
import { Optimizer } from "./optimizer.js";

export interface NesterovOptions {
  lr?: number;
  momentum?: number;
}

export class Nesterov extends Optimizer {
  static readonly defaults = { lr: 0.01, momentum: 0.9 } as const;
  readonly lr: number;
  readonly momentum: number;

  constructor(
    params: readonly Parameter[],
    backend: Backend,
    { lr = Nesterov.defaults.lr, momentum = Nesterov.defaults.momentum }: NesterovOptions = {},
  ) {
    super(params, backend, 1);
    this.lr = lr;
    this.momentum = momentum;
  }

  protected override update(W: FloatArray, g: FloatArray, [v]: FloatArray[]): void {
    const { lr, momentum: m } = this;
    const mm = m * m;
    const gScale = (1 + m) * lr;
    for (let i = 0; i < W.length; i++) {
      v[i] = m * v[i] - lr * g[i];
      W[i] += mm * v[i] - gScale * g[i];
    }
  }
}
