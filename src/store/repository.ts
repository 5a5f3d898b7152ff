/**
 * What the service keeps between requests, as plain data, and the repositories that keep it.
 * The embedded SQLite store implements these; a shared server-grade store can later do the same.
 *
 * Tenancy: every record has a tenant, `null` in open mode. A read with one tenant never sees
 * another tenant's records (`get` gives undefined, lists leave them out).
 */
import type { LayerShape, LayerSpec } from "../core/layer-spec.js";
import type { DType, Tensor } from "../core/tensor.js";
import type { Checkpoint, HistoryEntry } from "../training/checkpoint.js";
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

export interface ModelRepository {
  create(model: NewModel): ModelRecord;
  get(id: string, tenant: string | null): ModelRecord | undefined;
  /** The model without its parameters; never reads them. */
  getSummary(id: string, tenant: string | null): ModelSummaryRecord | undefined;
  /** Newest first. */
  list(query: ListQuery): Page<ModelSummaryRecord>;
  /** Ids of the tenant's models of that name, newest first, at most `limit`. */
  idsByName(name: string, tenant: string | null, limit: number): string[];
  /** True when the model existed for this tenant and is gone now. */
  delete(id: string, tenant: string | null): boolean;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface JobRecord {
  id: string;
  tenant: string | null;
  status: JobStatus;
  request: JobSpec;
  modelId: string;
  resultModelId: string | null;
  progress: JobProgress;
  loss: number | null;
  history: HistoryEntry[];
  error: unknown | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  samplesPerSecond: number | null;
  cancelRequested: boolean;
}

/** A job as lists show it: without the request, which may carry a whole inline training set. */
export type JobSummaryRecord = Omit<JobRecord, "request">;

/**
 * What `create` needs; the rest starts as a fresh queued job (id, createdAt assigned). The inline
 * tensors its request names (`{stored: name}`) are stored with it, under those names.
 */
export type NewJob = Pick<JobRecord, "tenant" | "request" | "modelId" | "progress"> &
  Partial<Omit<JobRecord, "tenant" | "request" | "modelId" | "progress">>;

/** The fields a running job changes. */
export type JobPatch = Partial<
  Pick<
    JobRecord,
    | "status"
    | "resultModelId"
    | "progress"
    | "loss"
    | "history"
    | "error"
    | "startedAt"
    | "finishedAt"
    | "samplesPerSecond"
    | "cancelRequested"
  >
>;

export interface JobRepository {
  create(job: NewJob, tensors?: ReadonlyMap<string, Tensor>): JobRecord;
  get(id: string, tenant: string | null): JobRecord | undefined;
  /** The inline tensors stored with a job, by name. */
  loadTensors(jobId: string): Map<string, Tensor>;
  /** Newest first. */
  list(query: ListQuery): Page<JobSummaryRecord>;
  /** For the orchestrator, not tenant-scoped; undefined when there is no such job. */
  update(id: string, patch: JobPatch): JobRecord | undefined;
  /** Appends without rewriting the history from the caller's copy. */
  appendHistory(id: string, entries: HistoryEntry[]): void;
  /** Drops the entries after `iteration` (what a resume from there will redo). */
  truncateHistory(id: string, iteration: number): void;
  /**
   * Flags a queued or running job for cancellation; the orchestrator decides what that means.
   * Undefined when the tenant has no such job; a finished job is returned unchanged.
   */
  requestCancel(id: string, tenant: string | null): JobRecord | undefined;
  /** Replaces the job's previous checkpoint. */
  saveCheckpoint(checkpoint: Checkpoint): void;
  loadCheckpoint(jobId: string): Checkpoint | undefined;
  deleteCheckpoint(jobId: string): void;
  /** All tenants, oldest first: what to resume or start when the service starts. */
  findByStatus(statuses: readonly JobStatus[]): JobRecord[];
  /**
   * In one transaction: creates the result model, applies `patch` to the job with
   * `resultModelId` set to the new model, and drops the job's checkpoint. Either all of it
   * happens or none (throws when the job does not exist).
   */
  finishWithModel(
    jobId: string,
    patch: JobPatch,
    model: NewModel,
  ): { job: JobRecord; model: ModelRecord };
}

export interface Store {
  models: ModelRepository;
  jobs: JobRepository;
  close(): void;
}
