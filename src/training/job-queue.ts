import type { JobState, Store } from "../store/repository.js";

/** What a queue hands a runner: the job's id; the store has the rest. */
export type QueuedJob = Pick<JobState, "id">;

/**
 * How a run ended, for the queue: `done` (the job ended, or had nothing left to run), `stopped`
 * (checkpointed for a shutdown: hand it to another runner now), `lost` (another runner claimed
 * it), `retry` (the store could not be reached: try again shortly).
 */
export type RunOutcome = "done" | "stopped" | "lost" | "retry";

/** The queue cannot take a job now (its server is down): a 503, with Retry-After. */
export class QueueUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`the job queue is unavailable: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "QueueUnavailableError";
  }
}

/**
 * Where submitted jobs wait for a runner. Embedded, the in-process queue below over the store;
 * distributed, BullMQ over Redis (src/distributed/bull-job-queue.ts), so that any replica may
 * run any job.
 */
export interface JobQueue {
  /** Throws QueueUnavailableError when a job could not be enqueued now. */
  ready(): Promise<void>;
  /** Makes a stored, queued job runnable (QueueUnavailableError when it cannot). */
  enqueue(job: QueuedJob): Promise<void>;
  /** Takes a job out before it started: true when it was waiting (it will never run). */
  withdraw(jobId: string): Promise<boolean>;
  /**
   * Delivers jobs to `run`, at most `concurrency` at a time here, until `close`; first what the
   * store holds as running (a previous process left them; they resume) and queued.
   */
  start(run: (job: QueuedJob) => Promise<RunOutcome>): Promise<void>;
  /** Stops taking jobs at once; resolves once every delivered job's `run` has settled. */
  close(): Promise<void>;
  /** Jobs waiting for a runner. */
  waiting(): Promise<number>;
}

/** How long a job whose run could not reach the store waits before it is tried again. */
export const RETRY_MS = 5_000;

export class InProcessJobQueue implements JobQueue {
  private readonly jobs: QueuedJob[] = [];
  private readonly active = new Set<Promise<unknown>>();
  private run: ((job: QueuedJob) => Promise<RunOutcome>) | null = null;

  constructor(
    private readonly store: Store,
    private readonly concurrency: number,
  ) {}

  async start(run: (job: QueuedJob) => Promise<RunOutcome>): Promise<void> {
    this.run = run;
    const left = await this.store.jobs.findByStatus(["running", "queued"]);
    // Jobs enqueued while the store was read are newer than those it found.
    const found = new Set(left.map((j) => j.id));
    const enqueued = this.jobs.splice(0).filter((j) => !found.has(j.id));
    this.jobs.push(
      ...left.filter((j) => j.status === "running"),
      ...left.filter((j) => j.status === "queued"),
      ...enqueued,
    );
    this.pump();
  }

  async ready(): Promise<void> {}

  async enqueue(job: QueuedJob): Promise<void> {
    this.jobs.push(job);
    // Not within the caller's turn: the submission answers (and is counted) before the job runs.
    setImmediate(() => this.pump());
  }

  async withdraw(jobId: string): Promise<boolean> {
    const at = this.jobs.findIndex((j) => j.id === jobId);
    if (at === -1) return false;
    this.jobs.splice(at, 1);
    return true;
  }

  async waiting(): Promise<number> {
    return this.jobs.length;
  }

  async close(): Promise<void> {
    this.run = null;
    await Promise.allSettled([...this.active]);
  }

  private pump(): void {
    while (this.run && this.active.size < this.concurrency && this.jobs.length > 0) {
      const job = this.jobs.shift()!;
      // A stopped job stays `running` in the store and resumes at the next start; a job the
      // store could not be reached for waits its turn again.
      const done: Promise<unknown> = this.run(job)
        .then((outcome) => {
          if (outcome === "retry" && this.run) setTimeout(() => void this.enqueue(job), RETRY_MS);
        })
        .finally(() => {
          this.active.delete(done);
          this.pump();
        });
      this.active.add(done);
    }
  }
}
