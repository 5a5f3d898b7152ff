import { ShapeError } from "../errors.js";
import type { Parameter } from "../parameter.js";
import { sameShape, type Tensor } from "../tensor.js";

/**
 * What every hidden layer offers (the book's `forward(x)` / `backward(dout)`, ch. 5). The loss
 * layer, SoftmaxWithLoss, has its own shape: its backward starts from a scalar.
 *
 * Buffers. A layer owns its outputs: `forward` and `backward` return tensors whose data the layer
 * reuses on its next call with the same size, so a returned tensor is valid until the next call of
 * the same method on the same layer (copy it to keep it). Parameter gradients are overwritten in
 * place on each backward, never reallocated. A layer may keep a reference to its input `x` (Affine
 * does) until the next forward, so the caller must not change `x` between forward and backward,
 * nor feed a layer its own output. `dout` is only read. Network copies what it returns, so its
 * callers may keep anything.
 */
export interface Layer {
  readonly type: "relu" | "sigmoid" | "affine";
  /** [] or [W, b]. */
  readonly params: readonly Parameter[];
  /**
   * The output shape for an input shape, or a ShapeError naming layer `index` (when given), both
   * shapes and the field at fault (e.g. "layers[1].W").
   */
  outputShape(inputShape: readonly number[], index?: number): number[];
  forward(x: Tensor): Tensor;
  /** Overwrites the parameter gradients; returns dx unless `needDx` is false (then null). */
  backward(dout: Tensor, needDx: boolean): Tensor | null;
}

/** "layers[i]." for a layer inside a network, "" for a lone layer. */
export function pathPrefix(index: number | undefined): string {
  return index === undefined ? "" : `layers[${index}].`;
}

/** Guards a layer's backward: it follows a forward, and dout has that forward's output shape. */
export function checkDout(dout: Tensor, out: Tensor | null, type: string): asserts out is Tensor {
  if (out === null) throw new Error(`${type}: backward called before forward`);
  if (!sameShape(dout.shape, out.shape)) {
    throw new ShapeError(
      `${type}: dout must have the shape of the forward output`,
      null,
      out.shape,
      dout.shape,
      "dout",
    );
  }
}
