import { type DType, sizeOf, type Tensor } from "./tensor.js";

/**
 * A layer as a list describes it (ConvNetJS's plain layer definitions; openapi.yaml, "LayerSpec"),
 * over the form its tensors take where it is: core tensors by default, the wire's tensors in a
 * request, base64 on the way to a worker, shapes alone in a model summary.
 */
export type LayerSpec<T = Tensor> =
  | { readonly type: "relu" }
  | { readonly type: "sigmoid" }
  | { readonly type: "softmaxWithLoss" }
  | { readonly type: "affine"; readonly W: T; readonly b: T };

export type LayerType = LayerSpec["type"];

/** What a working set depends on: the layers' shapes. */
export type LayerShape = LayerSpec<{ readonly shape: readonly number[] }>;

/** The same layers with each affine's W and b passed through `f`. */
export function mapLayerTensors<A, B>(
  layers: readonly LayerSpec<A>[],
  f: (tensor: A, path: string) => B,
): LayerSpec<B>[] {
  return layers.map((layer, i) =>
    layer.type === "affine"
      ? { type: "affine", W: f(layer.W, `layers[${i}].W`), b: f(layer.b, `layers[${i}].b`) }
      : layer,
  );
}

/** Parameters of the layers: every value of every W and b. */
export function parameterCount(layers: readonly LayerShape[]): number {
  let count = 0;
  for (const layer of layers) {
    if (layer.type === "affine") count += sizeOf(layer.W.shape) + sizeOf(layer.b.shape);
  }
  return count;
}

export interface Pass {
  /** Samples per pass. */
  rows: number;
  /** Features per sample (x flattened, as Affine does). */
  inputs: number;
}

export interface WorkingSetOptions {
  /** Arrays an optimizer keeps per parameter (training). */
  optimizerSlots?: number;
  /**
   * Buffers a pass's rows are copied into first (a trainer's two minibatches, an evaluation's
   * chunk), with one of labels beside them.
   */
  rowBuffers?: number;
}

/** Start of every arena allocation (Arena's ALIGN): what each allocation may waste at most. */
const ALIGN = 64;

/**
 * The most bytes a network built from `layers` allocates on an arena backend for passes of
 * `pass`: its parameters and their gradients (and optimizer slots); per pass the local copy of x
 * (and of dout), each layer's output and input gradient; and, when asked, the row buffers. Exact
 * up to alignment, which is counted per allocation, so the arena is reserved once and never full.
 */
export function workingSetBytes(
  layers: readonly LayerShape[],
  dtype: DType,
  { rows, inputs }: Pass,
  { optimizerSlots = 0, rowBuffers = 0 }: WorkingSetOptions = {},
): number {
  let values = rows * inputs; // x as the network reads it
  let allocations = 1;
  let width = inputs;
  for (const layer of layers) {
    if (layer.type === "affine") {
      const parameters = sizeOf(layer.W.shape) + sizeOf(layer.b.shape);
      values += parameters * (2 + optimizerSlots);
      allocations += 2 * (2 + optimizerSlots);
      values += rows * width; // dx
      width = layer.W.shape[1];
      values += rows * width; // out
    } else {
      values += 2 * rows * width; // out (y) and dx
    }
    allocations += 2;
  }
  values += rows * width; // dout as the network reads it
  allocations += 1;
  if (rowBuffers > 0) {
    values += rowBuffers * rows * inputs + rows;
    allocations += rowBuffers + 1;
  }
  return values * (dtype === "float32" ? 4 : 8) + allocations * ALIGN;
}
