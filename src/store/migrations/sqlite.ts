import type Database from "better-sqlite3";

/**
 * The embedded schema, one step per version: `PRAGMA user_version` is the number of steps
 * applied. Append new steps; never edit a released one, since databases in the field already ran
 * it. postgres.ts holds the same schema for PostgreSQL; a step added here is added there too.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE models (
    id TEXT PRIMARY KEY,
    tenant TEXT,
    name TEXT,
    dtype TEXT NOT NULL CHECK (dtype IN ('float32', 'float64')),
    -- layer types and tensor shapes (JSON); the numbers live in model_tensors
    layers TEXT NOT NULL,
    parameter_count INTEGER NOT NULL,
    origin TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX models_by_tenant_newest ON models (tenant, created_at DESC, id DESC);

  -- W then b of each affine layer, in layer order; little-endian bytes of the model's dtype
  CREATE TABLE model_tensors (
    model_id TEXT NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (model_id, position)
  ) STRICT;

  -- model_id and result_model_id are not foreign keys: deleting a model must not delete or
  -- block the record of a job that used or made it
  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    tenant TEXT,
    status TEXT NOT NULL
      CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    request TEXT NOT NULL,
    model_id TEXT NOT NULL,
    result_model_id TEXT,
    progress TEXT NOT NULL,
    loss REAL,
    history TEXT NOT NULL,
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    samples_per_second REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  CREATE INDEX jobs_by_tenant_newest ON jobs (tenant, created_at DESC, id DESC);
  CREATE INDEX jobs_by_status ON jobs (status, created_at, id);

  CREATE TABLE checkpoints (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,
    -- step, rng state, history, loss and how the tensors below split into parameters and slots
    state TEXT NOT NULL,
    saved_at TEXT NOT NULL
  ) STRICT;
  CREATE TABLE checkpoint_tensors (
    job_id TEXT NOT NULL REFERENCES checkpoints (job_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    dtype TEXT NOT NULL CHECK (dtype IN ('float32', 'float64')),
    data BLOB NOT NULL,
    PRIMARY KEY (job_id, position)
  ) STRICT;
  `,
  `
  -- a job's inline training and validation tensors, stored once as bytes (data.x, data.t, …)
  CREATE TABLE job_tensors (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    shape TEXT NOT NULL,
    dtype TEXT NOT NULL CHECK (dtype IN ('float32', 'float64')),
    data BLOB NOT NULL,
    PRIMARY KEY (job_id, name)
  ) STRICT;
  `,
  // /v2 names a model by its name: the tenant's newest of that name
  "CREATE INDEX models_by_tenant_name_newest ON models (tenant, name, created_at DESC, id DESC);",
  `
  -- who runs the job (jobs.claim); a runner's writes are fenced on it
  ALTER TABLE jobs ADD COLUMN runner TEXT;
  -- the pending-job cap counts a tenant's queued and running jobs
  CREATE INDEX jobs_by_tenant_status ON jobs (tenant, status);

  -- every job's events in one sequence, for streams to replay after an id; AUTOINCREMENT so an
  -- id is never reused, even after the newest rows are gone
  CREATE TABLE job_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX job_events_by_job ON job_events (job_id, id);
  `,
  `
  -- a job's history, one row per entry: an append rewrites nothing, however long the job runs
  -- (a JSON array in jobs.history made each append, and each read of the job, cost its length)
  CREATE TABLE job_history (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    iteration INTEGER NOT NULL,
    entry TEXT NOT NULL
  ) STRICT;
  CREATE INDEX job_history_by_job ON job_history (job_id, id);
  INSERT INTO job_history (job_id, iteration, entry)
    SELECT jobs.id, json_extract(h.value, '$.iteration'), h.value
    FROM jobs, json_each(jobs.history) AS h
    ORDER BY jobs.rowid, h.key;
  ALTER TABLE jobs DROP COLUMN history;
  -- the kernel paths that computed a job, in order (a resume on others changes its bits)
  ALTER TABLE jobs ADD COLUMN kernels TEXT NOT NULL DEFAULT '[]';
  `,
];

/**
 * Applies the steps the database has not run yet, each in its own transaction together with the
 * version bump. IMMEDIATE takes the write lock before reading the version, so two processes
 * opening the same file at once cannot both apply a step. Returns how many steps ran.
 */
export function migrate(db: Database.Database, steps: readonly string[] = MIGRATIONS): number {
  const version = () => db.pragma("user_version", { simple: true }) as number;
  const known = version();
  if (known > steps.length) {
    throw new Error(
      `${db.name}: schema version ${known} is newer than this build knows (${steps.length})`,
    );
  }
  let applied = 0;
  for (let step = known; step < steps.length; step++) {
    db.transaction(() => {
      if (version() !== step) return;
      db.exec(steps[step]);
      db.pragma(`user_version = ${step + 1}`);
      applied++;
    }).immediate();
  }
  return applied;
}
