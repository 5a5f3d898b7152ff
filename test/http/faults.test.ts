import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { closeSync, mkdirSync, mkdtempSync, openSync, writeFileSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { DATABASE_FILE } from "../../src/store/open-store.js";
import { testApp } from "../helpers/app.js";
import { expectSameAsUninterrupted, mnistJob, parameterBits, waitForJob } from "../helpers/jobs.js";
import { expectProblem } from "../helpers/problem.js";
import { postJson, startServer, startServerExpectingFailure } from "../helpers/server-process.js";
import { endlessBody, slowBody } from "../helpers/tensors.js";
import { killInsideTransaction } from "../helpers/wal.js";

/**
 * Faults the service survives, each really caused: a worker thread dying under a request,
 * SIGKILL amid model writes, SIGTERM with work in flight, and a DATA_DIR it cannot use.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** 784-1000-10: 795,010 float32 parameters, 3.2 MB (some 780 pages) written per model. */
const HIDDEN = 1000;
const PARAMETERS = 784 * HIDDEN + HIDDEN + HIDDEN * 10 + 10;
const bigModel = {
  name: "big",
  seed: 7,
  architecture: {
    inputSize: 784,
    hiddenSizes: [HIDDEN],
    outputSize: 10,
    activation: "relu",
    weightInit: "he",
  },
};

/** A 5xx the way docs/API.md promises it: problem+json with a code and the request id, no stack. */
function expectCleanProblem(res: request.Response, status: number, code: string) {
  expectProblem(res, status, code);
  expect(res.body.requestId).toBe(res.headers["x-request-id"]);
  expect(res.text).not.toMatch(/stack|\bat .*:\d+:\d+|node:internal/);
}

const threadIds = (app: FastifyInstance) => app.pool.piscina.threads.map((t) => t.threadId);

describe("a worker thread dying under a request", () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it("out of memory: the request gets a clean 500, the worker is replaced, the next one succeeds", async () => {
    app = await testApp({ POOL_THREADS: "1", WORKER_HEAP_MB: "16" });
    const server = app.server;
    const model = await request(server)
      .post("/v1/models")
      .send({ layers: [{ type: "affine", W: [[1, 0]], b: [0, 0] }, { type: "softmaxWithLoss" }] });
    expect(model.status).toBe(201);
    // MAX_TENSOR_ELEMENTS rows of one feature. The typed arrays live outside the worker's heap,
    // but predict's labels are a JS array of 4M numbers (32 MB): twice WORKER_HEAP_MB.
    const rows = 4_194_304;
    const x = {
      shape: [rows, 1],
      dtype: "float32",
      base64: Buffer.alloc(rows * 4).toString("base64"),
    };
    const before = threadIds(app);
    const res = await request(server)
      .post(`/v1/models/${model.body.id}/predict`)
      .send({ x, outputEncoding: "base64" });
    expectCleanProblem(res, 500, "WORKER_OUT_OF_MEMORY");
    expect(res.body.detail).toContain("WORKER_HEAP_MB=16");

    const next = await request(server)
      .post(`/v1/models/${model.body.id}/predict`)
      .send({ x: [[-1], [2]] });
    expect(next.status).toBe(200);
    expect(next.body.labels).toEqual([1, 0]);
    const after = threadIds(app);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(before[0]);
  });

  it("terminated from outside mid-computation: a clean 500, the worker is replaced, the next succeeds", async () => {
    app = await testApp({ POOL_THREADS: "1" });
    const server = app.server;
    const started = once(app.pool.events, "taskStarted");
    const pending = request(server)
      .post("/v1/networks/gradient-check")
      .send(endlessBody())
      .then((res) => res);
    // The worker reports the task begun: ending its thread now kills the task in the middle of
    // its numeric loops (a minute of them here), however fast this machine is.
    await started;
    const [victim] = app.pool.piscina.threads;
    await victim.terminate();

    const res = await pending;
    expectCleanProblem(res, 500, "INTERNAL");
    const next = await request(server)
      .post("/v1/layers/forward")
      .send({ layer: { type: "relu" }, x: [[-1, 1]] });
    expect(next.body).toEqual({ out: [[0, 1]] });
    const after = threadIds(app);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(victim.threadId);
  });
});

describe("signals, with a real server process", () => {
  it("SIGKILL amid model writes: every model is whole or absent, and the store opens", async () => {
    const first = await startServer({ POOL_THREADS: "1" });
    const { dataDir } = first;
    const acknowledged: string[] = [];
    const unexpected: unknown[] = [];
    let killed = false;
    const writer = async () => {
      while (!killed) {
        try {
          const res = await postJson(`${first.url}/v1/models`, bigModel);
          if (res.status === 201) acknowledged.push(res.body.id);
          else unexpected.push(res);
        } catch (error) {
          if (!killed) unexpected.push(error);
        }
      }
    };
    const writers = Array.from({ length: 4 }, writer);
    await until(() => acknowledged.length >= 2, "two models written");
    const wal = join(dataDir, `${DATABASE_FILE}-wal`);
    const cutMidTransaction = await killInsideTransaction(first.child.pid!, wal);
    killed = true;
    await Promise.all(writers);
    expect((await first.exited).signal).toBe("SIGKILL");
    expect(unexpected).toEqual([]);
    // The log proves it: the last frames belong to a model's transaction that never committed.
    expect(cutMidTransaction).toBe(true);

    const last = await startServer({ POOL_THREADS: "1", DATA_DIR: dataDir });
    try {
      const listed: { id: string; parameterCount: number }[] = [];
      let cursor: string | null = null;
      do {
        const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
        const page = (await (await fetch(`${last.url}/v1/models?limit=100${query}`)).json()) as {
          items: { id: string; parameterCount: number }[];
          nextCursor: string | null;
        };
        listed.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor);
      // Acknowledged writes were committed (synchronous=FULL); one cut off after its commit may
      // be there too (at most one per writer).
      const ids = listed.map((m) => m.id);
      expect(ids).toEqual(expect.arrayContaining(acknowledged));
      expect(listed.length).toBeLessThanOrEqual(acknowledged.length + 4);

      const reference = await postJson(`${last.url}/v1/models`, bigModel);
      expect(reference.status).toBe(201);
      const parameters = (await (
        await fetch(`${last.url}/v1/models/${reference.body.id}/parameters?encoding=base64`)
      ).json()) as { layers: { W?: { base64: string } }[] };
      const bytes = parameters.layers
        .filter((layer) => layer.W)
        .map((layer) => Buffer.from(layer.W!.base64, "base64").length);
      expect(bytes).toEqual([784 * HIDDEN * 4, HIDDEN * 10 * 4]);
      // Same seed, same bits: every surviving model must be the whole of it.
      const want = await parameterBits(last.url, reference.body.id);
      for (const model of listed) {
        expect(model.parameterCount).toBe(PARAMETERS);
        expect(await parameterBits(last.url, model.id)).toBe(want);
      }
    } finally {
      last.child.kill("SIGTERM");
      await last.exited;
    }
    const db = new Database(join(dataDir, DATABASE_FILE));
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
  });

  it("SIGTERM with requests and a training job in flight: the requests finish, the job resumes from its checkpoint", async () => {
    // Only the shutdown writes a checkpoint, so the resumed iteration is the one SIGTERM saved.
    // The queued tasks wait as long as the running one takes: no queue timeout refuses them.
    const env = {
      POOL_THREADS: "1",
      CHECKPOINT_INTERVAL_MS: "600000",
      POOL_QUEUE_TIMEOUT_MS: "600000",
    };
    // Batches of 1000 keep the job running for seconds, long enough to be interrupted.
    const job = mnistJob({ iterations: 600, evaluateEvery: 200, batchSize: 1000 });
    const first = await startServer(env);
    const created = await postJson(`${first.url}/v1/training-jobs`, job);
    expect(created.status).toBe(202);
    await waitForJob(first.url, created.body.id, (j) => j.progress.iteration >= 20);

    // One thread: a long gradient check runs, and the two sent after it wait in the queue.
    const running = postJson(`${first.url}/v1/networks/gradient-check`, slowBody(60));
    await until(async () => {
      const metrics = await (await fetch(`${first.url}/metrics`)).text();
      return Number(/^backprop_pool_tasks_started_total (\d+)/m.exec(metrics)?.[1]) >= 1;
    }, "the gradient check to start");
    const inFlight = [
      running,
      postJson(`${first.url}/v1/networks/gradient-check`, slowBody(30)),
      postJson(`${first.url}/v1/models`, bigModel),
    ];
    await until(async () => {
      const metrics = await (await fetch(`${first.url}/metrics`)).text();
      return Number(/^backprop_pool_queue_length (\d+)/m.exec(metrics)?.[1]) >= 2;
    }, "two queued tasks");
    first.child.kill("SIGTERM");

    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 201]);
    expect((await first.exited).code).toBe(0);
    const saved = /"iteration":(\d+).*"msg":"training job checkpointed for shutdown"/.exec(
      first.output(),
    );
    expect(saved).not.toBeNull();
    const savedAt = Number(saved![1]);
    expect(savedAt).toBeGreaterThanOrEqual(20);
    expect(savedAt).toBeLessThan(600);

    const second = await startServer({ ...env, DATA_DIR: first.dataDir });
    try {
      const resumedLog = /"iteration":(\d+).*"msg":"resuming training job"/.exec(second.output());
      expect(Number(resumedLog?.[1])).toBe(savedAt);
      // What the job shows starts where the work resumes, not at an older progress report.
      const atRestart = (await (
        await fetch(`${second.url}/v1/training-jobs/${created.body.id}`)
      ).json()) as { progress: { iteration: number } };
      expect(atRestart.progress.iteration).toBeGreaterThanOrEqual(savedAt);
      const model = await fetch(`${second.url}/v1/models/${answers[2].body.id}`);
      expect(model.status).toBe(200);
      const resumed = await waitForJob(second.url, created.body.id);
      expect(resumed).toMatchObject({ status: "succeeded", progress: { iteration: 600 } });

      await expectSameAsUninterrupted(second.url, job, resumed);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });
});

/** Mounting a tmpfs needs root (CAP_SYS_ADMIN); elsewhere the two mount cases are skipped. */
function canMount(): boolean {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join(tmpdir(), "backprop-mount-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], { stdio: "ignore" });
    execFileSync("umount", [probe], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("start-up faults: a non-zero exit and one clear line", () => {
  const mountable = canMount();
  const mounted: string[] = [];
  afterAll(() => {
    for (const dir of mounted) execFileSync("umount", [dir]);
  });

  function tmpfs(options: string): string {
    const dir = mkdtempSync(join(tmpdir(), "backprop-tmpfs-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir]);
    mounted.push(dir);
    return dir;
  }

  /** A non-zero exit with one clear line naming the directory, and no stack trace. */
  async function expectCleanFailure(dataDir: string, reason: RegExp) {
    const run = await startServerExpectingFailure({ DATA_DIR: dataDir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^cannot start: /);
    expect(run.stderr).toContain(dataDir);
    expect(run.stderr).toMatch(reason);
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/^\s+at /m);
    expect(run.stdout).not.toContain("Server listening");
  }

  it("DATA_DIR under a regular file (ENOTDIR)", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "backprop-")), "a-file");
    writeFileSync(file, "not a directory");
    await expectCleanFailure(join(file, "data"), /not writable: ENOTDIR/);
  });

  it.skipIf(!mountable)("DATA_DIR on a read-only mount (needs root to mount a tmpfs)", async () => {
    await expectCleanFailure(tmpfs("size=64k,ro"), /not writable: EROFS/);
  });

  it.skipIf(!mountable)("DATA_DIR on a full disk (needs root to mount a tmpfs)", async () => {
    const dir = tmpfs("size=64k");
    const filler = openSync(join(dir, "filler"), "w");
    try {
      for (;;) writeSync(filler, Buffer.alloc(4096));
    } catch (error) {
      expect((error as NodeJS.ErrnoException).code).toBe("ENOSPC");
    } finally {
      closeSync(filler);
    }
    await expectCleanFailure(dir, /database or disk is full/);
  });

  it("a port already taken", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const dataDir = join(mkdtempSync(join(tmpdir(), "backprop-")), "data");
      mkdirSync(dataDir);
      const run = await startServerExpectingFailure({ DATA_DIR: dataDir, PORT: String(port) });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(`cannot start: cannot listen on 127.0.0.1:${port}`);
      expect(run.stderr).toContain("EADDRINUSE");
      expect(run.stderr).not.toMatch(/^\s+at /m);
    } finally {
      blocker.close();
    }
  });
});
