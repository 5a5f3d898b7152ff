import { describe, expect, it } from "vitest";
import { fromValues } from "../../src/core/tensor.js";
import type { Checkpoint, NewJob } from "../../src/store/repository.js";
import { openStore } from "../../src/store/sqlite-store.js";
import { awkward, jobSpec, sameBits, tempDir, twoLayerModel } from "./helpers.js";

const progress = { iteration: 0, iterations: 100, epoch: 0, fraction: 0 };

function newJob(extra: Partial<NewJob> = {}): NewJob {
  return {
    tenant: null,
    modelId: "m-1",
    request: jobSpec(100),
    progress,
    ...extra,
  };
}

function checkpoint(jobId: string, iteration: number): Checkpoint {
  return {
    jobId,
    iteration,
    parameters: [awkward(12, "float32"), awkward(3, "float32")],
    optimizerState: {
      step: iteration,
      slots: [[awkward(12, "float64"), awkward(12, "float32")], [], [awkward(3, "float32")]],
    },
    rngState: { s: [123456789, 362436069, 521288629, 88675123], spare: 0.1 + 0.2 },
    loss: Math.PI,
    kernels: "relaxed-simd",
  };
}

describe("job repository", () => {
  it("creates a queued job and reads it back", () => {
    const store = openStore(tempDir());
    const job = store.jobs.create(newJob());
    expect(job).toMatchObject({
      status: "queued",
      resultModelId: null,
      loss: null,
      history: [],
      error: null,
      startedAt: null,
      finishedAt: null,
      samplesPerSecond: null,
      cancelRequested: false,
      progress,
    });
    expect(store.jobs.get(job.id, null)).toEqual(job);
    store.close();
  });

  it("updates fields and appends history", () => {
    const store = openStore(tempDir());
    const { id } = store.jobs.create(newJob());
    const started = store.jobs.update(id, {
      status: "running",
      startedAt: "2024-01-01T00:00:00.000Z",
    })!;
    expect(started.status).toBe("running");
    store.jobs.update(id, {
      progress: { iteration: 50, iterations: 100, epoch: 1, fraction: 0.5 },
      loss: 0.1 + 0.2,
      samplesPerSecond: 1234.5,
      "status = 'x'; --": 1, // not a field: never reaches the SQL text
    } as never);
    store.jobs.appendHistory(id, [{ iteration: 10, loss: 2.3 }]);
    store.jobs.appendHistory(id, [
      { iteration: 20, loss: 1 / 3, trainAccuracy: 0.5, validationAccuracy: 0.25 },
    ]);
    const got = store.jobs.get(id, null)!;
    expect(got.progress.fraction).toBe(0.5);
    expect(got.loss).toBe(0.1 + 0.2);
    expect(got.samplesPerSecond).toBe(1234.5);
    expect(got.startedAt).toBe("2024-01-01T00:00:00.000Z");
    expect(got.history).toEqual([
      { iteration: 10, loss: 2.3 },
      { iteration: 20, loss: 1 / 3, trainAccuracy: 0.5, validationAccuracy: 0.25 },
    ]);
    const failed = store.jobs.update(id, {
      status: "failed",
      error: { code: "DIVERGED", iteration: 51, lastFiniteLoss: 0.3 },
    })!;
    expect(failed.error).toEqual({ code: "DIVERGED", iteration: 51, lastFiniteLoss: 0.3 });
    expect(store.jobs.update("missing", { status: "failed" })).toBeUndefined();
    expect(() => store.jobs.appendHistory("missing", [])).toThrow("job missing does not exist");
    store.close();
  });

  it("drops the history after a checkpoint's iteration, for a resume to redo", () => {
    const store = openStore(tempDir());
    const { id } = store.jobs.create(newJob());
    const entries = [10, 20, 30].map((iteration) => ({ iteration, loss: 1 / iteration }));
    store.jobs.appendHistory(id, entries);
    store.jobs.truncateHistory(id, 20);
    expect(store.jobs.get(id, null)!.history).toEqual(entries.slice(0, 2));
    store.jobs.truncateHistory(id, 0);
    expect(store.jobs.get(id, null)!.history).toEqual([]);
    store.close();
  });

  it("keeps a job's inline tensors as their own bits, and drops them with the job's record", () => {
    const dir = tempDir();
    const store = openStore(dir);
    const x = { shape: [2, 3], data: awkward(6, "float64") };
    const t = fromValues([2], [1, 0], "float32");
    const { id } = store.jobs.create(
      newJob(),
      new Map([
        ["data.x", x],
        ["data.t", t],
      ]),
    );
    store.close();
    const reopened = openStore(dir);
    const tensors = reopened.jobs.loadTensors(id);
    expect([...tensors.keys()].sort()).toEqual(["data.t", "data.x"]);
    expect(tensors.get("data.x")!.shape).toEqual([2, 3]);
    expect(sameBits(tensors.get("data.x")!.data, x.data)).toBe(true);
    expect(tensors.get("data.t")!.data).toEqual(Float32Array.of(1, 0));
    expect(reopened.jobs.loadTensors("missing").size).toBe(0);
    reopened.close();
  });

  it("flags cancellation only for the job's tenant and only while it can still stop", () => {
    const store = openStore(tempDir());
    const job = store.jobs.create(newJob({ tenant: "a" }));
    expect(store.jobs.requestCancel(job.id, "b")).toBeUndefined();
    expect(store.jobs.get(job.id, "a")!.cancelRequested).toBe(false);
    expect(store.jobs.requestCancel(job.id, "a")!.cancelRequested).toBe(true);
    const done = store.jobs.create(newJob({ tenant: "a", status: "succeeded" }));
    expect(store.jobs.requestCancel(done.id, "a")).toMatchObject({
      status: "succeeded",
      cancelRequested: false,
    });
    store.close();
  });

  it("isolates tenants and pages newest first without the request", () => {
    const store = openStore(tempDir());
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const createdAt = new Date(Date.UTC(2024, 0, 1, i)).toISOString();
      ids.push(store.jobs.create(newJob({ tenant: "a", createdAt })).id);
    }
    const other = store.jobs.create(newJob({ tenant: "b" }));
    expect(store.jobs.get(other.id, "a")).toBeUndefined();
    expect(store.jobs.get(ids[0], null)).toBeUndefined();
    const first = store.jobs.list({ tenant: "a", limit: 2 });
    const second = store.jobs.list({ tenant: "a", limit: 2, cursor: first.nextCursor });
    const third = store.jobs.list({ tenant: "a", limit: 2, cursor: second.nextCursor });
    expect([...first.items, ...second.items, ...third.items].map((j) => j.id)).toEqual(
      [...ids].reverse(),
    );
    expect(third.nextCursor).toBeNull();
    expect(first.items[0]).not.toHaveProperty("request");
    expect(store.jobs.list({ tenant: "b", limit: 10 }).items.map((j) => j.id)).toEqual([other.id]);
    store.close();
  });

  it("finds jobs by status, oldest first, across tenants", () => {
    const store = openStore(tempDir());
    const at = (h: number) => new Date(Date.UTC(2024, 0, 1, h)).toISOString();
    const running = store.jobs.create(newJob({ tenant: "a", status: "running", createdAt: at(2) }));
    const queued = store.jobs.create(newJob({ tenant: "b", createdAt: at(1) }));
    store.jobs.create(newJob({ status: "succeeded", createdAt: at(0) }));
    const found = store.jobs.findByStatus(["queued", "running"]);
    expect(found.map((j) => j.id)).toEqual([queued.id, running.id]);
    expect(found[0].request).toEqual(newJob().request);
    expect(store.jobs.findByStatus([])).toEqual([]);
    store.close();
  });

  it("saves, replaces and loads a checkpoint bit for bit", () => {
    const store = openStore(tempDir());
    const { id } = store.jobs.create(newJob());
    expect(store.jobs.loadCheckpoint(id)).toBeUndefined();
    store.jobs.saveCheckpoint(checkpoint(id, 10));
    const want = checkpoint(id, 20);
    want.parameters[0][0] = 42;
    store.jobs.saveCheckpoint(want);
    const got = store.jobs.loadCheckpoint(id)!;
    expect(got.iteration).toBe(20);
    expect(got.optimizerState.step).toBe(20);
    expect(got.rngState).toEqual(want.rngState);
    expect(got.loss).toBe(Math.PI);
    expect(got.kernels).toBe("relaxed-simd");
    expect(got.parameters).toHaveLength(2);
    expect(got.parameters.map((p, i) => sameBits(p, want.parameters[i]))).toEqual([true, true]);
    expect(got.optimizerState.slots.map((s) => s.length)).toEqual([2, 0, 1]);
    const slotBits = got.optimizerState.slots.map((slot, i) =>
      slot.map((a, j) => sameBits(a, want.optimizerState.slots[i][j])),
    );
    expect(slotBits).toEqual([[true, true], [], [true]]);
    expect(got.optimizerState.slots[0][0]).toBeInstanceOf(Float64Array);
    store.jobs.deleteCheckpoint(id);
    expect(store.jobs.loadCheckpoint(id)).toBeUndefined();
    expect(() => store.jobs.saveCheckpoint(checkpoint("missing", 1))).toThrow(/FOREIGN KEY/);
    store.close();
  });

  it("finishes a job with its result model in one transaction", () => {
    const store = openStore(tempDir());
    const job = store.jobs.create(newJob({ tenant: "a", status: "running" }));
    store.jobs.saveCheckpoint(checkpoint(job.id, 5));
    const origin = {
      kind: "training" as const,
      jobId: job.id,
      sourceModelId: "m-1",
      dataset: { name: "mnist", split: "train" },
      metrics: { loss: 0.2 },
    };
    const finishedAt = "2024-01-01T01:00:00.000Z";
    const { job: done, model } = store.jobs.finishWithModel(
      job.id,
      { status: "succeeded", finishedAt },
      twoLayerModel("float32", { tenant: "a", origin }),
    );
    expect(done).toMatchObject({ status: "succeeded", finishedAt, resultModelId: model.id });
    expect(store.jobs.get(job.id, "a")).toEqual(done);
    expect(store.models.getSummary(model.id, "a")?.origin).toEqual(origin);
    expect(store.jobs.loadCheckpoint(job.id)).toBeUndefined();
    store.close();
  });

  it("leaves neither model nor job changed when finishing fails", () => {
    const store = openStore(tempDir());
    const job = store.jobs.create(newJob({ status: "running" }));
    store.jobs.saveCheckpoint(checkpoint(job.id, 5));
    // The job update is rejected by the status CHECK after the model was inserted.
    expect(() =>
      store.jobs.finishWithModel(
        job.id,
        { status: "exploded" as never },
        twoLayerModel("float32", { id: "result" }),
      ),
    ).toThrow(/CHECK constraint/);
    expect(store.models.get("result", null)).toBeUndefined();
    expect(store.jobs.get(job.id, null)).toEqual(job);
    expect(store.jobs.loadCheckpoint(job.id)).toBeDefined();
    expect(() =>
      store.jobs.finishWithModel("missing", { status: "succeeded" }, twoLayerModel("float32")),
    ).toThrow("job missing does not exist");
    expect(() =>
      store.jobs.finishWithModel(
        job.id,
        { status: "succeeded" },
        twoLayerModel("float32", { tenant: "x" }),
      ),
    ).toThrow("different tenants");
    expect(store.models.list({ tenant: null, limit: 10 }).items).toEqual([]);
    store.close();
  });
});
