import type { FastifyBaseLogger } from "fastify";
import type { Config } from "../config.js";
import type { FallbackCounts } from "../pool/worker-backend.js";
import type { JobRecord, Store } from "../store/repository.js";
import { isFinished, type JobEvent, JobEvents } from "./job-events.js";
import { InProcessJobQueue, type JobQueue } from "./job-queue.js";
import { JobRunner } from "./job-runner.js";
import type { Evaluator } from "./pool-evaluation.js";

/**
 * Training jobs, put together: a queue they wait in, a runner that trains them, and the events
 * that keep the store and every stream current. Submitting is `submitJob`'s (it stores the job,
 * then enqueues it here).
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
  ) {
    this.events = new JobEvents(store);
    this.queue = new InProcessJobQueue(store, config.training.concurrency);
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

  enqueue(job: JobRecord): void {
    this.queue.enqueue(job);
  }

  subscribe(jobId: string, listener: (event: JobEvent) => void): () => void {
    return this.events.subscribe(jobId, listener);
  }

  observe(observer: (jobId: string, event: JobEvent) => void): () => void {
    return this.events.observe(observer);
  }

  /**
   * Cancels a job for good: the flag is stored before this returns, so no process ever trains
   * the job on. A queued job ends at once; a running one at its next iteration, keeping what it
   * learned. Undefined when the tenant has no such job; a finished job comes back unchanged.
   */
  async cancel(id: string, tenant: string | null): Promise<JobRecord | undefined> {
    const job = await this.store.jobs.requestCancel(id, tenant);
    if (!job || isFinished(job)) return job;
    if (this.queue.withdraw(id)) {
      return this.events.status(id, { status: "cancelled", finishedAt: new Date().toISOString() });
    }
    this.runner.cancel(id);
    return job;
  }

  get activeJobs(): number {
    return this.runner.active();
  }

  get queuedJobs(): number {
    return this.queue.waiting();
  }

  /** Stops running jobs at a checkpoint (they stay `running` and resume at the next start). */
  async close(): Promise<void> {
    this.runner.stopAll();
    await this.queue.close();
    await this.runner.close();
  }
}
