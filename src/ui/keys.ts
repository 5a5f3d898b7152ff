/**
 * The API key, kept for this tab only (sessionStorage: gone when the tab closes) and sent as
 * `Authorization: Bearer` on every call, event streams included. Never put in a URL.
 */
const STORAGE = "backprop.apiKey";

export const getKey = (): string | null => sessionStorage.getItem(STORAGE);

export function setKey(key: string | null): void {
  if (key) sessionStorage.setItem(STORAGE, key);
  else sessionStorage.removeItem(STORAGE);
  document.dispatchEvent(new CustomEvent("keychange"));
}

let asking: Promise<boolean> | null = null;

/**
 * Opens the key dialog; resolves true once a key is entered, false if the user dismisses it.
 * Calls that fail at once share one dialog.
 */
export function askForKey(reason: string): Promise<boolean> {
  asking ??= new Promise<boolean>((resolve) => {
    const dialog = document.getElementById("key-dialog") as HTMLDialogElement;
    const form = dialog.querySelector("form")!;
    const input = dialog.querySelector<HTMLInputElement>("#key-input")!;
    dialog.querySelector("#key-reason")!.textContent = reason;
    input.value = "";
    const done = (ok: boolean) => {
      form.removeEventListener("submit", submit);
      dialog.removeEventListener("close", close);
      if (dialog.open) dialog.close();
      asking = null;
      resolve(ok);
    };
    const submit = (event: Event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      setKey(key);
      done(true);
    };
    const close = () => done(false);
    form.addEventListener("submit", submit);
    dialog.addEventListener("close", close);
    dialog.showModal();
    input.focus();
  });
  return asking;
}
