import { h } from "../dom.js";
import type { Page } from "../types.js";

/** Previous / next over the API's cursors (it gives only "next": earlier cursors are kept). */
export function pager<T>(
  load: (cursor: string | null) => Promise<Page<T>>,
  render: (page: Page<T>) => void,
) {
  const cursors: (string | null)[] = [null];
  let next: string | null = null;
  const previous = h("button", { type: "button", disabled: true }, "Previous page");
  const following = h("button", { type: "button", disabled: true }, "Next page");
  const element = h("div", { class: "pager" }, previous, following);
  const reload = async () => {
    const page = await load(cursors[cursors.length - 1]);
    next = page.nextCursor;
    previous.disabled = cursors.length === 1;
    following.disabled = next === null;
    render(page);
  };
  previous.addEventListener("click", () => {
    cursors.pop();
    void reload();
  });
  following.addEventListener("click", () => {
    if (next === null) return;
    cursors.push(next);
    void reload();
  });
  return { element, reload };
}
