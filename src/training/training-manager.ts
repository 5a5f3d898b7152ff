import { EventEmitter } from "node:events";
import { MessageChannel } from "node:worker_threads";
import type { FastifyBaseLogger } from "fastify";
import { Piscina } from "piscina";
import type { Config } from "../config.js";
import type { LayerSpec } from "../core/network.js";
import type { DType } from "../core/tensor.js";
import {
  CONTROL,
  type EvaluationReply,
  type TaskData,
  type TrainingMessage,
  type TrainingResult,
  type TrainingTask,
} from "../pool/training-tasks.js";
import { workerOptions } from "../pool/worker-arena.js";
import { workerUrl } from "../pool/worker-url.js";
import type { JobPatch, JobRecord, ModelRecord, Store } from "../store/repository.js";
import { loadData, type StoredTrainingRequest } from "./job-request.js";
import type { Evaluator } from "./pool-evaluation.js";

export type JobEvent =
  | {
      event: "progress";
      data: {
        iteration: number;
        iterations: number;
        epoch: number;
        fraction: number;
        loss: number | null;
        samplesPerSecond: number;
      };
    }
  | {
      event: "evaluation";
      data: {
        iteration: number;
        loss: number;
        trainAccuracy?: number;
        validationAccuracy?: number;
      };
    }
  | {
      event: "status";
      data: { status: JobRecord["status"]; resultModelId: string | null; error: unknown };
    };

interface RunningJob {
  tenant: string | null;
  control: Int32Array;
  done: Promise<void>;
}

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
export const isFinished = (job: JobRecord) => FINISHED.has(job.status);

/**
 * Runs training jobs in order, `concurrency` at a time, each in a worker thread of its own pool;
 * keeps the store current (progress, history, checkpoints) and tells subscribers as it goes.
 * On start it resumes jobs a crash left running, from their last checkpoint.
 */
export class TrainingManager {
  private readonly pool: Piscina;
  private readonly queue: JobRecord[] = [];
  private readonly running = new Map<string, RunningJob>();
  private readonly events = new EventEmitter().setMaxListeners(0);
  private closing = false;

  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly log: FastifyBaseLogger,
    /** Runs the evaluations of jobs on built-in datasets, when given (see evaluateInPool). */
    private readonly evaluator?: Evaluator,
  ) {
    this.pool = new Piscina({
      filename: workerUrl("training-worker").href,
      minThreads: 0,
      maxThreads: config.training.concurrency,
      idleTimeout: 10_000,
      resourceLimits: { maxOldGenerationSizeMb: config.pool.heapMb },
      workerData: workerOptions(config.pool.kernels, config.pool.arenaMb),
    });
  }

  /** Resumes what a previous process left running, then what it left queued, oldest first. */
  start(): void {
    const left = this.store.jobs.findByStatus(["running", "queued"]);
    this.queue.push(
      ...left.filter((j) => j.status === "running"),
      ...left.filter((j) => j.status === "queued"),
    );
    this.pump();
  }

  submit(job: JobRecord): void {
    this.queue.push(job);
    this.pump();
  }

  subscribe(jobId: string, listener: (event: JobEvent) => void): () => void {
    this.events.on(jobId, listener);
    return () => this.events.off(jobId, listener);
  }

  /** Cancels a queued job at once; a running one stops at its next iteration and keeps its model. */
  cancel(id: string, tenant: string | null): JobRecord | undefined {
    const job = this.store.jobs.requestCancel(id, tenant);
    if (!job || isFinished(job)) return job;
    const queued = this.queue.findIndex((j) => j.id === id);
    if (queued !== -1) {
      this.queue.splice(queued, 1);
      return this.finish(id, { status: "cancelled", finishedAt: new Date().toISOString() });
    }
    const running = this.running.get(id);
    if (running) Atomics.store(running.control, 0, CONTROL.cancel);
    return job;
  }

  /** Jobs of a tenant that are queued or running here. */
  pendingFor(tenant: string | null): number {
    const running = [...this.running.values()].filter((j) => j.tenant === tenant).length;
    return running + this.queue.filter((j) => j.tenant === tenant).length;
  }

  get activeJobs(): number {
    return this.running.size;
  }

  get queuedJobs(): number {
    return this.queue.length;
  }

  /** Stops running jobs at a checkpoint (they stay `running` and resume at the next start). */
  async close(): Promise<void> {
    this.closing = true;
    for (const job of this.running.values()) Atomics.store(job.control, 0, CONTROL.stop);
    await Promise.allSettled([...this.running.values()].map((j) => j.done));
    await this.pool.close();
  }

  private pump(): void {
    while (
      !this.closing &&
      this.running.size < this.config.training.concurrency &&
      this.queue.length > 0
    ) {
      const job = this.queue.shift()!;
      const control = new Int32Array(new SharedArrayBuffer(4));
      const done = this.run(job, control)
        .catch((error: unknown) => {
          this.log.error({ err: error, jobId: job.id }, "training job crashed");
          this.finish(job.id, {
            status: "failed",
            error: { message: "the training worker crashed", detail: String(error) },
            finishedAt: new Date().toISOString(),
          });
        })
        .finally(() => {
          this.running.delete(job.id);
          this.pump();
        });
      this.running.set(job.id, { tenant: job.tenant, control, done });
    }
  }

  private finish(id: string, patch: JobPatch): JobRecord | undefined {
    const job = this.store.jobs.update(id, patch);
    if (job)
      this.emit(job.id, {
        event: "status",
        data: { status: job.status, resultModelId: job.resultModelId, error: job.error },
      });
    return job;
  }

  private emit(jobId: string, event: JobEvent): void {
    this.events.emit(jobId, event);
    for (const observer of this.observers) observer(jobId, event);
  }

  // --- contract (issue 14): every event of every job, for the SSE log and job telemetry. ---
  private readonly observers = new Set<(jobId: string, event: JobEvent) => void>();

  observe(observer: (jobId: string, event: JobEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }
  // --- end contract ---

  private async run(job: JobRecord, control: Int32Array): Promise<void> {
    const { jobs, models } = this.store;
    const request = job.request as StoredTrainingRequest;
    const model = models.get(job.modelId, job.tenant);
    const now = () => new Date().toISOString();
    if (!model) {
      this.finish(job.id, {
        status: "failed",
        error: { message: `starting model ${job.modelId} no longer exists` },
        finishedAt: now(),
      });
      return;
    }
    const checkpoint = jobs.loadCheckpoint(job.id);
    if (job.status === "running") {
      this.log.info(
        { jobId: job.id, iteration: checkpoint?.iteration ?? 0 },
        "resuming training job",
      );
    }
    // The work restarts at the checkpoint, and so does what the job shows: progress and history
    // stored after it (up to a crash) are redone, not kept twice or run backwards.
    const resumed: JobPatch = checkpoint
      ? {
          progress: this.progressOf(job, checkpoint.iteration),
          loss: checkpoint.loss,
          history: checkpoint.history,
        }
      : {};
    const started = jobs.update(job.id, {
      status: "running",
      startedAt: job.startedAt ?? now(),
      ...resumed,
    })!;
    this.emit(job.id, {
      event: "status",
      data: { status: "running", resultModelId: null, error: null },
    });

    // A dataset is read on its first use, once per process: the job shows running meanwhile.
    let data: TaskData;
    let validation: TaskData | undefined;
    try {
      data = await loadData(request.data, this.config.limits);
      validation = request.validation && (await loadData(request.validation, this.config.limits));
    } catch (error) {
      // The files of a built-in dataset are missing or broken: the installation's problem, whose
      // details (server paths) stay in the log.
      this.log.error({ err: error, jobId: job.id }, "cannot read a training job's data");
      this.finish(job.id, {
        status: "failed",
        error: { message: "the job's dataset could not be read; the server log has the cause" },
        finishedAt: now(),
      });
      return;
    }
    const channel = new MessageChannel();
    let lastMessage: () => void = () => {};
    const drained = new Promise<void>((resolve) => {
      lastMessage = resolve;
    });
    channel.port1.on("message", (message: TrainingMessage | { type: "done" }) => {
      if (message.type === "done") lastMessage();
      else if (message.type === "evaluate") {
        void this.evaluate(model.dtype, message.layers, request).then((reply) =>
          channel.port1.postMessage(reply),
        );
      } else this.onMessage(started, message);
    });
    const task: TrainingTask = {
      jobId: job.id,
      dtype: model.dtype,
      layers: model.layers as LayerSpec[],
      optimizer: request.optimizer,
      batchSize: request.batchSize,
      iterations: request.iterations,
      weightDecay: request.weightDecay,
      evaluateEvery: request.evaluateEvery,
      trainEvaluationSamples: request.trainEvaluationSamples,
      seed: request.seed,
      data,
      validation,
      checkpoint,
      checkpointEveryMs: this.config.training.checkpointEveryMs,
      progressEveryMs: 500,
      port: channel.port2 as never,
      control,
      evaluateInPool:
        this.evaluator !== undefined &&
        "dataset" in request.data &&
        (!request.validation || "dataset" in request.validation),
    };
    let result: TrainingResult;
    try {
      result = await this.pool.run(task, { transferList: [channel.port2 as never] });
      // The worker's messages travel on their own port: take them all before the final status.
      await Promise.race([drained, new Promise((r) => setTimeout(r, 5_000))]);
    } finally {
      channel.port1.close();
    }
    this.complete(started, model, result);
  }

  /** A training worker's evaluation, in the evaluator's threads; failures go back as errors. */
  private async evaluate(
    dtype: DType,
    layers: LayerSpec[],
    request: StoredTrainingRequest,
  ): Promise<EvaluationReply> {
    try {
      const evaluator = this.evaluator!;
      const { data, validation, trainEvaluationSamples } = request;
      if (!("dataset" in data) || (validation && !("dataset" in validation))) {
        throw new Error("only built-in datasets are evaluated in the pool");
      }
      const { limit } = data.dataset;
      const sample = {
        ...data.dataset,
        limit: Math.min(limit ?? Infinity, trainEvaluationSamples),
      };
      // One after the other: each takes every idle thread.
      const trainAccuracy = await evaluator(dtype, layers, sample);
      const validationAccuracy = validation && (await evaluator(dtype, layers, validation.dataset));
      return validationAccuracy === undefined
        ? { trainAccuracy }
        : { trainAccuracy, validationAccuracy };
    } catch (error) {
      return { error: (error as Error).message };
    }
  }

  private progressOf(job: JobRecord, iteration: number) {
    const { batchSize, iterations, trainSize } = job.request as StoredTrainingRequest;
    return {
      iteration,
      iterations,
      epoch: (iteration * batchSize) / trainSize,
      fraction: iteration / iterations,
    };
  }

  private onMessage(job: JobRecord, message: TrainingMessage): void {
    const { jobs } = this.store;
    switch (message.type) {
      case "checkpoint":
        jobs.saveCheckpoint(message.checkpoint);
        return;
      case "evaluation":
        jobs.appendHistory(job.id, [message.entry]);
        this.emit(job.id, { event: "evaluation", data: message.entry });
        return;
      case "progress": {
        const { iteration, loss, samplesPerSecond } = message;
        const progress = this.progressOf(job, iteration);
        jobs.update(job.id, { progress, loss, samplesPerSecond });
        this.emit(job.id, { event: "progress", data: { ...progress, loss, samplesPerSecond } });
      }
    }
  }

  private complete(job: JobRecord, source: ModelRecord, result: TrainingResult): void {
    const finishedAt = new Date().toISOString();
    switch (result.status) {
      case "interrupted":
        this.log.info(
          { jobId: job.id, iteration: result.iteration },
          "training job checkpointed for shutdown",
        );
        return;
      case "invalid":
        this.finish(job.id, { status: "failed", error: { message: result.message }, finishedAt });
        return;
      case "diverged":
        this.finish(job.id, {
          status: "failed",
          error: {
            message: `training diverged: the loss became non-finite at iteration ${result.iteration}`,
            iteration: result.iteration,
            lastFiniteLoss: result.lastFiniteLoss,
          },
          finishedAt,
        });
        return;
    }
    const request = job.request as StoredTrainingRequest;
    const last = result.history[result.history.length - 1];
    const { job: finished } = this.store.jobs.finishWithModel(
      job.id,
      {
        status: result.status === "completed" ? "succeeded" : "cancelled",
        finishedAt,
        loss: result.loss,
        samplesPerSecond: result.samplesPerSecond,
        progress: this.progressOf(job, result.iteration),
      },
      {
        tenant: job.tenant,
        name: source.name ? `${source.name} (trained)` : null,
        dtype: source.dtype,
        layers: result.layers,
        origin: {
          kind: "training",
          jobId: job.id,
          sourceModelId: source.id,
          dataset: "dataset" in request.data ? request.data.dataset : { inline: true },
          metrics: last ?? { iteration: result.iteration, loss: result.loss },
        },
      },
    );
    this.emit(job.id, {
      event: "status",
      data: { status: finished.status, resultModelId: finished.resultModelId, error: null },
    });
  }
}
