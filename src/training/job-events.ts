import { EventEmitter } from "node:events";
import type { JobPatch, JobRecord, JobStatus, Store } from "../store/repository.js";
import type { HistoryEntry } from "./checkpoint.js";
import { type JobProgress, progressOf } from "./job-spec.js";

export type JobEvent =
  | { event: "progress"; data: JobProgress & { loss: number | null; samplesPerSecond: number } }
  | { event: "evaluation"; data: HistoryEntry }
  | {
      event: "status";
      data: { status: JobStatus; resultModelId: string | null; error: unknown };
    };

const FINISHED: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "cancelled"]);
export const isFinished = (job: Pick<JobRecord, "status">) => FINISHED.has(job.status);

/**
 * What happens to jobs, said once: each change is written to the store and then told to the
 * job's subscribers (its event streams), so the store and every stream agree. The store owns the
 * history; nothing else keeps one. A job's writes go one after the other in the order they were
 * made (`serially`), so its events reach streams in that order whichever connection ran them.
 */
export class JobEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private readonly observers = new Set<(jobId: string, event: JobEvent) => void>();
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(private readonly store: Store) {}

  subscribe(jobId: string, listener: (event: JobEvent) => void): () => void {
    this.emitter.on(jobId, listener);
    return () => this.emitter.off(jobId, listener);
  }

  /** Runs `write` after the job's earlier writes have settled (whether or not they failed). */
  serially<T>(jobId: string, write: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(jobId) ?? Promise.resolve();
    const next = previous.then(write, write);
    const tail = next.catch(() => {});
    this.tails.set(jobId, tail);
    void tail.then(() => {
      if (this.tails.get(jobId) === tail) this.tails.delete(jobId);
    });
    return next;
  }

  progress(
    job: JobRecord,
    iteration: number,
    loss: number,
    samplesPerSecond: number,
    owner?: string,
  ): Promise<void> {
    const progress = progressOf(job.request, iteration);
    return this.serially(job.id, async () => {
      await this.store.jobs.update(job.id, { progress, loss, samplesPerSecond }, owner);
      this.emit(job.id, { event: "progress", data: { ...progress, loss, samplesPerSecond } });
    });
  }

  evaluation(jobId: string, entry: HistoryEntry, owner?: string): Promise<void> {
    return this.serially(jobId, async () => {
      await this.store.jobs.appendHistory(jobId, [entry], owner);
      this.emit(jobId, { event: "evaluation", data: entry });
    });
  }

  /**
   * A change of status (started, resumed, ended); the job as it is now, or undefined. `owner`:
   * the runner's, fencing the write (see JobRepository).
   */
  status(jobId: string, patch: JobPatch, owner?: string): Promise<JobRecord | undefined> {
    return this.serially(jobId, async () => {
      const job = await this.store.jobs.update(jobId, patch, owner);
      if (job) this.statusOf(job);
      return job;
    });
  }

  /** Tells subscribers the status of a job already written (as a result model's transaction). */
  statusOf(job: JobRecord): void {
    const { status, resultModelId, error } = job;
    this.emit(job.id, { event: "status", data: { status, resultModelId, error } });
  }

  /** Every event of every job (the SSE replay log, job telemetry). */
  observe(observer: (jobId: string, event: JobEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  private emit(jobId: string, event: JobEvent): void {
    this.emitter.emit(jobId, event);
    for (const observer of this.observers) observer(jobId, event);
  }
}
