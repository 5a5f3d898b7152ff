import { expect, it } from "vitest";
import { openStore } from "../../src/store/open-store.js";
import type { Checkpoint, StoredJobEvent } from "../../src/store/repository.js";
import { LocalJobEventBus } from "../../src/training/job-event-bus.js";
import { JobEvents } from "../../src/training/job-events.js";
import { describeEachEngine, jobSpec } from "../store/helpers.js";

const progress = { iteration: 0, iterations: 100, epoch: 0, fraction: 0 };

function checkpoint(jobId: string, iteration: number): Checkpoint {
  return {
    jobId,
    iteration,
    parameters: [new Float32Array([iteration])],
    optimizerState: { step: iteration, slots: [[]] },
    rngState: { s: [1, 2, 3, 4], spare: null },
    loss: 1 / iteration,
    kernels: "typescript",
  };
}

describeEachEngine("a job's telemetry", (engine) => {
  it("joins what arrives while the write before it waits: one write, in order, the latest checkpoint", async () => {
    const store = await openStore(await engine.fresh());
    const job = await store.jobs.create({
      tenant: null,
      modelId: "m",
      request: jobSpec(100),
      progress,
    });
    const events = new JobEvents(store, new LocalJobEventBus());
    const published: StoredJobEvent[] = [];
    events.subscribe(job.id, (event) => published.push(event));
    const appends: number[] = [];
    const appendHistory = store.jobs.appendHistory.bind(store.jobs);
    store.jobs.appendHistory = (id, entries, owner) => {
      appends.push(entries.length);
      return appendHistory(id, entries, owner);
    };
    const saved: number[] = [];
    const saveCheckpoint = store.jobs.saveCheckpoint.bind(store.jobs);
    store.jobs.saveCheckpoint = (c, owner) => {
      saved.push(c.iteration);
      return saveCheckpoint(c, owner);
    };

    // A write in flight (as a slow commit would be): what comes meanwhile waits, and joins up.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = events.serially(job.id, () => gate);
    const first = events.telemetry(job.id, { entry: { iteration: 10, loss: 0.9 } });
    events.telemetry(job.id, { checkpoint: checkpoint(job.id, 10) });
    events.telemetry(job.id, { entry: { iteration: 20, loss: 0.8 } });
    const joined = events.telemetry(job.id, { checkpoint: checkpoint(job.id, 20) });
    expect(joined).toBe(first);
    // A status change after them is written after them; telemetry after it waits for it.
    const status = events.status(job.id, { status: "running" });
    const after = events.telemetry(job.id, { entry: { iteration: 30, loss: 0.7 } });
    expect(after).not.toBe(first);
    release();
    await Promise.all([slow, first, status]);
    // A flush (the runner's, before a job's end) writes what waits for its interval, and waits.
    await events.flush(job.id);
    await after;

    expect(appends).toEqual([2, 1]);
    expect(saved).toEqual([20]);
    expect((await store.jobs.loadCheckpoint(job.id))?.iteration).toBe(20);
    expect((await store.jobs.get(job.id, null))?.history.map((e) => e.iteration)).toEqual([
      10, 20, 30,
    ]);
    const stored = await store.events.after(job.id, 0, 100);
    const said = stored.map((e) => (e.event === "status" ? e.data.status : e.data.iteration));
    expect(said).toEqual([10, 20, "running", 30]);
    expect(published).toEqual(stored);
    await store.close();
  });
});
