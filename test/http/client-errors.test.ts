import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { answerOf, exchange } from "../helpers/raw-http.js";

/**
 * What Node's HTTP parser refuses before any route runs (src/http/client-error.ts), over a real
 * socket: each gets a problem in the service's form naming what was wrong, and the service
 * serves the next request.
 */

let app: FastifyInstance;
let port: number;

beforeAll(async () => {
  app = await testApp();
  await app.listen({ port: 0, host: "127.0.0.1" });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(() => app.close());

async function refused(raw: string) {
  const answer = answerOf(await exchange(port, async (socket) => void socket.write(raw)));
  expect(answer.headers["content-type"]).toBe("application/problem+json; charset=utf-8");
  expect(Number(answer.headers["content-length"])).toBe(
    Buffer.byteLength(JSON.stringify(answer.body)),
  );
  expect(answer.body.status).toBe(answer.status);
  expect(answer.body.type).toBe(
    `urn:backprop:problem:${answer.body.code.toLowerCase().replaceAll("_", "-")}`,
  );
  // The service goes on.
  const health = await request(app.server).get("/healthz");
  expect(health.status).toBe(200);
  return answer;
}

describe("requests the HTTP parser refuses", () => {
  it("a malformed header line is a 400 that quotes the parser", async () => {
    const { status, body } = await refused("POST /v1/layers/forward HTTP/1.1\r\nHost x\r\n\r\n");
    expect(status).toBe(400);
    expect(body).toMatchObject({ code: "BAD_REQUEST", title: "Bad Request" });
    expect(body.detail).toMatch(/^the request is not valid HTTP\/1\.1: .+ \(HPE_[A-Z_]+\)$/);
  });

  it("headers past Node's limit are a 431 that gives the limit", async () => {
    const big = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`;
    const { status, body } = await refused(big);
    expect(status).toBe(431);
    expect(body).toMatchObject({
      code: "HEADERS_TOO_LARGE",
      title: "Request Header Fields Too Large",
      detail: "the request's headers are larger than the server reads (16 KiB in all)",
    });
  });
});
