import {
  type ConnectionOptions,
  DelayedError,
  type Job,
  Queue,
  WaitingError,
  Worker,
} from "bullmq";
import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import type { Store } from "../store/repository.js";
import {
  type JobQueue,
  type QueuedJob,
  QueueUnavailableError,
  RETRY_MS,
  type RunOutcome,
} from "../training/job-queue.js";
import { closeConnection, commandConnection, redisOptions, reportOutages } from "./redis.js";

const QUEUE = "backprop-training";

export interface BullJobQueueOptions {
  url: string;
  store: Store;
  /** Jobs this replica trains at once. */
  concurrency: number;
  /** How soon after its replica dies a job trains again elsewhere. */
  takeoverMs: number;
  log: FastifyBaseLogger;
}

/**
 * Training jobs on BullMQ over Redis: any replica's worker may take any job. A job's lock is its
 * lease; the worker renews it while the job trains, and when a replica dies its locks lapse and
 * the stalled check of another replica puts the job back in the queue. Lock (`takeoverMs / 3`)
 * plus check interval (`takeoverMs / 3`) bound the takeover, with a third left for the new
 * runner to load the job and train again. The lock is not the last word: the
 * store fences every write of a run by its claim, so a replica that lost a job it still trains
 * (it was frozen past its lease) cannot write over the one that took it.
 */
export class BullJobQueue implements JobQueue {
  private readonly redis: Redis;
  private readonly queue: Queue;
  private worker: Worker | null = null;

  constructor(private readonly options: BullJobQueueOptions) {
    // Fails at once while Redis is down: a submission answers 503 instead of hanging.
    this.redis = commandConnection(options.url, options.log, "job queue");
    this.queue = new Queue(QUEUE, {
      connection: this.redis as unknown as ConnectionOptions,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
    // Its connection's outages are reported by commandConnection; this keeps them from throwing.
    this.queue.on("error", () => {});
  }

  async enqueue(job: QueuedJob): Promise<void> {
    try {
      // The store's id is BullMQ's: adding a job Redis already has does nothing.
      await this.queue.add("train", { id: job.id }, { jobId: job.id });
    } catch (err) {
      throw new QueueUnavailableError(err);
    }
  }

  async ready(): Promise<void> {
    try {
      await this.redis.ping();
    } catch (err) {
      throw new QueueUnavailableError(err);
    }
  }

  async withdraw(jobId: string): Promise<boolean> {
    try {
      // 0 when the job is locked by a worker (it runs) or gone.
      return (await this.queue.remove(jobId)) === 1;
    } catch (err) {
      // Redis is away: the stored cancel flag stops the job wherever it is next taken.
      this.options.log.warn(
        { err, jobId },
        "cannot withdraw a job from the queue; it ends when next taken",
      );
      return false;
    }
  }

  async start(run: (job: QueuedJob) => Promise<RunOutcome>): Promise<void> {
    const { store, concurrency, takeoverMs, log } = this.options;
    // What the store holds as pending but Redis may not (a Redis that lost its data, jobs of an
    // embedded run moved here): added again under their ids, which Redis ignores when it has them.
    for (const job of await store.jobs.findByStatus(["running", "queued"])) {
      await this.enqueue(job).catch((err) =>
        log.warn({ err, jobId: job.id }, "cannot hand a pending job to the queue"),
      );
    }
    this.worker = new Worker<QueuedJob>(QUEUE, (job, token) => this.process(job, token!, run), {
      connection: redisOptions(this.options.url) as ConnectionOptions,
      concurrency,
      lockDuration: Math.round(takeoverMs / 3),
      stalledInterval: Math.round(takeoverMs / 3),
      // A job may move between replicas any number of times; it never fails for that.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
    });
    reportOutages(this.worker, log, "job worker");
  }

  private async process(
    job: Job<QueuedJob>,
    token: string,
    run: (job: QueuedJob) => Promise<RunOutcome>,
  ): Promise<void> {
    const outcome = await run(job.data);
    switch (outcome) {
      case "stopped":
        // Checkpointed for a shutdown: another replica takes it now, not after a lease lapses.
        await job.moveToWait(token);
        throw new WaitingError();
      case "retry":
        await job.moveToDelayed(Date.now() + RETRY_MS, token);
        throw new DelayedError();
      case "lost":
        // Another run holds the job; completing it here would take it from that run.
        throw new WaitingError();
      case "done":
        return;
    }
  }

  async waiting(): Promise<number> {
    return this.queue.getWaitingCount().catch(() => 0);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
    await closeConnection(this.redis);
  }
}
