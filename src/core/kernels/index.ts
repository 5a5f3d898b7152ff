import type { MatKernels } from "./kernels.js";
import { tsKernels } from "./ts-kernels.js";

/** The products layers use. A live binding: importers see what `setKernels` installs. */
export let kernels: MatKernels = tsKernels;

/** Installs another implementation (e.g. WebAssembly) for every layer from now on. */
export function setKernels(next: MatKernels): void {
  kernels = next;
}

export type { MatKernels } from "./kernels.js";
export { tsKernels } from "./ts-kernels.js";
