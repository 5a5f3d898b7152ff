import type { FastifyInstance } from "fastify";
import request from "supertest";
import { expect } from "vitest";

type Server = FastifyInstance["server"] | string;

/** Polls a training job until it ends (or `until` holds), returning its last state. */
export async function waitForJob(
  server: Server,
  id: string,
  until: (job: { status: string; progress: { iteration: number } }) => boolean = (job) =>
    ["succeeded", "failed", "cancelled"].includes(job.status),
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await request(server).get(`/v1/training-jobs/${id}`);
    if (res.status !== 200) throw new Error(`GET job ${id}: ${res.status} ${res.text}`);
    if (until(res.body)) return res.body;
    if (Date.now() > deadline)
      throw new Error(`job ${id} still ${res.body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A model's parameters as base64, to compare bit for bit. */
export async function parameterBits(server: Server, modelId: string): Promise<string> {
  const res = await request(server).get(`/v1/models/${modelId}/parameters?encoding=base64`);
  if (res.status !== 200) throw new Error(`parameters of ${modelId}: ${res.status}`);
  return JSON.stringify(res.body.layers);
}

export const twoLayerNet = (weightInit: "he" | "xavier" | number = "he", seed = 1) => ({
  seed,
  architecture: {
    inputSize: 784,
    hiddenSizes: [50],
    outputSize: 10,
    activation: "relu",
    weightInit,
  },
});

export const mnistJob = (overrides: Record<string, unknown> = {}) => ({
  model: twoLayerNet(),
  data: { dataset: { name: "mnist", split: "train", limit: 2000 } },
  validation: { dataset: { name: "mnist", split: "test", limit: 500 } },
  optimizer: { type: "sgd", lr: 0.1 },
  batchSize: 100,
  iterations: 200,
  evaluateEvery: 100,
  seed: 1,
  ...overrides,
});

/**
 * Runs `job` again on `server`, uninterrupted, and expects `resumed` (the same job after a crash
 * or a restart) to have ended with the same parameters, bit for bit, and the same history.
 */
export async function expectSameAsUninterrupted(
  server: Server,
  job: object,
  resumed: { resultModelId: string; history: unknown[] },
) {
  const again = await request(server).post("/v1/training-jobs").send(job);
  expect(again.status).toBe(202);
  const uninterrupted = await waitForJob(server, again.body.id);
  expect(await parameterBits(server, resumed.resultModelId)).toBe(
    await parameterBits(server, uninterrupted.resultModelId),
  );
  expect(resumed.history).toEqual(uninterrupted.history);
}
