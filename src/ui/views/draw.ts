import { ApiError, getJson, postJson } from "../api.js";
import { mnistPixels, SIDE } from "../digit.js";
import { announce, h, setView } from "../dom.js";
import { percent, shortId } from "../format.js";
import type { ModelSummary, Page } from "../types.js";

const PAD = 280;
const SCALE = PAD / SIDE;

interface FlatTensor {
  shape: number[];
  data: number[];
}

/** Draw a digit (mouse, touch or pen) and watch a 784-input model read it as you draw. */
export async function drawView([modelId]: string[], signal: AbortSignal): Promise<void> {
  const page = await getJson<Page<ModelSummary>>("/v1/models?limit=100", signal);
  const models = page.items.filter((m) => m.inputSize === SIDE * SIDE && m.outputSize === 10);
  if (modelId && !models.some((m) => m.id === modelId)) {
    const one = await getJson<ModelSummary>(`/v1/models/${encodeURIComponent(modelId)}`, signal);
    if (one.inputSize === SIDE * SIDE) models.unshift(one);
  }
  if (models.length === 0) {
    setView(
      "Draw",
      h("h1", {}, "Draw a digit"),
      h(
        "p",
        {},
        "No model takes 784 inputs yet. ",
        h("a", { href: "#/new" }, "Train one on MNIST"),
        " first.",
      ),
    );
    return;
  }
  // Trained models first: they are the ones worth asking.
  models.sort(
    (a, b) => Number(b.origin.kind === "training") - Number(a.origin.kind === "training"),
  );
  const choose = h(
    "select",
    { id: "draw-model" },
    ...models.map((m) =>
      h(
        "option",
        { value: m.id },
        `${m.name ?? `model ${shortId(m.id)}`}${m.origin.metrics?.validationAccuracy !== undefined ? ` · ${percent(m.origin.metrics.validationAccuracy)} validation` : ""}`,
      ),
    ),
  );
  choose.value = modelId && models.some((m) => m.id === modelId) ? modelId : models[0].id;

  const pad = h("canvas", {
    id: "pad",
    width: PAD,
    height: PAD,
    class: "pad",
    "aria-label": "Drawing pad: draw one digit with a mouse, a finger or a pen",
  });
  const ink = pad.getContext("2d", { willReadFrequently: true })!;
  const preview = h("canvas", {
    id: "preview",
    width: SIDE,
    height: SIDE,
    class: "preview",
    "aria-label": "The 28×28 image the model reads",
  });
  const previewContext = preview.getContext("2d")!;
  const prediction = h(
    "output",
    { id: "prediction", class: "prediction", "aria-live": "polite" },
    "–",
  );
  const bars = h("ol", { class: "bars", start: 0, "aria-label": "Probability of each digit" });
  const barFills: HTMLElement[] = [];
  const barTexts: HTMLElement[] = [];
  for (let d = 0; d < 10; d++) {
    const fill = h("span", { class: "bar-fill" });
    const text = h("span", { class: "bar-value" }, "—");
    barFills.push(fill);
    barTexts.push(text);
    bars.append(
      h(
        "li",
        { "data-digit": d },
        h("span", { class: "bar-label" }, d),
        h("span", { class: "bar" }, fill),
        text,
      ),
    );
  }
  const result = h(
    "section",
    { class: "result", "data-state": "empty", "aria-label": "Prediction" },
    h("h2", {}, "The model reads"),
    prediction,
    bars,
  );
  const sampleLabel = h("p", { class: "hint", id: "sample-label" });
  const sampleIndex = h("input", {
    id: "sample-index",
    type: "number",
    min: 0,
    max: 9999,
    value: 0,
    inputmode: "numeric",
  });

  /** The sample's own 784 pixels, as the API gave them, while it is shown untouched. */
  let sample: number[] | null = null;
  let dirty = false;
  let inFlight = false;

  function pixels(): Float32Array | number[] | null {
    if (sample) return sample;
    const rgba = ink.getImageData(0, 0, PAD, PAD).data;
    const alpha = new Float32Array(PAD * PAD);
    for (let i = 0; i < alpha.length; i++) alpha[i] = rgba[i * 4 + 3] / 255;
    return mnistPixels(alpha, PAD, PAD);
  }

  function showPreview(x: Float32Array | number[] | null): void {
    const image = previewContext.createImageData(SIDE, SIDE);
    for (let i = 0; i < SIDE * SIDE; i++) {
      const v = x ? Math.round(255 * (1 - x[i])) : 255;
      image.data.set([v, v, v, 255], i * 4);
    }
    previewContext.putImageData(image, 0, 0);
  }

  function showProbabilities(p: number[] | null): void {
    const best = p ? p.indexOf(Math.max(...p)) : -1;
    prediction.textContent = p ? String(best) : "–";
    prediction.dataset.label = p ? String(best) : "";
    for (let d = 0; d < 10; d++) {
      barFills[d].style.width = p ? `${(p[d] * 100).toFixed(1)}%` : "0";
      barTexts[d].textContent = p ? percent(p[d]) : "—";
      barFills[d].parentElement!.parentElement!.classList.toggle("best", d === best);
    }
  }

  async function send(): Promise<void> {
    dirty = false;
    const x = pixels();
    showPreview(x);
    if (!x) {
      showProbabilities(null);
      result.dataset.state = "empty";
      return;
    }
    inFlight = true;
    result.dataset.state = "busy";
    try {
      const answer = await postJson<{ probabilities: FlatTensor; labels: number[] }>(
        `/v1/models/${choose.value}/predict`,
        { x: { shape: [1, SIDE * SIDE], data: Array.from(x) } },
      );
      if (signal.aborted) return;
      showProbabilities(answer.probabilities.data);
    } catch (error) {
      announce(error instanceof ApiError ? error.message : String(error), "error");
    } finally {
      inFlight = false;
    }
    // One request at a time; strokes drawn meanwhile are read when it comes back.
    if (dirty) void send();
    else result.dataset.state = "idle";
  }

  let frame = 0;
  const schedule = () => {
    dirty = true;
    if (frame || inFlight) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (!inFlight) void send();
    });
  };

  const at = (event: PointerEvent) => {
    const rect = pad.getBoundingClientRect();
    return [
      ((event.clientX - rect.left) * PAD) / rect.width,
      ((event.clientY - rect.top) * PAD) / rect.height,
    ];
  };
  let last: number[] | null = null;
  ink.lineCap = "round";
  ink.lineJoin = "round";
  ink.lineWidth = 22;
  ink.strokeStyle = "#0f172a";
  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    if (sample) sample = null;
    last = at(event);
    ink.beginPath();
    ink.moveTo(last[0], last[1]);
    ink.lineTo(last[0] + 0.01, last[1]);
    ink.stroke();
    schedule();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!last) return;
    for (const e of event.getCoalescedEvents?.() ?? [event]) {
      const point = at(e);
      ink.beginPath();
      ink.moveTo(last[0], last[1]);
      ink.lineTo(point[0], point[1]);
      ink.stroke();
      last = point;
    }
    schedule();
  });
  const end = () => {
    if (!last) return;
    last = null;
    schedule();
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);

  const clear = () => {
    ink.clearRect(0, 0, PAD, PAD);
    sample = null;
    sampleLabel.textContent = "";
    schedule();
  };

  async function loadSample(): Promise<void> {
    const offset = Number(sampleIndex.value) || 0;
    const answer = await getJson<{ x: FlatTensor; labels: number[] }>(
      `/v1/datasets/mnist/samples?split=test&offset=${offset}&limit=1&encoding=flat`,
      signal,
    );
    ink.clearRect(0, 0, PAD, PAD);
    const x = Float32Array.from(answer.x.data);
    for (let i = 0; i < x.length; i++) {
      if (x[i] === 0) continue;
      ink.fillStyle = `rgba(15, 23, 42, ${x[i]})`;
      ink.fillRect((i % SIDE) * SCALE, Math.floor(i / SIDE) * SCALE, SCALE, SCALE);
    }
    sample = answer.x.data;
    sampleLabel.textContent = `Test sample ${offset}, labelled ${answer.labels[0]}.`;
    sampleIndex.value = String((offset + 1) % 10000);
    schedule();
  }

  choose.addEventListener("change", schedule);
  setView(
    "Draw",
    h("h1", {}, "Draw a digit"),
    h(
      "div",
      { class: "draw" },
      h(
        "section",
        { class: "draw-input" },
        h("div", { class: "field" }, h("label", { for: "draw-model" }, "Model"), choose),
        pad,
        h(
          "div",
          { class: "actions" },
          h("button", { type: "button", id: "clear", onclick: clear }, "Clear"),
          h("label", { for: "sample-index", class: "inline" }, "Test sample"),
          sampleIndex,
          h(
            "button",
            {
              type: "button",
              id: "load-sample",
              onclick: () => loadSample().catch((e) => announce(String(e.message ?? e), "error")),
            },
            "Load test sample",
          ),
        ),
        sampleLabel,
      ),
      h(
        "section",
        { class: "draw-output" },
        result,
        h(
          "figure",
          { class: "preview-wrap" },
          preview,
          h("figcaption", {}, "What the model sees: 28×28, centred like MNIST"),
        ),
      ),
    ),
  );
  showPreview(null);
}
