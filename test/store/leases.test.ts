import { expect, it } from "vitest";
import { openStore } from "../../src/store/open-store.js";
import { type Checkpoint, LeaseLostError, type Store } from "../../src/store/repository.js";
import { awkward, describeEachEngine, jobSpec, sameBits, twoLayerModel } from "./helpers.js";

const progress = { iteration: 0, iterations: 100, epoch: 0, fraction: 0 };

function checkpoint(jobId: string, iteration: number, first: number): Checkpoint {
  const parameters = [awkward(12, "float32")];
  parameters[0][0] = first;
  return {
    jobId,
    iteration,
    parameters,
    optimizerState: { step: iteration, slots: [[]] },
    rngState: { s: [1, 2, 3, 4], spare: null },
    loss: 1,
    kernels: "typescript",
  };
}

async function runningJob(store: Store) {
  return store.jobs.create({
    tenant: "t",
    modelId: "m",
    request: jobSpec(100),
    progress,
    status: "running",
  });
}

describeEachEngine("job leases", (engine) => {
  it("claims a job for an owner, taking it over from the previous one", async () => {
    const store = await openStore(await engine.fresh());
    const job = await runningJob(store);
    expect(job.runner).toBeNull();
    expect((await store.jobs.claim(job.id, "r1"))?.runner).toBe("r1");
    expect((await store.jobs.claim(job.id, "r2"))?.runner).toBe("r2");
    expect((await store.jobs.get(job.id, "t"))?.runner).toBe("r2");
    expect(await store.jobs.claim("missing", "r1")).toBeUndefined();
    await store.close();
  });

  it("refuses a stale owner's checkpoint, progress, history and finish after another claimed", async () => {
    const store = await openStore(await engine.fresh());
    const job = await runningJob(store);
    await store.jobs.claim(job.id, "old");
    await store.jobs.saveCheckpoint(checkpoint(job.id, 10, 1), "old");
    await store.jobs.update(job.id, { progress: { ...progress, iteration: 10 }, loss: 1 }, "old");
    await store.jobs.appendHistory(job.id, [{ iteration: 10, loss: 1 }], "old");

    await store.jobs.claim(job.id, "new");
    const stale = checkpoint(job.id, 20, 99);
    await expect(store.jobs.saveCheckpoint(stale, "old")).rejects.toThrow(LeaseLostError);
    await expect(
      store.jobs.update(job.id, { progress: { ...progress, iteration: 20 }, loss: 2 }, "old"),
    ).rejects.toThrow(LeaseLostError);
    await expect(store.jobs.update(job.id, {}, "old")).rejects.toThrow(LeaseLostError);
    await expect(
      store.jobs.appendHistory(job.id, [{ iteration: 20, loss: 2 }], "old"),
    ).rejects.toThrow(LeaseLostError);
    await expect(store.jobs.truncateHistory(job.id, 0, "old")).rejects.toThrow(LeaseLostError);
    await expect(
      store.jobs.finishWithModel(
        job.id,
        { status: "succeeded" },
        twoLayerModel("float32", { tenant: "t", id: "stale-result" }),
        "old",
      ),
    ).rejects.toThrow(LeaseLostError);

    // Nothing of the stale writes landed.
    const kept = (await store.jobs.get(job.id, "t"))!;
    expect(kept).toMatchObject({ status: "running", loss: 1, resultModelId: null, runner: "new" });
    expect(kept.progress.iteration).toBe(10);
    expect(kept.history).toEqual([{ iteration: 10, loss: 1 }]);
    const saved = (await store.jobs.loadCheckpoint(job.id))!;
    expect(saved.iteration).toBe(10);
    expect(sameBits(saved.parameters[0], checkpoint(job.id, 10, 1).parameters[0])).toBe(true);
    expect(await store.models.get("stale-result", "t")).toBeUndefined();

    // The new owner writes, and so do unfenced callers (an API cancel).
    await store.jobs.saveCheckpoint(checkpoint(job.id, 30, 3), "new");
    await store.jobs.appendHistory(job.id, [{ iteration: 30, loss: 3 }], "new");
    expect((await store.jobs.update(job.id, { loss: 3 }, "new"))?.loss).toBe(3);
    expect((await store.jobs.requestCancel(job.id, "t"))?.cancelRequested).toBe(true);
    const { job: done } = await store.jobs.finishWithModel(
      job.id,
      { status: "cancelled" },
      twoLayerModel("float32", { tenant: "t" }),
      "new",
    );
    expect(done).toMatchObject({ status: "cancelled", runner: "new" });
    expect(await store.jobs.loadCheckpoint(job.id)).toBeUndefined();
    await store.close();
  });

  it("fences nothing of a job that does not exist: updates give undefined", async () => {
    const store = await openStore(await engine.fresh());
    expect(await store.jobs.update("missing", { loss: 1 }, "r")).toBeUndefined();
    await store.jobs.truncateHistory("missing", 0, "r");
    await expect(store.jobs.appendHistory("missing", [], "r")).rejects.toThrow(
      "job missing does not exist",
    );
    await store.close();
  });
});
