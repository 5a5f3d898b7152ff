import { expect, it } from "vitest";
import { openStore } from "../../src/store/open-store.js";
import { type NewJob, PendingLimitError } from "../../src/store/repository.js";
import { describeEachEngine, jobSpec, twoLayerModel } from "./helpers.js";

const progress = { iteration: 0, iterations: 10, epoch: 0, fraction: 0 };
const newJob = (tenant: string | null, extra: Partial<NewJob> = {}): NewJob => ({
  tenant,
  modelId: "m",
  request: jobSpec(10),
  progress,
  ...extra,
});

describeEachEngine("pending-job cap", (engine) => {
  it("counts a tenant's queued and running jobs, not its finished ones or another's", async () => {
    const store = await openStore(await engine.fresh());
    const cap = { maxPending: 2 };
    await store.jobs.create(newJob("a", { status: "succeeded" }), undefined, cap);
    await store.jobs.create(newJob("a", { status: "running" }), undefined, cap);
    await store.jobs.create(newJob("a"), undefined, cap);
    const refused = store.jobs.create(newJob("a"), undefined, cap);
    await expect(refused).rejects.toThrow(PendingLimitError);
    await expect(refused).rejects.toThrow("2 training jobs are already queued or running");
    await store.jobs.create(newJob("b"), undefined, cap);
    await store.jobs.create(newJob(null), undefined, cap);
    await store.jobs.create(newJob(null), undefined, cap);
    await expect(store.jobs.create(newJob(null), undefined, cap)).rejects.toThrow(
      PendingLimitError,
    );
    // Without a cap, nothing is counted.
    await store.jobs.create(newJob("a"));
    expect((await store.jobs.findByStatus(["queued", "running"])).length).toBe(6);
    await store.close();
  });

  it("lets exactly maxPending of many concurrent creates through", async () => {
    const store = await openStore(await engine.fresh());
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () =>
        store.jobs.create(newJob("a"), undefined, { maxPending: 3 }),
      ),
    );
    const passed = results.filter((r) => r.status === "fulfilled").length;
    const refused = results.filter(
      (r) => r.status === "rejected" && r.reason instanceof PendingLimitError,
    ).length;
    expect([passed, refused]).toEqual([3, 9]);
    expect((await store.jobs.list({ tenant: "a", limit: 100 })).items).toHaveLength(3);
    await store.close();
  });

  it("creates the job's own model with it, and neither when the cap refuses", async () => {
    const store = await openStore(await engine.fresh());
    const model = (id: string) => twoLayerModel("float32", { id, tenant: "a" });
    const cap = (id: string) => ({ maxPending: 1, model: model(id) });
    const job = await store.jobs.create(newJob("a", { modelId: "m1" }), undefined, cap("m1"));
    expect((await store.models.get("m1", "a"))?.parameterCount).toBe(23);
    expect(job.modelId).toBe("m1");
    await expect(
      store.jobs.create(newJob("a", { modelId: "m2" }), undefined, cap("m2")),
    ).rejects.toThrow(PendingLimitError);
    expect(await store.models.get("m2", "a")).toBeUndefined();
    await expect(
      store.jobs.create(newJob("b", { modelId: "other" }), undefined, cap("m3")),
    ).rejects.toThrow("names model other, not m3");
    await store.close();
  });
});
