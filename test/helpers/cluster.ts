import { afterAll, beforeAll, describe } from "vitest";
import { findPostgres, type PostgresServer, startPostgres } from "./postgres.js";
import { type RedisServer, redisBinary, startRedis } from "./redis.js";
import { type ServerProcess, startServer } from "./server-process.js";

/**
 * What the distributed suite needs: PostgreSQL and Redis installed here (it starts private
 * servers of its own on loopback). Missing, it is skipped with one line, except under CI=true,
 * where a missing server is a failure.
 */
export function describeDistributed(name: string, body: () => void, timeout = 240_000): void {
  const missing = [
    "missing" in findPostgres() ? "PostgreSQL (apt-get install postgresql)" : null,
    redisBinary() ? null : "Redis (apt-get install redis-server)",
  ].filter((m): m is string => m !== null);
  if (missing.length > 0 && process.env.CI !== "true") {
    console.warn(`distributed suite skipped: ${missing.join(" and ")} not found`);
    describe.skip(name, body);
    return;
  }
  describe(name, { timeout }, () => {
    if (missing.length > 0) {
      throw new Error(`distributed suite: ${missing.join(" and ")} not found (CI=true)`);
    }
    body();
  });
}

export interface Cluster {
  pg: PostgresServer;
  /** The database every replica of the file shares. */
  databaseUrl: string;
  redis: RedisServer;
  /** A replica as a real process on its own DATA_DIR, sharing the cluster's PostgreSQL and Redis. */
  replica(env?: Record<string, string>): Promise<ServerProcess>;
}

/** Starts PostgreSQL and Redis for the file's tests; every replica started is stopped after. */
export function useCluster(replicaEnv: Record<string, string> = {}): Cluster {
  const cluster = {} as Cluster;
  const started: ServerProcess[] = [];
  beforeAll(async () => {
    [cluster.pg, cluster.redis] = await Promise.all([startPostgres(), startRedis()]);
    cluster.databaseUrl = await cluster.pg.createDatabase();
    cluster.replica = async (env = {}) => {
      const replica = await startServer({
        DATABASE_URL: cluster.databaseUrl,
        REDIS_URL: cluster.redis.url,
        ...replicaEnv,
        ...env,
      });
      started.push(replica);
      return replica;
    };
  }, 120_000);
  afterAll(async () => {
    for (const replica of started) {
      if (replica.child.exitCode === null && replica.child.signalCode === null) {
        replica.child.kill("SIGKILL");
        await replica.exited;
      }
    }
    await Promise.all([cluster.pg?.destroy(), cluster.redis?.close()]);
  }, 60_000);
  return cluster;
}
