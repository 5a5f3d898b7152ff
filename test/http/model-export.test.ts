import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { fromBinary } from "@bufbuild/protobuf";
import type { FastifyInstance } from "fastify";
import { ModelProtoSchema } from "onnx-buf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FloatArray } from "../../src/core/tensor.js";
import type { ModelRecord } from "../../src/store/repository.js";
import { testApp } from "../helpers/app.js";

/**
 * Exports of a large model leave the event loop free. A client reads the export's first bytes
 * and then stops reading; a /healthz sent then is answered while the server has still written
 * only part of the export (an export built whole before its first byte has written all of it),
 * and the export then reads to its end, equal to the stored parameters bit for bit. No clock is
 * involved: the server can only go on as far as the paused client's socket buffers let it.
 */

let app: FastifyInstance;
let base: string;
const sockets: Socket[] = [];
let model: ModelRecord;

beforeAll(async () => {
  app = await testApp();
  app.server.on("connection", (socket: Socket) => sockets.push(socket));
  await app.listen({ port: 0, host: "127.0.0.1" });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const res = await fetch(`${base}/v1/models`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    // 2,099,200 float64 parameters: 16.8 MB of bytes, ~44 MB as JSON numbers.
    body: JSON.stringify({
      dtype: "float64",
      seed: 3,
      architecture: {
        inputSize: 1024,
        hiddenSizes: [1024],
        outputSize: 1024,
        activation: "relu",
        weightInit: "he",
      },
    }),
  });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  model = (await app.store.models.get(id, null))!;
}, 120_000);
afterAll(() => app.close());

interface Export {
  status: number;
  contentType: string | undefined;
  body: Buffer;
  /** Bytes the server had written on the export's connection when /healthz answered. */
  writtenAtHealthz: number;
}

async function exportWithHealthz(path: string): Promise<Export> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(`${base}${path}`, { agent: false }, resolve).on("error", reject);
  });
  const server = sockets.find((s) => s.remotePort === res.socket.localPort);
  expect(server).toBeDefined();
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    res.once("data", (chunk: Buffer) => {
      res.pause();
      chunks.push(chunk);
      resolve();
    });
  });
  const health = await fetch(`${base}/healthz`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: "ok" });
  const writtenAtHealthz = server!.bytesWritten;
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return {
    status: res.statusCode!,
    contentType: res.headers["content-type"],
    body: Buffer.concat(chunks),
    writtenAtHealthz,
  };
}

const bytesOf = (data: FloatArray) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
const affine = () => model.layers.filter((l) => l.type === "affine");

function expectValues(got: number[], want: Float64Array, what: string) {
  expect(got.length, what).toBe(want.length);
  let mismatches = 0;
  for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) mismatches++;
  expect(mismatches, what).toBe(0);
}

describe("exports of a large model", () => {
  for (const encoding of ["nested", "flat", "base64"] as const) {
    it(`parameters?encoding=${encoding}: /healthz answers mid-export; the body is the model`, async () => {
      const got = await exportWithHealthz(`/v1/models/${model.id}/parameters?encoding=${encoding}`);
      expect(got.status).toBe(200);
      expect(got.contentType).toMatch(/^application\/json/);
      expect(got.writtenAtHealthz).toBeLessThan(got.body.byteLength / 2);
      const answer = JSON.parse(got.body.toString("utf8"));
      expect(answer.dtype).toBe("float64");
      expect(answer.layers.map((l: { type: string }) => l.type)).toEqual(
        model.layers.map((l) => l.type),
      );
      for (const [i, layer] of affine().entries()) {
        if (layer.type !== "affine") continue;
        const sent = answer.layers[2 * i];
        for (const name of ["W", "b"] as const) {
          const want = layer[name];
          const what = `layers[${2 * i}].${name}`;
          if (encoding === "base64") {
            expect(sent[name].shape).toEqual(want.shape);
            expect(sent[name].dtype).toBe("float64");
            expect(Buffer.from(sent[name].base64, "base64").equals(bytesOf(want.data)), what).toBe(
              true,
            );
          } else if (encoding === "flat") {
            expect(sent[name].shape).toEqual(want.shape);
            expectValues(sent[name].data, want.data as Float64Array, what);
          } else {
            const rows = sent[name] as number[][] | number[];
            expect(rows.length).toBe(want.shape[0]);
            expectValues(rows.flat(), want.data as Float64Array, what);
          }
        }
      }
    }, 120_000);
  }

  it("onnx: /healthz answers mid-export; the initializers are the parameters", async () => {
    const got = await exportWithHealthz(`/v1/models/${model.id}/onnx`);
    expect(got.status).toBe(200);
    expect(got.contentType).toBe("application/onnx");
    expect(got.writtenAtHealthz).toBeLessThan(got.body.byteLength / 2);
    const proto = fromBinary(ModelProtoSchema, got.body);
    const tensors = affine().flatMap((l) => (l.type === "affine" ? [l.W, l.b] : []));
    const initializers = proto.graph!.initializer;
    expect(initializers.length).toBe(tensors.length);
    for (const [i, t] of tensors.entries()) {
      expect(initializers[i].dims.map(Number)).toEqual(t.shape);
      expect(Buffer.from(initializers[i].rawData).equals(bytesOf(t.data))).toBe(true);
    }
  }, 120_000);
});
