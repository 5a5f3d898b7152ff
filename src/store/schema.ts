/**
 * The tables as Kysely sees them, the same on both engines. JSON columns travel as text both ways
 * (PostgreSQL's jsonb is read back as its text, see open-postgres.ts), timestamps are ISO-8601
 * text (so keyset pages compare the same on both), and tensors are raw little-endian bytes
 * (BLOB / bytea), which both drivers hand back as a Buffer.
 */
import type { Generated } from "kysely";
import type { DType } from "../core/tensor.js";
import type { JobStatus, ModelRecord } from "./repository.js";

/** JSON text: what `JSON.stringify` wrote, read back with `JSON.parse`. */
export type JsonText = string;

export interface ModelsTable {
  id: string;
  tenant: string | null;
  name: string | null;
  dtype: ModelRecord["dtype"];
  /** Layer types and tensor shapes; the numbers live in model_tensors. */
  layers: JsonText;
  parameter_count: number;
  origin: JsonText;
  created_at: string;
  updated_at: string;
}

export interface ModelTensorsTable {
  model_id: string;
  /** W then b of each affine layer, in layer order. */
  position: number;
  data: Uint8Array;
}

export interface JobsTable {
  id: string;
  tenant: string | null;
  status: JobStatus;
  request: JsonText;
  model_id: string;
  result_model_id: string | null;
  progress: JsonText;
  loss: number | null;
  error: JsonText | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  samples_per_second: number | null;
  /** 0 or 1 (an integer on both engines: SQLite has no boolean to bind). */
  cancel_requested: number;
  runner: string | null;
  kernels: JsonText;
}

export interface JobTensorsTable {
  job_id: string;
  name: string;
  shape: JsonText;
  dtype: DType;
  data: Uint8Array;
}

export interface CheckpointsTable {
  job_id: string;
  iteration: number;
  /** Step, rng state, loss and how the tensors split into parameters and slots. */
  state: JsonText;
  saved_at: string;
}

export interface CheckpointTensorsTable {
  job_id: string;
  position: number;
  dtype: DType;
  data: Uint8Array;
}

export interface JobEventsTable {
  id: Generated<number>;
  job_id: string;
  event: string;
  data: JsonText;
  created_at: string;
}

/** One entry of a job's history; `id` orders a job's entries (ascending, never reused). */
export interface JobHistoryTable {
  id: Generated<number>;
  job_id: string;
  iteration: number;
  entry: JsonText;
}

export interface Schema {
  models: ModelsTable;
  model_tensors: ModelTensorsTable;
  jobs: JobsTable;
  job_tensors: JobTensorsTable;
  checkpoints: CheckpointsTable;
  checkpoint_tensors: CheckpointTensorsTable;
  job_events: JobEventsTable;
  job_history: JobHistoryTable;
}
