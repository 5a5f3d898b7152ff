/** A small element builder: `h("a", { href }, "text")`. Strings become text nodes, never HTML. */
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(key.replace(/^on/, ""), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "object" ? child : String(child));
  }
  return el;
}

/** The view's root, emptied and titled: each view renders into it. */
export function setView(title: string, ...children: Node[]): HTMLElement {
  const main = document.getElementById("view")!;
  main.replaceChildren(...children);
  document.title = `${title} · backprop`;
  return main;
}

/** Says something to screen readers and sighted users alike, in the page's status line. */
export function announce(message: string, kind: "info" | "error" = "info"): void {
  const status = document.getElementById("status")!;
  status.textContent = message;
  status.dataset.kind = kind;
}

/**
 * Calls `draw` at most once an animation frame however often the returned function is called:
 * a job that evaluates often sends hundreds of events a second, more than a page can lay out.
 */
export function perFrame(draw: () => void): { schedule: () => void; cancel: () => void } {
  let frame = 0;
  return {
    schedule: () => {
      if (frame !== 0) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        draw();
      });
    },
    cancel: () => {
      cancelAnimationFrame(frame);
      frame = 0;
    },
  };
}

/** Sets an element's text only when it changes, so a steady value costs the page no layout. */
export function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
