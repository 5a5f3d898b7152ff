import { expect, it } from "vitest";
import { openStore } from "../../src/store/open-store.js";
import { describeEachEngine, sameBits, twoLayerModel } from "./helpers.js";

// Both engines: on PostgreSQL the models come through the replica's cache (see CachedModels),
// and what a caller sees must be what the store holds either way.
describeEachEngine("models read again", (engine) => {
  it("come back whole after a caller gave up the arrays it got, and gone once another process deleted them", async () => {
    const where = await engine.fresh();
    const [here, there] = [
      await openStore(where),
      await openStore({ ...where, dataDir: where.dataDir }),
    ];
    try {
      const made = await here.models.create(twoLayerModel("float32"));
      const first = (await here.models.get(made.id, null))!;
      const W = first.layers[0].type === "affine" ? first.layers[0].W.data : null;
      const want = W!.slice();
      // As a compute task does: the arrays are transferred to a worker thread.
      structuredClone(W!.buffer, { transfer: [W!.buffer] });
      expect(W!.byteLength).toBe(0);

      const second = (await here.models.get(made.id, null))!;
      const again = second.layers[0].type === "affine" ? second.layers[0].W.data : null;
      expect(sameBits(again!, want)).toBe(true);
      expect(await here.models.get(made.id, "another-tenant")).toBeUndefined();

      expect(await there.models.delete(made.id, null)).toBe(true);
      expect(await here.models.get(made.id, null)).toBeUndefined();
    } finally {
      await Promise.all([here.close(), there.close()]);
    }
  });
});
