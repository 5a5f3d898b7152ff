import type { FastifyRequest } from "fastify";
import { notFound } from "../../http/problem.js";
import { inputOutputSizes } from "../../models/summary.js";
import type { ModelRepository, ModelSummaryRecord } from "../../store/repository.js";

/** Most versions a model's metadata lists. */
const MAX_VERSIONS = 100;

export interface ModelRef {
  model: string;
  version?: string;
}

/**
 * The model a /v2 URL names: `{model}` is a model id or a name (the tenant's newest model of that
 * name); `{version}`, when given, is the id of a model of that name (or `{model}`'s own id).
 */
export async function resolveModel(
  models: ModelRepository,
  { model, version }: ModelRef,
  tenant: string | null,
): Promise<ModelSummaryRecord> {
  const byId = await models.getSummary(model, tenant);
  const name = byId ? byId.name : model;
  const missing = () =>
    notFound("model", version === undefined ? model : `${model} version ${version}`);
  if (version !== undefined) {
    const chosen = await models.getSummary(version, tenant);
    if (!chosen || !(chosen.id === model || (name !== null && chosen.name === name))) {
      throw missing();
    }
    return chosen;
  }
  if (byId) return byId;
  const newest = (await models.idsByName(model, tenant, 1))[0];
  const found = newest === undefined ? undefined : await models.getSummary(newest, tenant);
  if (!found) throw missing();
  return found;
}

export const modelRef = (request: FastifyRequest): ModelRef => request.params as ModelRef;

const DATATYPE = { float32: "FP32", float64: "FP64" } as const;

/** The model's metadata: one input `x`, outputs `probabilities` and `labels`. */
export async function modelMetadata(models: ModelRepository, model: ModelSummaryRecord) {
  const sizes = inputOutputSizes(model.layers);
  const versions =
    model.name === null
      ? [model.id]
      : await models.idsByName(model.name, model.tenant, MAX_VERSIONS);
  return {
    name: model.name ?? model.id,
    versions,
    platform: "backprop_native",
    inputs: [{ name: "x", datatype: DATATYPE[model.dtype], shape: [-1, sizes?.inputSize ?? -1] }],
    outputs: [
      {
        name: "probabilities",
        datatype: DATATYPE[model.dtype],
        shape: [-1, sizes?.outputSize ?? -1],
      },
      { name: "labels", datatype: "INT64" as const, shape: [-1] },
    ],
  };
}

export const modelDatatype = (model: ModelSummaryRecord) => DATATYPE[model.dtype];
