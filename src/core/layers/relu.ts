import type { Backend } from "../backend.js";
import type { Parameter } from "../parameter.js";
import { dtypeOf, type Tensor } from "../tensor.js";
import { checkDout, type Layer } from "./layer.js";

/** ReLU: out = max(0, x). Buffers: see Layer. */
export class Relu implements Layer {
  readonly type = "relu";
  readonly params: readonly Parameter[] = [];
  /** The output, which also tells backward where x > 0 (no gradient passes at exactly 0). */
  private out: Tensor | null = null;
  private dx: Tensor | null = null;

  constructor(private readonly backend: Backend) {}

  outputShape(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  forward(x: Tensor): Tensor {
    this.out = this.backend.reuse(this.out, x.shape, dtypeOf(x.data));
    this.backend.ops.relu(x.data, this.out.data);
    return this.out;
  }

  // dx = dout where x > 0 (where out > 0), else 0
  backward(dout: Tensor, needDx: boolean): Tensor | null {
    checkDout(dout, this.out, this.type);
    if (!needDx) return null;
    this.dx = this.backend.reuse(this.dx, this.out.shape, dtypeOf(this.out.data));
    this.backend.ops.reluBackward(this.out.data, dout.data, this.dx.data);
    return this.dx;
  }
}
