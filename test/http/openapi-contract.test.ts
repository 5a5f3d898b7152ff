import type { FastifyInstance } from "fastify";
import { type Document, OpenAPIBackend, type Operation } from "openapi-backend";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";

/**
 * The document and the server agree: a valid and an invalid request to every operation (and
 * one without an API key), over real HTTP, each answer checked against openapi.json by
 * openapi-backend's validator (Ajv over the document's schemas): its status is declared, its
 * body fits the schema, its headers fit theirs, its content type is the declared one.
 */

const KEY = "k".repeat(32);
const CLASSIFIER = [
  {
    type: "affine",
    W: [
      [1, 0],
      [0, 1],
    ],
    b: [0, 0],
  },
  { type: "softmaxWithLoss" },
];

interface Case {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  /** Skip the API key (the 401 cases). */
  anonymous?: boolean;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  contentType: string | null;
  body: unknown;
  raw: string;
}

let app: FastifyInstance;
let url: string;
let api: OpenAPIBackend;
let document: Document;
const covered = new Set<string>();

function headersOf(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name] = value;
  });
  return out;
}

async function send({ method, path, body, headers = {}, anonymous }: Case): Promise<Answer> {
  const controller = new AbortController();
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      ...(anonymous ? {} : { authorization: `Bearer ${KEY}` }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    signal: controller.signal,
  });
  const contentType = res.headers.get("content-type");
  let raw: string;
  if (contentType?.startsWith("text/event-stream")) {
    // The first event is enough to see the stream's form; the stream itself may go on.
    const reader = res.body!.getReader();
    const { value } = await reader.read();
    raw = new TextDecoder().decode(value);
    controller.abort();
  } else raw = await res.text();
  const isJson = /^application\/(problem\+)?json/.test(contentType ?? "");
  return {
    status: res.status,
    headers: headersOf(res.headers),
    contentType,
    body: isJson ? JSON.parse(raw) : raw,
    raw,
  };
}

/** Every way the answer can disagree with the document, as readable lines (empty: agrees). */
function disagreements(c: Case, answer: Answer): string[] {
  const [pathname, search = ""] = c.path.split("?");
  const operation = api.router.matchOperation({
    method: c.method,
    path: pathname,
    query: search,
    headers: {},
  }) as Operation | undefined;
  if (!operation) return [`no operation for ${c.method} ${pathname}`];
  covered.add(operation.operationId!);
  const out: string[] = [];
  const declared = (operation.responses ?? {}) as Record<
    string,
    { content?: Record<string, unknown> }
  >;
  const response = declared[String(answer.status)];
  if (!response) return [`${answer.status} is not declared for ${operation.operationId}`];
  const types = Object.keys(response.content ?? {});
  if (types.length === 0) {
    if (answer.raw !== "") out.push(`${answer.status} declares no body but has one`);
  } else {
    const type = answer.contentType?.split(";")[0];
    if (!type || !types.includes(type)) out.push(`content-type ${type} is not one of ${types}`);
    const body = api.validator.validateResponse(answer.body, operation, answer.status);
    for (const e of body.errors ?? []) out.push(`body${e.instancePath}: ${e.message}`);
  }
  const headers = api.validator.validateResponseHeaders(answer.headers, operation, {
    statusCode: answer.status,
    setMatchType: "superset" as never,
  });
  for (const e of headers.errors ?? []) out.push(`headers${e.instancePath}: ${e.message}`);
  if (answer.status < 400) {
    // The document must accept the valid request too (a client generated from it sends it).
    const request = api.validator.validateRequest(
      {
        method: c.method,
        path: pathname,
        query: search,
        headers: {
          authorization: `Bearer ${KEY}`,
          ...(c.body === undefined ? {} : { "content-type": "application/json" }),
          ...c.headers,
        },
        body: c.body,
      },
      operation,
    );
    for (const e of request.errors ?? []) out.push(`request${e.instancePath}: ${e.message}`);
  }
  return out;
}

async function check(c: Case) {
  const answer = await send(c);
  expect({ status: answer.status, case: `${c.method} ${c.path}` }).toEqual({
    status: c.status,
    case: `${c.method} ${c.path}`,
  });
  expect(disagreements(c, answer)).toEqual([]);
  return answer;
}

beforeAll(async () => {
  app = await testApp({ API_KEYS: `tenant:${KEY}`, SSE_HEARTBEAT_MS: "60000" });
  await app.listen({ port: 0, host: "127.0.0.1" });
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  document = (await (await fetch(`${url}/openapi.json`)).json()) as Document;
  api = new OpenAPIBackend({ definition: document, quick: true });
  await api.init();
});
afterAll(() => app.close());

describe("openapi.json against the server", () => {
  it("every operation, valid and invalid, and 401 without a key", async () => {
    // Operations and datasets.
    await check({ method: "GET", path: "/healthz", status: 200 });
    await check({ method: "GET", path: "/readyz", status: 200 });
    await check({ method: "GET", path: "/v1/datasets", status: 200 });
    await check({ method: "GET", path: "/v1/datasets", status: 401, anonymous: true });

    // Layers and networks: a valid call, a bad one, no key.
    const relu = { layer: { type: "relu" }, x: [[-1, 2]] };
    await check({ method: "POST", path: "/v1/layers/forward", body: relu, status: 200 });
    await check({ method: "POST", path: "/v1/layers/forward", body: { x: 1 }, status: 400 });
    await check({
      method: "POST",
      path: "/v1/layers/forward",
      body: relu,
      status: 401,
      anonymous: true,
    });
    await check({
      method: "POST",
      path: "/v1/layers/backward",
      body: { ...relu, dout: [[1, 1]] },
      status: 200,
    });
    await check({
      method: "POST",
      path: "/v1/layers/backward",
      body: { layer: { type: "softmaxWithLoss" }, x: [[1, 2]], t: [1], dout: 1 },
      status: 200,
    });
    await check({ method: "POST", path: "/v1/layers/backward", body: relu, status: 400 });
    const net = { layers: CLASSIFIER, x: [[1, 2]], t: [1] };
    await check({ method: "POST", path: "/v1/networks/forward", body: net, status: 200 });
    await check({ method: "POST", path: "/v1/networks/forward", body: "{", status: 400 });
    await check({ method: "POST", path: "/v1/networks/backward", body: net, status: 200 });
    await check({
      method: "POST",
      path: "/v1/networks/backward",
      body: { ...net, x: { shape: [1, 2], dtype: "float64", base64: "AAAA" } },
      status: 400,
    });
    await check({ method: "POST", path: "/v1/networks/gradient-check", body: net, status: 200 });
    await check({
      method: "POST",
      path: "/v1/networks/gradient-check",
      body: { ...net, layers: [{ type: "relu" }] },
      status: 400,
    });
    await check({
      method: "POST",
      path: "/v1/networks/forward",
      body: { layers: [{ type: "affine", W: [[1e300]], b: [1e300] }], x: [[1e300]] },
      status: 422,
    });

    // Models.
    const model = await check({
      method: "POST",
      path: "/v1/models",
      body: { layers: CLASSIFIER },
      status: 201,
    });
    const id = (model.body as { id: string }).id;
    expect(model.headers.location).toBe(`/v1/models/${id}`);
    // The validator is not vacuous: a doctored answer disagrees with the document.
    const created = {
      method: "POST",
      path: "/v1/models",
      body: { layers: CLASSIFIER },
      status: 201,
    };
    const doctored = { ...model, body: { ...(model.body as object), parameterCount: "six" } };
    expect(disagreements(created, doctored)).toEqual([
      expect.stringMatching(/^body\/parameterCount: must be integer/),
    ]);
    expect(disagreements(created, { ...model, contentType: "text/plain" })[0]).toMatch(
      /content-type/,
    );
    expect(disagreements(created, { ...model, status: 200 })).toEqual([
      "200 is not declared for createModel",
    ]);
    await check({
      method: "POST",
      path: "/v1/models",
      body: { layers: [{ type: "relu" }] },
      status: 400,
    });
    await check({ method: "GET", path: "/v1/models?limit=2", status: 200 });
    await check({ method: "GET", path: "/v1/models?limit=0", status: 400 });
    await check({ method: "GET", path: `/v1/models/${id}`, status: 200 });
    await check({ method: "GET", path: "/v1/models/nope", status: 404 });
    await check({ method: "GET", path: `/v1/models/${"x".repeat(200)}`, status: 414 });
    for (const encoding of ["nested", "flat", "base64"]) {
      await check({
        method: "GET",
        path: `/v1/models/${id}/parameters?encoding=${encoding}`,
        status: 200,
      });
    }
    await check({ method: "GET", path: `/v1/models/${id}/parameters?encoding=hex`, status: 400 });
    await check({
      method: "POST",
      path: `/v1/models/${id}/predict`,
      body: { x: [[1, 2]] },
      status: 200,
    });
    await check({
      method: "POST",
      path: `/v1/models/${id}/predict`,
      body: { x: [[1, 2, 3]] },
      status: 400,
    });
    await check({
      method: "POST",
      path: `/v1/models/${id}/evaluate`,
      body: { x: [[1, 2]], t: [1] },
      status: 200,
    });
    await check({
      method: "POST",
      path: "/v1/models/nope/evaluate",
      body: { x: [[1, 2]], t: [1] },
      status: 404,
    });
    await check({
      method: "POST",
      path: `/v1/models/${id}/predict`,
      body: "x",
      headers: { "content-type": "text/plain" },
      status: 415,
    });

    // ONNX export, and the dataset samples.
    await check({ method: "GET", path: `/v1/models/${id}/onnx`, status: 200 });
    await check({ method: "GET", path: "/v1/models/nope/onnx", status: 404 });
    await check({
      method: "GET",
      path: "/v1/datasets/mnist/samples?split=test&limit=1",
      status: 200,
    });
    await check({ method: "GET", path: "/v1/datasets/mnist/samples?split=nope", status: 400 });

    // The Open Inference Protocol, whose errors are {"error"} as application/json.
    await check({ method: "GET", path: "/v2", status: 200 });
    await check({ method: "GET", path: "/v2", status: 401, anonymous: true });
    await check({ method: "GET", path: "/v2/health/live", status: 200, anonymous: true });
    await check({ method: "GET", path: "/v2/health/ready", status: 200, anonymous: true });
    const infer = {
      inputs: [{ name: "x", shape: [1, 2], datatype: "FP64", data: [1, 2] }],
    };
    for (const base of [`/v2/models/${id}`, `/v2/models/${id}/versions/${id}`]) {
      await check({ method: "GET", path: base, status: 200 });
      await check({ method: "GET", path: `${base}/ready`, status: 200 });
      await check({ method: "POST", path: `${base}/infer`, body: infer, status: 200 });
      await check({
        method: "POST",
        path: `${base}/infer`,
        body: { inputs: [{ ...infer.inputs[0], shape: [1, 3] }] },
        status: 400,
      });
    }
    await check({ method: "GET", path: "/v2/models/nope", status: 404 });
    await check({ method: "GET", path: "/v2/models/nope/versions/nope/ready", status: 404 });

    // Training jobs.
    const jobBody = {
      modelId: id,
      data: {
        x: [
          [0, 1],
          [1, 0],
        ],
        t: [1, 0],
      },
      batchSize: 2,
      iterations: 3,
    };
    const job = await check({
      method: "POST",
      path: "/v1/training-jobs",
      body: jobBody,
      status: 202,
    });
    const jobId = (job.body as { id: string }).id;
    expect(job.headers.location).toBe(`/v1/training-jobs/${jobId}`);
    await check({
      method: "POST",
      path: "/v1/training-jobs",
      body: { ...jobBody, batchSize: 3 },
      status: 400,
    });
    await check({ method: "GET", path: "/v1/training-jobs?limit=5", status: 200 });
    await check({ method: "GET", path: "/v1/training-jobs?cursor=bogus", status: 400 });
    // The job has ended once its event stream has (the cancel below is then a 409).
    await fetch(`${url}/v1/training-jobs/${jobId}/events`, {
      headers: { authorization: `Bearer ${KEY}` },
    }).then((r) => r.text());
    await check({ method: "GET", path: `/v1/training-jobs/${jobId}`, status: 200 });
    await check({ method: "GET", path: "/v1/training-jobs/nope", status: 404 });
    await check({ method: "GET", path: `/v1/training-jobs/${jobId}/events`, status: 200 });
    await check({ method: "GET", path: "/v1/training-jobs/nope/events", status: 404 });
    await check({ method: "POST", path: `/v1/training-jobs/${jobId}/cancel`, status: 409 });
    await check({ method: "POST", path: "/v1/training-jobs/nope/cancel", status: 404 });
    const running = await check({
      method: "POST",
      path: "/v1/training-jobs",
      body: { ...jobBody, iterations: 1_000_000 },
      status: 202,
    });
    await check({
      method: "POST",
      path: `/v1/training-jobs/${(running.body as { id: string }).id}/cancel`,
      status: 202,
    });

    await check({ method: "DELETE", path: `/v1/models/${id}`, status: 204 });
    await check({ method: "DELETE", path: `/v1/models/${id}`, status: 404 });
    await check({ method: "DELETE", path: "/v1/models/x", status: 401, anonymous: true });

    // Every operation of the document was exercised.
    const all = Object.values(document.paths ?? {}).flatMap((ops) =>
      Object.values(ops as Record<string, { operationId?: string }>).map((o) => o.operationId!),
    );
    expect([...covered].sort()).toEqual([...new Set(all)].sort());
  }, 120_000);

  it("declares a bearer scheme, operationIds, problem+json errors (OIP's on /v2) and no body for 204", () => {
    const components = document.components as Record<string, Record<string, unknown>>;
    expect(components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    for (const [path, ops] of Object.entries(document.paths ?? {})) {
      for (const [method, op] of Object.entries(ops as Record<string, Operation>)) {
        expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
        const oip = path === "/v2" || path.startsWith("/v2/");
        for (const [status, response] of Object.entries(op.responses ?? {})) {
          const content = (response as { content?: Record<string, unknown> }).content ?? {};
          if (Number(status) >= 400 && !(oip && path.endsWith("/health/ready")))
            expect(Object.keys(content), `${method} ${path} ${status}`).toEqual([
              oip ? "application/json" : "application/problem+json",
            ]);
          if (status === "204") expect(content).toEqual({});
        }
      }
    }
  });
});
