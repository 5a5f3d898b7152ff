import type Database from "better-sqlite3";
import type { KernelPath } from "../core/backend.js";
import type { RngState } from "../core/rng.js";
import { type DType, dtypeOf, type FloatArray } from "../core/tensor.js";
import { fromBlob, toBlob } from "./blob.js";
import type { Checkpoint } from "./repository.js";

/** How a checkpoint's flat list of stored tensors splits back into parameters and slots. */
interface CheckpointState {
  step: number;
  parameters: number;
  slots: number[];
  rngState: RngState;
  loss: number | null;
  kernels: KernelPath;
}

/**
 * A job's one checkpoint: its state as a JSON row, its tensors (parameters, then each
 * parameter's optimizer slots) as blobs beside it. The job repository exposes these; they are
 * apart because a checkpoint's layout has nothing to do with a job row's.
 */
export class SqliteCheckpoints {
  private readonly deleteRow: Database.Statement<[string]>;
  private readonly insertRow: Database.Statement;
  private readonly insertTensor: Database.Statement;
  private readonly selectRow: Database.Statement<[string], { iteration: number; state: string }>;
  private readonly selectTensors: Database.Statement<[string], { dtype: DType; data: Buffer }>;

  constructor(private readonly db: Database.Database) {
    this.deleteRow = db.prepare("DELETE FROM checkpoints WHERE job_id = ?");
    this.insertRow = db.prepare(
      "INSERT INTO checkpoints (job_id, iteration, state, saved_at) VALUES (?, ?, ?, ?)",
    );
    this.insertTensor = db.prepare(
      "INSERT INTO checkpoint_tensors (job_id, position, dtype, data) VALUES (?, ?, ?, ?)",
    );
    this.selectRow = db.prepare("SELECT iteration, state FROM checkpoints WHERE job_id = ?");
    this.selectTensors = db.prepare(
      "SELECT dtype, data FROM checkpoint_tensors WHERE job_id = ? ORDER BY position",
    );
  }

  /** Replaces the job's previous checkpoint. */
  save(checkpoint: Checkpoint): void {
    const { jobId, parameters, optimizerState } = checkpoint;
    const state: CheckpointState = {
      step: optimizerState.step,
      parameters: parameters.length,
      slots: optimizerState.slots.map((s) => s.length),
      rngState: checkpoint.rngState,
      loss: checkpoint.loss,
      kernels: checkpoint.kernels,
    };
    const tensors = [...parameters, ...optimizerState.slots.flat()];
    this.db.transaction(() => {
      this.deleteRow.run(jobId);
      this.insertRow.run(
        jobId,
        checkpoint.iteration,
        JSON.stringify(state),
        new Date().toISOString(),
      );
      tensors.forEach((data, position) => {
        this.insertTensor.run(jobId, position, dtypeOf(data), toBlob(data));
      });
    })();
  }

  load(jobId: string): Checkpoint | undefined {
    const read = this.db.transaction(() => {
      const row = this.selectRow.get(jobId);
      return row && { row, tensors: this.selectTensors.all(jobId) };
    });
    const found = read();
    if (!found) return undefined;
    const state: CheckpointState = JSON.parse(found.row.state);
    const arrays: FloatArray[] = found.tensors.map((t) => fromBlob(t.data, t.dtype));
    const expected = state.parameters + state.slots.reduce((a, b) => a + b, 0);
    if (arrays.length !== expected) {
      throw new Error(`checkpoint of job ${jobId} has ${arrays.length} of ${expected} tensors`);
    }
    const slots: FloatArray[][] = [];
    let next = state.parameters;
    for (const n of state.slots) {
      slots.push(arrays.slice(next, next + n));
      next += n;
    }
    return {
      jobId,
      iteration: found.row.iteration,
      parameters: arrays.slice(0, state.parameters),
      optimizerState: {
        step: state.step,
        slots,
      },
      rngState: state.rngState,
      loss: state.loss,
      kernels: state.kernels,
    };
  }

  /** Its tensors go with it (ON DELETE CASCADE). */
  delete(jobId: string): void {
    this.deleteRow.run(jobId);
  }
}
