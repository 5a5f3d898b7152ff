import type request from "supertest";
import { expect } from "vitest";

/** An error the way docs/API.md promises it: problem+json with type, title, status, code and detail. */
export function expectProblem(res: request.Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({
    status,
    code,
    type: expect.any(String),
    title: expect.any(String),
  });
  expect(typeof res.body.detail).toBe("string");
  expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(ts|js):\d+/);
}
