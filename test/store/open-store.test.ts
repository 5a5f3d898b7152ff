import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import type { FloatArray } from "../../src/core/tensor.js";
import { fromBlob, toBlob } from "../../src/store/blob.js";
import type { Engine } from "../../src/store/engine.js";
import {
  migrate as migratePostgres,
  MIGRATIONS as PG_MIGRATIONS,
} from "../../src/store/migrations/postgres.js";
import { MIGRATIONS, migrate } from "../../src/store/migrations/sqlite.js";
import { DATABASE_FILE, openStore, StoreOpenError } from "../../src/store/open-store.js";
import { type Store, StoreUnavailableError } from "../../src/store/repository.js";
import { describeWithPostgres, type PostgresServer, startPostgres } from "../helpers/postgres.js";
import { awkward, jobSpec, sameBits, tempDir, twoLayerModel } from "./helpers.js";

/** The Kysely instance under a store (for engine-level checks only). */
const engineOf = (store: Store) => (store.models as unknown as { engine: Engine }).engine;

describe("sqlite store", () => {
  it("keeps models, jobs and checkpoints across close and reopen", async () => {
    const dir = join(tempDir(), "nested", "data");
    const first = await openStore({ dataDir: dir });
    const model = await first.models.create(twoLayerModel("float64"));
    const job = await first.jobs.create({
      tenant: null,
      modelId: model.id,
      request: jobSpec(3),
      progress: { iteration: 0, iterations: 3, epoch: 0, fraction: 0 },
    });
    const parameters = [awkward(5, "float64")];
    await first.jobs.saveCheckpoint({
      jobId: job.id,
      iteration: 2,
      parameters,
      optimizerState: { step: 2, slots: [[awkward(5, "float64")]] },
      rngState: { s: [1, 2, 3, 4], spare: null },
      loss: null,
      kernels: "typescript",
    });
    await first.close();
    await first.close(); // closing twice is harmless

    const second = await openStore({ dataDir: dir });
    const got = (await second.models.get(model.id, null))!;
    expect(got.layers.length).toBe(4);
    const w = got.layers[0].type === "affine" ? got.layers[0].W.data : null;
    const want = model.layers[0].type === "affine" ? model.layers[0].W.data : null;
    expect(sameBits(w!, want!)).toBe(true);
    expect(await second.jobs.get(job.id, null)).toEqual(job);
    const saved = (await second.jobs.loadCheckpoint(job.id))!;
    expect(sameBits(saved.parameters[0], parameters[0])).toBe(true);
    await second.close();
  });

  it("uses WAL, synchronous=FULL and foreign keys", async () => {
    const dir = tempDir();
    const store = await openStore({ dataDir: dir });
    const db = new Database(join(dir, DATABASE_FILE));
    // journal_mode is stored in the file; the others are per connection, so ask the store's own.
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    const pragma = async (name: string) =>
      Object.values(
        (await sql.raw(`PRAGMA ${name}`).execute(engineOf(store).db)).rows[0] as object,
      )[0];
    expect(await pragma("synchronous")).toBe(2); // FULL
    expect(await pragma("foreign_keys")).toBe(1);
    expect(await pragma("busy_timeout")).toBe(5000);
    await store.close();
  });

  it("applies each migration once and records it in user_version", async () => {
    const dir = tempDir();
    await (await openStore({ dataDir: dir })).close();
    const db = new Database(join(dir, DATABASE_FILE));
    expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    expect(migrate(db)).toBe(0);
    db.close();
    await (await openStore({ dataDir: dir })).close(); // a reapplied CREATE TABLE would throw here

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

  it("says which directory is not writable and why", async () => {
    const file = join(tempDir(), "file.txt");
    writeFileSync(file, "not a directory");
    const dir = join(file, "sub");
    await expect(openStore({ dataDir: dir })).rejects.toThrow(
      `data directory ${dir} is not writable: ENOTDIR`,
    );
  });

  it("names the file when the database cannot be set up", async () => {
    const dir = tempDir();
    const file = join(dir, DATABASE_FILE);
    writeFileSync(file, "x".repeat(4096));
    await expect(openStore({ dataDir: dir })).rejects.toThrow(StoreOpenError);
    await expect(openStore({ dataDir: dir })).rejects.toThrow(
      `cannot set up the store ${file}: file is not a database`,
    );
  });

  // Databases written before the Kysely store (schema versions 1 to 3) open and keep their data.
  for (const version of [1, 2, 3]) {
    it(`carries a version ${version} database forward without losing its model or job`, async () => {
      const dir = tempDir();
      const old = new Database(join(dir, DATABASE_FILE));
      old.pragma("journal_mode = WAL");
      expect(migrate(old, MIGRATIONS.slice(0, version))).toBe(version);
      // Rows as the synchronous better-sqlite3 store wrote them.
      const W = awkward(6, "float32");
      const b = awkward(3, "float32");
      old
        .prepare(
          `INSERT INTO models (id, tenant, name, dtype, layers, parameter_count, origin, created_at, updated_at)
           VALUES ('m1', 'alice', 'old', 'float32', ?, 9, '{"kind":"layers"}', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z')`,
        )
        .run(
          JSON.stringify([
            { type: "affine", W: { shape: [2, 3] }, b: { shape: [3] } },
            { type: "softmaxWithLoss" },
          ]),
        );
      const blob = (a: FloatArray) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
      const tensor = old.prepare(
        "INSERT INTO model_tensors (model_id, position, data) VALUES (?, ?, ?)",
      );
      tensor.run("m1", 0, blob(W));
      tensor.run("m1", 1, blob(b));
      old
        .prepare(
          `INSERT INTO jobs (id, tenant, status, request, model_id, progress, history, created_at, cancel_requested)
           VALUES ('j1', 'alice', 'running', ?, 'm1', ?, ?, '2024-01-01T00:00:01.000Z', 0)`,
        )
        .run(
          JSON.stringify(jobSpec(10)),
          JSON.stringify({ iteration: 4, iterations: 10, epoch: 0, fraction: 0.4 }),
          JSON.stringify([{ iteration: 2, loss: 0.5 }]),
        );
      old.close();

      const store = await openStore({ dataDir: dir });
      const model = (await store.models.get("m1", "alice"))!;
      expect(model).toMatchObject({ name: "old", dtype: "float32", parameterCount: 9 });
      const affine = model.layers[0];
      expect(
        affine.type === "affine" && sameBits(affine.W.data, W) && sameBits(affine.b.data, b),
      ).toBe(true);
      const job = (await store.jobs.get("j1", "alice"))!;
      expect(job).toMatchObject({
        status: "running",
        modelId: "m1",
        runner: null,
        cancelRequested: false,
      });
      expect(job.request).toEqual(jobSpec(10));
      expect(job.history).toEqual([{ iteration: 2, loss: 0.5 }]);
      expect(job.progress.iteration).toBe(4);
      // The new parts work on the carried-forward file.
      expect((await store.jobs.claim("j1", "r"))?.runner).toBe("r");
      const [event] = await store.events.append("j1", [
        { event: "evaluation", data: { iteration: 4, loss: 0.4 } },
      ]);
      expect(await store.events.after("j1", 0, 10)).toEqual([event]);
      await store.close();
      const check = new Database(join(dir, DATABASE_FILE));
      expect(check.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
      check.close();
    });
  }
});

describe("postgres store, opening", () => {
  it("is chosen by DATABASE_URL, which must be a postgres:// URL", () => {
    expect(loadConfig({}).databaseUrl).toBeNull();
    expect(loadConfig({ DATABASE_URL: "postgresql://h/db" }).databaseUrl).toBe("postgresql://h/db");
    expect(() => loadConfig({ DATABASE_URL: "mysql://h/db" })).toThrow(
      "invalid configuration: DATABASE_URL: must be a postgres:// or postgresql:// URL",
    );
  });

  it("fails fast with one line when the server does not answer", async () => {
    const started = Date.now();
    const open = openStore({
      dataDir: tempDir(),
      databaseUrl: "postgres://u:secret@127.0.0.1:1/db",
    });
    await expect(open).rejects.toThrow(StoreOpenError);
    await expect(open).rejects.toThrow(
      /^cannot set up the store postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db: .*ECONNREFUSED|the store is unavailable/,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describeWithPostgres("postgres store", () => {
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(() => server?.destroy());

  it("migrates once when two processes open a new database at once", async () => {
    const url = await server!.createDatabase();
    const stores = await Promise.all(
      Array.from({ length: 3 }, () => openStore({ dataDir: tempDir(), databaseUrl: url })),
    );
    const client = new pg.Client(url);
    await client.connect();
    const { rows } = await client.query("SELECT version FROM schema_version");
    await client.end();
    expect(rows).toEqual([{ version: PG_MIGRATIONS.length }]);
    const model = await stores[0].models.create(twoLayerModel("float64"));
    expect((await stores[2].models.getSummary(model.id, null))?.id).toBe(model.id);
    await Promise.all(stores.map((s) => s.close()));
  });

  it("carries a version-1 database forward: its jobs keep their history", async () => {
    const url = await server!.createDatabase();
    const db = new Kysely<unknown>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
    });
    expect(await migratePostgres(db, PG_MIGRATIONS.slice(0, 1))).toBe(1);
    const history = [
      { iteration: 10, loss: 0.5 },
      { iteration: 20, loss: 0.25, validationAccuracy: 0.75 },
    ];
    await sql`INSERT INTO jobs (id, tenant, status, request, model_id, progress, history, created_at)
      VALUES ('j1', NULL, 'succeeded', ${JSON.stringify(jobSpec(20))}::jsonb, 'm1',
        ${JSON.stringify({ iteration: 20, iterations: 20, epoch: 2, fraction: 1 })}::jsonb,
        ${JSON.stringify(history)}::jsonb, '2024-01-01T00:00:00.000Z')`.execute(db);
    await db.destroy();

    const store = await openStore({ dataDir: tempDir(), databaseUrl: url });
    expect((await store.jobs.get("j1", null))?.history).toEqual(history);
    await store.jobs.appendHistory("j1", [{ iteration: 30, loss: 0.125 }]);
    expect((await store.jobs.get("j1", null))?.history.map((e) => e.iteration)).toEqual([
      10, 20, 30,
    ]);
    await store.close();
  });

  it("answers StoreUnavailableError while the server is down and recovers when it is back", async () => {
    const store = await openStore({
      dataDir: tempDir(),
      databaseUrl: await server!.createDatabase(),
    });
    const model = await store.models.create(twoLayerModel("float32"));
    await store.ping();
    await server!.stop();
    await expect(store.ping()).rejects.toThrow(StoreUnavailableError);
    await expect(store.models.get(model.id, null)).rejects.toThrow(StoreUnavailableError);
    await expect(store.jobs.findByStatus(["queued"])).rejects.toThrow(StoreUnavailableError);
    await server!.start();
    await store.ping();
    const got = (await store.models.get(model.id, null))!;
    const [w, g] = [model.layers[0], got.layers[0]];
    expect(w.type === "affine" && g.type === "affine" && sameBits(w.W.data, g.W.data)).toBe(true);
    await store.close();
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

    // A view into a larger buffer (Node's Buffer pool, where pg decodes small bytea) is copied.
    const pooled = Buffer.from(blob);
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.byteLength);
    const unpooled = fromBlob(pooled, "float64");
    expect(unpooled.buffer).not.toBe(pooled.buffer);
    expect(sameBits(unpooled, data)).toBe(true);
    expect(() => fromBlob(new Uint8Array(6), "float32")).toThrow("not whole elements");
  });
});
