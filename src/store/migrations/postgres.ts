import { type Kysely, sql } from "kysely";

/**
 * The PostgreSQL schema, one step per version, recorded in `schema_version`. It matches the
 * embedded schema of sqlite.ts at its current version (whose first steps PostgreSQL never had):
 * JSON in jsonb, tensors in bytea, keys and timestamps compared bytewise (COLLATE "C", as SQLite
 * compares text), and one identity sequence for every job's events. Append steps; never edit one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE models (
    id text COLLATE "C" PRIMARY KEY,
    tenant text,
    name text,
    dtype text NOT NULL CHECK (dtype IN ('float32', 'float64')),
    layers jsonb NOT NULL,
    parameter_count integer NOT NULL,
    origin jsonb NOT NULL,
    created_at text COLLATE "C" NOT NULL,
    updated_at text NOT NULL
  );
  CREATE INDEX models_by_tenant_newest ON models (tenant, created_at DESC, id DESC);
  CREATE INDEX models_by_tenant_name_newest ON models (tenant, name, created_at DESC, id DESC);

  CREATE TABLE model_tensors (
    model_id text NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    position integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (model_id, position)
  );

  -- model_id and result_model_id are not foreign keys: deleting a model must not delete or
  -- block the record of a job that used or made it
  CREATE TABLE jobs (
    id text COLLATE "C" PRIMARY KEY,
    tenant text,
    status text NOT NULL
      CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    request jsonb NOT NULL,
    model_id text NOT NULL,
    result_model_id text,
    progress jsonb NOT NULL,
    loss double precision,
    history jsonb NOT NULL,
    error jsonb,
    created_at text COLLATE "C" NOT NULL,
    started_at text,
    finished_at text,
    samples_per_second double precision,
    cancel_requested integer NOT NULL DEFAULT 0,
    runner text
  );
  CREATE INDEX jobs_by_tenant_newest ON jobs (tenant, created_at DESC, id DESC);
  CREATE INDEX jobs_by_status ON jobs (status, created_at, id);
  CREATE INDEX jobs_by_tenant_status ON jobs (tenant, status);

  CREATE TABLE checkpoints (
    job_id text PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    iteration integer NOT NULL,
    state jsonb NOT NULL,
    saved_at text NOT NULL
  );
  CREATE TABLE checkpoint_tensors (
    job_id text NOT NULL REFERENCES checkpoints (job_id) ON DELETE CASCADE,
    position integer NOT NULL,
    dtype text NOT NULL CHECK (dtype IN ('float32', 'float64')),
    data bytea NOT NULL,
    PRIMARY KEY (job_id, position)
  );

  CREATE TABLE job_tensors (
    job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    name text NOT NULL,
    shape jsonb NOT NULL,
    dtype text NOT NULL CHECK (dtype IN ('float32', 'float64')),
    data bytea NOT NULL,
    PRIMARY KEY (job_id, name)
  );

  CREATE TABLE job_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    event text NOT NULL,
    data jsonb NOT NULL,
    created_at text NOT NULL
  );
  CREATE INDEX job_events_by_job ON job_events (job_id, id);
  `,
  `
  -- a job's history, one row per entry: an append rewrites nothing, however long the job runs
  CREATE TABLE job_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    iteration bigint NOT NULL,
    entry jsonb NOT NULL
  );
  CREATE INDEX job_history_by_job ON job_history (job_id, id);
  INSERT INTO job_history (job_id, iteration, entry)
    SELECT jobs.id, (h.e->>'iteration')::bigint, h.e
    FROM jobs, jsonb_array_elements(jobs.history) WITH ORDINALITY AS h(e, n)
    ORDER BY jobs.created_at, jobs.id, h.n;
  ALTER TABLE jobs DROP COLUMN history;
  -- the kernel paths that computed a job, in order (a resume on others changes its bits)
  ALTER TABLE jobs ADD COLUMN kernels jsonb NOT NULL DEFAULT '[]';
  `,
];

/** Key of the advisory lock that serialises migrations across processes. */
const MIGRATION_LOCK = 0x62706d67; // "bpmg"

/**
 * Applies the steps the database has not run yet, all in one transaction under an advisory
 * lock: a second process opening at the same moment waits, then finds them applied. Returns how
 * many ran.
 */
export async function migrate(
  db: Kysely<unknown>,
  steps: readonly string[] = MIGRATIONS,
): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(trx);
    await sql`CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`.execute(trx);
    const { rows } = await sql<{ version: number }>`SELECT version FROM schema_version`.execute(
      trx,
    );
    const known = rows[0]?.version ?? 0;
    if (known > steps.length) {
      throw new Error(`schema version ${known} is newer than this build knows (${steps.length})`);
    }
    for (let step = known; step < steps.length; step++) {
      await sql.raw(steps[step]).execute(trx);
    }
    if (rows.length === 0) {
      await sql`INSERT INTO schema_version (version) VALUES (${steps.length})`.execute(trx);
    } else {
      await sql`UPDATE schema_version SET version = ${steps.length}`.execute(trx);
    }
    return steps.length - known;
  });
}
