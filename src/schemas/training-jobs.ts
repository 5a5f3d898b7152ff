import { z } from "zod";
import type { Config } from "../config.js";
import { KERNEL_PATHS } from "../core/backend.js";
import { createModelBody, DatasetRef, IdParams, PageQuery } from "./models.js";
import { pageOf } from "./page.js";
import { tensorIn } from "./tensor.js";

export { IdParams, PageQuery };

const unit = z.number().min(0).lt(1);

const lr = z.number().positive().optional();
const optimizer = <T extends string, S extends z.ZodRawShape>(
  type: T,
  description: string,
  shape: S,
) => z.strictObject({ type: z.literal(type), lr, ...shape }).meta({ description });

/** One object per optimizer, each with only the hyperparameters it reads. */
export const OptimizerSchema = z.discriminatedUnion("type", [
  optimizer("sgd", "SGD: W -= lr·g (lr 0.01)", {}),
  optimizer("momentum", "Momentum (lr 0.01, momentum 0.9)", { momentum: unit.optional() }),
  optimizer("nesterov", "Nesterov, as the book writes it (lr 0.01, momentum 0.9)", {
    momentum: unit.optional(),
  }),
  optimizer("adagrad", "AdaGrad (lr 0.01, eps 1e-7)", {}),
  optimizer("rmsprop", "RMSprop (lr 0.01, decay 0.99, eps 1e-7)", { decay: unit.optional() }),
  optimizer("adam", "Adam with the book's bias correction (lr 0.001, beta1 0.9, beta2 0.999)", {
    beta1: unit.optional(),
    beta2: unit.optional(),
  }),
]);

export function trainingJobBody(config: Config) {
  const { limits, training } = config;
  const data = z.union(
    [
      z.strictObject({ dataset: DatasetRef }),
      z.strictObject({ x: tensorIn(limits), t: tensorIn(limits) }),
    ],
    { error: "expected {dataset: {name, split, limit?}} or {x, t}" },
  );
  return z
    .strictObject({
      modelId: z.string().min(1).max(100).optional(),
      model: createModelBody(limits)
        .optional()
        .meta({ description: "A POST /v1/models body, instead of modelId" }),
      data,
      validation: data.optional(),
      optimizer: OptimizerSchema.default({ type: "sgd" }),
      batchSize: z.int().min(1).max(training.maxBatchSize).default(100),
      iterations: z.int().min(1).max(training.maxIterations).optional(),
      epochs: z.number().positive().optional(),
      weightDecay: z.number().min(0).default(0),
      evaluateEvery: z.int().min(1).default(600),
      trainEvaluationSamples: z.int().min(1).default(10_000).meta({
        description: "Train accuracy is measured on the first this many training samples",
      }),
      seed: z
        .int()
        .min(0)
        .max(2 ** 32 - 1)
        .default(0),
    })
    .superRefine((body, ctx) => {
      if ((body.modelId === undefined) === (body.model === undefined)) {
        ctx.addIssue({
          code: "custom",
          path: ["modelId"],
          message: "give exactly one of modelId and model",
        });
      }
      if ((body.iterations === undefined) === (body.epochs === undefined)) {
        ctx.addIssue({
          code: "custom",
          path: ["iterations"],
          message: "give exactly one of iterations and epochs",
        });
      }
      for (const key of ["data", "validation"] as const) {
        const ref = body[key];
        if (ref && "dataset" in ref && (ref.dataset.limit ?? 0) > training.maxDatasetSamples) {
          ctx.addIssue({
            code: "custom",
            path: [key, "dataset", "limit"],
            message: `must be at most ${training.maxDatasetSamples}`,
          });
        }
      }
    });
}

const HistoryEntry = z
  .object({
    iteration: z.int(),
    loss: z.number().meta({ description: "The minibatch loss of this iteration" }),
    trainLoss: z.number().optional().meta({
      description: "Mean loss over the train sample (the first trainEvaluationSamples)",
    }),
    trainAccuracy: z.number().optional(),
    validationLoss: z
      .number()
      .optional()
      .meta({ description: "Mean loss over the validation data" }),
    validationAccuracy: z.number().optional(),
  })
  .meta({ id: "HistoryEntry" });

export const JobSchema = z
  .object({
    id: z.string(),
    status: z.enum(["queued", "running", "succeeded", "failed", "cancelled"]),
    progress: z.object({
      iteration: z.int(),
      iterations: z.int(),
      epoch: z.number(),
      fraction: z.number(),
    }),
    loss: z.number().nullable(),
    history: z.array(HistoryEntry),
    modelId: z.string(),
    resultModelId: z.string().optional(),
    error: z.unknown().optional(),
    createdAt: z.string(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
    samplesPerSecond: z.number().optional(),
    kernels: z.array(z.enum(KERNEL_PATHS)).meta({
      description:
        "The kernel paths that computed the job, in order; empty until it starts. More than one: it was resumed on other kernels, so its bits differ from an uninterrupted run on one path",
    }),
  })
  .meta({ id: "TrainingJob" });

export const EventsHeaders = z.object({
  "last-event-id": z
    .string()
    .max(40)
    .optional()
    .meta({ description: "The id of the last event received, to resume after it" }),
});

export const EventStream = z.string().meta({
  description:
    "`id: <n>`, `event: <name>` and `data: <JSON>` lines, events separated by a blank line",
});

export const JobPage = pageOf(JobSchema);
