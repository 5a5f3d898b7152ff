import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { MessageChannel } from "node:worker_threads";
import type { FastifyBaseLogger } from "fastify";
import { Piscina } from "piscina";
import type { Config } from "../config.js";
import type { KernelPath } from "../core/backend.js";
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
import {
  type JobState,
  LeaseLostError,
  type ModelRecord,
  type NewModel,
  type Store,
  StoreUnavailableError,
} from "../store/repository.js";
import type { Checkpoint } from "./checkpoint.js";
import { loadJobData } from "./job-data.js";
import { isFinished, type JobEvents } from "./job-events.js";
import type { QueuedJob, RunOutcome } from "./job-queue.js";
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
  control: Int32Array;
  /** Another runner claimed the job while this one trained it. */
  lost: boolean;
}

const now = () => new Date().toISOString();

/**
 * Runs one job at a time per call, each on a training thread of its own, from its last checkpoint
 * when it has one; relays what the thread reports to JobEvents and ends the job in the store.
 * It claims each job as `owner` before it runs it, and every write it makes for the job is fenced
 * on that claim: once another runner claims the job, this one's writes are refused
 * (LeaseLostError) and its thread is stopped.
 */
export class JobRunner {
  private readonly pool: Piscina;
  private readonly running = new Map<string, Running>();
  readonly owner = randomUUID();
  private stopping = false;

  constructor(private readonly options: RunnerOptions) {
    const { config } = options;
    this.pool = new Piscina({
      filename: workerUrl("training-worker").href,
      // One thread kept started: a job's thread otherwise costs its start (~150 ms: modules,
      // kernels and their self-check) on top of the job. More idle ones go after 10 s.
      minThreads: Math.min(1, config.training.concurrency),
      maxThreads: config.training.concurrency,
      idleTimeout: 10_000,
      resourceLimits: { maxOldGenerationSizeMb: config.pool.heapMb },
      workerData: workerOptions(config.pool),
    });
  }

  /** Jobs running here. */
  get active(): number {
    return this.running.size;
  }

  /** Asks a running job to stop at its next iteration and keep what it learned. */
  cancel(jobId: string): void {
    const job = this.running.get(jobId);
    if (job) Atomics.store(job.control, 0, CONTROL.cancel);
  }

  /**
   * Asks every running job to checkpoint and stop; they stay `running`, to resume. A job handed
   * over after this does not start here.
   */
  stopAll(): void {
    this.stopping = true;
    for (const job of this.running.values()) Atomics.store(job.control, 0, CONTROL.stop);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** Runs `job` to its end (or to a stop); a crash of its thread fails the job. */
  async run(job: QueuedJob): Promise<RunOutcome> {
    if (this.stopping) return "stopped";
    const running: Running = {
      control: new Int32Array(new SharedArrayBuffer(4)),
      lost: false,
    };
    this.running.set(job.id, running);
    try {
      const outcome = await this.attempt(job, running);
      return running.lost ? "lost" : outcome;
    } catch (error) {
      if (error instanceof LeaseLostError) {
        this.options.log.warn({ jobId: job.id }, error.message);
        return "lost";
      }
      if (error instanceof StoreUnavailableError) {
        // The job stays as the store has it, and runs again once the store answers.
        this.options.log.warn(
          { err: error, jobId: job.id },
          "training job put back: the store is unavailable",
        );
        return "retry";
      }
      this.options.log.error({ err: error, jobId: job.id }, "training job crashed");
      await this.end(job.id, {
        status: "failed",
        error: { message: "the training worker crashed", detail: String(error) },
      }).catch((err) =>
        this.options.log.error({ err, jobId: job.id }, "cannot record the job's failure"),
      );
      return "done";
    } finally {
      this.running.delete(job.id);
    }
  }

  private async attempt(queued: QueuedJob, running: Running): Promise<RunOutcome> {
    const { store, events, config, log } = this.options;
    // The store's word is the last: a cancel answered before a crash holds after it.
    const job = await store.jobs.claim(queued.id, this.owner);
    if (!job || isFinished(job)) return "done";
    const model = await store.models.get(job.modelId, job.tenant);
    if (!model) {
      await this.end(job.id, {
        status: "failed",
        error: { message: `starting model ${job.modelId} no longer exists` },
      });
      return "done";
    }
    const checkpoint = await store.jobs.loadCheckpoint(job.id);
    if (job.cancelRequested) {
      await this.cancelledAt(job, model, checkpoint);
      return "done";
    }
    const kernels = config.pool.kernels;
    if (job.status === "running") {
      const iteration = checkpoint?.iteration ?? 0;
      log.info({ jobId: job.id, iteration }, "resuming training job");
      if (checkpoint && checkpoint.kernels !== kernels) {
        log.warn(
          { jobId: job.id, checkpointed: checkpoint.kernels, kernels },
          "resuming on other kernels than the checkpoint's: the job's bits will differ from an uninterrupted run",
        );
      }
    }
    // The work restarts at the checkpoint, and so does what the job shows: progress and history
    // stored after it (up to a crash) are redone, not kept twice or run backwards.
    await store.jobs.truncateHistory(job.id, checkpoint?.iteration ?? 0, this.owner);
    const started = (await events.status(
      job.id,
      {
        status: "running",
        startedAt: job.startedAt ?? now(),
        progress: progressOf(job.request, checkpoint?.iteration ?? 0),
        loss: checkpoint?.loss ?? null,
        kernels: kernelsFrom(job, checkpoint, kernels),
      },
      this.owner,
    ))!;

    const spec = job.request;
    let data: LabelledData;
    let validation: LabelledData | undefined;
    try {
      // A dataset is read on its first use, once per process: the job shows running meanwhile.
      const tensors = await store.jobs.loadTensors(job.id);
      data = await loadJobData(spec.data, tensors, config.limits);
      validation = spec.validation && (await loadJobData(spec.validation, tensors, config.limits));
    } catch (error) {
      // The files of a built-in dataset are missing or broken: the installation's problem, whose
      // details (server paths) stay in the log.
      log.error({ err: error, jobId: job.id }, "cannot read a training job's data");
      await this.end(job.id, {
        status: "failed",
        error: { message: "the job's dataset could not be read; the server log has the cause" },
      });
      return "done";
    }
    const result = await this.train(started, model, { data, validation, checkpoint, running });
    return this.complete(started, model, result);
  }

  /** The job on a training thread, its messages relayed until the thread's last one. */
  private async train(
    job: JobState,
    model: ModelRecord,
    run: {
      data: LabelledData;
      validation?: LabelledData;
      checkpoint?: Checkpoint;
      running: Running;
    },
  ): Promise<TrainingResult> {
    const { config } = this.options;
    const spec = job.request;
    const channel = new MessageChannel();
    let lastMessage: () => void = () => {};
    const drained = new Promise<void>((resolve) => {
      lastMessage = resolve;
    });
    // One evaluation at a time, answered in the order asked, as the thread records them.
    let evaluations = Promise.resolve();
    channel.port1.on("message", (message: TrainingMessage | { type: "done" }) => {
      if (message.type === "done") lastMessage();
      else if (message.type === "evaluate") {
        evaluations = evaluations.then(async () => {
          const threads = this.evaluationThreads(message.last);
          const reply = await this.evaluate(model.dtype, message.layers, spec, threads);
          channel.port1.postMessage(reply);
        });
      } else {
        this.relay(job, message, run.running).catch((error) =>
          this.relayFailed(job.id, run.running, error),
        );
      }
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
      control: run.running.control,
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
      // And written, before the job's end is (a shutdown closes the store next).
      await this.options.events.flush(job.id);
      return result;
    } finally {
      channel.port1.close();
    }
  }

  /** Writes what the thread reported, in the job's order of writes. */
  private async relay(job: JobState, message: TrainingMessage, running: Running): Promise<void> {
    const { events, countFallbacks } = this.options;
    switch (message.type) {
      case "checkpoint":
        return events.telemetry(job.id, { checkpoint: message.checkpoint }, this.owner);
      case "evaluation":
        return events.telemetry(job.id, { entry: message.entry }, this.owner);
      case "progress": {
        countFallbacks(message.fallbacks);
        const updated = await events.progress(
          job,
          message.iteration,
          message.loss,
          message.samplesPerSecond,
          this.owner,
        );
        // A cancel sent to any replica is in the store: this is where it reaches the thread.
        if (updated?.cancelRequested) Atomics.store(running.control, 0, CONTROL.cancel);
      }
    }
  }

  /**
   * A write the store refused or could not take. Another runner's claim stops this one; a store
   * that is down loses this progress or checkpoint, and the job trains on (its next write may
   * succeed; a resume starts from the last checkpoint that was written).
   */
  private relayFailed(jobId: string, running: Running, error: unknown): void {
    if (error instanceof LeaseLostError) {
      if (!running.lost) this.options.log.warn({ jobId }, `${error.message}; stopping here`);
      running.lost = true;
      Atomics.store(running.control, 0, CONTROL.stop);
      return;
    }
    this.options.log.warn({ err: error, jobId }, "cannot store a training job's progress");
  }

  /**
   * Threads an evaluation may take: the cores that no training thread is using, since one more
   * busy thread than cores slows the jobs' steps by as much as the evaluation gains; every idle
   * one once the job's thread only waits for it.
   */
  private evaluationThreads(last: boolean): number {
    if (last) return Number.POSITIVE_INFINITY;
    return Math.max(1, availableParallelism() - this.running.size);
  }

  /** A training thread's evaluation, in the evaluator's threads; failures go back as errors. */
  private async evaluate(
    dtype: DType,
    layers: LayerSpec[],
    spec: JobSpec,
    threads: number,
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
      // One after the other, each on at most `threads` of the idle threads.
      const train = await evaluator(dtype, layers, sample, threads);
      const measured = { trainLoss: train.loss, trainAccuracy: train.accuracy };
      if (!validation) return measured;
      const checked = await evaluator(dtype, layers, validation.dataset, threads);
      return { ...measured, validationLoss: checked.loss, validationAccuracy: checked.accuracy };
    } catch (error) {
      return { error: (error as Error).message };
    }
  }

  private async complete(
    job: JobState,
    source: ModelRecord,
    result: TrainingResult,
  ): Promise<RunOutcome> {
    const { log } = this.options;
    switch (result.status) {
      case "interrupted":
        log.info(
          { jobId: job.id, iteration: result.iteration },
          "training job checkpointed for shutdown",
        );
        return "stopped";
      case "invalid":
        await this.end(job.id, { status: "failed", error: { message: result.message } });
        return "done";
      case "diverged":
        await this.end(job.id, {
          status: "failed",
          progress: progressOf(job.request, result.iteration),
          error: {
            message: `training diverged: the loss became non-finite at iteration ${result.iteration}`,
            iteration: result.iteration,
            lastFiniteLoss: result.lastFiniteLoss,
          },
        });
        return "done";
    }
    await this.finishWithModel(job, source, result.layers, {
      status: result.status === "completed" ? "succeeded" : "cancelled",
      loss: result.loss,
      samplesPerSecond: result.samplesPerSecond,
      progress: progressOf(job.request, result.iteration),
    });
    return "done";
  }

  /**
   * A job whose cancel was answered before this process (or its thread) could stop it: it ends
   * cancelled without training on, keeping what its last checkpoint had learned.
   */
  private async cancelledAt(
    job: JobState,
    source: ModelRecord,
    checkpoint?: Checkpoint,
  ): Promise<void> {
    this.options.log.info({ jobId: job.id }, "training job was cancelled before it could resume");
    if (!checkpoint) {
      await this.end(job.id, { status: "cancelled" });
      return;
    }
    let next = 0;
    const layers = source.layers.map((layer): LayerSpec => {
      if (layer.type !== "affine") return layer;
      const W = { shape: layer.W.shape, data: checkpoint.parameters[next++] };
      const b = { shape: layer.b.shape, data: checkpoint.parameters[next++] };
      return { type: "affine", W, b };
    });
    await this.finishWithModel(job, source, layers, {
      status: "cancelled",
      loss: checkpoint.loss,
      progress: progressOf(job.request, checkpoint.iteration),
    });
  }

  /** Ends the job with its result model, in one transaction, after the job's other writes. */
  private async finishWithModel(
    job: JobState,
    source: ModelRecord,
    layers: LayerSpec[],
    patch: Parameters<Store["jobs"]["finishWithModel"]>[1],
  ): Promise<void> {
    const { events } = this.options;
    const finished = await events.serially(job.id, () =>
      this.storeResult(job, source, layers, patch),
    );
    // After the write, in the job's order: the run is over once its end is told.
    await events.statusOf(finished);
  }

  private async storeResult(
    job: JobState,
    source: ModelRecord,
    layers: LayerSpec[],
    patch: Parameters<Store["jobs"]["finishWithModel"]>[1],
  ): Promise<JobState> {
    const { store } = this.options;
    const spec = job.request;
    const last = await store.jobs.lastHistoryEntry(job.id);
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
    const { job: finished } = await store.jobs.finishWithModel(
      job.id,
      { ...patch, finishedAt: now() },
      model,
      this.owner,
    );
    return finished;
  }

  /** Ends a job without a result model (its end is logged and counted by job telemetry). */
  private async end(jobId: string, patch: Parameters<JobEvents["status"]>[1]): Promise<void> {
    await this.options.events.status(jobId, { ...patch, finishedAt: now() }, this.owner);
  }
}

/**
 * The kernel paths behind a job's parameters once `path` runs it: those that computed its
 * checkpoint (the checkpoint's own path for a job stored before jobs recorded them), then `path`.
 */
function kernelsFrom(
  job: JobState,
  checkpoint: Checkpoint | undefined,
  path: KernelPath,
): KernelPath[] {
  if (!checkpoint) return [path];
  const before = job.kernels.length > 0 ? job.kernels : [checkpoint.kernels];
  return before.at(-1) === path ? before : [...before, path];
}
