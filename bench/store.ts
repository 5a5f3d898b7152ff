/**
 * `npm run bench:store`: a model read through the store (Kysely over better-sqlite3) against the
 * same read in bare better-sqlite3 prepared statements, the way the synchronous store did it (its
 * row and tensors in one transaction, JSON parsed, blobs viewed as typed arrays), in the same run
 * on the same file, interleaved. Then, where PostgreSQL is installed, the same read and a model
 * write on a private PostgreSQL server (on loopback) against SQLite. Medians of rounds.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { LayerSpec } from "../src/core/layer-spec.js";
import { fromBlob } from "../src/store/blob.js";
import { DATABASE_FILE, openStore } from "../src/store/open-store.js";
import type { NewModel, Store } from "../src/store/repository.js";
import { findPostgres, startPostgres } from "../test/helpers/postgres-server.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const PER_ROUND = Number(process.env.BENCH_READS ?? 200);

function model(): NewModel {
  const affine = (inputs: number, outputs: number): LayerSpec => ({
    type: "affine",
    W: {
      shape: [inputs, outputs],
      data: Float32Array.from({ length: inputs * outputs }, Math.random),
    },
    b: { shape: [outputs], data: new Float32Array(outputs) },
  });
  return {
    tenant: null,
    name: "bench",
    dtype: "float32",
    layers: [affine(784, 50), { type: "relu" }, affine(50, 10), { type: "softmaxWithLoss" }],
    origin: { kind: "layers" },
  };
}

/** The synchronous store's read, in bare better-sqlite3: the baseline. */
function bareReader(file: string) {
  const db = new Database(file, { readonly: true });
  const row = db.prepare("SELECT * FROM models WHERE id = ? AND tenant IS ?");
  const tensors = db
    .prepare("SELECT data FROM model_tensors WHERE model_id = ? ORDER BY position")
    .pluck();
  const read = db.transaction((id: string) => {
    const found = row.get(id, null) as { layers: string; origin: string } | undefined;
    return found && { found, blobs: tensors.all(id) as Buffer[] };
  });
  return {
    get(id: string) {
      const { found, blobs } = read(id)!;
      JSON.parse(found.layers);
      JSON.parse(found.origin);
      return blobs.map((b) => fromBlob(b, "float32"));
    },
    close: () => db.close(),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median over rounds of the mean time per call, in microseconds, each contender per round. */
async function compare(contenders: Record<string, () => unknown>): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(
    Object.keys(contenders).map((k) => [k, []]),
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(contenders)) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < PER_ROUND; i++) await run();
      times[name].push(Number(process.hrtime.bigint() - start) / 1e3 / PER_ROUND);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

const dir = mkdtempSync(join(tmpdir(), "bench-store-"));
const sqlite = await openStore({ dataDir: dir });
const { id } = await sqlite.models.create(model());
const bare = bareReader(join(dir, DATABASE_FILE));
const reads = await compare({
  "bare better-sqlite3": () => bare.get(id),
  "store (Kysely, SQLite)": () => sqlite.models.get(id, null),
});
console.log(`model read, 784-50-10 float32 (${ROUNDS} rounds of ${PER_ROUND}), µs per read:`);
for (const [name, us] of Object.entries(reads))
  console.log(`  ${name.padEnd(24)} ${us.toFixed(1)}`);
console.log(
  `  store / bare: ${(reads["store (Kysely, SQLite)"] / reads["bare better-sqlite3"]).toFixed(2)}×`,
);
bare.close();

if ("missing" in findPostgres()) {
  console.log(
    `PostgreSQL rows skipped: missing ${(findPostgres() as { missing: string }).missing}`,
  );
} else {
  const server = await startPostgres();
  const postgres: Store = await openStore({
    dataDir: dir,
    databaseUrl: await server.createDatabase(),
  });
  const pgId = (await postgres.models.create(model())).id;
  const both = await compare({
    "SQLite read": () => sqlite.models.get(id, null),
    "PostgreSQL read": () => postgres.models.get(pgId, null),
    "SQLite write": () => sqlite.models.create(model()),
    "PostgreSQL write": () => postgres.models.create(model()),
  });
  console.log("PostgreSQL (private server on loopback, fsync off) against SQLite, µs per call:");
  for (const [name, us] of Object.entries(both))
    console.log(`  ${name.padEnd(24)} ${us.toFixed(1)}`);
  console.log(
    `  read: ${(both["PostgreSQL read"] / both["SQLite read"]).toFixed(2)}× SQLite's time; write: ${(both["PostgreSQL write"] / both["SQLite write"]).toFixed(2)}×`,
  );
  await postgres.close();
  await server.destroy();
}
await sqlite.close();
rmSync(dir, { recursive: true, force: true });
