import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import { migrate } from "../../src/store/migrations/sqlite.js";
import { DATABASE_FILE, openStore } from "../../src/store/open-store.js";
import type { NewModel } from "../../src/store/repository.js";
import { describeWithPostgres, type PostgresServer, startPostgres } from "../helpers/postgres.js";
import { awkward, sameBits, tempDir, twoLayerModel } from "./helpers.js";

const MB = 1024 * 1024;

/** A float64 model of `inputs`·`outputs` + `outputs` parameters. */
function bigModel(inputs: number, outputs: number): NewModel {
  const layers: LayerSpec[] = [
    {
      type: "affine",
      W: { shape: [inputs, outputs], data: awkward(inputs * outputs, "float64") },
      b: { shape: [outputs], data: awkward(outputs, "float64") },
    },
    { type: "softmaxWithLoss" },
  ];
  return { tenant: null, name: "big", dtype: "float64", layers, origin: { kind: "layers" } };
}

/** The embedded store's bytes on disk: the database file and its WAL. */
function onDisk(dir: string): number {
  const file = join(dir, DATABASE_FILE);
  const wal = `${file}-wal`;
  return statSync(file).size + (existsSync(wal) ? statSync(wal).size : 0);
}

describe("space on sqlite", () => {
  it("gives a deleted model's space back to the file system, wherever it lay", async () => {
    const dir = tempDir();
    const store = await openStore({ dataDir: dir });
    const small = await store.models.create(twoLayerModel("float64"));
    const before = onDisk(dir);
    // Two 16 MiB models around a small one: deleting the first leaves a hole the file's tail
    // must move into.
    const first = await store.models.create(bigModel(1024, 2048));
    const middle = await store.models.create(twoLayerModel("float32"));
    const last = await store.models.create(bigModel(1024, 2048));
    expect(onDisk(dir)).toBeGreaterThan(before + 32 * MB);

    expect(await store.models.delete(first.id, null)).toBe(true);
    const afterFirst = onDisk(dir);
    expect(afterFirst).toBeLessThan(before + 17 * MB);
    expect(afterFirst).toBeGreaterThan(before + 15 * MB);
    // What the vacuum moved still reads back bit for bit.
    const kept = (await store.models.get(last.id, null))!;
    const W = kept.layers[0].type === "affine" ? kept.layers[0].W.data : null;
    expect(sameBits(W!, awkward(1024 * 2048, "float64"))).toBe(true);
    expect(await store.models.get(middle.id, null)).toBeDefined();

    expect(await store.models.delete(last.id, null)).toBe(true);
    expect(onDisk(dir)).toBeLessThan(before + 1 * MB);
    expect((await store.models.get(small.id, null))?.name).toBe("two-layer");
    await store.close();
  }, 60_000);

  it("switches a file made before incremental auto-vacuum, keeping its models", async () => {
    const dir = tempDir();
    const file = join(dir, DATABASE_FILE);
    const old = new Database(file);
    old.pragma("journal_mode = WAL");
    migrate(old);
    expect(old.pragma("auto_vacuum", { simple: true })).toBe(0);
    old.close();

    const store = await openStore({ dataDir: dir });
    const { id } = await store.models.create(bigModel(512, 1024));
    await store.close();
    const check = new Database(file, { readonly: true });
    expect(check.pragma("auto_vacuum", { simple: true })).toBe(2);
    check.close();

    const reopened = await openStore({ dataDir: dir });
    const before = onDisk(dir);
    expect(await reopened.models.delete(id, null)).toBe(true);
    expect(onDisk(dir)).toBeLessThan(before - 4 * MB);
    await reopened.close();
  }, 60_000);
});

describeWithPostgres("space on postgres", () => {
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(() => server?.destroy());

  it("reuses a deleted model's space after VACUUM: create/delete cycles stay bounded", async () => {
    const databaseUrl = await server!.createDatabase();
    const store = await openStore({ dataDir: tempDir(), databaseUrl });
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const tableBytes = async () => {
      // What autovacuum does in time, here at once: the dead rows and TOAST chunks become reusable.
      await client.query("VACUUM model_tensors");
      const { rows } = await client.query(
        "SELECT pg_total_relation_size('model_tensors')::bigint AS bytes",
      );
      return Number(rows[0].bytes);
    };
    // Each cycle writes a model and deletes the one before, so one model lives at a time and a
    // deleted one leaves a hole below the live one's chunks (VACUUM cannot just cut the tail).
    let previous = (await store.models.create(bigModel(512, 1024))).id;
    const one = await tableBytes();
    expect(one).toBeGreaterThan(1 * MB);
    const sizes: number[] = [];
    for (let cycle = 0; cycle < 6; cycle++) {
      const { id } = await store.models.create(bigModel(512, 1024));
      expect(await store.models.delete(previous, null)).toBe(true);
      previous = id;
      sizes.push(await tableBytes());
    }
    // Without reuse the table would hold 7 models' chunks; it holds at most two at once.
    expect(Math.max(...sizes)).toBeLessThan(2.5 * one);
    await client.end();
    await store.close();
  }, 120_000);
});
