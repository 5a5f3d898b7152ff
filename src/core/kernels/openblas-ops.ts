import { createRequire } from "node:module";
import type { ArrayOps } from "./array-ops.js";
import { selfCheck } from "./self-check.js";

/**
 * The OpenBLAS ops: the addon of native/openblas (the optional dependency `backprop-openblas`),
 * which opens the library at run time and works on the very typed arrays it is given, wherever
 * they lie. So a backend over them needs no arena: its tensors stay on the JS heap.
 */

/** The soname Debian's libopenblas0-pthread (and most distributions' OpenBLAS) installs. */
export const OPENBLAS_LIBRARY = "libopenblas.so.0";

/** The optional dependency native/openblas is installed as. */
export const ADDON = "backprop-openblas";

interface Addon extends ArrayOps {
  /** Opens the library once per process, pinned to one thread; its openblas_get_config(). */
  open(library: string): string;
}

export type OpenblasLoad =
  | {
      readonly ops: ArrayOps;
      /** openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64" */
      readonly config: string;
    }
  | { /** Why this path is not available, for the operator. */ readonly reason: string };

const loads = new Map<string, OpenblasLoad>();

/**
 * The ops over `library`, checked against the TypeScript reference; or why not. Loaded and
 * checked once per thread and library: the answer is a fact about this machine, not a mode.
 */
export function loadOpenblasOps(library = OPENBLAS_LIBRARY): OpenblasLoad {
  let load = loads.get(library);
  if (!load) {
    load = open(library);
    loads.set(library, load);
  }
  return load;
}

function open(library: string): OpenblasLoad {
  const require = createRequire(import.meta.url);
  let addon: Addon;
  try {
    addon = require(ADDON) as Addon;
  } catch (error) {
    return { reason: addonProblem(require, error as Error) };
  }
  let config: string;
  try {
    config = addon.open(library);
  } catch (error) {
    return {
      reason: `native BLAS not found: install libopenblas0-pthread for ${library} (${(error as Error).message})`,
    };
  }
  // The addon's functions, not the addon: `open` is no op.
  const ops: ArrayOps = {
    gemm: addon.gemm,
    gemmNT: addon.gemmNT,
    gemmTN: addon.gemmTN,
    colSum: addon.colSum,
    axpy: addon.axpy,
    momentumStep: addon.momentumStep,
    adamStep: addon.adamStep,
    addRowVector: addon.addRowVector,
    relu: addon.relu,
    reluBackward: addon.reluBackward,
    firstNonFinite: addon.firstNonFinite,
    gatherRows: addon.gatherRows,
    gatherRowsAhead: addon.gatherRowsAhead,
    gatherRowsWait: addon.gatherRowsWait,
    computing: addon.computing,
    softmaxCrossEntropy: addon.softmaxCrossEntropy,
  };
  let problem: string | null;
  try {
    problem = selfCheck(ops);
  } catch (error) {
    // An addon built from older sources lacks an op: the path is unusable, not the server.
    problem = `${(error as Error).message} (rebuild it: npm rebuild backprop-openblas)`;
  }
  if (problem) return { reason: `native BLAS (${config}) failed its self-check: ${problem}` };
  return { ops, config };
}

/** Why the addon did not load: not installed, not built, or built for another Node. */
function addonProblem(require: NodeJS.Require, error: Error): string {
  try {
    require.resolve(`${ADDON}/package.json`);
  } catch {
    return `native BLAS addon not installed (the optional dependency ${ADDON})`;
  }
  if ((error as { code?: string }).code === "MODULE_NOT_FOUND") {
    return (
      `native BLAS addon not built (npm ci builds native/openblas with node-gyp, which needs ` +
      `python3, make and a C compiler; then run npm rebuild ${ADDON})`
    );
  }
  return `native BLAS addon cannot be loaded: ${error.message.split("\n")[0]}`;
}
