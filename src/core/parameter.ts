import { type Tensor, zerosLike } from "./tensor.js";

/**
 * A learnable tensor with its gradient beside it. Optimizers see only parameters; their state is
 * keyed by the Parameter object itself. Weight decay applies to weights, never to biases.
 */
export class Parameter {
  readonly grad: Tensor;

  constructor(
    readonly value: Tensor,
    readonly role: "weight" | "bias",
  ) {
    this.grad = zerosLike(value);
  }
}
