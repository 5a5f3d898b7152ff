import type { Backend } from "../backend.js";
import type { Parameter } from "../parameter.js";
import { dtypeOf, type Tensor } from "../tensor.js";
import { checkDout, type Layer } from "./layer.js";

/**
 * σ(x) = 1 / (1 + e^-x), evaluated so that exp never overflows: for x < 0 it is e^x / (1 + e^x).
 * Finite (in [0, 1]) for every finite x, ±1e308 included.
 */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Sigmoid layer; its cache is its output. Buffers: see Layer. */
export class Sigmoid implements Layer {
  readonly type = "sigmoid";
  readonly params: readonly Parameter[] = [];
  private out: Tensor | null = null;
  private dx: Tensor | null = null;

  constructor(private readonly backend: Backend) {}

  outputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  forward(x: Tensor): Tensor {
    this.out = this.backend.reuse(this.out, x.shape, dtypeOf(x.data));
    const xs = x.data;
    const out = this.out.data;
    for (let i = 0; i < xs.length; i++) out[i] = sigmoid(xs[i]);
    return this.out;
  }

  // dx = dout · out · (1 - out)
  backward(dout: Tensor, needDx: boolean): Tensor | null {
    checkDout(dout, this.out, this.type);
    if (!needDx) return null;
    this.dx = this.backend.reuse(this.dx, this.out.shape, dtypeOf(this.out.data));
    const d = dout.data;
    const y = this.out.data;
    const dx = this.dx.data;
    for (let i = 0; i < dx.length; i++) dx[i] = d[i] * y[i] * (1 - y[i]);
    return this.dx;
  }
}
