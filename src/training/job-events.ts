import type { JobPatch, JobState, JobStatus, Store, StoredJobEvent } from "../store/repository.js";
import type { Checkpoint, HistoryEntry } from "./checkpoint.js";
import type { JobEventBus } from "./job-event-bus.js";
import { type JobProgress, progressOf } from "./job-spec.js";

export type JobEvent =
  | { event: "progress"; data: JobProgress & { loss: number | null; samplesPerSecond: number } }
  | { event: "evaluation"; data: HistoryEntry }
  | {
      event: "status";
      data: { status: JobStatus; resultModelId: string | null; error: unknown };
    };

/** What a running job's thread reported and the store has yet to take: written in one go. */
interface Telemetry {
  entries: HistoryEntry[];
  /** The latest checkpoint: an earlier one still waiting is superseded by it. */
  checkpoint?: Checkpoint;
  owner?: string;
  written: Promise<void>;
  /** Writes it without waiting for its interval (a write is queued after it, or a flush). */
  wake: () => void;
}

/**
 * A running job's telemetry is written at most this often. At FULL sync every commit waits for
 * the disk, on the event loop (SQLite); a job that evaluates every few steps would otherwise
 * hold the loop as long as the disk is slow. The streams' evaluations arrive this much later.
 */
const TELEMETRY_EVERY_MS = 250;

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
  /** Per job, telemetry queued last and not yet begun: what arrives next joins it. */
  private readonly open = new Map<string, Telemetry>();
  private readonly telemetryAt = new Map<string, number>();

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
    // What is queued after telemetry comes after it: later telemetry may not join it any more,
    // and it need not wait for its interval.
    this.open.get(jobId)?.wake();
    this.open.delete(jobId);
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
      await this.emit(job.id, [
        { event: "progress", data: { ...progress, loss, samplesPerSecond } },
      ]);
      return updated;
    });
  }

  /**
   * An evaluation, a checkpoint or both, written after the job's earlier writes and at most every
   * TELEMETRY_EVERY_MS. What arrives meanwhile, or while the write before it is still running,
   * joins it: one write of all its entries and only the latest checkpoint, so the writes never
   * pile up behind a slow disk, nor hold the event loop while they drain.
   */
  telemetry(
    jobId: string,
    report: { entry?: HistoryEntry; checkpoint?: Checkpoint },
    owner?: string,
  ): Promise<void> {
    let batch = this.open.get(jobId);
    if (!batch) {
      let urgent = false;
      let stopWaiting = () => {};
      const created: Telemetry = {
        entries: [],
        written: Promise.resolve(),
        wake: () => {
          urgent = true;
          stopWaiting();
        },
      };
      created.written = this.serially(jobId, async () => {
        const due = (this.telemetryAt.get(jobId) ?? Number.NEGATIVE_INFINITY) + TELEMETRY_EVERY_MS;
        if (!urgent && this.open.get(jobId) === created && due > performance.now()) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, due - performance.now());
            stopWaiting = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        if (this.open.get(jobId) === created) this.open.delete(jobId);
        this.telemetryAt.set(jobId, performance.now());
        return this.write(jobId, created);
      });
      this.open.set(jobId, created);
      batch = created;
    }
    if (report.entry) batch.entries.push(report.entry);
    if (report.checkpoint) batch.checkpoint = report.checkpoint;
    batch.owner = owner;
    return batch.written;
  }

  /** Waits until the job's writes so far are done, its telemetry written now. */
  async flush(jobId: string): Promise<void> {
    this.open.get(jobId)?.wake();
    await this.tails.get(jobId);
  }

  private async write(jobId: string, { entries, checkpoint, owner }: Telemetry): Promise<void> {
    if (entries.length > 0) {
      await this.store.jobs.appendHistory(jobId, entries, owner);
      await this.emit(
        jobId,
        entries.map((data): JobEvent => ({ event: "evaluation", data })),
      );
    }
    if (checkpoint) await this.store.jobs.saveCheckpoint(checkpoint, owner);
  }

  /**
   * A change of status (started, resumed, ended); the job as it is now, or undefined. `owner`:
   * the runner's, fencing the write (see JobRepository).
   */
  status(jobId: string, patch: JobPatch, owner?: string): Promise<JobState | undefined> {
    return this.serially(jobId, async () => {
      const job = await this.store.jobs.update(jobId, patch, owner);
      if (job) await this.emit(job.id, [statusEvent(job)]);
      if (job && isFinished(job)) this.telemetryAt.delete(jobId);
      return job;
    });
  }

  /** Tells the status of a job already written (as a result model's transaction did). */
  statusOf(job: JobState): Promise<void> {
    if (isFinished(job)) this.telemetryAt.delete(job.id);
    return this.serially(job.id, () => this.emit(job.id, [statusEvent(job)]));
  }

  /** Every event of every job run in this process (job telemetry). */
  observe(observer: (jobId: string, event: JobEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  private async emit(jobId: string, events: JobEvent[]): Promise<void> {
    const stored = await this.store.events.append(jobId, events);
    for (const [i, event] of events.entries()) {
      this.bus.publish(stored[i]);
      for (const observer of this.observers) observer(jobId, event);
    }
  }
}

export function statusEvent(job: JobState): JobEvent {
  const { status, resultModelId, error } = job;
  return { event: "status", data: { status, resultModelId, error } };
}
