import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { mnistJob, parameterBits, twoLayerNet, waitForJob } from "../helpers/jobs.js";
import { parseEvents } from "../helpers/sse.js";
import { tempDir } from "../helpers/temp.js";
import { base64Tensor, randomMatrix, seeded, slowBody } from "../helpers/tensors.js";

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp({ DATA_DIR: tempDir(), MAX_TRAINING_ITERATIONS: "100000" });
});
afterAll(() => app.close());

const post = (url: string, body: unknown) =>
  request(app.server)
    .post(url)
    .send(body as object);

describe("a short real MNIST job", () => {
  it("trains well above chance, records history, and leaves the starting model alone", async () => {
    const start = (await post("/v1/models", twoLayerNet())).body;
    const before = await parameterBits(app.server, start.id);
    const res = await post(
      "/v1/training-jobs",
      mnistJob({ model: undefined, modelId: start.id, iterations: 300 }),
    );
    expect(res.status).toBe(202);
    expect(res.headers.location).toBe(`/v1/training-jobs/${res.body.id}`);
    expect(res.body.status).toMatch(/queued|running/);
    const job = await waitForJob(app.server, res.body.id);
    expect(job.status).toBe("succeeded");
    expect(job.progress).toMatchObject({ iteration: 300, iterations: 300, fraction: 1, epoch: 15 });
    expect(job.history.map((h: { iteration: number }) => h.iteration)).toEqual([100, 200, 300]);
    const last = job.history[2];
    expect(last.validationAccuracy).toBeGreaterThan(0.75);
    expect(last.trainAccuracy).toBeGreaterThan(0.75);
    expect(job.samplesPerSecond).toBeGreaterThan(0);
    expect(job.startedAt <= job.finishedAt).toBe(true);

    const result = (await request(app.server).get(`/v1/models/${job.resultModelId}`)).body;
    expect(result.origin).toMatchObject({
      kind: "training",
      jobId: job.id,
      sourceModelId: start.id,
    });
    expect(await parameterBits(app.server, start.id)).toBe(before);
    const evaluation = await post(`/v1/models/${job.resultModelId}/evaluate`, {
      dataset: { name: "mnist", split: "test", limit: 500 },
    });
    expect(evaluation.body.accuracy).toBeCloseTo(last.validationAccuracy, 10);
  });
});

describe("determinism", () => {
  it("gives the same trained bits for the same request, whatever the concurrency", async () => {
    const body = mnistJob({
      // 5000 samples: three parts of the pool's evaluation, in flight two at a time.
      data: { dataset: { name: "mnist", split: "train", limit: 5000 } },
      iterations: 60,
      evaluateEvery: 30,
      optimizer: { type: "adam" },
      weightDecay: 0.01,
    });
    const first = (await post("/v1/training-jobs", body)).body;
    const second = (await post("/v1/training-jobs", body)).body;
    const other = await testApp({
      DATA_DIR: tempDir(),
      TRAINING_CONCURRENCY: "2",
      POOL_THREADS: "2",
    });
    try {
      const third = (await request(other.server).post("/v1/training-jobs").send(body)).body;
      const jobs = [
        await waitForJob(app.server, first.id),
        await waitForJob(app.server, second.id),
      ];
      const elsewhere = await waitForJob(other.server, third.id);
      const bits = await parameterBits(app.server, jobs[0].resultModelId);
      expect(await parameterBits(app.server, jobs[1].resultModelId)).toBe(bits);
      expect(await parameterBits(other.server, elsewhere.resultModelId)).toBe(bits);
      expect(jobs[1].history).toEqual(jobs[0].history);
      // One compute thread: evaluations run on the job's thread. Two: in the compute threads
      // (2 evaluations × (3 parts of the train sample + 1 of validation), after the one createModel
      // task), with the same accuracies to the bit.
      expect(elsewhere.history).toEqual(jobs[0].history);
      expect(other.pool.piscina.completed).toBeGreaterThanOrEqual(9);
    } finally {
      await other.close();
    }
  });
});

describe("evaluations in the compute pool, while the job trains on", () => {
  it("fall back to the job's thread, on the layers of the evaluated iteration, when no compute thread is idle", async () => {
    const body = mnistJob({ iterations: 90, evaluateEvery: 30 });
    // One compute thread: every evaluation runs on the job's thread, at its iteration.
    const here = await waitForJob(app.server, (await post("/v1/training-jobs", body)).body.id);
    const busy = await testApp({ DATA_DIR: tempDir(), POOL_THREADS: "2" });
    try {
      // Six clients on two threads keep the queue from emptying, so the pool never offers an
      // idle thread: each evaluation is refused and computed by the job's thread, which by then
      // has trained on, from the layers of the iteration it evaluates.
      let answered = 0;
      let running = true;
      const client = async () => {
        while (running) {
          const res = await request(busy.server)
            .post("/v1/networks/gradient-check")
            .send(slowBody(30));
          expect(res.status).toBe(200);
          answered++;
        }
      };
      // Both threads have begun a check before the job starts, as the workers report.
      let started = 0;
      const bothBusy = new Promise<void>((resolve) =>
        busy.pool.events.on("taskStarted", () => ++started === 2 && resolve()),
      );
      const clients = Array.from({ length: 6 }, client);
      await bothBusy;
      const job = (await request(busy.server).post("/v1/training-jobs").send(body)).body;
      const ended = await waitForJob(busy.server, job.id);
      running = false;
      await Promise.all(clients);
      expect(ended.history).toEqual(here.history);
      expect(ended.history.map((h: { iteration: number }) => h.iteration)).toEqual([30, 60, 90]);
      // The pool ran the clients' checks and the model's creation, and no evaluation.
      expect(busy.pool.piscina.completed).toBe(answered + 1);
    } finally {
      await busy.close();
    }
  });

  it("keep the evaluation in flight in the history when a later step diverges", async () => {
    const pooled = await testApp({ DATA_DIR: tempDir(), POOL_THREADS: "2" });
    try {
      // SGD at lr 1e8: steps 1 and 2 are finite, step 3 overflows while 2 is being evaluated.
      const body = mnistJob({
        optimizer: { type: "sgd", lr: 1e8 },
        iterations: 50,
        evaluateEvery: 1,
      });
      const job = (await request(pooled.server).post("/v1/training-jobs").send(body)).body;
      const ended = await waitForJob(pooled.server, job.id);
      expect(ended.status).toBe("failed");
      expect(ended.error).toMatchObject({ iteration: 3, lastFiniteLoss: expect.any(Number) });
      expect(ended.history.map((h: { iteration: number }) => h.iteration)).toEqual([1, 2]);
    } finally {
      await pooled.close();
    }
  });
});

describe("events", () => {
  it("streams progress and evaluations in order, then a final status", async () => {
    const job = (await post("/v1/training-jobs", mnistJob({ iterations: 150, evaluateEvery: 50 })))
      .body;
    const res = await request(app.server)
      .get(`/v1/training-jobs/${job.id}/events`)
      .buffer(true)
      .parse((r, done) => {
        let text = "";
        r.on("data", (chunk: Buffer) => {
          text += chunk;
        });
        r.on("end", () => done(null, text));
      });
    expect(res.headers["content-type"]).toMatch(/^text\/event-stream/);
    const { events: parsed } = parseEvents(res.body as string);
    // Every event has an id, and they grow: what Last-Event-ID resumes from.
    const ids = parsed.map((e) => Number(e.id));
    expect(ids.every(Number.isSafeInteger)).toBe(true);
    expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
    const events = parsed.map(({ event, data }) => ({
      event,
      data: data as { iteration: number; status: string },
    }));
    const last = events[events.length - 1];
    expect(last).toEqual({
      event: "status",
      data: expect.objectContaining({ status: "succeeded" }),
    });
    expect(events.filter((e) => e.event === "status").slice(-1)).toEqual([last]);
    const evaluations = events.filter((e) => e.event === "evaluation").map((e) => e.data.iteration);
    // The stream may begin after the first evaluation; from there on, each one in order.
    expect(evaluations.length).toBeGreaterThan(0);
    expect(evaluations).toEqual([50, 100, 150].slice(3 - evaluations.length));
    const iterations = events.filter((e) => e.event === "progress").map((e) => e.data.iteration);
    expect(iterations).toEqual([...iterations].sort((a, b) => a - b));
  });

  it("for a finished job replays its story from the store and ends with its final status", async () => {
    const job = (await post("/v1/training-jobs", mnistJob({ iterations: 5, evaluateEvery: 5 })))
      .body;
    const done = await waitForJob(app.server, job.id);
    const res = await request(app.server).get(`/v1/training-jobs/${job.id}/events`);
    const { events } = parseEvents(res.text);
    expect(events.map((e) => e.event)).toEqual(["status", "evaluation", "progress", "status"]);
    expect(events[0].data).toMatchObject({ status: "running" });
    const { at, ...entry } = events[1].data as Record<string, unknown>;
    expect(entry).toEqual(done.history[0]);
    expect(Date.parse(at as string)).not.toBeNaN();
    expect(events[2].data).toMatchObject({ iteration: 5, iterations: 5, fraction: 1 });
    expect(events[3].data).toMatchObject({
      status: "succeeded",
      resultModelId: done.resultModelId,
    });
    const ids = events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });
});

describe("cancel", () => {
  it("stops a running job, which keeps what it learned as its result model", async () => {
    const job = (
      await post("/v1/training-jobs", mnistJob({ iterations: 100000, evaluateEvery: 1000 }))
    ).body;
    await waitForJob(app.server, job.id, (j) => j.progress.iteration > 20);
    const res = await post(`/v1/training-jobs/${job.id}/cancel`, {});
    expect(res.status).toBe(202);
    const ended = await waitForJob(app.server, job.id);
    expect(ended.status).toBe("cancelled");
    expect(ended.progress.iteration).toBeGreaterThan(20);
    expect(ended.progress.iteration).toBeLessThan(100000);
    expect(ended.resultModelId).toBeDefined();
    expect(await parameterBits(app.server, ended.resultModelId)).not.toBe(
      await parameterBits(app.server, ended.modelId),
    );
    expect((await post(`/v1/training-jobs/${job.id}/cancel`, {})).status).toBe(409);
  });
});

describe("divergence", () => {
  it("ends failed with the iteration and last finite loss, saving no model", async () => {
    const count = async () =>
      (await request(app.server).get("/v1/models?limit=100")).body.items.length;
    const job = (
      await post(
        "/v1/training-jobs",
        mnistJob({ optimizer: { type: "sgd", lr: 1e30 }, iterations: 500 }),
      )
    ).body;
    const modelsBefore = await count();
    const ended = await waitForJob(app.server, job.id);
    expect(ended.status).toBe("failed");
    expect(ended.error.message).toMatch(/diverged/);
    expect(ended.error.iteration).toBeGreaterThan(0);
    expect(ended.error).toHaveProperty("lastFiniteLoss");
    expect(ended.resultModelId).toBeUndefined();
    expect(await count()).toBe(modelsBefore);
  });

  it("counts an overflow while evaluating as divergence, not as a crashed worker", async () => {
    // The minibatch trains finely; the validation rows overflow float32 in x·W (1e38·10).
    const res = await post("/v1/training-jobs", {
      model: {
        layers: [{ type: "affine", W: [[10, 10]], b: [0, 0] }, { type: "softmaxWithLoss" }],
      },
      data: { x: [[1], [-1]], t: [0, 1] },
      validation: { x: [[1e38]], t: [0] },
      batchSize: 2,
      iterations: 3,
      evaluateEvery: 1,
    });
    expect(res.status).toBe(202);
    const ended = await waitForJob(app.server, res.body.id);
    expect(ended.status).toBe("failed");
    // Iteration 1's own step was finite: equal scores, so its loss is -ln(1/2 + 1e-7).
    expect(ended.error).toMatchObject({
      message: expect.stringMatching(/diverged/),
      iteration: 1,
    });
    expect(ended.error.lastFiniteLoss).toBeCloseTo(Math.LN2, 5);
    expect(ended.resultModelId).toBeUndefined();
  });
});

describe("bad training requests", () => {
  it("answers 404 for an unknown model or job", async () => {
    expect(
      (await post("/v1/training-jobs", mnistJob({ model: undefined, modelId: "nope" }))).status,
    ).toBe(404);
    expect((await request(app.server).get("/v1/training-jobs/nope")).status).toBe(404);
    expect((await post("/v1/training-jobs/nope/cancel", {})).status).toBe(404);
  });

  it("names both sizes when the architecture does not fit the data", async () => {
    const res = await post(
      "/v1/training-jobs",
      mnistJob({ model: { architecture: { ...twoLayerNet().architecture, inputSize: 100 } } }),
    );
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toEqual({
      path: "data",
      message: expect.stringMatching(/784.*100/),
    });
  });

  it("bounds iterations, batch size and dataset limits", async () => {
    const over = await post(
      "/v1/training-jobs",
      mnistJob({ iterations: 100001, batchSize: 100000 }),
    );
    expect(over.status).toBe(400);
    expect(over.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      "batchSize",
      "iterations",
    ]);
    const limit = await post(
      "/v1/training-jobs",
      mnistJob({ data: { dataset: { name: "mnist", split: "train", limit: 70000 } } }),
    );
    expect(limit.body.errors[0].path).toBe("data.dataset.limit");
  });

  it("rejects a hyperparameter the optimizer does not read", async () => {
    const res = await post(
      "/v1/training-jobs",
      mnistJob({ optimizer: { type: "adam", momentum: 0.5 } }),
    );
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe("optimizer");
    expect(res.body.errors[0].message).toMatch(/momentum/);
  });

  it("rejects inline data whose labels do not fit", async () => {
    const model = {
      architecture: {
        inputSize: 2,
        hiddenSizes: [3],
        outputSize: 2,
        activation: "relu",
        weightInit: "he",
      },
    };
    const mismatched = await post("/v1/training-jobs", {
      model,
      data: {
        x: [
          [1, 2],
          [3, 4],
        ],
        t: [0],
      },
      iterations: 5,
    });
    expect(mismatched.status).toBe(400);
    expect(mismatched.body.errors[0].path).toBe("data.t");
    const outOfRange = await post("/v1/training-jobs", {
      model,
      data: {
        x: [
          [1, 2],
          [3, 4],
        ],
        t: [0, 2],
      },
      iterations: 5,
    });
    expect(outOfRange.body.errors[0]).toEqual({
      path: "data.t[1]",
      message: expect.stringMatching(/label 2/),
    });
  });

  /**
   * A job on inline data with Adam (lr 0.05), evaluated every 100 iterations, which must succeed;
   * the finished job and its result model's labels for the data's x.
   */
  async function trainWithAdam(
    model: object,
    data: { x: unknown; t: number[] },
    batchSize: number,
    iterations: number,
  ) {
    const optimizer = { type: "adam", lr: 0.05 };
    const body = { model, data, optimizer, batchSize, iterations, evaluateEvery: 100 };
    const res = await post("/v1/training-jobs", body);
    expect(res.status).toBe(202);
    const job = await waitForJob(app.server, res.body.id);
    expect(job.status).toBe("succeeded");
    const predicted = await post(`/v1/models/${job.resultModelId}/predict`, { x: data.x });
    return { job, labels: predicted.body.labels };
  }

  it("trains on inline data", async () => {
    const model = {
      architecture: {
        inputSize: 2,
        hiddenSizes: [4],
        outputSize: 2,
        activation: "sigmoid",
        weightInit: "xavier",
      },
    };
    const x = [
      [0, 1],
      [1, 0],
      [0.1, 0.9],
      [0.9, 0.1],
    ];
    const { job, labels } = await trainWithAdam(model, { x, t: [0, 1, 0, 1] }, 4, 200);
    expect(job.history[1].trainAccuracy).toBe(1);
    expect(labels).toEqual([0, 1, 0, 1]);
  });

  it("trains from one body holding base64 layers and base64 data, both long enough to lift", async () => {
    // Both values are lifted out of the same body; creating the model moves the layers' bytes to
    // a worker, and the data must still be there to read afterwards.
    const random = seeded(3);
    const x = Array.from({ length: 40 }, (_, i) =>
      Array.from({ length: 64 }, (_, j) => (j < 32 === (i % 2 === 0) ? 1 : 0)),
    );
    const W1 = base64Tensor([64, 8], randomMatrix(64, 8, random, 0.1).flat());
    expect(W1.base64.length).toBeGreaterThan(1024);
    const layers = [
      { type: "affine", W: W1, b: [0, 0, 0, 0, 0, 0, 0, 0] },
      { type: "relu" },
      { type: "affine", W: randomMatrix(8, 2, random, 0.1), b: [0, 0] },
      { type: "softmaxWithLoss" },
    ];
    const data = { x: base64Tensor([40, 64], x.flat()), t: x.map((_, i) => i % 2) };
    const { job, labels } = await trainWithAdam({ layers }, data, 40, 100);
    expect(job.history[job.history.length - 1].trainAccuracy).toBe(1);
    expect(labels).toEqual(data.t);
  });
});
