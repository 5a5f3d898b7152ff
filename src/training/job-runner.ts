import { MessageChannel } from "node:worker_threads";
import type { FastifyBaseLogger } from "fastify";
import { Piscina } from "piscina";
import type { Config } from "../config.js";
import type { LabelledData } from "../core/evaluation.js";
import type { LayerSpec } from "../core/layer-spec.js";
import type { DType } from "../core/tensor.js";
import {
  CONTROL,
  type EvaluationReply,
  type TrainingMessage,
  type TrainingResult,
  type TrainingTask,
} from "../pool/training-tasks.js";
import { type FallbackCounts, workerOptions } from "../pool/worker-backend.js";
import { workerUrl } from "../pool/worker-url.js";
import type { JobRecord, ModelRecord, NewModel, Store } from "../store/repository.js";
import type { Checkpoint } from "./checkpoint.js";
import { loadJobData } from "./job-data.js";
import { isFinished, type JobEvents } from "./job-events.js";
import { type JobSpec, progressOf } from "./job-spec.js";
import type { Evaluator } from "./pool-evaluation.js";

export interface RunnerOptions {
  store: Store;
  events: JobEvents;
  config: Config;
  log: FastifyBaseLogger;
  /** Runs the evaluations of jobs on built-in datasets, when given (see evaluateInPool). */
  evaluator?: Evaluator;
  countFallbacks(counts: FallbackCounts | undefined): void;
}

interface Running {
  tenant: string | null;
  control: Int32Array;
}

const now = () => new Date().toISOString();

/**
 * Runs one job at a time per call, each on a training thread of its own, from its last checkpoint
 * when it has one; relays what the thread reports to JobEvents and ends the job in the store.
 */
export class JobRunner {
  private readonly pool: Piscina;
  private readonly running = new Map<string, Running>();

  constructor(private readonly options: RunnerOptions) {
    const { config } = options;
    this.pool = new Piscina({
      filename: workerUrl("training-worker").href,
      minThreads: 0,
      maxThreads: config.training.concurrency,
      idleTimeout: 10_000,
      resourceLimits: { maxOldGenerationSizeMb: config.pool.heapMb },
      workerData: workerOptions(config.pool),
    });
  }

  /** Jobs running here, or of one tenant. */
  active(tenant?: string | null): number {
    if (tenant === undefined) return this.running.size;
    return [...this.running.values()].filter((j) => j.tenant === tenant).length;
  }

  /** Asks a running job to stop at its next iteration and keep what it learned. */
  cancel(jobId: string): void {
    const job = this.running.get(jobId);
    if (job) Atomics.store(job.control, 0, CONTROL.cancel);
  }

  /** Asks every running job to checkpoint and stop; they stay `running`, to resume. */
  stopAll(): void {
    for (const job of this.running.values()) Atomics.store(job.control, 0, CONTROL.stop);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** Runs `job` to its end (or to a stop); a crash of its thread fails the job. */
  async run(job: JobRecord): Promise<void> {
    const control = new Int32Array(new SharedArrayBuffer(4));
    this.running.set(job.id, { tenant: job.tenant, control });
    try {
      await this.attempt(job, control);
    } catch (error) {
      this.options.log.error({ err: error, jobId: job.id }, "training job crashed");
      this.end(job.id, {
        status: "failed",
        error: { message: "the training worker crashed", detail: String(error) },
      });
    } finally {
      this.running.delete(job.id);
    }
  }

  private async attempt(queued: JobRecord, control: Int32Array): Promise<void> {
    const { store, events, config, log } = this.options;
    // The store's word is the last: a cancel answered before a crash holds after it.
    const job = store.jobs.get(queued.id, queued.tenant);
    if (!job || isFinished(job)) return;
    const model = store.models.get(job.modelId, job.tenant);
    if (!model) {
      this.end(job.id, {
        status: "failed",
        error: { message: `starting model ${job.modelId} no longer exists` },
      });
      return;
    }
    const checkpoint = store.jobs.loadCheckpoint(job.id);
    if (job.cancelRequested) {
      this.cancelledAt(job, model, checkpoint);
      return;
    }
    if (job.status === "running") {
      const iteration = checkpoint?.iteration ?? 0;
      log.info({ jobId: job.id, iteration }, "resuming training job");
      if (checkpoint && checkpoint.kernels !== config.pool.kernels) {
        log.warn(
          { jobId: job.id, checkpointed: checkpoint.kernels, kernels: config.pool.kernels },
          "resuming on other kernels than the checkpoint's: the job's bits will differ from an uninterrupted run",
        );
      }
    }
    // The work restarts at the checkpoint, and so does what the job shows: progress and history
    // stored after it (up to a crash) are redone, not kept twice or run backwards.
    store.jobs.truncateHistory(job.id, checkpoint?.iteration ?? 0);
    const started = events.status(job.id, {
      status: "running",
      startedAt: job.startedAt ?? now(),
      progress: progressOf(job.request, checkpoint?.iteration ?? 0),
      loss: checkpoint?.loss ?? null,
    })!;

    const spec = job.request;
    let data: LabelledData;
    let validation: LabelledData | undefined;
    try {
      // A dataset is read on its first use, once per process: the job shows running meanwhile.
      const tensors = store.jobs.loadTensors(job.id);
      data = await loadJobData(spec.data, tensors, config.limits);
      validation = spec.validation && (await loadJobData(spec.validation, tensors, config.limits));
    } catch (error) {
      // The files of a built-in dataset are missing or broken: the installation's problem, whose
      // details (server paths) stay in the log.
      log.error({ err: error, jobId: job.id }, "cannot read a training job's data");
      this.end(job.id, {
        status: "failed",
        error: { message: "the job's dataset could not be read; the server log has the cause" },
      });
      return;
    }
    const result = await this.train(started, model, { data, validation, checkpoint, control });
    this.complete(started, model, result);
  }

  /** The job on a training thread, its messages relayed until the thread's last one. */
  private async train(
    job: JobRecord,
    model: ModelRecord,
    run: {
      data: LabelledData;
      validation?: LabelledData;
      checkpoint?: Checkpoint;
      control: Int32Array;
    },
  ): Promise<TrainingResult> {
    const { config } = this.options;
    const spec = job.request;
    const channel = new MessageChannel();
    let lastMessage: () => void = () => {};
    const drained = new Promise<void>((resolve) => {
      lastMessage = resolve;
    });
    channel.port1.on("message", (message: TrainingMessage | { type: "done" }) => {
      if (message.type === "done") lastMessage();
      else if (message.type === "evaluate") {
        void this.evaluate(model.dtype, message.layers, spec).then((reply) =>
          channel.port1.postMessage(reply),
        );
      } else this.relay(job, message);
    });
    const task: TrainingTask = {
      jobId: job.id,
      dtype: model.dtype,
      layers: model.layers,
      optimizer: spec.optimizer,
      batchSize: spec.batchSize,
      iterations: spec.iterations,
      weightDecay: spec.weightDecay,
      evaluateEvery: spec.evaluateEvery,
      trainEvaluationSamples: spec.trainEvaluationSamples,
      seed: spec.seed,
      data: run.data,
      validation: run.validation,
      checkpoint: run.checkpoint,
      checkpointEveryMs: config.training.checkpointEveryMs,
      progressEveryMs: 500,
      port: channel.port2 as never,
      control: run.control,
      evaluateInPool:
        this.options.evaluator !== undefined &&
        "dataset" in spec.data &&
        (!spec.validation || "dataset" in spec.validation),
    };
    try {
      const result: TrainingResult = await this.pool.run(task, {
        transferList: [channel.port2 as never],
      });
      // The worker's messages travel on their own port: take them all before the final status.
      await Promise.race([drained, new Promise((r) => setTimeout(r, 5_000))]);
      return result;
    } finally {
      channel.port1.close();
    }
  }

  private relay(job: JobRecord, message: TrainingMessage): void {
    const { store, events, countFallbacks } = this.options;
    switch (message.type) {
      case "checkpoint":
        store.jobs.saveCheckpoint(message.checkpoint);
        return;
      case "evaluation":
        events.evaluation(job.id, message.entry);
        return;
      case "progress":
        countFallbacks(message.fallbacks);
        events.progress(job, message.iteration, message.loss, message.samplesPerSecond);
    }
  }

  /** A training thread's evaluation, in the evaluator's threads; failures go back as errors. */
  private async evaluate(
    dtype: DType,
    layers: LayerSpec[],
    spec: JobSpec,
  ): Promise<EvaluationReply> {
    try {
      const evaluator = this.options.evaluator!;
      const { data, validation, trainEvaluationSamples } = spec;
      if (!("dataset" in data) || (validation && !("dataset" in validation))) {
        throw new Error("only built-in datasets are evaluated in the pool");
      }
      const { limit } = data.dataset;
      const sample = {
        ...data.dataset,
        limit: Math.min(limit ?? Infinity, trainEvaluationSamples),
      };
      // One after the other: each takes every idle thread.
      const train = await evaluator(dtype, layers, sample);
      const measured = { trainLoss: train.loss, trainAccuracy: train.accuracy };
      if (!validation) return measured;
      const checked = await evaluator(dtype, layers, validation.dataset);
      return { ...measured, validationLoss: checked.loss, validationAccuracy: checked.accuracy };
    } catch (error) {
      return { error: (error as Error).message };
    }
  }

  private complete(job: JobRecord, source: ModelRecord, result: TrainingResult): void {
    const { log } = this.options;
    switch (result.status) {
      case "interrupted":
        log.info(
          { jobId: job.id, iteration: result.iteration },
          "training job checkpointed for shutdown",
        );
        return;
      case "invalid":
        this.end(job.id, { status: "failed", error: { message: result.message } });
        return;
      case "diverged":
        this.end(job.id, {
          status: "failed",
          progress: progressOf(job.request, result.iteration),
          error: {
            message: `training diverged: the loss became non-finite at iteration ${result.iteration}`,
            iteration: result.iteration,
            lastFiniteLoss: result.lastFiniteLoss,
          },
        });
        return;
    }
    this.finishWithModel(job, source, result.layers, {
      status: result.status === "completed" ? "succeeded" : "cancelled",
      loss: result.loss,
      samplesPerSecond: result.samplesPerSecond,
      progress: progressOf(job.request, result.iteration),
    });
  }

  /**
   * A job whose cancel was answered before this process (or its thread) could stop it: it ends
   * cancelled without training on, keeping what its last checkpoint had learned.
   */
  private cancelledAt(job: JobRecord, source: ModelRecord, checkpoint?: Checkpoint): void {
    this.options.log.info({ jobId: job.id }, "training job was cancelled before it could resume");
    if (!checkpoint) {
      this.end(job.id, { status: "cancelled" });
      return;
    }
    let next = 0;
    const layers = source.layers.map((layer): LayerSpec => {
      if (layer.type !== "affine") return layer;
      const W = { shape: layer.W.shape, data: checkpoint.parameters[next++] };
      const b = { shape: layer.b.shape, data: checkpoint.parameters[next++] };
      return { type: "affine", W, b };
    });
    this.finishWithModel(job, source, layers, {
      status: "cancelled",
      loss: checkpoint.loss,
      progress: progressOf(job.request, checkpoint.iteration),
    });
  }

  /** Ends the job with its result model, in one transaction. */
  private finishWithModel(
    job: JobRecord,
    source: ModelRecord,
    layers: LayerSpec[],
    patch: Parameters<Store["jobs"]["finishWithModel"]>[1],
  ): void {
    const { store, events } = this.options;
    const spec = job.request;
    const history = store.jobs.get(job.id, job.tenant)?.history ?? [];
    const last = history[history.length - 1];
    const model: NewModel = {
      tenant: job.tenant,
      name: source.name ? `${source.name} (trained)` : null,
      dtype: source.dtype,
      layers,
      origin: {
        kind: "training",
        jobId: job.id,
        sourceModelId: source.id,
        dataset: "dataset" in spec.data ? spec.data.dataset : { inline: true },
        metrics: last ?? { iteration: patch.progress?.iteration ?? 0, loss: patch.loss ?? null },
      },
    };
    const { job: finished } = store.jobs.finishWithModel(
      job.id,
      { ...patch, finishedAt: now() },
      model,
    );
    events.statusOf(finished);
  }

  /** Ends a job without a result model (its end is logged and counted by job telemetry). */
  private end(jobId: string, patch: Parameters<JobEvents["status"]>[1]): void {
    this.options.events.status(jobId, { ...patch, finishedAt: now() });
  }
}
