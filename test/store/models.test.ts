import { expect, it } from "vitest";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import { openStore } from "../../src/store/open-store.js";
import { InvalidCursorError } from "../../src/store/repository.js";
import { describeEachEngine, sameBits, twoLayerModel } from "./helpers.js";

function affine(layers: LayerSpec[]) {
  return layers.flatMap((l) => (l.type === "affine" ? [l] : []));
}

describeEachEngine("model repository", (engine) => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`round-trips ${dtype} parameters bit for bit`, async () => {
      const store = await openStore(await engine.fresh());
      const input = twoLayerModel(dtype);
      const created = await store.models.create(input);
      expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(created.parameterCount).toBe(12 + 3 + 6 + 2);
      expect(created.updatedAt).toBe(created.createdAt);

      const got = (await store.models.get(created.id, null))!;
      expect(got).toMatchObject({ name: "two-layer", dtype, origin: input.origin });
      expect(got.layers.map((l) => l.type)).toEqual([
        "affine",
        "relu",
        "affine",
        "softmaxWithLoss",
      ]);
      const [want1, want2] = affine(input.layers);
      const [got1, got2] = affine(got.layers);
      for (const [w, g] of [
        [want1, got1],
        [want2, got2],
      ]) {
        expect(g.W.shape).toEqual(w.W.shape);
        expect(g.b.shape).toEqual(w.b.shape);
        expect(sameBits(g.W.data, w.W.data)).toBe(true);
        expect(sameBits(g.b.data, w.b.data)).toBe(true);
      }
      expect(Object.is(got1.W.data[1], -0)).toBe(true);
      await store.close();
    });
  }

  it("gives summaries with shapes and no parameter data", async () => {
    const store = await openStore(await engine.fresh());
    const { id } = await store.models.create(twoLayerModel("float32"));
    const summary = (await store.models.getSummary(id, null))!;
    expect(summary.layers).toEqual([
      { type: "affine", W: { shape: [4, 3] }, b: { shape: [3] } },
      { type: "relu" },
      { type: "affine", W: { shape: [3, 2] }, b: { shape: [2] } },
      { type: "softmaxWithLoss" },
    ]);
    expect(summary.parameterCount).toBe(23);
    expect((await store.models.list({ tenant: null, limit: 10 })).items[0].layers).toEqual(
      summary.layers,
    );
    await store.close();
  });

  it("rejects tensors of another dtype or the wrong size", async () => {
    const store = await openStore(await engine.fresh());
    const model = twoLayerModel("float64");
    await expect(store.models.create({ ...model, dtype: "float32" })).rejects.toThrow(
      "a float64 tensor in a float32 model",
    );
    const bad = twoLayerModel("float32");
    const first = bad.layers[0];
    if (first.type === "affine")
      bad.layers[0] = { ...first, b: { shape: [4], data: first.b.data } };
    await expect(store.models.create(bad)).rejects.toThrow("3 values do not fill shape [4]");
    expect((await store.models.list({ tenant: null, limit: 10 })).items).toEqual([]);
    await store.close();
  });

  it("deletes a model and its tensors", async () => {
    const store = await openStore(await engine.fresh());
    const { id } = await store.models.create(twoLayerModel("float32"));
    expect(await store.models.delete(id, null)).toBe(true);
    expect(await store.models.get(id, null)).toBeUndefined();
    expect(await store.models.delete(id, null)).toBe(false);
    await store.close();
  });

  it("keeps each tenant's models invisible to the others", async () => {
    const store = await openStore(await engine.fresh());
    const a = await store.models.create(twoLayerModel("float32", { tenant: "a" }));
    const open = await store.models.create(twoLayerModel("float32"));
    expect(await store.models.get(a.id, "b")).toBeUndefined();
    expect(await store.models.get(a.id, null)).toBeUndefined();
    expect(await store.models.getSummary(a.id, "b")).toBeUndefined();
    expect(await store.models.get(open.id, "a")).toBeUndefined();
    expect((await store.models.get(a.id, "a"))?.id).toBe(a.id);
    expect((await store.models.list({ tenant: "b", limit: 10 })).items).toEqual([]);
    expect((await store.models.list({ tenant: "a", limit: 10 })).items.map((m) => m.id)).toEqual([
      a.id,
    ]);
    expect((await store.models.list({ tenant: null, limit: 10 })).items.map((m) => m.id)).toEqual([
      open.id,
    ]);
    expect(await store.models.delete(a.id, "b")).toBe(false);
    expect(await store.models.get(a.id, "a")).toBeDefined();
    await store.close();
  });

  it("pages newest first with an opaque cursor", async () => {
    const store = await openStore(await engine.fresh());
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const createdAt = new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString();
      ids.push(
        (await store.models.create(twoLayerModel("float32", { name: `m${i}`, createdAt }))).id,
      );
    }
    // Same timestamp: the id breaks the tie, and neither row is skipped or repeated.
    const tie = "2024-01-01T00:00:03.000Z";
    ids.push((await store.models.create(twoLayerModel("float32", { createdAt: tie }))).id);

    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const page = await store.models.list({ tenant: null, limit: 3, cursor });
      sizes.push(page.items.length);
      seen.push(...page.items.map((m) => m.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(sizes).toEqual([3, 3, 2]);
    expect(new Set(seen).size).toBe(8);
    const expected = [...ids.slice(0, 7).reverse()];
    const tieIds = [ids[3], ids[7]].sort().reverse();
    expected.splice(3, 1, ...tieIds);
    expect(seen).toEqual(expected);

    const exact = await store.models.list({ tenant: null, limit: 8 });
    expect(exact.items).toHaveLength(8);
    expect(exact.nextCursor).toBeNull();
    await store.close();
  });

  it("rejects a cursor it did not make and a bad limit", async () => {
    const store = await openStore(await engine.fresh());
    await expect(store.models.list({ tenant: null, limit: 5, cursor: "nonsense" })).rejects.toThrow(
      InvalidCursorError,
    );
    await expect(store.models.list({ tenant: null, limit: 0 })).rejects.toThrow(RangeError);
    await store.close();
  });
});
