import { ApiError } from "./api.js";
import { announce, h, setView } from "./dom.js";
import { askForKey, getKey, setKey } from "./keys.js";
import { drawView } from "./views/draw.js";
import { compareView, jobView } from "./views/job.js";
import { jobsView } from "./views/jobs.js";
import { modelView } from "./views/model.js";
import { modelsView } from "./views/models.js";
import { newJobView } from "./views/new-job.js";

/** A view renders into #view and stops what it started (streams, timers) when `signal` aborts. */
type View = (params: string[], signal: AbortSignal) => Promise<void>;

const ROUTES: [RegExp, View, string][] = [
  [/^\/jobs\/?$/, jobsView, "jobs"],
  [/^\/jobs\/([^/]+)$/, jobView, "jobs"],
  [/^\/compare\/([^/]+)$/, compareView, "jobs"],
  [/^\/new$/, newJobView, "new"],
  [/^\/models\/?$/, modelsView, "models"],
  [/^\/models\/([^/]+)$/, modelView, "models"],
  [/^\/draw(?:\/([^/]+))?$/, drawView, "draw"],
];

let current: AbortController | null = null;

async function route(): Promise<void> {
  const path = location.hash.replace(/^#/, "") || "/jobs";
  current?.abort();
  const controller = new AbortController();
  current = controller;
  announce("");
  for (const [pattern, view, section] of ROUTES) {
    const match = pattern.exec(path);
    if (!match) continue;
    for (const link of document.querySelectorAll<HTMLAnchorElement>("nav a")) {
      if (link.dataset.section === section) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    try {
      await view(
        match.slice(1).map((p) => (p === undefined ? "" : decodeURIComponent(p))),
        controller.signal,
      );
    } catch (error) {
      if (controller.signal.aborted) return;
      const message = error instanceof ApiError ? error.message : String(error);
      setView("Error", h("h1", {}, "Something went wrong"), h("p", { class: "error" }, message));
    }
    document.getElementById("view")?.focus({ preventScroll: true });
    return;
  }
  setView("Not found", h("h1", {}, "No such page"), h("p", {}, h("a", { href: "#/jobs" }, "Jobs")));
}

function showKeyState(): void {
  const button = document.getElementById("key-button")!;
  button.textContent = getKey() ? "Forget API key" : "API key";
}

document.getElementById("key-button")!.addEventListener("click", () => {
  if (getKey()) {
    setKey(null);
    announce("The API key is forgotten; the next call that needs one will ask.");
  } else {
    void askForKey("Enter the API key this tab should send.").then((ok) => {
      if (ok) void route();
    });
  }
});
document.getElementById("key-cancel")!.addEventListener("click", () => {
  (document.getElementById("key-dialog") as HTMLDialogElement).close();
});
document.addEventListener("keychange", showKeyState);
window.addEventListener("hashchange", () => void route());
showKeyState();
void route();
