/**
 * The bookkeeping every optimizer shares (tinygrad's nn/optim.py): the parameters, a step
 * counter and per-parameter state slots (momentum, squared-gradient sums, …) keyed by the
 * Parameter object. A subclass states only its update rule over one parameter's typed arrays.
 */
import type { Backend } from "../backend.js";
import type { ArrayOps } from "../kernels/array-ops.js";
import type { Parameter } from "../parameter.js";
import { dtypeOf, type FloatArray } from "../tensor.js";

/** A checkpoint of an optimizer: `slots[i]` are parameter i's arrays (e.g. Adam's m and v). */
export interface OptimizerState {
  step: number;
  slots: FloatArray[][];
}

export abstract class Optimizer {
  readonly params: readonly Parameter[];
  /** What update rules run on: the backend's ops. */
  protected readonly ops: ArrayOps;
  private t = 0;
  private readonly slots = new Map<Parameter, FloatArray[]>();

  /** `slotCount` zeroed arrays per parameter, each in that parameter's dtype, on `backend`. */
  protected constructor(params: readonly Parameter[], backend: Backend, slotCount: number) {
    this.params = [...params];
    this.ops = backend.ops;
    for (const p of this.params) {
      // Shared state would apply the rule twice per step to one value.
      if (this.slots.has(p)) throw new Error("a parameter appears twice in the optimizer's list");
      const dtype = dtypeOf(p.value.data);
      const n = p.value.data.length;
      this.slots.set(
        p,
        Array.from({ length: slotCount }, () => backend.alloc(dtype, n)),
      );
    }
  }

  /** Updates done so far (the book's Adam `iter`). */
  get stepCount(): number {
    return this.t;
  }

  /** One update of every parameter from its current gradient. */
  step(): void {
    this.t++;
    for (const p of this.params) {
      this.update(p.value.data, p.grad.data, this.slots.get(p)!, this.t);
    }
  }

  /** Copies of the counter and every slot, in parameter order. */
  exportState(): OptimizerState {
    return {
      step: this.t,
      slots: this.params.map((p) => this.slots.get(p)!.map((s) => s.slice())),
    };
  }

  /** Restores a state from exportState (of an optimizer of the same kind over the same shapes). */
  importState(state: OptimizerState): void {
    if (!Number.isSafeInteger(state.step) || state.step < 0) {
      throw new RangeError(`optimizer step must be an integer ≥ 0, got ${state.step}`);
    }
    if (state.slots.length !== this.params.length) {
      throw new RangeError(
        `state has ${state.slots.length} parameters, expected ${this.params.length}`,
      );
    }
    // Check everything before copying anything, so a bad state leaves this optimizer as it was.
    this.params.forEach((p, i) => {
      const own = this.slots.get(p)!;
      const given = state.slots[i];
      if (given.length !== own.length || given.some((s) => s.length !== p.value.data.length)) {
        throw new RangeError(
          `state of parameter ${i} must be ${own.length} arrays of ${p.value.data.length} values`,
        );
      }
    });
    this.params.forEach((p, i) => {
      for (const [k, s] of this.slots.get(p)!.entries()) s.set(state.slots[i][k]);
    });
    this.t = state.step;
  }

  /**
   * The rule for one parameter, in place: W from its gradient g and its slots. `t` is the step
   * number, from 1. Values are stored in W's dtype; read a slot back after writing it so that the
   * update uses the rounded value the next step will see.
   */
  protected abstract update(W: FloatArray, g: FloatArray, slots: FloatArray[], t: number): void;
}
