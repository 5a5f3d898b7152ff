/**
 * Fuzzing every route: valid bodies broken a little, arbitrary JSON, and text that is not JSON.
 * The property is that each answer is a 2xx, or a 4xx problem+json; never a 5xx, never a hang,
 * and /healthz keeps answering. FUZZ_RUNS sets the number of cases of the whole file, FUZZ_SEED
 * the seed (fast-check prints it with any counterexample), and FUZZ_STATS=1 prints how many
 * answers of each status every route gave.
 */
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { broken } from "../helpers/fuzz/broken-bodies.js";
import type { Answer, Case } from "../helpers/fuzz/case.js";
import {
  arbitraryJson,
  disguised,
  notJson,
  rawRequest,
  readCase,
  withHeaders,
  wrongMethod,
} from "../helpers/fuzz/requests.js";
import { REAL_MODEL } from "../helpers/fuzz/valid-bodies.js";
import { waitForJob } from "../helpers/jobs.js";
import { tempDir } from "../helpers/temp.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 6000);
const SEED = Number(process.env.FUZZ_SEED ?? 52024);

let app: FastifyInstance;
/** Ids the cases refer to by name, known once beforeAll has made them. */
const ids = { model: "", finishedJob: "", created: [] as string[], jobs: [] as string[] };
/** The body that started each job, to show with a job that went wrong. */
const jobBodies = new Map<string, string>();

beforeAll(async () => {
  app = await testApp({
    DATA_DIR: tempDir(),
    MAX_TENSOR_ELEMENTS: "4096",
    MAX_TENSOR_RANK: "4",
    BODY_LIMIT_BYTES: String(256 * 1024),
    REQUEST_TIMEOUT_MS: "10000",
    MAX_TRAINING_ITERATIONS: "20",
    MAX_BATCH_SIZE: "64",
    MAX_DATASET_SAMPLES: "1000",
    RATE_LIMIT_PER_MINUTE: "100000000",
  });
  const model = await request(app.server)
    .post("/v1/models")
    .send({ name: "fuzz", seed: 1, architecture: REAL_MODEL });
  expect(model.status).toBe(201);
  ids.model = model.body.id;
  const job = await request(app.server)
    .post("/v1/training-jobs")
    .send({
      modelId: ids.model,
      data: { x: [[0, 1, 2]], t: [1] },
      batchSize: 1,
      iterations: 2,
    });
  expect(job.status).toBe(202);
  ids.finishedJob = (await waitForJob(app.server, job.body.id)).id;
});

afterAll(async () => {
  if (process.env.FUZZ_STATS) {
    const rows = [...answers].sort(([a], [b]) => a.localeCompare(b));
    console.log(rows.map(([key, n]) => `${String(n).padStart(6)}  ${key}`).join("\n"));
  }
  await app?.close();
});

afterEach(async () => {
  expect((await request(app.server).get("/healthz")).status).toBe(200);
});

// ---------------------------------------------------------------------------------------------
// Sending a case and judging the answer

/** Placeholders in generated URLs and bodies, resolved when the case is sent. */
function resolve(url: string): string {
  const pick = (list: string[], fallback: string) =>
    list.length > 0 ? list[list.length - 1] : fallback;
  return url
    .replaceAll("{model}", ids.model)
    .replaceAll("{created}", pick(ids.created, "none"))
    .replaceAll("{finishedJob}", ids.finishedJob)
    .replaceAll("{job}", pick(ids.jobs, "none"));
}

let sent = 0;

/** Answers per route and status, printed with FUZZ_STATS=1 to see what the cases reach. */
const answers = new Map<string, number>();
function tally(c: Case, res: request.Response): void {
  const route = c.url.replace(/\/v1\/(models|training-jobs)\/[^/?]+/, "/v1/$1/:id").split("?")[0];
  const key = `${c.method} ${route} ${res.status} ${res.body?.code ?? ""}`.trim();
  answers.set(key, (answers.get(key) ?? 0) + 1);
}

async function send(c: Case): Promise<request.Response> {
  const url = resolve(c.url);
  const method = c.method.toLowerCase() as Lowercase<Case["method"]>;
  let req = request(app.server)[method](url).timeout({ deadline: 20_000 });
  if (c.headers) req = req.set(c.headers);
  if (c.body !== undefined) {
    if (c.contentType !== undefined) req = req.set("content-type", c.contentType);
    req = req.send(resolve(c.body));
  }
  const res = await req;
  if (++sent % 50 === 0) {
    const health = await request(app.server).get("/healthz").timeout({ deadline: 5_000 });
    if (health.status !== 200) throw new Error(`/healthz answered ${health.status}`);
  }
  return res;
}

/** 2xx, or a 4xx problem+json with every field of docs/API.md, "Errors". */
function judge(label: string, { status, contentType, text }: Answer): void {
  if (status >= 200 && status < 300) return;
  const where = `${label} → ${status} ${contentType} ${text.slice(0, 500)}`;
  if (status < 400 || status >= 500) throw new Error(`not a 2xx or 4xx: ${where}`);
  if (!/^application\/problem\+json/.test(contentType)) {
    throw new Error(`a 4xx that is not problem+json: ${where}`);
  }
  // A HEAD answer has no body to look into.
  if (label.startsWith("HEAD ")) return;
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    // judged below as a problem without its fields
  }
  const ok =
    typeof body.type === "string" &&
    typeof body.title === "string" &&
    body.status === status &&
    typeof body.detail === "string" &&
    typeof body.code === "string" &&
    /^[A-Z_]+$/.test(body.code);
  if (!ok) throw new Error(`a problem without {type, title, status, detail, code}: ${where}`);
}

const answer = (res: request.Response): Answer => ({
  status: res.status,
  contentType: String(res.headers["content-type"] ?? ""),
  text: res.text ?? "",
});

/** Sends one case and judges its answer; a job it started is remembered, every other cancelled. */
async function check(c: Case): Promise<void> {
  const res = await send(c);
  judge(`${c.method} ${resolve(c.url)}`, answer(res));
  tally(c, res);
  if (c.method === "POST" && c.url === "/v1/models" && res.status === 201) {
    ids.created.push(res.body.id);
  }
  if (c.method === "POST" && c.url === "/v1/training-jobs" && res.status === 202) {
    ids.jobs.push(res.body.id);
    jobBodies.set(res.body.id, resolve(c.body ?? ""));
    if (ids.jobs.length % 2 === 0) return;
    const cancel = `/v1/training-jobs/${res.body.id}/cancel`;
    judge(`POST ${cancel}`, answer(await send({ method: "POST", url: cancel })));
  }
}

const runs = (share: number) => Math.max(1, Math.round(RUNS * share));

async function fuzz(share: number, index: number, arbitrary: fc.Arbitrary<Case>): Promise<void> {
  await fc.assert(fc.asyncProperty(arbitrary, check), {
    numRuns: runs(share),
    seed: SEED + index,
  });
}

// ---------------------------------------------------------------------------------------------

const FUZZ_TIMEOUT = 60_000 + RUNS * 50;

describe(`fuzzing every route (${RUNS} cases, seed ${SEED})`, () => {
  it(
    "stateless compute: broken layer and network bodies",
    () =>
      fuzz(
        0.3,
        0,
        broken([
          "layersForward",
          "layersBackward",
          "networksForward",
          "networksBackward",
          "gradientCheck",
        ]),
      ),
    FUZZ_TIMEOUT,
  );

  it(
    "models: broken create, predict and evaluate bodies",
    () => fuzz(0.15, 1, broken(["createModel", "predict", "evaluate"])),
    FUZZ_TIMEOUT,
  );

  it("training jobs: broken bodies", () => fuzz(0.1, 2, broken(["trainingJob"])), FUZZ_TIMEOUT);

  it(
    "ids, query strings and methods",
    () => fuzz(0.15, 3, withHeaders(fc.oneof(readCase, wrongMethod))),
    FUZZ_TIMEOUT,
  );

  it("arbitrary JSON", () => fuzz(0.15, 4, arbitraryJson), FUZZ_TIMEOUT);

  it("text that is not JSON", () => fuzz(0.1, 5, notJson), FUZZ_TIMEOUT);

  it(
    "request targets: no guarded route answers 2xx without its key",
    async () => {
      const guarded = await testApp({
        DATA_DIR: tempDir(),
        API_KEYS: "fuzz:fuzz-key-00000001",
        METRICS_KEY: "metrics-key-0123456789",
      });
      try {
        await guarded.listen({ port: 0, host: "127.0.0.1" });
        const { port } = guarded.server.address() as AddressInfo;
        await fc.assert(
          fc.asyncProperty(disguised, async (d) => {
            const res = await rawRequest(port, d);
            const where = `${d.method} ${d.target} (${d.authorization ?? "no key"})`;
            if (res.status < 300) throw new Error(`${where} got past the key check: ${res.status}`);
            judge(where, res);
          }),
          { numRuns: runs(0.05), seed: SEED + 6 },
        );
      } finally {
        await guarded.close();
      }
    },
    FUZZ_TIMEOUT,
  );

  it("leaves no training job stuck, and none crashed its worker", async () => {
    const crashed: string[] = [];
    for (const job of ids.jobs) {
      const done = await waitForJob(app.server, job, undefined, 30_000);
      if (/crashed/.test(done.error?.message ?? "")) {
        crashed.push(`${JSON.stringify(done.error)} after POST ${jobBodies.get(job)}`);
      }
    }
    expect(crashed).toEqual([]);
  }, 120_000);

  it("left Object.prototype alone", () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
