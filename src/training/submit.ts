/**
 * Submitting a training job: the request is checked against its model and data, normalised
 * (defaults resolved, iterations counted), stored once with its inline tensors as bytes, and
 * handed to the queue. Nothing here computes; a model given inline is built by `createLayers`.
 */
import { randomUUID } from "node:crypto";
import type { Config } from "../config.js";
import { ShapeError } from "../core/errors.js";
import type { LayerSpec } from "../core/layer-spec.js";
import { checkLabelValues } from "../core/layers/softmax-with-loss.js";
import { type OptimizerConfig, resolveOptimizerConfig } from "../core/optimizers/index.js";
import type { Tensor } from "../core/tensor.js";
import { listDatasets } from "../datasets/catalog.js";
import { notFound, ProblemError } from "../http/problem.js";
import { inputOutputSizes } from "../models/summary.js";
import {
  type JobRecord,
  type ModelRecord,
  type NewModel,
  PendingLimitError,
  type Store,
} from "../store/repository.js";
import type { DataRef, JobSpec, StoredTensor } from "./job-spec.js";
import type { TrainingService } from "./training-service.js";

/** A request that cannot work with its model or data; `path` names the field. */
export class SubmissionError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** A job request with its tensors decoded: what the route hands over after validation. */
export interface JobRequest {
  modelId?: string;
  /** A model to create first (POST /v1/models's body); its layers come from `createLayers`. */
  model?: Pick<NewModel, "dtype" | "origin"> & { name?: string };
  data: DataRef;
  validation?: DataRef;
  optimizer: OptimizerConfig;
  batchSize: number;
  iterations?: number;
  epochs?: number;
  weightDecay: number;
  evaluateEvery: number;
  trainEvaluationSamples: number;
  seed: number;
}

export interface Submission {
  store: Store;
  training: TrainingService;
  config: Config;
  /** Builds the layers of an inline model (in the compute pool). */
  createLayers(): Promise<LayerSpec[]>;
}

/** Stores the job (and its inline model) and queues it; the job as stored. */
export async function submitJob(
  { store, training, config, createLayers }: Submission,
  tenant: string | null,
  request: JobRequest,
): Promise<JobRecord> {
  let model: ModelRecord | undefined;
  if (request.modelId !== undefined) {
    model = await store.models.get(request.modelId, tenant);
    if (!model) throw notFound("model", request.modelId);
  }
  const layers = model?.layers ?? (await createLayers());
  const sizes = inputOutputSizes(layers);
  if (sizes === null || layers[layers.length - 1].type !== "softmaxWithLoss") {
    throw new SubmissionError(
      request.modelId ? "modelId" : "model",
      "training needs affine layers and a final softmaxWithLoss",
    );
  }
  const train = describeData(request.data, "data", sizes);
  if (request.validation) describeData(request.validation, "validation", sizes);
  if (request.batchSize > train.count) {
    // A batch drawn from fewer samples than its size would repeat samples within one step.
    throw new SubmissionError(
      "batchSize",
      `is ${request.batchSize} but the training data holds ${train.count} samples; batchSize must be at most ${train.count}`,
    );
  }
  const iterations =
    request.iterations ?? Math.ceil(request.epochs! * Math.max(train.count / request.batchSize, 1));
  if (iterations > config.training.maxIterations) {
    throw new SubmissionError(
      "epochs",
      `amount to ${iterations} iterations, over the limit of ${config.training.maxIterations}`,
    );
  }
  // An inline model is stored with the job, in its transaction: a job refused by the cap
  // leaves no model behind.
  let newModel: NewModel | undefined;
  if (!model) {
    const { name, dtype, origin } = request.model!;
    newModel = { id: randomUUID(), tenant, name: name ?? null, dtype, layers, origin };
  }
  const tensors = new Map<string, Tensor>();
  const spec: JobSpec = {
    optimizer: resolveOptimizerConfig(request.optimizer),
    batchSize: request.batchSize,
    iterations,
    trainSize: train.count,
    weightDecay: request.weightDecay,
    evaluateEvery: request.evaluateEvery,
    trainEvaluationSamples: request.trainEvaluationSamples,
    seed: request.seed,
    data: storedData(request.data, "data", tensors),
    ...(request.validation && {
      validation: storedData(request.validation, "validation", tensors),
    }),
  };
  const maxPending = config.auth.maxPendingJobsPerTenant;
  // Refused before anything is stored when no job could be queued now (Redis is down).
  await training.ready();
  let job: JobRecord;
  try {
    job = await store.jobs.create(
      {
        tenant,
        request: spec,
        modelId: model?.id ?? newModel!.id!,
        progress: { iteration: 0, iterations, epoch: 0, fraction: 0 },
      },
      tensors,
      { maxPending, model: newModel },
    );
  } catch (error) {
    if (!(error instanceof PendingLimitError)) throw error;
    throw new ProblemError(429, "TOO_MANY_JOBS", error.message, undefined, {
      "retry-after": "60",
    });
  }
  try {
    await training.enqueue(job);
  } catch (error) {
    // Stored but never queued (the queue went away in between): it ends here, saying so, rather
    // than start some day after its caller was told 503.
    await training.events.status(job.id, {
      status: "failed",
      error: { message: "the job could not be queued; submit it again" },
      finishedAt: new Date().toISOString(),
    });
    throw error;
  }
  return job;
}

/** The reference as the spec keeps it; inline tensors go to `tensors`, named by their field. */
function storedData(
  ref: DataRef,
  path: string,
  tensors: Map<string, Tensor>,
): DataRef<StoredTensor> {
  if ("dataset" in ref) return { dataset: ref.dataset };
  tensors.set(`${path}.x`, ref.x);
  tensors.set(`${path}.t`, ref.t);
  return { x: { stored: `${path}.x` }, t: { stored: `${path}.t` } };
}

interface Sizes {
  inputSize: number;
  outputSize: number;
}

/** Sample count of a data reference that fits the model's sizes (inline labels checked too). */
export function describeData(ref: DataRef, path: string, sizes: Sizes): { count: number } {
  const classes = sizes.outputSize;
  let count: number;
  let inputSize: number;
  if ("dataset" in ref) {
    const { name, split, limit } = ref.dataset;
    const info = listDatasets().find((d) => d.name === name);
    if (!info) throw new SubmissionError(`${path}.dataset.name`, `unknown dataset "${name}"`);
    if (info.classes !== classes) {
      throw new SubmissionError(
        `${path}.dataset`,
        `${name} has ${info.classes} classes but the model has outputSize ${classes}`,
      );
    }
    const size = info.splits[split as keyof typeof info.splits];
    // A limit past the split is refused, not clamped: the caller asked for samples that are not there.
    if (limit !== undefined && limit > size) {
      throw new SubmissionError(
        `${path}.dataset.limit`,
        `the ${split} split of ${name} has ${size} samples; limit must be at most ${size}`,
      );
    }
    count = limit ?? size;
    inputSize = info.inputSize;
  } else {
    const { x, t } = ref;
    if (x.shape.length < 2) {
      throw new SubmissionError(`${path}.x`, "needs a batch axis: shape [N, inputs...]");
    }
    count = x.shape[0];
    inputSize = x.data.length / count;
    checkLabels(t, count, classes, `${path}.t`);
  }
  if (inputSize !== sizes.inputSize) {
    throw new SubmissionError(
      path,
      `the data has ${inputSize} inputs per sample but the model's inputSize is ${sizes.inputSize}`,
    );
  }
  return { count };
}

function checkLabels(t: Tensor, count: number, classes: number, path: string): void {
  if (t.shape[0] !== count) {
    throw new SubmissionError(path, `holds ${t.shape[0]} labels but x holds ${count} samples`);
  }
  if (t.shape.length === 2) {
    if (t.shape[1] !== classes) {
      throw new SubmissionError(
        path,
        `one-hot labels have ${t.shape[1]} classes but the model has ${classes}`,
      );
    }
    // One-hot training labels must be distributions, as the loss reads them.
    try {
      checkLabelValues(t, "oneHot", t.shape[1]);
    } catch (error) {
      if (error instanceof ShapeError) throw new SubmissionError(path, error.detail);
      throw error;
    }
    return;
  }
  if (t.shape.length !== 1)
    throw new SubmissionError(path, "expected class indices [N] or one-hot [N, classes]");
  const bad = t.data.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= classes);
  if (bad !== -1) {
    throw new SubmissionError(
      `${path}[${bad}]`,
      `label ${t.data[bad]} is not a class index in [0, ${classes})`,
    );
  }
}
