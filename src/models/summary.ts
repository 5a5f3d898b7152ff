import type { LayerShape, LayerSpec } from "../core/layer-spec.js";
import type { ModelSummaryRecord } from "../store/repository.js";

type Summarisable = Omit<ModelSummaryRecord, "layers"> & { layers: readonly LayerShape[] };

/** A model as callers see it in lists and GETs: no numbers, but every shape and its origin. */
export function modelSummary(model: Summarisable) {
  const sizes = inputOutputSizes(model.layers);
  return {
    id: model.id,
    name: model.name,
    dtype: model.dtype,
    layers: model.layers.map(layerSummary),
    inputSize: sizes?.inputSize ?? null,
    outputSize: sizes?.outputSize ?? null,
    parameterCount: model.parameterCount,
    origin: model.origin as { kind: "architecture" | "layers" | "training" },
    createdAt: model.createdAt,
    updatedAt: model.updatedAt,
  };
}

function layerSummary(layer: LayerShape): LayerSpec<{ shape: number[] }> {
  return layer.type === "affine"
    ? { type: "affine", W: { shape: [...layer.W.shape] }, b: { shape: [...layer.b.shape] } }
    : { type: layer.type };
}

/** Inputs of the first affine layer and outputs of the last; null without affine layers. */
export function inputOutputSizes(layers: readonly LayerShape[]) {
  const weights = layers.flatMap((l) => (l.type === "affine" ? [l.W.shape] : []));
  if (weights.length === 0) return null;
  return { inputSize: weights[0][0], outputSize: weights[weights.length - 1][1] };
}
