import request from "supertest";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { loadOpenblasOps } from "../../src/core/kernels/openblas-ops.js";
import { testApp } from "../helpers/app.js";
import { startServer, startServerExpectingFailure } from "../helpers/server-process.js";
import { seeded } from "../helpers/tensors.js";

// Where the addon and libopenblas0-pthread are installed (CI: .ci/run), openblas is the fastest.
const openblas = "ops" in loadOpenblasOps();
const PATHS = [...(openblas ? ["openblas"] : []), "relaxed-simd", "simd", "typescript"];
const ABSENT = "libopenblas-absent.so.9";

describe("KERNELS: the numeric kernels the workers run", () => {
  it("defaults to the fastest path the runtime offers (openblas, else relaxed SIMD)", () => {
    const { kernels, kernelsNote } = loadConfig({}).pool;
    expect(kernels).toBe(openblas ? "openblas" : "relaxed-simd");
    expect(kernelsNote).toMatch(openblas ? /^OpenBLAS \d+\.\d+/ : /^native BLAS/);
  });

  it("takes a path by name", () => {
    for (const path of PATHS) expect(loadConfig({ KERNELS: path }).pool.kernels).toBe(path);
  });

  it("falls back to WebAssembly without OpenBLAS, saying why in the start line", async () => {
    const server = await startServer({ OPENBLAS_LIBRARY: ABSENT });
    try {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toContain('kernel_path_info{path="relaxed-simd"} 1');
      expect(metrics).toContain('kernel_path_info{path="openblas"} 0');
      const why = openblas
        ? `native BLAS not found: install libopenblas0-pthread for ${ABSENT}`
        : "native BLAS";
      const start = server
        .output()
        .split("\n")
        .find((line) => line.includes("numeric kernels"));
      expect(start).toContain(`"msg":"numeric kernels: relaxed-simd (${why}`);
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
  });

  it("refuses to start on openblas without the library, naming it and the package", async () => {
    const run = await startServerExpectingFailure({
      KERNELS: "openblas",
      OPENBLAS_LIBRARY: ABSENT,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^cannot start: invalid configuration: KERNELS: openblas is not supported by this runtime \(native BLAS/,
    );
    if (openblas) expect(run.stderr).toContain(`install libopenblas0-pthread for ${ABSENT}`);
  });

  it.runIf(openblas)("runs the openblas path in every worker thread", async () => {
    const server = await startServer({ POOL_THREADS: "2" });
    try {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toContain('kernel_path_info{path="openblas"} 1');
      // Both workers answer with the path installed (a worker whose load failed would throw).
      const answers = await Promise.all(
        [1, 2, 3, 4].map(() =>
          fetch(`${server.url}/v1/networks/forward`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              layers: [
                {
                  type: "affine",
                  W: [
                    [1, 2],
                    [3, 4],
                  ],
                  b: [0.5, -0.5],
                },
              ],
              x: [[1, 1]],
            }),
          }).then((res) => res.json()),
        ),
      );
      for (const answer of answers) expect(answer).toEqual({ out: [[4.5, 5.5]] });
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }
  });

  it("rejects an unknown path, naming the variable", () => {
    expect(() => loadConfig({ KERNELS: "avx512" })).toThrow(ConfigError);
    expect(() => loadConfig({ KERNELS: "avx512" })).toThrow(/KERNELS/);
  });

  it("refuses to start on relaxed SIMD when node runs without its flag", async () => {
    const run = await startServerExpectingFailure({ KERNELS: "relaxed-simd" }, 20_000, [
      "dist/server.js",
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^cannot start: invalid configuration: KERNELS: relaxed-simd is not supported by this runtime \(start node with --experimental-wasm-relaxed-simd\)/,
    );
  });

  describe("every path gives the same answers over HTTP", () => {
    const apps = Promise.all([...PATHS].reverse().map((KERNELS) => testApp({ KERNELS })));
    afterAll(async () => {
      for (const app of await apps) await app.close();
    });

    it("backward of a 30-20-5 network on a batch of 13, float32 and float64", async () => {
      const random = seeded(7);
      const values = (n: number) => Array.from({ length: n }, () => random() - 0.5);
      const matrix = (rows: number, cols: number) =>
        Array.from({ length: rows }, () => values(cols));
      const body = (dtype: string) => ({
        dtype,
        layers: [
          { type: "affine", W: matrix(30, 20), b: values(20) },
          { type: "relu" },
          { type: "affine", W: matrix(20, 5), b: values(5) },
          { type: "softmaxWithLoss" },
        ],
        x: matrix(13, 30),
        t: Array.from({ length: 13 }, (_, i) => i % 5),
      });
      for (const [dtype, tolerance] of [
        ["float32", 1e-5],
        ["float64", 1e-12],
      ] as const) {
        const answers = [];
        const sent = body(dtype);
        for (const app of await apps) {
          const res = await request(app.server).post("/v1/networks/backward").send(sent);
          expect(res.status).toBe(200);
          answers.push(res.body);
        }
        const [reference, ...others] = answers;
        for (const other of others) {
          expect(other.loss).toBeCloseTo(reference.loss, 5);
          const pairs: [number[], number[]][] = [
            [other.dx.flat(), reference.dx.flat()],
            [other.grads[0].W.flat(), reference.grads[0].W.flat()],
            [other.grads[2].W.flat(), reference.grads[2].W.flat()],
            [other.grads[2].b, reference.grads[2].b],
          ];
          for (const [got, want] of pairs) {
            expect(got).toHaveLength(want.length);
            const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
            expect(worst).toBeLessThanOrEqual(tolerance);
          }
        }
      }
    });
  });

  describe("work that falls off a WebAssembly path is counted, and still right", () => {
    const app = testApp({ KERNELS: "simd", WORKER_ARENA_MB: "16", POOL_THREADS: "1" });
    afterAll(async () => (await app).close());
    const b64 = (values: Float32Array) => Buffer.from(values.buffer).toString("base64");
    const fallbacks = async () => {
      const text = (await request((await app).server).get("/metrics")).text;
      const line = /^backprop_kernel_fallbacks_total\{reason="arena_full"\} (\d+)/m.exec(text);
      return Number(line?.[1] ?? 0);
    };
    /** A forward through one affine layer of `outputs` units, all ones: each output is 784. */
    const forward = async (outputs: number) => {
      const W = new Float32Array(784 * outputs).fill(1);
      const res = await request((await app).server)
        .post("/v1/networks/forward")
        .send({
          dtype: "float32",
          layers: [
            {
              type: "affine",
              W: { shape: [784, outputs], dtype: "float32", base64: b64(W) },
              b: { shape: [outputs], dtype: "float32", base64: b64(new Float32Array(outputs)) },
            },
          ],
          x: { shape: [2, 784], dtype: "float32", base64: b64(new Float32Array(2 * 784).fill(1)) },
          outputEncoding: "flat",
        });
      expect(res.status).toBe(200);
      expect(res.body.out.data).toEqual(new Array(2 * outputs).fill(784));
    };

    it("counts none while a task fits the arena, and each miss once it does not", async () => {
      await forward(50);
      expect(await fallbacks()).toBe(0);
      // 784 × 5000 float32 weights are 15.7 MB, decoded and then copied: past a 16 MiB arena.
      await forward(5000);
      expect(await fallbacks()).toBeGreaterThan(0);
    });
  });
});
