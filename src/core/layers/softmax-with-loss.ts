import type { Backend } from "../backend.js";
import { ShapeError } from "../errors.js";
import { DELTA, softmaxRows } from "../kernels/softmax.js";
import type { Parameter } from "../parameter.js";
import { dtypeOf, sameShape, sizeOf, type Tensor, zerosLike } from "../tensor.js";

/** Softmax over the last axis of x (any rank >= 1), as a new tensor of x's dtype. */
export function softmax(x: Tensor): Tensor {
  const classes = x.shape[x.shape.length - 1];
  const y = zerosLike(x);
  softmaxRows(x.data, y.data, classes, new Float64Array(classes));
  return y;
}

/** How `t` encodes the labels: one-hot rows (any weights), or one class index per row. */
export type LabelKind = "oneHot" | "indices";

/**
 * `t` with the scores' shape [N, C] is one-hot; shape [N] holds class indices. Anything else is a
 * ShapeError on "t".
 */
export function labelKind(scores: readonly number[], t: readonly number[]): LabelKind {
  if (sameShape(scores, t)) return "oneHot";
  if (t.length === 1 && t[0] === scores[0]) return "indices";
  throw new ShapeError(
    "t must be one-hot with the scores' shape, or class indices of shape [N]",
    null,
    scores,
    t,
    "t",
  );
}

/** Class indices must be integers in [0, classes); one-hot rows, distributions. */
export function checkLabelValues(t: Tensor, kind: LabelKind, classes: number): void {
  if (kind === "oneHot") {
    checkDistributions(t, classes);
    return;
  }
  for (let i = 0; i < t.data.length; i++) {
    const label = t.data[i];
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new ShapeError(
        `t[${i}] is ${label}, not a class index in 0..${classes - 1}`,
        null,
        null,
        null,
        "t",
      );
    }
  }
}

/** How far a one-hot row's sum may stray from 1: float32 rounding of soft labels, no more. */
export const ONE_HOT_TOLERANCE = 1e-3;

/**
 * One-hot (or soft) labels are a distribution per row: values in [0, 1] summing to 1. Anything
 * else makes -Σ t·log y meaningless (a negative t gives a negative "loss").
 */
function checkDistributions(t: Tensor, classes: number): void {
  const rows = t.data.length / classes;
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let k = r * classes; k < (r + 1) * classes; k++) {
      const v = t.data[k];
      if (!(v >= 0 && v <= 1)) {
        throw new ShapeError(
          `one-hot t holds ${v} at row ${r}, class ${k - r * classes}; one-hot values lie in [0, 1]`,
          null,
          null,
          null,
          "t",
        );
      }
      sum += v;
    }
    if (Math.abs(sum - 1) > ONE_HOT_TOLERANCE) {
      throw new ShapeError(
        `one-hot t's row ${r} sums to ${sum}; each row must sum to 1 (one class, or soft labels)`,
        null,
        null,
        null,
        "t",
      );
    }
  }
}

/**
 * Softmax followed by the cross-entropy error (book, ch. 5.6.3). `forward` gives the
 * probabilities y, `loss(t)` the batch mean of -Σ t·log(y + 1e-7) (that is -log(y[t] + 1e-7) for
 * indices), `backward(dout)` is dout·(y - t)/N. Buffers: as for Layer; `t` is kept by reference
 * until the next forward.
 */
export class SoftmaxWithLoss {
  readonly type = "softmaxWithLoss";
  readonly params: readonly Parameter[] = [];
  /** Softmax of the last forward's scores. */
  private y: Tensor | null = null;
  /** Labels of the last loss, with their kind. */
  private t: Tensor | null = null;
  private kind: LabelKind = "oneHot";
  private dx: Tensor | null = null;
  /** True when dx already holds the gradient for dout = 1 (lossWithGradient computed it). */
  private dxForUnitDout = false;
  /** One row of exponentials in float64, so float32 outputs are rounded once. */
  private exps = new Float64Array(0);

  constructor(private readonly backend: Backend) {}

  /** Scores are [N, C]; the probabilities have the same shape. */
  outputShape(inputShape: readonly number[], index?: number): number[] {
    if (inputShape.length !== 2) {
      throw new ShapeError(
        "softmaxWithLoss takes scores [N, classes]",
        index ?? null,
        [inputShape[0] ?? 1, sizeOf(inputShape.slice(1))],
        inputShape,
        "x",
      );
    }
    return [...inputShape];
  }

  forward(x: Tensor): Tensor {
    const [, classes] = this.outputShape(x.shape);
    this.y = this.backend.reuse(this.y, x.shape, dtypeOf(x.data));
    this.t = null;
    this.dxForUnitDout = false;
    if (this.exps.length < classes) this.exps = new Float64Array(classes);
    softmaxRows(x.data, this.y.data, classes, this.exps);
    return this.y;
  }

  // L = -(1/N) Σ_i Σ_j t_ij · log(y_ij + δ)
  loss(t: Tensor): number {
    if (this.y === null) throw new Error("softmaxWithLoss: loss called before forward");
    const [n, classes] = this.y.shape;
    const kind = labelKind(this.y.shape, t.shape);
    checkLabelValues(t, kind, classes);
    this.t = t;
    this.kind = kind;
    this.dxForUnitDout = false;
    const y = this.y.data;
    const ts = t.data;
    let sum = 0;
    if (kind === "indices") {
      for (let i = 0; i < n; i++) sum += Math.log(y[i * classes + ts[i]] + DELTA);
    } else {
      for (let k = 0; k < y.length; k++) if (ts[k] !== 0) sum += ts[k] * Math.log(y[k] + DELTA);
    }
    return -sum / n;
  }

  /**
   * forward(x), then loss(t) with t given as class indices [N], and the dx of backward(1), in
   * one pass (ArrayOps.softmaxCrossEntropy): what a training step needs, without going over the
   * scores three times. t's values must have been checked (checkLabelValues).
   */
  lossWithGradient(x: Tensor, t: Tensor): number {
    const [n, classes] = this.outputShape(x.shape);
    if (!sameShape(t.shape, [n])) {
      throw new ShapeError("t must hold one class index per row", null, [n], t.shape, "t");
    }
    const dtype = dtypeOf(x.data);
    this.y = this.backend.reuse(this.y, x.shape, dtype);
    this.dx = this.backend.reuse(this.dx, x.shape, dtype);
    this.t = t;
    this.kind = "indices";
    const loss = this.backend.ops.softmaxCrossEntropy(
      x.data,
      t.data,
      this.y.data,
      this.dx.data,
      n,
      classes,
    );
    this.dxForUnitDout = true;
    return loss;
  }

  /** The probabilities of the last forward (or lossWithGradient); valid until the next one. */
  get probabilities(): Tensor | null {
    return this.y;
  }

  // dx = dout · (y - t) / N
  backward(dout = 1): Tensor {
    if (this.y === null || this.t === null) {
      throw new Error("softmaxWithLoss: backward needs forward and loss(t) first");
    }
    if (dout === 1 && this.dxForUnitDout) return this.dx!;
    const [n, classes] = this.y.shape;
    this.dx = this.backend.reuse(this.dx, this.y.shape, dtypeOf(this.y.data));
    this.dxForUnitDout = false;
    const scale = dout / n;
    const y = this.y.data;
    const ts = this.t.data;
    const dx = this.dx.data;
    if (this.kind === "indices") {
      for (let k = 0; k < y.length; k++) dx[k] = scale * y[k];
      for (let i = 0; i < n; i++) dx[i * classes + ts[i]] = scale * (y[i * classes + ts[i]] - 1);
    } else {
      for (let k = 0; k < y.length; k++) dx[k] = scale * (y[k] - ts[k]);
    }
    return this.dx;
  }
}
