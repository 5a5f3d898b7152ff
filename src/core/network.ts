import type { Backend } from "./backend.js";
import { NonFiniteError, ShapeError } from "./errors.js";
import type { LayerSpec } from "./layer-spec.js";
import { Affine, checkAffineParams } from "./layers/affine.js";
import type { Layer } from "./layers/layer.js";
import { Relu } from "./layers/relu.js";
import { Sigmoid } from "./layers/sigmoid.js";
import {
  checkLabelValues,
  type LabelKind,
  labelKind,
  SoftmaxWithLoss,
} from "./layers/softmax-with-loss.js";
import type { Parameter } from "./parameter.js";
import {
  clone,
  type DType,
  reshape,
  sameShape,
  shapeToString,
  sizeOf,
  type Tensor,
} from "./tensor.js";

export type AnyLayer = Layer | SoftmaxWithLoss;

export interface BackwardOptions {
  /** Gradient of the output, for a network without a loss layer; shaped like the output. */
  readonly dout?: Tensor;
  /** Gradient of the loss, for a network ending in softmaxWithLoss; default 1. */
  readonly dloss?: number;
  /** false skips the first layer's dx (for an affine first layer, the dout·Wᵀ product). */
  readonly needDx: boolean;
}

/** The shapes a pass will see, worked out before any arithmetic. */
interface Plan {
  /** The output's shape as returned (without the batch axis for a 1-D x). */
  readonly outShape: number[];
  /** The output's shape inside the network, where a 1-D x is a batch of one. */
  readonly batchShape: number[];
  /** How t encodes the labels, when t is given. */
  readonly labels: LabelKind | null;
}

/** How forward and loss give their output. */
export interface OutputOptions {
  /** The network's own buffer instead of a copy: valid until the network's next pass. */
  view?: boolean;
}

/** What the last forward pass saw, for backward. */
interface Pass {
  /** x's shape as given. */
  readonly xShape: readonly number[];
  /** The output's shape as returned (without the batch axis for a 1-D x). */
  readonly outShape: readonly number[];
  /** True once loss(x, t) has cached the labels. */
  readonly hasLabels: boolean;
}

/**
 * A stack of layers built from specs, as in ConvNetJS: a plain list in, `parameters()` out for the
 * optimizers. All arithmetic runs in one dtype. A 1-D x is one sample: it runs as a batch of one,
 * and the output and dx drop that axis again.
 *
 * Everything returned (outputs, dx) is a fresh copy the caller may keep. Intermediate buffers are
 * the layers' and reused across calls. The caller must not change x or t between a forward/loss
 * and the backward that follows. Parameter gradients are overwritten by each backward.
 */
export class Network {
  readonly hasLoss: boolean;
  private pass: Pass | null = null;

  private constructor(
    readonly layers: readonly AnyLayer[],
    readonly dtype: DType,
    /** Where every layer computes and allocates. */
    readonly backend: Backend,
  ) {
    this.hasLoss = layers[layers.length - 1].type === "softmaxWithLoss";
  }

  /**
   * Validates the specs and builds the layers on `backend`; W and b are copied into `dtype`, or,
   * with `adopt`, taken as they are when already in `dtype` where the backend reads them (the
   * caller gives them up: the network may change them, as training and gradient checks do).
   */
  static fromSpecs(
    specs: readonly LayerSpec[],
    dtype: DType,
    backend: Backend,
    { adopt = false }: { adopt?: boolean } = {},
  ): Network {
    const own = (t: Tensor) =>
      adopt ? backend.local(t, dtype) : backend.fromValues(t.shape, t.data, dtype);
    if (specs.length === 0) {
      throw new ShapeError("a network needs at least one layer", null, null, null, "layers");
    }
    /** Columns of the last affine so far: the feature count the next affine must take. */
    let features: number | null = null;
    const layers = specs.map((spec, i): AnyLayer => {
      switch (spec.type) {
        case "relu":
          return new Relu(backend);
        case "sigmoid":
          return new Sigmoid(backend);
        case "softmaxWithLoss":
          if (i !== specs.length - 1) {
            throw new ShapeError(
              "softmaxWithLoss can only be the last layer",
              i,
              null,
              null,
              `layers[${i}]`,
            );
          }
          return new SoftmaxWithLoss(backend);
        case "affine": {
          checkAffineParams(spec.W.shape, spec.b.shape, i);
          const [inputs, outputs] = spec.W.shape;
          if (features !== null && inputs !== features) {
            throw new ShapeError(
              `affine W has ${inputs} rows but the previous affine gives ${features} features`,
              i,
              [features, outputs],
              spec.W.shape,
              `layers[${i}].W`,
            );
          }
          features = outputs;
          return new Affine(backend, own(spec.W), own(spec.b));
        }
        default:
          throw new ShapeError(
            `unknown layer type ${JSON.stringify((spec as { type: unknown }).type)}`,
            i,
            null,
            null,
            `layers[${i}].type`,
          );
      }
    });
    return new Network(layers, dtype, backend);
  }

  /** W then b of each affine layer, in layer order. */
  parameters(): Parameter[] {
    return this.layers.flatMap((layer) => layer.params);
  }

  /** The layers as specs, W and b copied: what fromSpecs takes back (a snapshot of a model). */
  specs(): LayerSpec[] {
    return this.layers.map((layer): LayerSpec => {
      if (layer.type !== "affine") return { type: layer.type };
      const [W, b] = layer.params;
      return { type: "affine", W: clone(W.value), b: clone(b.value) };
    });
  }

  /**
   * The output shape for x (and t) of these shapes, or the ShapeError a forward pass would meet,
   * found before any arithmetic. t is checked against the scores: one-hot of the same shape, or
   * class indices [N] (for a 1-D x: [classes] one-hot or [1] index).
   */
  checkShapes(xShape: readonly number[], tShape?: readonly number[]): number[] {
    return this.plan(xShape, tShape).outShape;
  }

  /**
   * The scores, or the probabilities when the last layer is softmaxWithLoss: a copy, or with
   * `view` the network's own buffer, valid until its next pass (for a caller that reads it at
   * once, as a worker encoding the answer does).
   */
  forward(x: Tensor, { view = false }: OutputOptions = {}): Tensor {
    const { outShape } = this.plan(x.shape);
    checkData(x, "x");
    const out = this.run(x);
    this.pass = { xShape: x.shape, outShape, hasLabels: false };
    return { shape: outShape, data: view ? out.data : out.data.slice() };
  }

  /** Probabilities and the loss against labels t; needs a final softmaxWithLoss. */
  loss(x: Tensor, t: Tensor, { view = false }: OutputOptions = {}): { out: Tensor; loss: number } {
    const { y, loss, outShape } = this.lossPass(x, t);
    return { out: { shape: outShape, data: view ? y.data : y.data.slice() }, loss };
  }

  /** The loss alone, as `loss` computes it but without copying the probabilities out (training). */
  lossValue(x: Tensor, t: Tensor): number {
    return this.lossPass(x, t).loss;
  }

  private lossPass(x: Tensor, t: Tensor): { y: Tensor; loss: number; outShape: number[] } {
    const { outShape, batchShape, labels } = this.plan(x.shape, t.shape);
    checkData(x, "x");
    checkData(t, "t");
    checkLabelValues(t, labels!, batchShape[1]);
    const last = this.layers.length - 1;
    const lossLayer = this.layers[last] as SoftmaxWithLoss;
    let y: Tensor;
    let loss: number;
    if (labels === "indices") {
      // Softmax, loss and the gradient of dloss = 1 in one op over the scores.
      loss = lossLayer.lossWithGradient(this.run(x, last), this.backend.local(t, this.dtype));
      y = lossLayer.probabilities!;
      this.checkFinite(y, last, "forward");
    } else {
      y = this.run(x);
      loss = lossLayer.loss(reshape(t, batchShape));
    }
    if (!Number.isFinite(loss)) {
      throw new NonFiniteError(this.layers.length - 1, lossLayer.type, "loss");
    }
    this.pass = { xShape: x.shape, outShape, hasLabels: true };
    return { y, loss, outShape };
  }

  /**
   * Backpropagates the last forward/loss: from dloss (default 1) for a loss network, from dout
   * otherwise. Overwrites every parameter gradient; returns dx shaped like x, or null when
   * `needDx` is false (the first layer's dx is then never computed).
   */
  backward({ dout, dloss, needDx }: BackwardOptions): Tensor | null {
    const pass = this.pass;
    if (pass === null) throw new Error("backward needs a forward pass first");
    const last = this.layers.length - 1;
    let grad: Tensor | null;
    let i = last;
    if (this.hasLoss) {
      if (dout !== undefined) {
        throw new ShapeError(
          "a network ending in softmaxWithLoss starts backward from the scalar dloss, not dout",
          null,
          null,
          null,
          "dout",
        );
      }
      if (!pass.hasLabels) throw new Error("backward of a loss network needs loss(x, t) first");
      if (last === 0 && !needDx) return null;
      const lossLayer = this.layers[last] as SoftmaxWithLoss;
      grad = lossLayer.backward(dloss ?? 1);
      this.checkFinite(grad, last, "backward");
      i--;
    } else {
      if (dout === undefined || !sameShape(dout.shape, pass.outShape)) {
        throw new ShapeError(
          dout === undefined ? "dout is required" : "dout must have the output's shape",
          null,
          pass.outShape,
          dout?.shape ?? null,
          "dout",
        );
      }
      checkData(dout, "dout");
      const d = this.backend.local(dout, this.dtype);
      grad = pass.xShape.length === 1 ? reshape(d, [1, ...pass.outShape]) : d;
    }
    for (; i >= 0 && grad !== null; i--) {
      const layer = this.layers[i] as Layer;
      grad = layer.backward(grad, i > 0 || needDx);
      for (const p of layer.params) this.checkFinite(p.grad, i, "backward");
      if (grad !== null) this.checkFinite(grad, i, "backward");
    }
    if (!needDx || grad === null) return null;
    return { shape: [...pass.xShape], data: grad.data.slice() };
  }

  /**
   * Runs the layers before `end` (all by default) on x (cast to the network's dtype, a 1-D x as
   * [1, D]); shapes checked.
   */
  private run(x: Tensor, end = this.layers.length): Tensor {
    this.pass = null;
    let h = this.backend.local(x, this.dtype);
    if (h.shape.length === 1) h = reshape(h, [1, h.shape[0]]);
    for (let i = 0; i < end; i++) {
      h = this.layers[i].forward(h);
      this.checkFinite(h, i, "forward");
    }
    return h;
  }

  private plan(xShape: readonly number[], tShape?: readonly number[]): Plan {
    if (xShape.length === 0 || xShape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new ShapeError(
        `x must have at least one axis and no empty axis, got ${shapeToString(xShape)}`,
        null,
        null,
        null,
        "x",
      );
    }
    const single = xShape.length === 1;
    let batchShape = single ? [1, xShape[0]] : [...xShape];
    let affineSeen = false;
    this.layers.forEach((layer, i) => {
      try {
        batchShape = layer.outputShape(batchShape, i);
      } catch (error) {
        // Before the first affine every layer keeps x's width: a misfit there is x's, not W's.
        if (!(error instanceof ShapeError) || affineSeen) throw error;
        const { detail, layer: at, expected, actual } = error;
        throw new ShapeError(`x does not fit: ${detail}`, at, expected, actual, "x");
      }
      if (layer.type === "affine") affineSeen = true;
    });
    const outShape = single ? batchShape.slice(1) : batchShape;
    if (tShape === undefined) return { outShape, batchShape, labels: null };
    if (!this.hasLoss) {
      throw new ShapeError(
        "t is given but the network has no softmaxWithLoss layer",
        null,
        null,
        null,
        "t",
      );
    }
    if (!single) return { outShape, batchShape, labels: labelKind(batchShape, tShape) };
    // A 1-D x gives 1-D scores: t is then one-hot [classes] or one index [1].
    if (sameShape(tShape, outShape)) return { outShape, batchShape, labels: "oneHot" };
    if (sameShape(tShape, [1])) return { outShape, batchShape, labels: "indices" };
    throw new ShapeError(
      "for a 1-D x, t must be one-hot with the scores' shape, or one class index of shape [1]",
      null,
      outShape,
      tShape,
      "t",
    );
  }

  private checkFinite(t: Tensor, layer: number, phase: "forward" | "backward"): void {
    if (this.backend.ops.firstNonFinite(t.data) !== -1) {
      throw new NonFiniteError(layer, this.layers[layer].type, phase);
    }
  }
}

/** The data must fill the shape exactly. */
function checkData(t: Tensor, path: string): void {
  if (t.data.length !== sizeOf(t.shape)) {
    throw new ShapeError(
      `${path} has ${t.data.length} values for shape ${shapeToString(t.shape)}`,
      null,
      null,
      null,
      path,
    );
  }
}
