import { ApiError, type FieldError, getJson, postJson } from "../api.js";
import { announce, h, setView } from "../dom.js";
import { shortId } from "../format.js";
import type { Job, ModelSummary, Page } from "../types.js";

/** The book's defaults (API.md, "Training jobs"), filled in when an optimizer is chosen. */
const OPTIMIZERS: Record<string, Record<string, number>> = {
  sgd: { lr: 0.01 },
  momentum: { lr: 0.01, momentum: 0.9 },
  nesterov: { lr: 0.01, momentum: 0.9 },
  adagrad: { lr: 0.01 },
  rmsprop: { lr: 0.01, decay: 0.99 },
  adam: { lr: 0.001, beta1: 0.9, beta2: 0.999 },
};
const HYPERPARAMETERS = ["lr", "momentum", "decay", "beta1", "beta2"];

let fieldCount = 0;

/**
 * A labelled control whose `name` is the API path it fills (`optimizer.lr`), with a slot beside
 * it for the API's message about that path.
 */
function field(
  label: string,
  name: string,
  control: HTMLInputElement | HTMLSelectElement,
  hint?: string,
): HTMLElement {
  const id = `f${++fieldCount}`;
  control.id = id;
  control.name = name;
  const error = h("p", { class: "field-error", id: `${id}-error`, "data-error-for": name });
  const described = [hint ? `${id}-hint` : "", `${id}-error`].filter(Boolean).join(" ");
  control.setAttribute("aria-describedby", described);
  return h(
    "div",
    { class: "field", "data-field": name },
    h("label", { for: id }, label),
    control,
    hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null,
    error,
  );
}

const numberInput = (value: string | number, attrs: Record<string, string> = {}) =>
  h("input", {
    type: "text",
    inputmode: "decimal",
    value: String(value),
    autocomplete: "off",
    ...attrs,
  });

function select(options: [string, string][], value: string): HTMLSelectElement {
  const el = h("select", {}, ...options.map(([v, text]) => h("option", { value: v }, text)));
  el.value = value;
  return el;
}

/** "50, 20" → [50, 20]; anything that is not a number goes through as text for the API to judge. */
const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((v) => (Number.isFinite(Number(v)) ? Number(v) : v));
const num = (text: string) =>
  text.trim() === "" ? undefined : Number.isFinite(Number(text)) ? Number(text) : text;

/** Start a job: every field goes to the API, and its validation errors come back beside them. */
export async function newJobView(_params: string[], signal: AbortSignal): Promise<void> {
  const models = await getJson<Page<ModelSummary>>("/v1/models?limit=100", signal);
  const trainable = models.items.filter((m) => m.layers.at(-1)?.type === "softmaxWithLoss");

  const source = select(
    [
      ["new", "A new network (architecture below)"],
      ...trainable.map((m): [string, string] => [
        m.id,
        `${m.name ?? "unnamed"} · ${shortId(m.id)}`,
      ]),
    ],
    "new",
  );
  const architecture = h(
    "fieldset",
    { id: "architecture" },
    h("legend", {}, "Architecture"),
    field("Input size", "model.architecture.inputSize", numberInput(784)),
    field(
      "Hidden layer sizes",
      "model.architecture.hiddenSizes",
      numberInput("50"),
      "comma-separated, e.g. 100, 50",
    ),
    field("Output size", "model.architecture.outputSize", numberInput(10)),
    field(
      "Activation",
      "model.architecture.activation",
      select(
        [
          ["relu", "ReLU"],
          ["sigmoid", "Sigmoid"],
        ],
        "relu",
      ),
    ),
    field(
      "Weight init",
      "model.architecture.weightInit",
      numberInput("he"),
      "he, xavier, or a standard deviation",
    ),
    field("Initial seed", "model.seed", numberInput(1)),
    field("Name", "model.name", h("input", { type: "text", value: "", autocomplete: "off" })),
  );
  const optimizerType = select(
    Object.keys(OPTIMIZERS).map((t): [string, string] => [
      t,
      t === "sgd"
        ? "SGD"
        : t === "adagrad"
          ? "AdaGrad"
          : t === "rmsprop"
            ? "RMSprop"
            : t[0].toUpperCase() + t.slice(1),
    ]),
    "sgd",
  );
  const hyper = Object.fromEntries(
    HYPERPARAMETERS.map((p) => [
      p,
      field(
        p === "lr"
          ? "Learning rate"
          : p === "beta1"
            ? "β1"
            : p === "beta2"
              ? "β2"
              : p[0].toUpperCase() + p.slice(1),
        `optimizer.${p}`,
        numberInput(""),
      ),
    ]),
  );
  const fillDefaults = () => {
    const defaults = OPTIMIZERS[optimizerType.value];
    for (const p of HYPERPARAMETERS) {
      const wrap = hyper[p];
      wrap.hidden = !(p in defaults);
      wrap.querySelector("input")!.value = p in defaults ? String(defaults[p]) : "";
    }
  };
  optimizerType.addEventListener("change", fillDefaults);
  fillDefaults();

  const lengthKind = select(
    [
      ["iterations", "iterations"],
      ["epochs", "epochs"],
    ],
    "iterations",
  );
  const form = h(
    "form",
    { class: "job-form", novalidate: true },
    h("div", { class: "form-error", id: "form-error", role: "alert", "data-error-for": "" }),
    h(
      "fieldset",
      {},
      h("legend", {}, "Model"),
      field("Start from", "modelId", source),
      architecture,
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Data"),
      field("Dataset", "data.dataset.name", select([["mnist", "MNIST"]], "mnist")),
      field(
        "Training split",
        "data.dataset.split",
        select(
          [
            ["train", "train (60000)"],
            ["test", "test (10000)"],
          ],
          "train",
        ),
      ),
      field("Training samples", "data.dataset.limit", numberInput(""), "empty: the whole split"),
      field(
        "Validation split",
        "validation.dataset.split",
        select(
          [
            ["test", "test"],
            ["train", "train"],
            ["", "none"],
          ],
          "test",
        ),
      ),
      field(
        "Validation samples",
        "validation.dataset.limit",
        numberInput(""),
        "empty: the whole split",
      ),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Optimizer"),
      field("Type", "optimizer.type", optimizerType),
      ...HYPERPARAMETERS.map((p) => hyper[p]),
      field("Weight decay (λ)", "weightDecay", numberInput(0)),
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "Schedule"),
      field("Batch size", "batchSize", numberInput(100)),
      field("Length in", "length", lengthKind),
      field("How many", "iterations", numberInput(1000)),
      field("Evaluate every", "evaluateEvery", numberInput(100), "iterations between evaluations"),
      field("Seed", "seed", numberInput(1), "draws the minibatches"),
    ),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Start training"),
    ),
  );
  const howMany = form.querySelector<HTMLInputElement>('[name="iterations"]')!;
  lengthKind.addEventListener("change", () => {
    howMany.name = lengthKind.value;
    howMany.closest(".field")!.setAttribute("data-field", lengthKind.value);
    howMany
      .closest(".field")!
      .querySelector(".field-error")!
      .setAttribute("data-error-for", lengthKind.value);
  });
  const toggleArchitecture = () => {
    architecture.hidden = source.value !== "new";
  };
  source.addEventListener("change", toggleArchitecture);

  const value = (name: string) =>
    (form.querySelector(`[name="${name}"]`) as HTMLInputElement | HTMLSelectElement | null)
      ?.value ?? "";

  function body(): Record<string, unknown> {
    const dataset = (prefix: string) => ({
      dataset: {
        name: value("data.dataset.name"),
        split: value(`${prefix}.dataset.split`),
        ...(num(value(`${prefix}.dataset.limit`)) === undefined
          ? {}
          : { limit: num(value(`${prefix}.dataset.limit`)) }),
      },
    });
    const optimizer: Record<string, unknown> = { type: optimizerType.value };
    for (const p of HYPERPARAMETERS) {
      if (!hyper[p].hidden && num(value(`optimizer.${p}`)) !== undefined)
        optimizer[p] = num(value(`optimizer.${p}`));
    }
    const weightInit = value("model.architecture.weightInit").trim();
    const name = value("model.name").trim();
    return {
      ...(source.value === "new"
        ? {
            model: {
              ...(name ? { name } : {}),
              seed: num(value("model.seed")),
              architecture: {
                inputSize: num(value("model.architecture.inputSize")),
                hiddenSizes: list(value("model.architecture.hiddenSizes")),
                outputSize: num(value("model.architecture.outputSize")),
                activation: value("model.architecture.activation"),
                weightInit:
                  Number.isFinite(Number(weightInit)) && weightInit !== ""
                    ? Number(weightInit)
                    : weightInit,
              },
            },
          }
        : { modelId: source.value }),
      data: dataset("data"),
      ...(value("validation.dataset.split") ? { validation: dataset("validation") } : {}),
      optimizer,
      weightDecay: num(value("weightDecay")),
      batchSize: num(value("batchSize")),
      [lengthKind.value]: num(howMany.value),
      evaluateEvery: num(value("evaluateEvery")),
      seed: num(value("seed")),
    };
  }

  /** The slot of the longest field name the path starts with; the form's own slot otherwise. */
  function slotFor(path: string): HTMLElement {
    const plain = path.replace(/\[\d+\]/g, "");
    let best: HTMLElement | null = null;
    let bestLength = -1;
    for (const slot of form.querySelectorAll<HTMLElement>("[data-error-for]")) {
      const name = slot.dataset.errorFor!;
      if (slot.closest("[hidden]")) continue;
      const matches = name === "" || plain === name || plain.startsWith(`${name}.`);
      if (matches && name.length > bestLength) {
        best = slot;
        bestLength = name.length;
      }
    }
    return best!;
  }

  function showErrors(errors: FieldError[], detail: string): void {
    for (const slot of form.querySelectorAll<HTMLElement>("[data-error-for]"))
      slot.replaceChildren();
    for (const control of form.querySelectorAll("[aria-invalid]"))
      control.removeAttribute("aria-invalid");
    if (errors.length === 0) errors = [{ path: "", message: detail }];
    let first: HTMLElement | null = null;
    for (const error of errors) {
      const slot = slotFor(error.path);
      const general = slot.dataset.errorFor === "";
      slot.append(
        h("span", {}, general && error.path ? `${error.path}: ${error.message}` : error.message),
      );
      const control = slot.parentElement?.querySelector("input, select");
      if (!general && control) {
        control.setAttribute("aria-invalid", "true");
        first ??= control as HTMLElement;
      }
    }
    (first ?? form.querySelector<HTMLElement>("#form-error"))?.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = form.querySelector<HTMLButtonElement>('button[type="submit"]')!;
    submit.disabled = true;
    try {
      const job = await postJson<Job>("/v1/training-jobs", body());
      announce(`Job ${shortId(job.id)} started.`);
      location.hash = `#/jobs/${job.id}`;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(error.errors, error.message);
      announce(`The API refused the job: ${error.message}`, "error");
    } finally {
      submit.disabled = false;
    }
  });
  form.querySelector<HTMLElement>("#form-error")!.tabIndex = -1;

  setView("New job", h("h1", {}, "Start a training job"), form);
  toggleArchitecture();
}
