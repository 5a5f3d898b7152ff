import type { Backend } from "../backend.js";
import { ShapeError } from "../errors.js";
import { Parameter } from "../parameter.js";
import { dtypeOf, sameShape, shapeToString, sizeOf, type Tensor } from "../tensor.js";
import { checkDout, type Layer, pathPrefix } from "./layer.js";

/**
 * Throws a ShapeError unless W is [inputs, outputs] (both at least 1) and b is [outputs].
 * `index` names the layer in a network.
 */
export function checkAffineParams(
  W: readonly number[],
  b: readonly number[],
  index?: number,
): void {
  const at = pathPrefix(index);
  const layer = index ?? null;
  if (W.length !== 2 || W[0] < 1 || W[1] < 1) {
    throw new ShapeError(
      `affine W must be a matrix [inputs, outputs] without empty axes, got ${shapeToString(W)}`,
      layer,
      null,
      null,
      `${at}W`,
    );
  }
  if (!sameShape(b, [W[1]])) {
    throw new ShapeError(
      `affine b must have one entry per column of W (${W[1]})`,
      layer,
      [W[1]],
      b,
      `${at}b`,
    );
  }
}

/**
 * out = x·W + b, for x [N, ...] flattened to [N, inputs]; W and b share one dtype and x is cast to
 * it. Buffers: see Layer; the cache `x` is a view of the caller's input.
 */
export class Affine implements Layer {
  readonly type = "affine";
  readonly W: Parameter;
  readonly b: Parameter;
  readonly params: readonly Parameter[];
  /** The input as [N, inputs], kept for dW = xᵀ·dout. */
  private x: Tensor | null = null;
  private xShape: readonly number[] = [];
  private out: Tensor | null = null;
  private dx: Tensor | null = null;

  /** Takes W and b as they are (no copy): they become the parameters' values. */
  constructor(
    private readonly backend: Backend,
    W: Tensor,
    b: Tensor,
  ) {
    checkAffineParams(W.shape, b.shape);
    if (dtypeOf(W.data) !== dtypeOf(b.data)) throw new TypeError("affine W and b differ in dtype");
    this.W = new Parameter(backend, W, "weight");
    this.b = new Parameter(backend, b, "bias");
    this.params = [this.W, this.b];
  }

  get inputs(): number {
    return this.W.value.shape[0];
  }

  get outputs(): number {
    return this.W.value.shape[1];
  }

  outputShape(inputShape: readonly number[], index?: number): number[] {
    const features = sizeOf(inputShape.slice(1));
    if (inputShape.length < 2 || features !== this.inputs) {
      throw new ShapeError(
        inputShape.length < 2
          ? "affine input needs a batch axis and a feature axis"
          : `affine input has ${features} features but W has ${this.inputs} rows`,
        index ?? null,
        [inputShape.length < 2 ? 1 : inputShape[0], this.inputs],
        inputShape,
        `${pathPrefix(index)}W`,
      );
    }
    return [inputShape[0], this.outputs];
  }

  forward(x: Tensor): Tensor {
    const [n, outputs] = this.outputShape(x.shape);
    const inputs = this.inputs;
    const dtype = dtypeOf(this.W.value.data);
    const xs = this.backend.local(x, dtype).data;
    this.x = { shape: [n, inputs], data: xs };
    this.xShape = x.shape;
    this.out = this.backend.reuse(this.out, [n, outputs], dtype);
    const out = this.out.data;
    const { ops } = this.backend;
    ops.gemm(xs, this.W.value.data, out, n, inputs, outputs);
    ops.addRowVector(out, this.b.value.data, n, outputs);
    return this.out;
  }

  // dW = xᵀ·dout, db = Σ_rows dout, dx = dout·Wᵀ (reshaped like x)
  backward(dout: Tensor, needDx: boolean): Tensor | null {
    checkDout(dout, this.out, this.type);
    const x = this.x!;
    const [n, inputs] = x.shape;
    const outputs = this.outputs;
    const dtype = dtypeOf(this.W.value.data);
    const d = this.backend.local(dout, dtype).data;
    const { ops } = this.backend;
    ops.gemmTN(x.data, d, this.W.grad.data, n, inputs, outputs);
    ops.colSum(d, this.b.grad.data, n, outputs);
    if (!needDx) return null;
    this.dx = this.backend.reuse(this.dx, this.xShape, dtype);
    ops.gemmNT(d, this.W.value.data, this.dx.data, n, outputs, inputs);
    return this.dx;
  }
}
