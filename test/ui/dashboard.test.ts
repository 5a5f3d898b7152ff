import { mkdirSync, readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { testApp } from "../helpers/app.js";
import { type Browser, launchBrowser, type Watched, watchedPage } from "../helpers/browser.js";

/** `npm run screenshots` sets this: the pictures README shows are taken by these tests. */
const SHOTS = process.env.UI_SCREENSHOTS === "1";
const SHOT_DIR = new URL("../../docs/screenshots/", import.meta.url).pathname;
if (SHOTS) mkdirSync(SHOT_DIR, { recursive: true });
async function shot(page: Page, name: string) {
  if (SHOTS) await page.screenshot({ path: `${SHOT_DIR}${name}.png`, fullPage: true });
}

let app: FastifyInstance;
let origin: string;
let browser: Browser;
const pages: Watched[] = [];

/** The page logs the failed request of an answer the test provoked: that one error, once. */
function allowError(page: Page, pattern: RegExp) {
  const errors = pages.find((w) => w.page === page)!.errors;
  const at = errors.findIndex((e) => pattern.test(e));
  expect(at, `an error matching ${pattern} in ${JSON.stringify(errors)}`).not.toBe(-1);
  errors.splice(at, 1);
}

async function open(path: string, base = origin): Promise<Page> {
  const watched = await watchedPage(browser.context, base);
  pages.push(watched);
  await watched.page.goto(`${base}${path}`);
  return watched.page;
}

async function api<T = Record<string, unknown>>(path: string, body?: unknown, key?: string) {
  const res = await fetch(`${origin}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/**
 * Waits (on the server's own answers, no fixed sleep) until the job has ended; gives up with the
 * test, so a job that never ends cannot keep the file polling after its test failed.
 */
async function finished(id: string, base = origin, key?: string) {
  const deadline = Date.now() + 110_000;
  while (Date.now() < deadline) {
    const res = await fetch(`${base}/v1/training-jobs/${id}`, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
    const job = (await res.json()) as { status: string; resultModelId: string; history: unknown[] };
    if (["succeeded", "failed", "cancelled"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} had not ended after 110 s`);
}

beforeAll(async () => {
  app = await testApp({ MAX_TRAINING_ITERATIONS: "1000000" });
  origin = (await app.listen({ port: 0, host: "127.0.0.1" })).replace("localhost", "127.0.0.1");
  browser = await launchBrowser();
});
afterEach(async () => {
  // Every page of a test: no console error, no request to another origin.
  for (const { page, errors, foreign } of pages.splice(0)) {
    await page.close();
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
  }
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

const pointCount = (page: Page, selector: string) =>
  page.locator(selector).evaluate((el) => Number((el as HTMLElement).dataset.points));

describe("the page itself", () => {
  it("is at /ui/ (from /), under a strict CSP, with every asset from this server", async () => {
    const root = await fetch(`${origin}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/ui/");
    const index = await fetch(`${origin}/ui/`);
    const csp = index.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe");
    const html = await index.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/https?:\/\//);
    expect((await fetch(`${origin}/ui/vendor/uPlot.esm.js`)).status).toBe(200);
    // Only the two uPlot files are served from its package.
    expect((await fetch(`${origin}/ui/vendor/package.json`)).status).toBe(404);

    const page = await open("/");
    await page.waitForURL(`${origin}/ui/#/jobs`.replace("#/jobs", ""));
    await page.getByRole("heading", { name: "Training jobs" }).waitFor();
    // Keyboard: the view takes focus, its first control is a Tab away, Enter follows it.
    await page.keyboard.press("Tab");
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.textContent))
      .toBe("New job");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Start a training job" }).waitFor();
  });
});

describe("training from the form", () => {
  it("shows the API's errors beside their fields, starts the job, charts it live, cancels it", async () => {
    const page = await open("/ui/#/new");
    await page.getByLabel("Training samples").fill("2000");
    await page.getByLabel("Validation samples").fill("500");
    await page.getByLabel("Batch size").fill("0");
    await page.getByLabel("Learning rate").fill("-1");
    await page.getByLabel("How many").fill("1000000");
    await page.getByLabel("Evaluate every").fill("20");
    const refused = page.waitForResponse((r) => r.url().endsWith("/v1/training-jobs"));
    // Submitted from the keyboard.
    await page.getByLabel("Batch size").press("Enter");
    const problem = await (await refused).json();
    expect((await refused).status()).toBe(400);
    allowError(page, /status of 400/);
    const paths = problem.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(["batchSize", "optimizer.lr"]);
    for (const error of problem.errors) {
      const slot = page.locator(`[data-error-for="${error.path}"]`);
      await expect.poll(() => slot.textContent()).toBe(error.message);
      const control = page.locator(`[name="${error.path}"]`);
      expect(await control.getAttribute("aria-invalid")).toBe("true");
    }
    await shot(page, "new-job-errors");

    await page.getByLabel("Batch size").fill("50");
    await page.getByLabel("Learning rate").fill("0.1");
    await page.getByRole("button", { name: "Start training" }).click();
    await page.waitForURL(/#\/jobs\/[^/]+$/);
    const id = new URL(page.url()).hash.split("/")[2];
    // Should this test fail, its million iterations must not hold up the next suite's jobs.
    onTestFinished(async () => {
      await api(`/v1/training-jobs/${id}/cancel`, {});
    });
    const loss = "#loss-chart";
    // Points arrive from the event stream while it trains: wait for them, then for more.
    await page.waitForFunction(
      (s) => Number(document.querySelector<HTMLElement>(s)?.dataset.points) >= 2,
      loss,
    );
    const before = await pointCount(page, loss);
    // The page changes in place as events arrive: what a user points at stays the same element.
    const steady = ['[data-stat="iteration"]', '[data-stat="validation"]', "h1 .badge", ".danger"];
    const handles = await Promise.all(steady.map((s) => page.locator(s).elementHandle()));
    await page.waitForFunction(
      ([s, n]) =>
        Number(document.querySelector<HTMLElement>(s as string)?.dataset.points) > (n as number),
      [loss, before] as const,
    );
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLElement>("#accuracy-chart")?.dataset.points) >= 2,
    );
    await expect
      .poll(() => page.locator('[data-stat="throughput"]').textContent())
      .toMatch(/samples\/s/);
    for (const [i, handle] of handles.entries()) {
      const same = await handle!.evaluate((el, s) => el === document.querySelector(s), steady[i]);
      expect(same, steady[i]).toBe(true);
    }
    await shot(page, "job-running");

    await page.getByRole("button", { name: "Cancel job" }).click();
    await page.locator('h1 [data-status="cancelled"]').waitFor();
    const job = (await api<{ status: string; resultModelId?: string }>(`/v1/training-jobs/${id}`))
      .body;
    expect(job.status).toBe("cancelled");
    expect(job.resultModelId).toBeDefined();
    expect(await page.getByRole("button", { name: "Cancel job" }).isDisabled()).toBe(true);

    // The list shows it, with its progress bar where it stopped.
    await page.goto(`${origin}/ui/#/jobs`);
    const row = page.locator(`tr[data-job="${id}"]`);
    await row.waitFor();
    expect(await row.getAttribute("data-status")).toBe("cancelled");
    const fraction = Number(await row.locator("progress").getAttribute("value"));
    expect(fraction).toBeGreaterThan(0);
    expect(fraction).toBeLessThan(1);
  });
});

describe("drawing a digit", () => {
  let modelId: string;
  let jobIds: string[];

  beforeAll(async () => {
    // Small and quick, but a real classifier: ~95% on MNIST's test split.
    const job = (optimizer: object, name: string) =>
      api<{ id: string }>("/v1/training-jobs", {
        model: {
          name,
          seed: 1,
          architecture: {
            inputSize: 784,
            hiddenSizes: [64],
            outputSize: 10,
            activation: "relu",
            weightInit: "he",
          },
        },
        data: { dataset: { name: "mnist", split: "train", limit: 20000 } },
        validation: { dataset: { name: "mnist", split: "test", limit: 2000 } },
        optimizer,
        batchSize: 100,
        iterations: 800,
        evaluateEvery: 100,
        seed: 1,
      });
    const jobs = [
      (await job({ type: "adam" }, "adam-64")).body,
      (await job({ type: "sgd", lr: 0.1 }, "sgd-64")).body,
    ];
    jobIds = jobs.map((j) => j.id);
    const done = await Promise.all(jobIds.map((id) => finished(id)));
    expect(done.map((j) => j.status)).toEqual(["succeeded", "succeeded"]);
    modelId = done[0].resultModelId;
    const evaluated = await api<{ accuracy: number }>(`/v1/models/${modelId}/evaluate`, {
      dataset: { name: "mnist", split: "test" },
    });
    expect(evaluated.body.accuracy).toBeGreaterThan(0.93);
  }, 120_000);

  /** The x of the page's last predict request, and the class the page shows once it is idle. */
  async function readOut(page: Page, sent: { x?: unknown }) {
    await page.locator('.result[data-state="idle"]').waitFor();
    const shown = Number(await page.locator("#prediction").getAttribute("data-label"));
    const bars = await page.locator(".bars li").count();
    expect(bars).toBe(10);
    const truth = await api<{ labels: number[]; probabilities: { data: number[] } }>(
      `/v1/models/${modelId}/predict`,
      { x: sent.x },
    );
    expect(truth.status).toBe(200);
    return { shown, predicted: truth.body.labels[0], probabilities: truth.body.probabilities.data };
  }

  it("reads a '1' drawn with mouse strokes as predict does for the same 784 pixels", async () => {
    const page = await open(`/ui/#/draw/${modelId}`);
    const sent: { x?: { shape: number[]; data: number[] } } = {};
    page.on("request", (request) => {
      if (request.url().endsWith(`/v1/models/${modelId}/predict`)) {
        sent.x = JSON.parse(request.postData()!).x;
      }
    });
    const pad = page.locator("#pad");
    await pad.waitFor();
    const box = (await pad.boundingBox())!;
    // A slightly slanted down-stroke, as a hand draws a 1, in a few moves.
    await page.mouse.move(box.x + box.width * 0.55, box.y + box.height * 0.15);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5, { steps: 12 });
    await page.mouse.move(box.x + box.width * 0.46, box.y + box.height * 0.85, { steps: 12 });
    await page.mouse.up();
    const { shown, predicted, probabilities } = await readOut(page, sent);
    expect(sent.x!.shape).toEqual([1, 784]);
    expect(sent.x!.data).toHaveLength(784);
    expect(shown).toBe(predicted);
    expect(shown).toBe(1);
    // The bars show predict's probabilities.
    const text = await page.locator('.bars li[data-digit="1"] .bar-value').textContent();
    expect(text).toBe(`${(probabilities[1] * 100).toFixed(1)}%`);
    await shot(page, "draw");
  });

  it("loads a real test sample and reads it as predict does", async () => {
    const page = await open(`/ui/#/draw/${modelId}`);
    const sent: { x?: unknown } = {};
    page.on("request", (request) => {
      if (request.url().endsWith("/predict")) sent.x = JSON.parse(request.postData()!).x;
    });
    await page.getByLabel("Test sample").fill("0");
    await page.getByRole("button", { name: "Load test sample" }).click();
    await expect
      .poll(() => page.locator("#sample-label").textContent())
      .toBe("Test sample 0, labelled 7.");
    const samples = await api<{ x: number[][] }>("/v1/datasets/mnist/samples?split=test&limit=1");
    const { shown, predicted } = await readOut(page, sent);
    // The sample's own pixels went to the model, not a redrawn copy.
    expect((sent.x as { data: number[] }).data).toEqual(samples.body.x[0]);
    expect(shown).toBe(predicted);
    expect(shown).toBe(7);
  });

  it("overlays two runs to compare them, and lists the models", async () => {
    const page = await open(`/ui/#/jobs`);
    for (const id of jobIds) {
      await page.locator(`tr[data-job="${id}"] input[type="checkbox"]`).check();
    }
    await page.getByRole("button", { name: "Compare selected" }).click();
    await page.waitForURL(/#\/compare\//);
    // 8 evaluations of each job, on one chart.
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLElement>("#compare-accuracy")?.dataset.points) === 16,
    );
    expect(await page.locator(".u-legend").first().textContent()).toMatch(/adam-64.*sgd-64/s);
    await shot(page, "compare");

    await page.goto(`${origin}/ui/#/models`);
    const row = page.locator(`tr[data-model="${modelId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toMatch(/784-64-10 relu/);
    await row.getByRole("link", { name: /adam-64/ }).click();
    await page.getByRole("heading", { name: "Layers" }).waitFor();
    const download = page.waitForEvent("download");
    await page.getByRole("button", { name: "Parameters (base64 JSON)" }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe("adam-64 (trained)-parameters-base64.json");
    const onnx = page.waitForEvent("download");
    await page.getByRole("button", { name: "ONNX file" }).click();
    const exported = await onnx;
    expect(exported.suggestedFilename()).toBe("adam-64 (trained).onnx");
    // The file is the ONNX export: a protobuf that names the graph's input and output.
    const bytes = readFileSync((await exported.path())!);
    expect(bytes.includes(Buffer.from("probabilities"))).toBe(true);
    await shot(page, "model");

    await page.goto(`${origin}/ui/#/jobs/${jobIds[0]}`);
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLElement>("#accuracy-chart")?.dataset.points) === 16,
    );
    await shot(page, "job");
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "job-phone");
    await page.goto(`${origin}/ui/#/draw/${modelId}`);
    await page.getByRole("button", { name: "Load test sample" }).click();
    await page.locator('.result[data-state="idle"]').waitFor();
    await shot(page, "draw-phone");
  });
});

describe("with API keys", () => {
  it("asks for a key, keeps it in sessionStorage, and sends it on every call and the stream", async () => {
    const keyed = await testApp({ API_KEYS: "alice:alice-secret-key" });
    const base = (await keyed.listen({ port: 0, host: "127.0.0.1" })).replace(
      "localhost",
      "127.0.0.1",
    );
    try {
      const key = "alice-secret-key";
      const started = await fetch(`${base}/v1/training-jobs`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify({
          model: {
            seed: 1,
            architecture: {
              inputSize: 784,
              hiddenSizes: [16],
              outputSize: 10,
              activation: "relu",
              weightInit: "he",
            },
          },
          data: { dataset: { name: "mnist", split: "train", limit: 1000 } },
          // Long enough to be running whatever the machine's speed: the page cancels it.
          iterations: 1_000_000,
          evaluateEvery: 100,
        }),
      });
      const job = (await started.json()) as { id: string };
      const watched = await watchedPage(browser.context, base);
      pages.push(watched);
      const { page } = watched;
      const requests: { url: string; authorization?: string }[] = [];
      page.on("request", async (request) => {
        if (!request.url().includes("/v1/")) return;
        requests.push({
          url: request.url(),
          authorization: (await request.allHeaders()).authorization,
        });
      });
      // A 401 is expected before the key: the page asks for one instead of failing.
      const unauthorised = page.waitForResponse((r) => r.status() === 401);
      await page.goto(`${base}/ui/#/jobs/${job.id}`);
      await unauthorised;
      const dialog = page.getByRole("dialog", { name: "API key" });
      await dialog.waitFor();
      await shot(page, "api-key");
      await page.getByLabel("Key", { exact: true }).fill(key);
      const events = page.waitForRequest((r) => r.url().endsWith(`/${job.id}/events`));
      await page.getByLabel("Key", { exact: true }).press("Enter");
      allowError(page, /status of 401/);
      expect((await (await events).allHeaders()).authorization).toBe(`Bearer ${key}`);
      // The stream's progress reaches the page, and the cancel goes through with the key.
      await page.waitForFunction(
        () => Number(document.querySelector<HTMLElement>("#loss-chart")?.dataset.points) >= 1,
      );
      await page.getByRole("button", { name: "Cancel job" }).click();
      await page.locator('h1 [data-status="cancelled"]').waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem("backprop.apiKey"))).toBe(key);
      const afterKey = requests.filter((r) => r.authorization);
      // The job, its model, its stream, the cancel, the job again.
      expect(afterKey.length).toBeGreaterThanOrEqual(5);
      expect(requests.filter((r) => !r.authorization)).toHaveLength(1);
      expect(requests.every((r) => !r.url.includes(key))).toBe(true);
      // A wrong key is asked for again, not kept.
      await page.evaluate(() => sessionStorage.setItem("backprop.apiKey", "wrong-key-123"));
      await page.goto(`${base}/ui/#/models`);
      await page.getByText("That key was not accepted.").waitFor();
      allowError(page, /status of 401/);
    } finally {
      await keyed.close();
    }
  });
});
