import type { JobRecord, Store } from "../store/repository.js";

/**
 * Where submitted jobs wait for a runner. Embedded, this is the in-process queue below over the
 * store; a distributed queue implements the same so that any replica may run any job.
 */
export interface JobQueue {
  /** Makes a stored, queued job runnable. */
  enqueue(job: JobRecord): void;
  /** Takes a job out before it started: true when it was waiting here (it will never run). */
  withdraw(jobId: string): boolean;
  /**
   * Delivers jobs to `run`, at most `concurrency` at a time, until `close`: first those the store
   * holds as running (a previous process left them; they resume) and queued, oldest first.
   */
  start(run: (job: JobRecord) => Promise<void>): Promise<void>;
  /** Stops delivering; resolves once every delivered job's `run` has settled. */
  close(): Promise<void>;
  /** Jobs waiting, or of one tenant. */
  waiting(tenant?: string | null): number;
}

export class InProcessJobQueue implements JobQueue {
  private readonly jobs: JobRecord[] = [];
  private readonly active = new Set<Promise<void>>();
  private run: ((job: JobRecord) => Promise<void>) | null = null;

  constructor(
    private readonly store: Store,
    private readonly concurrency: number,
  ) {}

  async start(run: (job: JobRecord) => Promise<void>): Promise<void> {
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

  enqueue(job: JobRecord): void {
    this.jobs.push(job);
    // Not within the caller's turn: the submission answers (and is counted) before the job runs.
    setImmediate(() => this.pump());
  }

  withdraw(jobId: string): boolean {
    const at = this.jobs.findIndex((j) => j.id === jobId);
    if (at === -1) return false;
    this.jobs.splice(at, 1);
    return true;
  }

  waiting(tenant?: string | null): number {
    if (tenant === undefined) return this.jobs.length;
    return this.jobs.filter((j) => j.tenant === tenant).length;
  }

  async close(): Promise<void> {
    this.run = null;
    await Promise.allSettled([...this.active]);
  }

  private pump(): void {
    while (this.run && this.active.size < this.concurrency && this.jobs.length > 0) {
      const job = this.jobs.shift()!;
      const done: Promise<void> = this.run(job).finally(() => {
        this.active.delete(done);
        this.pump();
      });
      this.active.add(done);
    }
  }
}
