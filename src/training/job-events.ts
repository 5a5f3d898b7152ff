import type { JobPatch, JobState, JobStatus, Store, StoredJobEvent } from "../store/repository.js";
import type { HistoryEntry } from "./checkpoint.js";
import type { JobEventBus } from "./job-event-bus.js";
import { type JobProgress, progressOf } from "./job-spec.js";

export type JobEvent =
  | { event: "progress"; data: JobProgress & { loss: number | null; samplesPerSecond: number } }
  | { event: "evaluation"; data: HistoryEntry }
  | {
      event: "status";
      data: { status: JobStatus; resultModelId: string | null; error: unknown };
    };

const FINISHED: ReadonlySet<JobStatus> = new Set(["succeeded", "failed", "cancelled"]);
export const isFinished = (job: Pick<JobState, "status">) => FINISHED.has(job.status);

/**
 * What happens to jobs, said once: each change is written to the store, its event stored beside
 * it, and the stored event (with its id) handed to the bus, which carries it to every stream
 * following the job on any replica. The store owns the history and the events; nothing else
 * keeps them. A job's writes go one after the other in the order they were made (`serially`),
 * so its events get ids, and reach streams, in that order whichever connection ran them.
 */
export class JobEvents {
  private readonly observers = new Set<(jobId: string, event: JobEvent) => void>();
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    readonly bus: JobEventBus,
  ) {}

  /** The job's events as they are stored, wherever it runs. */
  subscribe(jobId: string, listener: (event: StoredJobEvent) => void): () => void {
    return this.bus.subscribe(jobId, listener);
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

  /** The job as it is after the write: its `cancelRequested` is how a cancel from anywhere arrives. */
  progress(
    job: JobState,
    iteration: number,
    loss: number,
    samplesPerSecond: number,
    owner?: string,
  ): Promise<JobState | undefined> {
    const progress = progressOf(job.request, iteration);
    return this.serially(job.id, async () => {
      const updated = await this.store.jobs.update(
        job.id,
        { progress, loss, samplesPerSecond },
        owner,
      );
      await this.emit(job.id, { event: "progress", data: { ...progress, loss, samplesPerSecond } });
      return updated;
    });
  }

  evaluation(jobId: string, entry: HistoryEntry, owner?: string): Promise<void> {
    return this.serially(jobId, async () => {
      await this.store.jobs.appendHistory(jobId, [entry], owner);
      await this.emit(jobId, { event: "evaluation", data: entry });
    });
  }

  /**
   * A change of status (started, resumed, ended); the job as it is now, or undefined. `owner`:
   * the runner's, fencing the write (see JobRepository).
   */
  status(jobId: string, patch: JobPatch, owner?: string): Promise<JobState | undefined> {
    return this.serially(jobId, async () => {
      const job = await this.store.jobs.update(jobId, patch, owner);
      if (job) await this.emit(job.id, statusEvent(job));
      return job;
    });
  }

  /** Tells the status of a job already written (as a result model's transaction did). */
  statusOf(job: JobState): Promise<void> {
    return this.serially(job.id, () => this.emit(job.id, statusEvent(job)));
  }

  /** Every event of every job run in this process (job telemetry). */
  observe(observer: (jobId: string, event: JobEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  private async emit(jobId: string, event: JobEvent): Promise<void> {
    const stored = await this.store.events.append(jobId, event);
    this.bus.publish(stored);
    for (const observer of this.observers) observer(jobId, event);
  }
}

export function statusEvent(job: JobState): JobEvent {
  const { status, resultModelId, error } = job;
  return { event: "status", data: { status, resultModelId, error } };
}
