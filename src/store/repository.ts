/**
 * What the service keeps between requests, as plain data, and the repositories that keep it.
 * One implementation over Kysely serves both engines: embedded SQLite in DATA_DIR, and
 * PostgreSQL when DATABASE_URL is set (see open-store.ts). Every method is asynchronous.
 *
 * Tenancy: every record has a tenant, `null` in open mode. A read with one tenant never sees
 * another tenant's records (`get` gives undefined, lists leave them out).
 */
import type { KernelPath } from "../core/backend.js";
import type { LayerShape, LayerSpec } from "../core/layer-spec.js";
import type { DType, Tensor } from "../core/tensor.js";
import type { Checkpoint, HistoryEntry } from "../training/checkpoint.js";
import type { JobEvent } from "../training/job-events.js";
import type { JobProgress, JobSpec } from "../training/job-spec.js";

export type { Checkpoint, HistoryEntry, JobProgress };

export type ModelOrigin =
  | { kind: "architecture"; architecture: unknown; seed: number }
  | { kind: "layers" }
  | { kind: "training"; jobId: string; sourceModelId: string; dataset: unknown; metrics: unknown };

export interface ModelRecord {
  id: string;
  tenant: string | null;
  name: string | null;
  dtype: DType;
  layers: LayerSpec[];
  parameterCount: number;
  origin: ModelOrigin;
  createdAt: string;
  updatedAt: string;
}

/** A model without its numbers: its layers' shapes are enough to describe it in a list. */
export type ModelSummaryRecord = Omit<ModelRecord, "layers"> & { layers: LayerShape[] };

/** What `create` needs: the store assigns the id and timestamps unless given, and counts. */
export type NewModel = Omit<ModelRecord, "id" | "createdAt" | "updatedAt" | "parameterCount"> &
  Partial<Pick<ModelRecord, "id" | "createdAt" | "updatedAt">>;

export interface ListQuery {
  tenant: string | null;
  /** Page size, a positive integer. */
  limit: number;
  /** `nextCursor` of the previous page; absent or null for the first (newest) page. */
  cursor?: string | null;
}

export interface Page<T> {
  items: T[];
  /** Opaque; null on the last page. */
  nextCursor: string | null;
}

/** A cursor that this store did not hand out (a client error, not a server fault). */
export class InvalidCursorError extends Error {
  constructor(readonly cursor: string) {
    super("invalid pagination cursor");
    this.name = "InvalidCursorError";
  }
}

/**
 * A runner's write after another runner claimed the job (`jobs.claim`): nothing was written, and
 * the runner must stop, since the job is someone else's now.
 */
export class LeaseLostError extends Error {
  constructor(
    readonly jobId: string,
    readonly owner: string,
  ) {
    super(`job ${jobId} is no longer run by ${owner}: another runner claimed it`);
    this.name = "LeaseLostError";
  }
}

/** The tenant already has `maxPending` queued or running jobs; the job was not created. */
export class PendingLimitError extends Error {
  constructor(
    readonly tenant: string | null,
    readonly maxPending: number,
  ) {
    super(`${maxPending} training jobs are already queued or running`);
    this.name = "PendingLimitError";
  }
}

/**
 * The store's server cannot be reached (down, restarting, refusing connections, too slow to
 * connect): a transient fault, answered 503 with Retry-After; the next call tries again.
 */
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`the store is unavailable: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "StoreUnavailableError";
  }
}

export interface ModelRepository {
  create(model: NewModel): Promise<ModelRecord>;
  get(id: string, tenant: string | null): Promise<ModelRecord | undefined>;
  /** The model without its parameters; never reads them. */
  getSummary(id: string, tenant: string | null): Promise<ModelSummaryRecord | undefined>;
  /** Newest first. */
  list(query: ListQuery): Promise<Page<ModelSummaryRecord>>;
  /** Ids of the tenant's models of that name, newest first, at most `limit`. */
  idsByName(name: string, tenant: string | null, limit: number): Promise<string[]>;
  /** True when the model existed for this tenant and is gone now. */
  delete(id: string, tenant: string | null): Promise<boolean>;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

/**
 * A job's own row: what the runner, the queue and the events read. Its history is kept apart
 * (one stored row per entry, so appending stays cheap however long a job runs) and read only
 * where a job is shown: `JobRecord`.
 */
export interface JobState {
  id: string;
  tenant: string | null;
  status: JobStatus;
  request: JobSpec;
  modelId: string;
  resultModelId: string | null;
  progress: JobProgress;
  loss: number | null;
  error: unknown | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  samplesPerSecond: number | null;
  cancelRequested: boolean;
  /** Who last claimed the job to run it (`jobs.claim`); null until then. */
  runner: string | null;
  /**
   * The kernel paths that computed the job's parameters, in order (empty until it starts): more
   * than one means a resume ran on other kernels, so its bits differ from an uninterrupted run.
   */
  kernels: KernelPath[];
}

/** A job with its history, oldest entry first: a job as the API shows it. */
export interface JobRecord extends JobState {
  history: HistoryEntry[];
}

/** A job as lists show it: without the request, which may carry a whole inline training set. */
export type JobSummaryRecord = Omit<JobRecord, "request">;

/**
 * What `create` needs; the rest starts as a fresh queued job (id, createdAt assigned). The inline
 * tensors its request names (`{stored: name}`) are stored with it, under those names.
 */
export type NewJob = Pick<JobState, "tenant" | "request" | "modelId" | "progress"> &
  Partial<Omit<JobState, "tenant" | "request" | "modelId" | "progress" | "runner">>;

export interface CreateJobOptions {
  /**
   * Refuse (PendingLimitError) when the tenant already has this many queued or running jobs;
   * counted and inserted atomically, so concurrent creates cannot both pass the cap.
   */
  maxPending?: number;
  /** A model to create in the same transaction (the job's own inline model, `modelId` its id). */
  model?: NewModel;
}

/** The fields a running job changes. */
export type JobPatch = Partial<
  Pick<
    JobRecord,
    | "status"
    | "resultModelId"
    | "progress"
    | "loss"
    | "error"
    | "startedAt"
    | "finishedAt"
    | "samplesPerSecond"
    | "cancelRequested"
    | "kernels"
  >
>;

/**
 * Fencing: the writes a runner makes take its `owner` (as given to `claim`); when the job's
 * runner is another by then, nothing is written and they throw LeaseLostError. Without an owner
 * (an API cancel, a queued job withdrawn) they are not fenced.
 */
export interface JobRepository {
  create(
    job: NewJob,
    tensors?: ReadonlyMap<string, Tensor>,
    options?: CreateJobOptions,
  ): Promise<JobRecord>;
  get(id: string, tenant: string | null): Promise<JobRecord | undefined>;
  /** The inline tensors stored with a job, by name. */
  loadTensors(jobId: string): Promise<Map<string, Tensor>>;
  /** Newest first. */
  list(query: ListQuery): Promise<Page<JobSummaryRecord>>;
  /** Makes `owner` the job's runner, taking over from any previous one; undefined: no such job. */
  claim(id: string, owner: string): Promise<JobState | undefined>;
  /** For the orchestrator, not tenant-scoped; undefined when there is no such job. */
  update(id: string, patch: JobPatch, owner?: string): Promise<JobState | undefined>;
  /** Appends to the job's history (one row each: nothing already stored is rewritten). */
  appendHistory(id: string, entries: HistoryEntry[], owner?: string): Promise<void>;
  /** The newest entry of the job's history, without reading the rest. */
  lastHistoryEntry(id: string): Promise<HistoryEntry | undefined>;
  /** Drops the entries after `iteration` (what a resume from there will redo). */
  truncateHistory(id: string, iteration: number, owner?: string): Promise<void>;
  /**
   * Flags a queued or running job for cancellation; the orchestrator decides what that means.
   * Undefined when the tenant has no such job; a finished job is returned unchanged.
   */
  requestCancel(id: string, tenant: string | null): Promise<JobRecord | undefined>;
  /** Replaces the job's previous checkpoint. */
  saveCheckpoint(checkpoint: Checkpoint, owner?: string): Promise<void>;
  loadCheckpoint(jobId: string): Promise<Checkpoint | undefined>;
  deleteCheckpoint(jobId: string): Promise<void>;
  /** All tenants, oldest first: what to resume or start when the service starts. */
  findByStatus(statuses: readonly JobStatus[]): Promise<JobState[]>;
  /**
   * In one transaction: creates the result model, applies `patch` to the job with
   * `resultModelId` set to the new model, and drops the job's checkpoint. Either all of it
   * happens or none (throws when the job does not exist).
   */
  finishWithModel(
    jobId: string,
    patch: JobPatch,
    model: NewModel,
    owner?: string,
  ): Promise<{ job: JobState; model: ModelRecord }>;
}

/**
 * A job's event as stored: `id` orders every job's events (ascending, never reused); `at` is
 * when it was stored (ISO 8601).
 */
export type StoredJobEvent = { id: number; jobId: string; at: string } & JobEvent;

/** The events of jobs, kept for streams to replay from any replica. */
export interface JobEventRepository {
  /** Stores `events` of one job in order, in one transaction. */
  append(jobId: string, events: JobEvent[]): Promise<StoredJobEvent[]>;
  /** The job's events with ids above `afterId` (0: from the first), ascending, at most `limit`. */
  after(jobId: string, afterId: number, limit: number): Promise<StoredJobEvent[]>;
}

export interface Store {
  /** Which engine holds the data (for logs and tests; callers never branch on it). */
  readonly engine: "sqlite" | "postgres";
  models: ModelRepository;
  jobs: JobRepository;
  events: JobEventRepository;
  /**
   * Gives `tenant` every model and job that belongs to no tenant (made while the service ran
   * open); how many of each. Idempotent: a second call finds none.
   */
  adoptOpenRecords(tenant: string): Promise<{ models: number; jobs: number }>;
  /** A trivial query: resolves when the store answers, throws StoreUnavailableError when not. */
  ping(): Promise<void>;
  /** Harmless to call twice. */
  close(): Promise<void>;
}
