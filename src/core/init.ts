/**
 * Initial parameters of a multi-layer net, as the book's MultiLayerNet.__init_weight (ch. 6.2):
 * W ~ N(0, std²) with std from the fan-in, b = 0.
 */

import type { LayerSpec } from "./layer-spec.js";
import type { Rng } from "./rng.js";
import { type DType, zeros } from "./tensor.js";

/** "he": std √(2/fan_in) (for ReLU); "xavier": √(1/fan_in) (for sigmoid); a number: the std. */
export type WeightInit = "he" | "xavier" | number;

export interface Architecture {
  inputSize: number;
  hiddenSizes: readonly number[];
  outputSize: number;
  activation: "relu" | "sigmoid";
  weightInit: WeightInit;
}

export function initStd(weightInit: WeightInit, fanIn: number): number {
  if (weightInit === "he") return Math.sqrt(2 / fanIn);
  if (weightInit === "xavier") return Math.sqrt(1 / fanIn);
  if (!Number.isFinite(weightInit) || weightInit < 0) {
    throw new RangeError(`weightInit std must be a finite number ≥ 0, got ${weightInit}`);
  }
  return weightInit;
}

/**
 * affine, activation, …, affine, softmaxWithLoss. Draws go layer by layer, W row-major, each
 * std·normal() computed in float64 and rounded once into `dtype`: the same seed gives the same bits.
 */
export function initLayers(arch: Architecture, dtype: DType, rng: Rng): LayerSpec[] {
  const sizes = [arch.inputSize, ...arch.hiddenSizes, arch.outputSize];
  for (const size of sizes) {
    if (!Number.isSafeInteger(size) || size < 1) {
      throw new RangeError(`layer sizes must be positive integers, got ${size}`);
    }
  }
  const layers: LayerSpec[] = [];
  for (let i = 1; i < sizes.length; i++) {
    const fanIn = sizes[i - 1];
    const std = initStd(arch.weightInit, fanIn);
    const W = zeros([fanIn, sizes[i]], dtype);
    for (let j = 0; j < W.data.length; j++) W.data[j] = std * rng.normal();
    layers.push({ type: "affine", W, b: zeros([sizes[i]], dtype) });
    layers.push(i < sizes.length - 1 ? { type: arch.activation } : { type: "softmaxWithLoss" });
  }
  return layers;
}
