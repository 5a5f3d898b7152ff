import type { FastifyBaseLogger } from "fastify";
import type { Config } from "../config.js";
import type { FallbackCounts } from "../pool/worker-backend.js";
import type { JobRecord, JobState, Store, StoredJobEvent } from "../store/repository.js";
import { type JobEventBus, LocalJobEventBus } from "./job-event-bus.js";
import { isFinished, type JobEvent, JobEvents } from "./job-events.js";
import { InProcessJobQueue, type JobQueue } from "./job-queue.js";
import { JobRunner } from "./job-runner.js";
import type { Evaluator } from "./pool-evaluation.js";

export interface TrainingParts {
  /** Where jobs wait; the in-process queue over the store unless given. */
  queue?: JobQueue;
  /** What carries stored events to streams; this process alone unless given. */
  bus?: JobEventBus;
}

/**
 * Training jobs, put together: a queue they wait in, a runner that trains them, and the events
 * that keep the store and every stream current. Submitting is `submitJob`'s (it stores the job,
 * then enqueues it here). Embedded and distributed differ only in the queue and the bus.
 */
export class TrainingService {
  readonly events: JobEvents;
  private readonly queue: JobQueue;
  private readonly runner: JobRunner;

  constructor(
    private readonly store: Store,
    config: Config,
    log: FastifyBaseLogger,
    evaluator: Evaluator | undefined,
    countFallbacks: (counts: FallbackCounts | undefined) => void,
    parts: TrainingParts = {},
  ) {
    this.events = new JobEvents(store, parts.bus ?? new LocalJobEventBus());
    this.queue = parts.queue ?? new InProcessJobQueue(store, config.training.concurrency);
    this.runner = new JobRunner({
      store,
      events: this.events,
      config,
      log,
      evaluator,
      countFallbacks,
    });
  }

  /** Starts running jobs: first what a previous process left running (they resume), then queued. */
  start(): Promise<void> {
    return this.queue.start((job) => this.runner.run(job));
  }

  /** Throws QueueUnavailableError when a job could not be queued now. */
  ready(): Promise<void> {
    return this.queue.ready();
  }

  enqueue(job: JobState): Promise<void> {
    return this.queue.enqueue(job);
  }

  subscribe(jobId: string, listener: (event: StoredJobEvent) => void): () => void {
    return this.events.subscribe(jobId, listener);
  }

  /** Called when streams may have missed events (the bus lost its connection and has it back). */
  onGap(listener: () => void): () => void {
    return this.events.bus.onGap(listener);
  }

  /** The job's stored events after `afterId`, ascending. */
  eventsAfter(jobId: string, afterId: number, limit: number): Promise<StoredJobEvent[]> {
    return this.store.events.after(jobId, afterId, limit);
  }

  observe(observer: (jobId: string, event: JobEvent) => void): () => void {
    return this.events.observe(observer);
  }

  /**
   * Cancels a job for good: the flag is stored before this returns, so no process ever trains
   * the job on. A queued job ends at once; a running one, wherever it runs, at its next
   * progress report, keeping what it learned. Undefined when the tenant has no such job; a
   * finished job comes back unchanged.
   */
  async cancel(id: string, tenant: string | null): Promise<JobRecord | undefined> {
    const job = await this.store.jobs.requestCancel(id, tenant);
    if (!job || isFinished(job)) return job;
    if (job.status === "queued" && (await this.queue.withdraw(id))) {
      const cancelled = await this.events.status(id, {
        status: "cancelled",
        finishedAt: new Date().toISOString(),
      });
      // A queued job has no history yet.
      return cancelled && { ...cancelled, history: job.history };
    }
    // Running here: at once. Elsewhere, its runner reads the flag with its next progress write.
    this.runner.cancel(id);
    return job;
  }

  get activeJobs(): number {
    return this.runner.active;
  }

  queuedJobs(): Promise<number> {
    return this.queue.waiting();
  }

  /**
   * Stops taking jobs and stops those running here at a checkpoint: they stay `running`, and
   * the queue hands them to another runner (distributed) or the next start (embedded).
   */
  async close(): Promise<void> {
    const closed = this.queue.close();
    this.runner.stopAll();
    await closed;
    await this.runner.close();
    await this.events.bus.close();
  }
}
