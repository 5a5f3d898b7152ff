import { expect, it } from "vitest";
import { fromValues } from "../../src/core/tensor.js";
import { openStore } from "../../src/store/open-store.js";
import type { Checkpoint, NewJob } from "../../src/store/repository.js";
import { awkward, describeEachEngine, jobSpec, sameBits, twoLayerModel } from "./helpers.js";

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

describeEachEngine("job repository", (engine) => {
  it("gives a tenant the models and jobs of no tenant, once, and leaves other tenants' alone", async () => {
    const store = await openStore(await engine.fresh());
    const open = await store.models.create(twoLayerModel("float32"));
    const bobs = await store.models.create(twoLayerModel("float32", { tenant: "bob" }));
    const openJob = await store.jobs.create(newJob({ modelId: open.id }));
    const bobsJob = await store.jobs.create(newJob({ tenant: "bob", modelId: bobs.id }));
    expect(await store.jobs.get(openJob.id, "alice")).toBeUndefined();

    expect(await store.adoptOpenRecords("alice")).toEqual({ models: 1, jobs: 1 });
    expect((await store.models.getSummary(open.id, "alice"))?.id).toBe(open.id);
    expect((await store.jobs.get(openJob.id, "alice"))?.id).toBe(openJob.id);
    expect(await store.jobs.get(openJob.id, null)).toBeUndefined();
    expect((await store.jobs.get(bobsJob.id, "bob"))?.tenant).toBe("bob");
    expect(await store.adoptOpenRecords("alice")).toEqual({ models: 0, jobs: 0 });
    await store.close();
  });

  it("creates a queued job and reads it back", async () => {
    const store = await openStore(await engine.fresh());
    const job = await store.jobs.create(newJob());
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
    expect(await store.jobs.get(job.id, null)).toEqual(job);
    await store.close();
  });

  it("updates fields and appends history", async () => {
    const store = await openStore(await engine.fresh());
    const { id } = await store.jobs.create(newJob());
    const started = (await store.jobs.update(id, {
      status: "running",
      startedAt: "2024-01-01T00:00:00.000Z",
    }))!;
    expect(started.status).toBe("running");
    await store.jobs.update(id, {
      progress: { iteration: 50, iterations: 100, epoch: 1, fraction: 0.5 },
      loss: 0.1 + 0.2,
      samplesPerSecond: 1234.5,
      "status = 'x'; --": 1, // not a field: never reaches the SQL text
    } as never);
    await store.jobs.appendHistory(id, [{ iteration: 10, loss: 2.3 }]);
    await store.jobs.appendHistory(id, [
      { iteration: 20, loss: 1 / 3, trainAccuracy: 0.5, validationAccuracy: 0.25 },
    ]);
    const got = (await store.jobs.get(id, null))!;
    expect(got.progress.fraction).toBe(0.5);
    expect(got.loss).toBe(0.1 + 0.2);
    expect(got.samplesPerSecond).toBe(1234.5);
    expect(got.startedAt).toBe("2024-01-01T00:00:00.000Z");
    expect(got.history).toEqual([
      { iteration: 10, loss: 2.3 },
      { iteration: 20, loss: 1 / 3, trainAccuracy: 0.5, validationAccuracy: 0.25 },
    ]);
    const failed = (await store.jobs.update(id, {
      status: "failed",
      error: { code: "DIVERGED", iteration: 51, lastFiniteLoss: 0.3 },
    }))!;
    expect(failed.error).toEqual({ code: "DIVERGED", iteration: 51, lastFiniteLoss: 0.3 });
    expect(await store.jobs.update("missing", { status: "failed" })).toBeUndefined();
    await expect(store.jobs.appendHistory("missing", [])).rejects.toThrow(
      "job missing does not exist",
    );
    await store.close();
  });

  it("drops the history after a checkpoint's iteration, for a resume to redo, and reads its newest entry", async () => {
    const store = await openStore(await engine.fresh());
    const { id } = await store.jobs.create(newJob());
    const entries = [10, 20, 30].map((iteration) => ({ iteration, loss: 1 / iteration }));
    await store.jobs.appendHistory(id, entries);
    expect(await store.jobs.lastHistoryEntry(id)).toEqual(entries[2]);
    await store.jobs.truncateHistory(id, 20);
    expect((await store.jobs.get(id, null))!.history).toEqual(entries.slice(0, 2));
    expect(await store.jobs.lastHistoryEntry(id)).toEqual(entries[1]);
    await store.jobs.truncateHistory(id, 0);
    expect((await store.jobs.get(id, null))!.history).toEqual([]);
    expect(await store.jobs.lastHistoryEntry(id)).toBeUndefined();
    await store.close();
  });

  it("keeps a job's inline tensors as their own bits, and drops them with the job's record", async () => {
    const place = await engine.fresh();
    const store = await openStore(place);
    const x = { shape: [2, 3], data: awkward(6, "float64") };
    const t = fromValues([2], [1, 0], "float32");
    const { id } = await store.jobs.create(
      newJob(),
      new Map([
        ["data.x", x],
        ["data.t", t],
      ]),
    );
    await store.close();
    const reopened = await openStore(place);
    const tensors = await reopened.jobs.loadTensors(id);
    expect([...tensors.keys()].sort()).toEqual(["data.t", "data.x"]);
    expect(tensors.get("data.x")!.shape).toEqual([2, 3]);
    expect(sameBits(tensors.get("data.x")!.data, x.data)).toBe(true);
    expect(tensors.get("data.t")!.data).toEqual(Float32Array.of(1, 0));
    expect((await reopened.jobs.loadTensors("missing")).size).toBe(0);
    await reopened.close();
  });

  it("flags cancellation only for the job's tenant and only while it can still stop", async () => {
    const store = await openStore(await engine.fresh());
    const job = await store.jobs.create(newJob({ tenant: "a" }));
    expect(await store.jobs.requestCancel(job.id, "b")).toBeUndefined();
    expect((await store.jobs.get(job.id, "a"))!.cancelRequested).toBe(false);
    expect((await store.jobs.requestCancel(job.id, "a"))!.cancelRequested).toBe(true);
    const done = await store.jobs.create(newJob({ tenant: "a", status: "succeeded" }));
    expect(await store.jobs.requestCancel(done.id, "a")).toMatchObject({
      status: "succeeded",
      cancelRequested: false,
    });
    await store.close();
  });

  it("isolates tenants and pages newest first without the request", async () => {
    const store = await openStore(await engine.fresh());
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const createdAt = new Date(Date.UTC(2024, 0, 1, i)).toISOString();
      ids.push((await store.jobs.create(newJob({ tenant: "a", createdAt }))).id);
    }
    const other = await store.jobs.create(newJob({ tenant: "b" }));
    expect(await store.jobs.get(other.id, "a")).toBeUndefined();
    expect(await store.jobs.get(ids[0], null)).toBeUndefined();
    const first = await store.jobs.list({ tenant: "a", limit: 2 });
    const second = await store.jobs.list({ tenant: "a", limit: 2, cursor: first.nextCursor });
    const third = await store.jobs.list({ tenant: "a", limit: 2, cursor: second.nextCursor });
    expect([...first.items, ...second.items, ...third.items].map((j) => j.id)).toEqual(
      [...ids].reverse(),
    );
    expect(third.nextCursor).toBeNull();
    expect(first.items[0]).not.toHaveProperty("request");
    expect((await store.jobs.list({ tenant: "b", limit: 10 })).items.map((j) => j.id)).toEqual([
      other.id,
    ]);
    await store.close();
  });

  it("finds jobs by status, oldest first, across tenants", async () => {
    const store = await openStore(await engine.fresh());
    const at = (h: number) => new Date(Date.UTC(2024, 0, 1, h)).toISOString();
    const running = await store.jobs.create(
      newJob({ tenant: "a", status: "running", createdAt: at(2) }),
    );
    const queued = await store.jobs.create(newJob({ tenant: "b", createdAt: at(1) }));
    await store.jobs.create(newJob({ status: "succeeded", createdAt: at(0) }));
    const found = await store.jobs.findByStatus(["queued", "running"]);
    expect(found.map((j) => j.id)).toEqual([queued.id, running.id]);
    expect(found[0].request).toEqual(newJob().request);
    expect(await store.jobs.findByStatus([])).toEqual([]);
    await store.close();
  });

  it("saves, replaces and loads a checkpoint bit for bit", async () => {
    const store = await openStore(await engine.fresh());
    const { id } = await store.jobs.create(newJob());
    expect(await store.jobs.loadCheckpoint(id)).toBeUndefined();
    await store.jobs.saveCheckpoint(checkpoint(id, 10));
    const want = checkpoint(id, 20);
    want.parameters[0][0] = 42;
    await store.jobs.saveCheckpoint(want);
    const got = (await store.jobs.loadCheckpoint(id))!;
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
    await store.jobs.deleteCheckpoint(id);
    expect(await store.jobs.loadCheckpoint(id)).toBeUndefined();
    await expect(store.jobs.saveCheckpoint(checkpoint("missing", 1))).rejects.toThrow(
      /foreign key/i,
    );
    await store.close();
  });

  it("finishes a job with its result model in one transaction", async () => {
    const store = await openStore(await engine.fresh());
    const job = await store.jobs.create(newJob({ tenant: "a", status: "running" }));
    await store.jobs.saveCheckpoint(checkpoint(job.id, 5));
    const origin = {
      kind: "training" as const,
      jobId: job.id,
      sourceModelId: "m-1",
      dataset: { name: "mnist", split: "train" },
      metrics: { loss: 0.2 },
    };
    const finishedAt = "2024-01-01T01:00:00.000Z";
    const { job: done, model } = await store.jobs.finishWithModel(
      job.id,
      { status: "succeeded", finishedAt },
      twoLayerModel("float32", { tenant: "a", origin }),
    );
    expect(done).toMatchObject({ status: "succeeded", finishedAt, resultModelId: model.id });
    expect(await store.jobs.get(job.id, "a")).toEqual({ ...done, history: [] });
    expect((await store.models.getSummary(model.id, "a"))?.origin).toEqual(origin);
    expect(await store.jobs.loadCheckpoint(job.id)).toBeUndefined();
    await store.close();
  });

  it("leaves neither model nor job changed when finishing fails", async () => {
    const store = await openStore(await engine.fresh());
    const job = await store.jobs.create(newJob({ status: "running" }));
    await store.jobs.saveCheckpoint(checkpoint(job.id, 5));
    // The job update is rejected by the status CHECK after the model was inserted.
    await expect(
      store.jobs.finishWithModel(
        job.id,
        { status: "exploded" as never },
        twoLayerModel("float32", { id: "result" }),
      ),
    ).rejects.toThrow(/check constraint/i);
    expect(await store.models.get("result", null)).toBeUndefined();
    expect(await store.jobs.get(job.id, null)).toEqual(job);
    expect(await store.jobs.loadCheckpoint(job.id)).toBeDefined();
    await expect(
      store.jobs.finishWithModel("missing", { status: "succeeded" }, twoLayerModel("float32")),
    ).rejects.toThrow("job missing does not exist");
    await expect(
      store.jobs.finishWithModel(
        job.id,
        { status: "succeeded" },
        twoLayerModel("float32", { tenant: "x" }),
      ),
    ).rejects.toThrow("different tenants");
    expect((await store.models.list({ tenant: null, limit: 10 })).items).toEqual([]);
    await store.close();
  });
});
