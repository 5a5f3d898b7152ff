import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { answerOf, exchange } from "../helpers/raw-http.js";
import { base64Tensor } from "../helpers/tensors.js";

/**
 * The request body as the service reads it (src/http/body-bytes.ts), over a real socket: in any
 * number of pieces, with or without a Content-Length, within BODY_LIMIT_BYTES.
 */

const LIMIT = 200_000;
let app: FastifyInstance;
let port: number;

beforeAll(async () => {
  app = await testApp({ BODY_LIMIT_BYTES: String(LIMIT) });
  await app.listen({ port: 0, host: "127.0.0.1" });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(() => app.close());

/** x of 600 float32 values (long enough for its text to be lifted), and a ReLU forward of it. */
const values = Array.from({ length: 600 }, (_, i) => (i % 7) - 3);
const body = JSON.stringify({
  layer: { type: "relu" },
  x: base64Tensor([600], values),
  outputEncoding: "flat",
});
const relu = values.map((v) => Math.max(0, v));

const head = (length: number | null) =>
  "POST /v1/layers/forward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n" +
  (length === null ? "Transfer-Encoding: chunked\r\n" : `Content-Length: ${length}\r\n`) +
  "\r\n";

/** A turn of the event loop, so that the server reads each piece on its own. */
const turn = () => new Promise((resolve) => setTimeout(resolve, 1));

describe("request bodies", () => {
  it("are put together from many pieces in order, with a Content-Length", async () => {
    const bytes = Buffer.from(body);
    const raw = await exchange(port, async (socket) => {
      socket.write(head(bytes.length));
      for (let at = 0; at < bytes.length; at += 97) {
        socket.write(bytes.subarray(at, at + 97));
        await turn();
      }
    });
    const answer = answerOf(raw);
    expect(answer.status).toBe(200);
    expect(answer.body.out).toEqual({ shape: [600], data: relu });
  });

  it("are read without a Content-Length, in chunked encoding", async () => {
    const bytes = Buffer.from(body);
    const raw = await exchange(port, async (socket) => {
      socket.write(head(null));
      for (let at = 0; at < bytes.length; at += 1000) {
        const piece = bytes.subarray(at, at + 1000);
        socket.write(`${piece.length.toString(16)}\r\n`);
        socket.write(piece);
        socket.write("\r\n");
        await turn();
      }
      socket.write("0\r\n\r\n");
    });
    const answer = answerOf(raw);
    expect(answer.status).toBe(200);
    expect(answer.body.out).toEqual({ shape: [600], data: relu });
  });

  it("over the limit are refused, by their Content-Length or, chunked, once they pass it", async () => {
    const declared = await exchange(port, async (socket) => {
      socket.write(head(LIMIT + 1));
    });
    expect(answerOf(declared).status).toBe(413);
    expect(answerOf(declared).body.code).toBe("PAYLOAD_TOO_LARGE");
    const piece = Buffer.alloc(50_000, 0x20);
    const chunked = await exchange(port, async (socket) => {
      socket.write(head(null));
      for (let sent = 0; sent <= LIMIT; sent += piece.length) {
        if (socket.destroyed) break;
        socket.write(`${piece.length.toString(16)}\r\n`);
        socket.write(piece);
        socket.write("\r\n");
        await turn();
      }
    });
    expect(answerOf(chunked).status).toBe(413);
  });

  it("that end short of their Content-Length are a 400, and the service goes on", async () => {
    const raw = await exchange(port, async (socket) => {
      socket.write(head(body.length + 10));
      socket.write(body);
      await turn();
      socket.end();
    });
    // Its writing side closed, the client still reads the answer: a problem naming the cause.
    const { status, headers, body: problem } = answerOf(raw);
    expect(status).toBe(400);
    expect(headers["content-type"]).toBe("application/problem+json; charset=utf-8");
    expect(problem).toMatchObject({ status: 400, code: "BAD_REQUEST" });
    expect(problem.detail).toMatch(/shorter than its Content-Length/);
    const res = await request(app.server)
      .post("/v1/layers/forward")
      .set("content-type", "application/json")
      .send(body);
    expect(res.status).toBe(200);
    expect(res.body.out).toEqual({ shape: [600], data: relu });
  });
});
