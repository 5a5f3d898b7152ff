/**
 * Worker threads cannot load TypeScript: under vitest (which runs src/*.ts) the pools use the
 * compiled twin in dist/, which the tests' global setup builds first.
 */
export function workerUrl(name: string): URL {
  const here = import.meta.url;
  return here.endsWith(".ts")
    ? new URL(`../../dist/pool/${name}.js`, here)
    : new URL(`./${name}.js`, here);
}
