import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { fromBlob, toBlob } from "../../src/store/blob.js";
import { MIGRATIONS, migrate } from "../../src/store/migrations.js";
import { DATABASE_FILE, openStore, StoreOpenError } from "../../src/store/sqlite-store.js";
import { awkward, jobSpec, sameBits, tempDir, twoLayerModel } from "./helpers.js";

describe("sqlite store", () => {
  it("keeps models, jobs and checkpoints across close and reopen", () => {
    const dir = join(tempDir(), "nested", "data");
    const first = openStore(dir);
    const model = first.models.create(twoLayerModel("float64"));
    const job = first.jobs.create({
      tenant: null,
      modelId: model.id,
      request: jobSpec(3),
      progress: { iteration: 0, iterations: 3, epoch: 0, fraction: 0 },
    });
    const parameters = [awkward(5, "float64")];
    first.jobs.saveCheckpoint({
      jobId: job.id,
      iteration: 2,
      parameters,
      optimizerState: { step: 2, slots: [[awkward(5, "float64")]] },
      rngState: { s: [1, 2, 3, 4], spare: null },
      loss: null,
      kernels: "typescript",
    });
    first.close();
    first.close(); // closing twice is harmless

    const second = openStore(dir);
    const got = second.models.get(model.id, null)!;
    expect(got.layers.length).toBe(4);
    const w = got.layers[0].type === "affine" ? got.layers[0].W.data : null;
    const want = model.layers[0].type === "affine" ? model.layers[0].W.data : null;
    expect(sameBits(w!, want!)).toBe(true);
    expect(second.jobs.get(job.id, null)).toEqual(job);
    expect(sameBits(second.jobs.loadCheckpoint(job.id)!.parameters[0], parameters[0])).toBe(true);
    second.close();
  });

  it("uses WAL, synchronous=FULL and foreign keys", () => {
    const dir = tempDir();
    const store = openStore(dir);
    const db = new Database(join(dir, DATABASE_FILE));
    // journal_mode is stored in the file; the others are per connection, so ask the store's own.
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    const pragmas = (store.models as unknown as { db: Database.Database }).db;
    expect(pragmas.pragma("synchronous", { simple: true })).toBe(2); // FULL
    expect(pragmas.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(pragmas.pragma("busy_timeout", { simple: true })).toBe(5000);
    store.close();
  });

  it("applies each migration once and records it in user_version", () => {
    const dir = tempDir();
    openStore(dir).close();
    const db = new Database(join(dir, DATABASE_FILE));
    expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    expect(migrate(db)).toBe(0);
    db.close();
    openStore(dir).close(); // a reapplied CREATE TABLE would throw here

    const steps = [
      "CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1);",
      "INSERT INTO t VALUES (2);",
    ];
    const mem = new Database(":memory:");
    expect(migrate(mem, steps.slice(0, 1))).toBe(1);
    expect(migrate(mem, steps)).toBe(1);
    expect(migrate(mem, steps)).toBe(0);
    expect(mem.prepare("SELECT n FROM t").pluck().all()).toEqual([1, 2]);
    expect(mem.pragma("user_version", { simple: true })).toBe(2);
    expect(() => migrate(mem, steps.slice(0, 1))).toThrow(/schema version 2 is newer/);
    mem.close();
  });

  it("rolls a failing migration back, version included", () => {
    const mem = new Database(":memory:");
    const steps = [
      "CREATE TABLE t (n INTEGER);",
      "INSERT INTO t VALUES (1); INSERT INTO nope VALUES (2);",
    ];
    expect(() => migrate(mem, steps)).toThrow(/no such table: nope/);
    expect(mem.pragma("user_version", { simple: true })).toBe(1);
    expect(mem.prepare("SELECT count(*) FROM t").pluck().get()).toBe(0);
    mem.close();
  });

  it("says which directory is not writable and why", () => {
    const file = join(tempDir(), "file.txt");
    writeFileSync(file, "not a directory");
    const dir = join(file, "sub");
    expect(() => openStore(dir)).toThrow(`data directory ${dir} is not writable: ENOTDIR`);
  });

  it("names the file when the database cannot be set up", () => {
    const dir = tempDir();
    const file = join(dir, DATABASE_FILE);
    writeFileSync(file, "x".repeat(4096));
    expect(() => openStore(dir)).toThrow(StoreOpenError);
    expect(() => openStore(dir)).toThrow(`cannot set up the store ${file}: file is not a database`);
  });
});

describe("blobs", () => {
  it("are views when aligned and aligned copies when not", () => {
    const data = awkward(4, "float64");
    const blob = toBlob(data);
    expect(blob.buffer).toBe(data.buffer);

    const aligned = fromBlob(new Uint8Array(blob), "float64");
    expect(sameBits(aligned, data)).toBe(true);

    const shifted = new Uint8Array(blob.length + 1).subarray(1);
    shifted.set(blob);
    const copied = fromBlob(shifted, "float64");
    expect(copied.byteOffset).toBe(0);
    expect(copied.buffer).not.toBe(shifted.buffer);
    expect(sameBits(copied, data)).toBe(true);

    const view = new Uint8Array(16).subarray(8);
    expect(fromBlob(view, "float64").buffer).toBe(view.buffer);
    expect(() => fromBlob(new Uint8Array(6), "float32")).toThrow("not whole elements");
  });
});
