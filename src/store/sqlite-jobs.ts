import { randomUUID } from "node:crypto";
import type Database from "better-sqlite3";
import { type DType, dtypeOf, type Tensor } from "../core/tensor.js";
import { fromBlob, toBlob } from "./blob.js";
import { KeysetPages } from "./cursor.js";
import type {
  Checkpoint,
  HistoryEntry,
  JobPatch,
  JobRecord,
  JobRepository,
  JobStatus,
  JobSummaryRecord,
  ListQuery,
  ModelRecord,
  NewJob,
  NewModel,
  Page,
} from "./repository.js";
import { SqliteCheckpoints } from "./sqlite-checkpoints.js";
import type { SqliteModelRepository } from "./sqlite-models.js";

interface JobRow {
  id: string;
  tenant: string | null;
  status: JobStatus;
  model_id: string;
  result_model_id: string | null;
  progress: string;
  loss: number | null;
  history: string;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  samples_per_second: number | null;
  cancel_requested: number;
}

type FullJobRow = JobRow & { request: string };

const SUMMARY_COLUMNS =
  "id, tenant, status, model_id, result_model_id, progress, loss, history, error, created_at, " +
  "started_at, finished_at, samples_per_second, cancel_requested";
const ALL_COLUMNS = `${SUMMARY_COLUMNS}, request`;

/** Column and encoding of each patchable field; the only names that ever reach SQL text. */
const PATCH_COLUMNS: { [K in keyof Required<JobPatch>]: [string, (v: JobPatch[K]) => unknown] } = {
  status: ["status", (v) => v],
  resultModelId: ["result_model_id", (v) => v],
  progress: ["progress", (v) => JSON.stringify(v)],
  loss: ["loss", (v) => v],
  history: ["history", (v) => JSON.stringify(v)],
  error: ["error", (v) => (v === null ? null : JSON.stringify(v))],
  startedAt: ["started_at", (v) => v],
  finishedAt: ["finished_at", (v) => v],
  samplesPerSecond: ["samples_per_second", (v) => v],
  cancelRequested: ["cancel_requested", (v) => (v ? 1 : 0)],
};

export class SqliteJobRepository implements JobRepository {
  private readonly insertJob: Database.Statement;
  private readonly selectJob: Database.Statement<[string], FullJobRow>;
  private readonly selectScoped: Database.Statement<[string, string | null], FullJobRow>;
  private readonly pages: KeysetPages<JobRow, JobSummaryRecord>;
  private readonly flagCancel: Database.Statement<[string, string | null]>;
  private readonly byStatus: Database.Statement<[string], FullJobRow>;
  private readonly checkpoints: SqliteCheckpoints;
  private readonly insertTensor: Database.Statement;
  private readonly selectTensors: Database.Statement<
    [string],
    { name: string; shape: string; dtype: DType; data: Buffer }
  >;
  private readonly pushHistory: Database.Statement<[string, string]>;
  private readonly cutHistory: Database.Statement<[number, string]>;
  /** Prepared UPDATEs by the set of patched fields: a job's updates repeat the same few. */
  private readonly updates = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly models: SqliteModelRepository,
  ) {
    this.insertJob = db.prepare(
      `INSERT INTO jobs (${ALL_COLUMNS}) VALUES
       (@id, @tenant, @status, @modelId, @resultModelId, @progress, @loss, @history, @error,
        @createdAt, @startedAt, @finishedAt, @samplesPerSecond, @cancelRequested, @request)`,
    );
    this.selectJob = db.prepare(`SELECT ${ALL_COLUMNS} FROM jobs WHERE id = ?`);
    this.selectScoped = db.prepare(`SELECT ${ALL_COLUMNS} FROM jobs WHERE id = ? AND tenant IS ?`);
    this.pages = new KeysetPages(db, "jobs", SUMMARY_COLUMNS, summaryFromRow);
    this.flagCancel = db.prepare(
      `UPDATE jobs SET cancel_requested = 1
       WHERE id = ? AND tenant IS ? AND status IN ('queued', 'running')`,
    );
    this.byStatus = db.prepare(
      `SELECT ${ALL_COLUMNS} FROM jobs WHERE status IN (SELECT value FROM json_each(?))
       ORDER BY created_at, id`,
    );
    this.checkpoints = new SqliteCheckpoints(db);
    this.insertTensor = db.prepare(
      "INSERT INTO job_tensors (job_id, name, shape, dtype, data) VALUES (?, ?, ?, ?, ?)",
    );
    this.selectTensors = db.prepare(
      "SELECT name, shape, dtype, data FROM job_tensors WHERE job_id = ?",
    );
    this.pushHistory = db.prepare(
      "UPDATE jobs SET history = json_insert(history, '$[#]', json(?)) WHERE id = ?",
    );
    this.cutHistory = db.prepare(
      `UPDATE jobs SET history = (SELECT json_group_array(json(value)) FROM json_each(jobs.history)
         WHERE json_extract(value, '$.iteration') <= ?)
       WHERE id = ?`,
    );
  }

  create(job: NewJob, tensors: ReadonlyMap<string, Tensor> = new Map()): JobRecord {
    const record: JobRecord = {
      status: "queued",
      resultModelId: null,
      loss: null,
      history: [],
      error: null,
      startedAt: null,
      finishedAt: null,
      samplesPerSecond: null,
      cancelRequested: false,
      ...definedOnly(job),
      id: job.id ?? randomUUID(),
      createdAt: job.createdAt ?? new Date().toISOString(),
    };
    this.db.transaction(() => {
      this.insertJob.run({
        id: record.id,
        tenant: record.tenant,
        modelId: record.modelId,
        createdAt: record.createdAt,
        request: JSON.stringify(record.request ?? null),
        ...encodePatch(record),
      });
      for (const [name, { shape, data }] of tensors) {
        this.insertTensor.run(record.id, name, JSON.stringify(shape), dtypeOf(data), toBlob(data));
      }
    })();
    return record;
  }

  loadTensors(jobId: string): Map<string, Tensor> {
    return new Map(
      this.selectTensors
        .all(jobId)
        .map((row) => [
          row.name,
          { shape: JSON.parse(row.shape), data: fromBlob(row.data, row.dtype) },
        ]),
    );
  }

  get(id: string, tenant: string | null): JobRecord | undefined {
    const row = this.selectScoped.get(id, tenant);
    return row && jobFromRow(row);
  }

  list(query: ListQuery): Page<JobSummaryRecord> {
    return this.pages.list(query);
  }

  update(id: string, patch: JobPatch): JobRecord | undefined {
    const values = encodePatch(patch);
    const fields = Object.keys(values) as (keyof JobPatch)[];
    if (fields.length === 0) {
      const row = this.selectJob.get(id);
      return row && jobFromRow(row);
    }
    const signature = fields.join(",");
    let statement = this.updates.get(signature);
    if (!statement) {
      const set = fields.map((f) => `${PATCH_COLUMNS[f][0]} = @${f}`).join(", ");
      statement = this.db.prepare(`UPDATE jobs SET ${set} WHERE id = @id RETURNING ${ALL_COLUMNS}`);
      this.updates.set(signature, statement);
    }
    const row = statement.get({ ...values, id }) as FullJobRow | undefined;
    return row && jobFromRow(row);
  }

  appendHistory(id: string, entries: HistoryEntry[]): void {
    this.db.transaction(() => {
      if (entries.length === 0 && !this.selectJob.get(id))
        throw new Error(`job ${id} does not exist`);
      for (const entry of entries) {
        if (this.pushHistory.run(JSON.stringify(entry), id).changes === 0) {
          throw new Error(`job ${id} does not exist`);
        }
      }
    })();
  }

  truncateHistory(id: string, iteration: number): void {
    this.cutHistory.run(iteration, id);
  }

  requestCancel(id: string, tenant: string | null): JobRecord | undefined {
    return this.db.transaction(() => {
      this.flagCancel.run(id, tenant);
      return this.get(id, tenant);
    })();
  }

  saveCheckpoint(checkpoint: Checkpoint): void {
    this.checkpoints.save(checkpoint);
  }

  loadCheckpoint(jobId: string): Checkpoint | undefined {
    return this.checkpoints.load(jobId);
  }

  deleteCheckpoint(jobId: string): void {
    this.checkpoints.delete(jobId);
  }

  findByStatus(statuses: readonly JobStatus[]): JobRecord[] {
    return this.byStatus.all(JSON.stringify(statuses)).map(jobFromRow);
  }

  finishWithModel(
    jobId: string,
    patch: JobPatch,
    model: NewModel,
  ): { job: JobRecord; model: ModelRecord } {
    return this.db
      .transaction(() => {
        const row = this.selectJob.get(jobId);
        if (!row) throw new Error(`job ${jobId} does not exist`);
        if (row.tenant !== model.tenant) {
          throw new Error(`job ${jobId} and its result model belong to different tenants`);
        }
        const created = this.models.create(model);
        const job = this.update(jobId, { ...patch, resultModelId: created.id })!;
        this.checkpoints.delete(jobId);
        return { job, model: created };
      })
      .immediate();
  }
}

/** The patch's defined fields as named SQL parameters (undefined means "leave as is"). */
function encodePatch(patch: JobPatch): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(PATCH_COLUMNS) as (keyof JobPatch)[]) {
    const value = patch[key];
    if (value === undefined) continue;
    const encode = PATCH_COLUMNS[key][1] as (v: unknown) => unknown;
    values[key] = encode(value);
  }
  return values;
}

/** The object without its undefined properties, so they cannot override defaults. */
function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function jobFromRow(row: FullJobRow): JobRecord {
  return { ...summaryFromRow(row), request: JSON.parse(row.request) };
}

function summaryFromRow(row: JobRow): JobSummaryRecord {
  return {
    id: row.id,
    tenant: row.tenant,
    status: row.status,
    modelId: row.model_id,
    resultModelId: row.result_model_id,
    progress: JSON.parse(row.progress),
    loss: row.loss,
    history: JSON.parse(row.history),
    error: row.error === null ? null : JSON.parse(row.error),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    samplesPerSecond: row.samples_per_second,
    cancelRequested: row.cancel_requested === 1,
  };
}
