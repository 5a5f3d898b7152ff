import { shapeToString } from "./tensor.js";

/** Shapes that do not fit, found before any arithmetic. `layer` is the index in the network. */
export class ShapeError extends Error {
  constructor(
    readonly detail: string,
    readonly layer: number | null,
    readonly expected: readonly number[] | null,
    readonly actual: readonly number[] | null,
    /** The request field the mismatch is about, e.g. "layers[1].W", "x" or "t". */
    readonly path: string,
  ) {
    super(
      `${layer === null ? "" : `layer ${layer}: `}${detail}` +
        (expected && actual
          ? ` (expected ${shapeToString(expected)}, got ${shapeToString(actual)})`
          : ""),
    );
    this.name = "ShapeError";
  }
}

/** A computation produced NaN or ±Infinity (an overflow) in the named layer. */
export class NonFiniteError extends Error {
  constructor(
    readonly layer: number,
    readonly layerType: string,
    readonly phase: "forward" | "backward" | "loss",
  ) {
    super(`layer ${layer} (${layerType}) produced a non-finite value in its ${phase} pass`);
    this.name = "NonFiniteError";
  }
}
