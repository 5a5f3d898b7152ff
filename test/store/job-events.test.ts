import { expect, it } from "vitest";
import { openStore } from "../../src/store/open-store.js";
import { describeEachEngine, jobSpec } from "./helpers.js";

const progress = { iteration: 0, iterations: 100, epoch: 0, fraction: 0 };

describeEachEngine("stored job events", (engine) => {
  it("appends events with ascending ids shared by every job and reads them after an id", async () => {
    const store = await openStore(await engine.fresh());
    const job = (tenant: string) =>
      store.jobs.create({ tenant, modelId: "m", request: jobSpec(10), progress });
    const a = await job("a");
    const b = await job("b");
    const [p1] = await store.events.append(a.id, [
      {
        event: "progress",
        data: { ...progress, iteration: 5, loss: 0.1 + 0.2, samplesPerSecond: 12.5 },
      },
    ]);
    const [other] = await store.events.append(b.id, [
      {
        event: "evaluation",
        data: { iteration: 1, loss: 2 },
      },
    ]);
    // Several at once: one transaction, in their order.
    const [e1, s1] = await store.events.append(a.id, [
      { event: "evaluation", data: { iteration: 10, loss: 1 / 3, trainAccuracy: 0.5 } },
      { event: "status", data: { status: "succeeded", resultModelId: "r", error: null } },
    ]);
    expect(typeof p1.id).toBe("number");
    expect([p1.id < other.id, other.id < e1.id, e1.id < s1.id]).toEqual([true, true, true]);
    const before = Date.now();
    expect(p1).toEqual({
      id: p1.id,
      jobId: a.id,
      at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      event: "progress",
      data: { ...progress, iteration: 5, loss: 0.1 + 0.2, samplesPerSecond: 12.5 },
    });

    expect(Date.parse(p1.at)).toBeLessThanOrEqual(before);
    expect(await store.events.after(a.id, 0, 100)).toEqual([p1, e1, s1]);
    expect(await store.events.after(a.id, p1.id, 100)).toEqual([e1, s1]);
    expect(await store.events.after(a.id, p1.id, 1)).toEqual([e1]);
    expect(await store.events.after(a.id, s1.id, 100)).toEqual([]);
    expect(await store.events.after(b.id, 0, 100)).toEqual([other]);
    expect(await store.events.after("missing", 0, 100)).toEqual([]);
    await store.close();
  });

  it("refuses an event of a job that does not exist", async () => {
    const store = await openStore(await engine.fresh());
    await expect(
      store.events.append("missing", [{ event: "evaluation", data: { iteration: 1, loss: 1 } }]),
    ).rejects.toThrow(/foreign key/i);
    await store.close();
  });
});
