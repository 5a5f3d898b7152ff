import type { Backend } from "./backend.js";
import { dtypeOf, type Tensor } from "./tensor.js";

/**
 * A learnable tensor with its gradient beside it. Optimizers see only parameters; their state is
 * keyed by the Parameter object itself. Weight decay applies to weights, never to biases.
 */
export class Parameter {
  readonly grad: Tensor;

  /** Takes `value` as it is (no copy); the gradient is allocated on `backend`. */
  constructor(
    backend: Backend,
    readonly value: Tensor,
    readonly role: "weight" | "bias",
  ) {
    this.grad = backend.zeros(value.shape, dtypeOf(value.data));
  }
}
