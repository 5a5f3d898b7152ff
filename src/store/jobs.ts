import { randomUUID } from "node:crypto";
import type { Transaction } from "kysely";
import { dtypeOf, type Tensor } from "../core/tensor.js";
import { fromBlob, toBlob } from "./blob.js";
import { Checkpoints } from "./checkpoints.js";
import { keysetPage, olderThan, tenantIs } from "./cursor.js";
import type { Db, Engine } from "./engine.js";
import { insertModel, toRecord } from "./models.js";
import {
  type Checkpoint,
  type CreateJobOptions,
  type HistoryEntry,
  type JobPatch,
  type JobRecord,
  type JobRepository,
  type JobState,
  type JobStatus,
  type JobSummaryRecord,
  LeaseLostError,
  type ListQuery,
  type ModelRecord,
  type NewJob,
  type NewModel,
  type Page,
  PendingLimitError,
} from "./repository.js";
import type { JobsTable, Schema } from "./schema.js";

const SUMMARY_COLUMNS = [
  "id",
  "tenant",
  "status",
  "model_id",
  "result_model_id",
  "progress",
  "loss",
  "error",
  "created_at",
  "started_at",
  "finished_at",
  "samples_per_second",
  "cancel_requested",
  "runner",
  "kernels",
] as const;
const ALL_COLUMNS = [...SUMMARY_COLUMNS, "request"] as const;

type PatchColumns = Partial<
  Omit<JobsTable, "id" | "tenant" | "request" | "model_id" | "created_at" | "runner">
>;

/** Column and encoding of each patchable field; the only names that ever reach SQL text. */
const PATCH_COLUMNS: {
  [K in keyof Required<JobPatch>]: [keyof PatchColumns, (v: JobPatch[K]) => unknown];
} = {
  status: ["status", (v) => v],
  resultModelId: ["result_model_id", (v) => v],
  progress: ["progress", (v) => JSON.stringify(v)],
  loss: ["loss", (v) => v],
  error: ["error", (v) => (v === null ? null : JSON.stringify(v))],
  startedAt: ["started_at", (v) => v],
  finishedAt: ["finished_at", (v) => v],
  samplesPerSecond: ["samples_per_second", (v) => v],
  cancelRequested: ["cancel_requested", (v) => (v ? 1 : 0)],
  kernels: ["kernels", (v) => JSON.stringify(v)],
};

const PENDING: JobStatus[] = ["queued", "running"];

export class Jobs implements JobRepository {
  private readonly checkpoints: Checkpoints;

  constructor(private readonly engine: Engine) {
    this.checkpoints = new Checkpoints(engine);
  }

  async create(
    job: NewJob,
    tensors: ReadonlyMap<string, Tensor> = new Map(),
    { maxPending, model }: CreateJobOptions = {},
  ): Promise<JobRecord> {
    const record: JobState = {
      status: "queued",
      resultModelId: null,
      loss: null,
      error: null,
      startedAt: null,
      finishedAt: null,
      samplesPerSecond: null,
      cancelRequested: false,
      runner: null,
      kernels: [],
      ...definedOnly(job),
      id: job.id ?? randomUUID(),
      createdAt: job.createdAt ?? new Date().toISOString(),
    };
    const modelRecord = model && toRecord(model);
    if (modelRecord && modelRecord.id !== record.modelId) {
      throw new TypeError(`job ${record.id} names model ${record.modelId}, not ${modelRecord.id}`);
    }
    await this.engine.write(async (trx) => {
      if (maxPending !== undefined) {
        await this.engine.lockTenant(trx, record.tenant);
        const { pending } = await trx
          .selectFrom("jobs")
          .select((eb) => eb.fn.countAll().as("pending"))
          .where(tenantIs(record.tenant))
          .where("status", "in", PENDING)
          .executeTakeFirstOrThrow();
        if (Number(pending) >= maxPending) throw new PendingLimitError(record.tenant, maxPending);
      }
      if (modelRecord) await insertModel(trx, modelRecord);
      await trx
        .insertInto("jobs")
        .values({
          id: record.id,
          tenant: record.tenant,
          model_id: record.modelId,
          created_at: record.createdAt,
          request: JSON.stringify(record.request ?? null),
          runner: record.runner,
          ...(encodePatch(record) as Required<ReturnType<typeof encodePatch>>),
        })
        .execute();
      if (tensors.size === 0) return;
      await trx
        .insertInto("job_tensors")
        .values(
          [...tensors].map(([name, { shape, data }]) => ({
            job_id: record.id,
            name,
            shape: JSON.stringify(shape),
            dtype: dtypeOf(data),
            data: toBlob(data),
          })),
        )
        .execute();
    });
    return { ...record, history: [] };
  }

  async loadTensors(jobId: string): Promise<Map<string, Tensor>> {
    const rows = await this.engine.db
      .selectFrom("job_tensors")
      .select(["name", "shape", "dtype", "data"])
      .where("job_id", "=", jobId)
      .execute();
    return new Map(
      rows.map((row) => [
        row.name,
        { shape: JSON.parse(row.shape), data: fromBlob(row.data, row.dtype) },
      ]),
    );
  }

  async get(id: string, tenant: string | null): Promise<JobRecord | undefined> {
    const [row] = await this.engine.reuse(
      `jobs.get:${tenant === null}`,
      tenant === null ? [id] : [id, tenant],
      ([id, tenant = null]) =>
        this.engine.db
          .selectFrom("jobs")
          .select(ALL_COLUMNS)
          .where("id", "=", id)
          .where(tenantIs(tenant)),
    );
    return row && { ...jobFromRow(row), history: await historyOf(this.engine.db, id) };
  }

  async list(query: ListQuery): Promise<Page<JobSummaryRecord>> {
    const page = await keysetPage(
      query,
      (key, count) => {
        let q = this.engine.db
          .selectFrom("jobs")
          .select(SUMMARY_COLUMNS)
          .where(tenantIs(query.tenant));
        if (key) q = q.where(olderThan(key));
        return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(count).execute();
      },
      summaryFromRow,
    );
    const byJob = await histories(
      this.engine.db,
      page.items.map((job) => job.id),
    );
    return {
      ...page,
      items: page.items.map((job) => ({ ...job, history: byJob.get(job.id) ?? [] })),
    };
  }

  async claim(id: string, owner: string): Promise<JobState | undefined> {
    const row = await this.engine.db
      .updateTable("jobs")
      .set({ runner: owner })
      .where("id", "=", id)
      .returning(ALL_COLUMNS)
      .executeTakeFirst();
    return row && jobFromRow(row);
  }

  async update(id: string, patch: JobPatch, owner?: string): Promise<JobState | undefined> {
    const values = encodePatch(patch);
    const { db } = this.engine;
    if (Object.keys(values).length === 0) {
      const row = await db
        .selectFrom("jobs")
        .select(ALL_COLUMNS)
        .where("id", "=", id)
        .executeTakeFirst();
      if (row && owner !== undefined && row.runner !== owner) throw new LeaseLostError(id, owner);
      return row && jobFromRow(row);
    }
    let query = db.updateTable("jobs").set(values).where("id", "=", id);
    if (owner !== undefined) query = query.where("runner", "=", owner);
    const row = await query.returning(ALL_COLUMNS).executeTakeFirst();
    if (!row) await this.refuseIfFenced(db, id, owner);
    return row && jobFromRow(row);
  }

  appendHistory(id: string, entries: HistoryEntry[], owner?: string): Promise<void> {
    return this.engine.write(async (trx) => {
      if (!(await this.lockFenced(trx, id, owner))) throw new Error(`job ${id} does not exist`);
      if (entries.length === 0) return;
      await trx
        .insertInto("job_history")
        .values(
          entries.map((entry) => ({
            job_id: id,
            iteration: entry.iteration,
            entry: JSON.stringify(entry),
          })),
        )
        .execute();
    });
  }

  async lastHistoryEntry(id: string): Promise<HistoryEntry | undefined> {
    const row = await this.engine.db
      .selectFrom("job_history")
      .select("entry")
      .where("job_id", "=", id)
      .orderBy("id", "desc")
      .limit(1)
      .executeTakeFirst();
    return row && JSON.parse(row.entry);
  }

  truncateHistory(id: string, iteration: number, owner?: string): Promise<void> {
    return this.engine.write(async (trx) => {
      if (!(await this.lockFenced(trx, id, owner))) return;
      await trx
        .deleteFrom("job_history")
        .where("job_id", "=", id)
        .where("iteration", ">", iteration)
        .execute();
    });
  }

  requestCancel(id: string, tenant: string | null): Promise<JobRecord | undefined> {
    return this.engine.write(async (trx) => {
      await trx
        .updateTable("jobs")
        .set({ cancel_requested: 1 })
        .where("id", "=", id)
        .where(tenantIs(tenant))
        .where("status", "in", PENDING)
        .execute();
      const row = await trx
        .selectFrom("jobs")
        .select(ALL_COLUMNS)
        .where("id", "=", id)
        .where(tenantIs(tenant))
        .executeTakeFirst();
      return row && { ...jobFromRow(row), history: await historyOf(trx, id) };
    });
  }

  saveCheckpoint(checkpoint: Checkpoint, owner?: string): Promise<void> {
    return this.engine.write(async (trx) => {
      if (owner !== undefined) await this.lockFenced(trx, checkpoint.jobId, owner);
      await this.checkpoints.save(trx, checkpoint);
    });
  }

  loadCheckpoint(jobId: string): Promise<Checkpoint | undefined> {
    return this.checkpoints.load(jobId);
  }

  deleteCheckpoint(jobId: string): Promise<void> {
    return this.checkpoints.delete(this.engine.db, jobId);
  }

  async findByStatus(statuses: readonly JobStatus[]): Promise<JobState[]> {
    if (statuses.length === 0) return [];
    const rows = await this.engine.db
      .selectFrom("jobs")
      .select(ALL_COLUMNS)
      .where("status", "in", statuses)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(jobFromRow);
  }

  finishWithModel(
    jobId: string,
    patch: JobPatch,
    model: NewModel,
    owner?: string,
  ): Promise<{ job: JobState; model: ModelRecord }> {
    const created = toRecord(model);
    return this.engine.write(async (trx) => {
      const job = await this.lockFenced(trx, jobId, owner);
      if (!job) throw new Error(`job ${jobId} does not exist`);
      if (job.tenant !== model.tenant) {
        throw new Error(`job ${jobId} and its result model belong to different tenants`);
      }
      await insertModel(trx, created);
      const row = await trx
        .updateTable("jobs")
        .set(encodePatch({ ...patch, resultModelId: created.id }))
        .where("id", "=", jobId)
        .returning(ALL_COLUMNS)
        .executeTakeFirstOrThrow();
      await this.checkpoints.delete(trx, jobId);
      return { job: jobFromRow(row), model: created };
    });
  }

  /**
   * Locks the job's row for the transaction, so that checking its runner and writing are one
   * step (as an update's WHERE makes them); LeaseLostError when `owner` no longer runs it.
   * Undefined when there is no such job.
   */
  private async lockFenced(trx: Transaction<Schema>, id: string, owner: string | undefined) {
    const job = await this.engine.lockJob(trx, id);
    if (job && owner !== undefined && job.runner !== owner) throw new LeaseLostError(id, owner);
    return job;
  }

  /** After a fenced write changed nothing: LeaseLostError when the job exists (another runs it). */
  private async refuseIfFenced(db: Db, id: string, owner: string | undefined): Promise<void> {
    if (owner === undefined) return;
    const row = await db
      .selectFrom("jobs")
      .select("runner")
      .where("id", "=", id)
      .executeTakeFirst();
    if (row && row.runner !== owner) throw new LeaseLostError(id, owner);
  }
}

/** One job's history, oldest entry first. */
async function historyOf(db: Db, jobId: string): Promise<HistoryEntry[]> {
  return (await histories(db, [jobId])).get(jobId) ?? [];
}

/** The histories of these jobs, each oldest entry first. */
async function histories(db: Db, jobIds: string[]): Promise<Map<string, HistoryEntry[]>> {
  const byJob = new Map<string, HistoryEntry[]>();
  if (jobIds.length === 0) return byJob;
  const rows = await db
    .selectFrom("job_history")
    .select(["job_id", "entry"])
    .where("job_id", "in", jobIds)
    .orderBy("job_id")
    .orderBy("id")
    .execute();
  for (const { job_id, entry } of rows) {
    const entries = byJob.get(job_id) ?? [];
    if (entries.length === 0) byJob.set(job_id, entries);
    entries.push(JSON.parse(entry));
  }
  return byJob;
}

/** The patch's defined fields as column values (undefined means "leave as is"). */
function encodePatch(patch: JobPatch): PatchColumns {
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(PATCH_COLUMNS) as (keyof JobPatch)[]) {
    const value = patch[key];
    if (value === undefined) continue;
    const [column, encode] = PATCH_COLUMNS[key] as [string, (v: unknown) => unknown];
    values[column] = encode(value);
  }
  return values as PatchColumns;
}

/** The object without its undefined properties, so they cannot override defaults. */
function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function jobFromRow(row: Omit<JobsTable, "request"> & { request: string }): JobState {
  return { ...summaryFromRow(row), request: JSON.parse(row.request) };
}

function summaryFromRow(row: Omit<JobsTable, "request">): Omit<JobState, "request"> {
  return {
    id: row.id,
    tenant: row.tenant,
    status: row.status,
    modelId: row.model_id,
    resultModelId: row.result_model_id,
    progress: JSON.parse(row.progress),
    loss: row.loss,
    error: row.error === null ? null : JSON.parse(row.error),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    samplesPerSecond: row.samples_per_second,
    cancelRequested: row.cancel_requested === 1,
    runner: row.runner,
    kernels: JSON.parse(row.kernels),
  };
}
