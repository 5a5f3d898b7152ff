import type { KernelPath } from "../core/backend.js";
import type { RngState } from "../core/rng.js";
import { dtypeOf, type FloatArray } from "../core/tensor.js";
import { fromBlob, toBlob } from "./blob.js";
import type { Db, Engine } from "./engine.js";
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
export class Checkpoints {
  constructor(private readonly engine: Engine) {}

  /** Replaces the job's previous checkpoint, within the caller's transaction. */
  async save(trx: Db, checkpoint: Checkpoint): Promise<void> {
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
    await this.delete(trx, jobId);
    await trx
      .insertInto("checkpoints")
      .values({
        job_id: jobId,
        iteration: checkpoint.iteration,
        state: JSON.stringify(state),
        saved_at: new Date().toISOString(),
      })
      .execute();
    if (tensors.length === 0) return;
    await trx
      .insertInto("checkpoint_tensors")
      .values(
        tensors.map((data, position) => ({
          job_id: jobId,
          position,
          dtype: dtypeOf(data),
          data: toBlob(data),
        })),
      )
      .execute();
  }

  async load(jobId: string): Promise<Checkpoint | undefined> {
    const found = await this.engine.read(async (trx) => {
      const row = await trx
        .selectFrom("checkpoints")
        .select(["iteration", "state"])
        .where("job_id", "=", jobId)
        .executeTakeFirst();
      if (!row) return undefined;
      const tensors = await trx
        .selectFrom("checkpoint_tensors")
        .select(["dtype", "data"])
        .where("job_id", "=", jobId)
        .orderBy("position")
        .execute();
      return { row, tensors };
    });
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
  async delete(db: Db, jobId: string): Promise<void> {
    await db.deleteFrom("checkpoints").where("job_id", "=", jobId).execute();
  }
}
