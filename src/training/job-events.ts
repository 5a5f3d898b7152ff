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
 * history; nothing else keeps one.
 */
export class JobEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private readonly observers = new Set<(jobId: string, event: JobEvent) => void>();

  constructor(private readonly store: Store) {}

  subscribe(jobId: string, listener: (event: JobEvent) => void): () => void {
    this.emitter.on(jobId, listener);
    return () => this.emitter.off(jobId, listener);
  }

  progress(job: JobRecord, iteration: number, loss: number, samplesPerSecond: number): void {
    const progress = progressOf(job.request, iteration);
    this.store.jobs.update(job.id, { progress, loss, samplesPerSecond });
    this.emit(job.id, { event: "progress", data: { ...progress, loss, samplesPerSecond } });
  }

  evaluation(jobId: string, entry: HistoryEntry): void {
    this.store.jobs.appendHistory(jobId, [entry]);
    this.emit(jobId, { event: "evaluation", data: entry });
  }

  /** A change of status (started, resumed, ended); the job as it is now, or undefined. */
  status(jobId: string, patch: JobPatch): JobRecord | undefined {
    const job = this.store.jobs.update(jobId, patch);
    if (job) this.statusOf(job);
    return job;
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
