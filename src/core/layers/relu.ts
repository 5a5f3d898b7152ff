import type { Parameter } from "../parameter.js";
import { dtypeOf, reuseOrAllocate, type Tensor } from "../tensor.js";
import { checkDout, type Layer } from "./layer.js";

/** ReLU: out = max(0, x). Buffers: see Layer. */
export class Relu implements Layer {
  readonly type = "relu";
  readonly params: readonly Parameter[] = [];
  /** 1 where x <= 0: those inputs pass no gradient back (none at exactly 0 either). */
  private mask = new Uint8Array(0);
  private out: Tensor | null = null;
  private dx: Tensor | null = null;

  outputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  forward(x: Tensor): Tensor {
    const n = x.data.length;
    if (this.mask.length !== n) this.mask = new Uint8Array(n);
    this.out = reuseOrAllocate(this.out, x.shape, dtypeOf(x.data));
    const xs = x.data;
    const out = this.out.data;
    const mask = this.mask;
    for (let i = 0; i < n; i++) {
      const v = xs[i];
      // `v <= 0` is false for NaN, which passes through for the network's finiteness check.
      const masked = v <= 0;
      mask[i] = masked ? 1 : 0;
      out[i] = masked ? 0 : v;
    }
    return this.out;
  }

  // dx = dout where x > 0, else 0
  backward(dout: Tensor, needDx: boolean): Tensor | null {
    checkDout(dout, this.out, this.type);
    if (!needDx) return null;
    this.dx = reuseOrAllocate(this.dx, this.out.shape, dtypeOf(this.out.data));
    const d = dout.data;
    const dx = this.dx.data;
    const mask = this.mask;
    for (let i = 0; i < dx.length; i++) dx[i] = mask[i] === 1 ? 0 : d[i];
    return this.dx;
  }
}
