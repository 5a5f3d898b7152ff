"""The numpy side of `npm run bench`: the products behind Affine and the book's training step
(`TwoLayerNet.step` of two_layer_net.py), timed here so the bench can set our kernels beside numpy
in one run. The bench runs it with OPENBLAS_NUM_THREADS=1, once per round.

usage: python3 products.py < work.json  -> one JSON line on stdout
  work:   {"products": [{"id", "kind": "NN"|"NT"|"TN", "m", "k", "n", "dtype"}],
           "steps": [{"id", "dtype", "mnistRows"?}], "mnistDir", "budgetMs", "maxReps"}
  answer: {"numpy": version, "blas": {"kernel", "threads"} | null, "times": {id: [ms, ...]}}
"""
import ctypes
import json
import sys
import time

import numpy as np

from two_layer_net import TwoLayerNet, load


def product(kind, m, k, n, dtype, rng):
    """out[m×n] as the bench stores its operands: NT multiplies by bᵀ, TN by aᵀ (views, no copy)."""
    a = rng.uniform(-1, 1, (k, m) if kind == "TN" else (m, k)).astype(dtype)
    b = rng.uniform(-1, 1, (n, k) if kind == "NT" else (k, n)).astype(dtype)
    if kind == "NT":
        return lambda: a @ b.T
    if kind == "TN":
        return lambda: a.T @ b
    return lambda: a @ b


def training_step(dtype, rng, mnist=None):
    """One SGD step of 784-50-10 at batch 100: forward, loss, backward, update (the book's), on
    uniform x or on MNIST's train images at the given rows."""
    net = TwoLayerNet(0.01, rng)
    for name in ("W1", "b1", "W2", "b2"):
        setattr(net, name, getattr(net, name).astype(dtype))
    if mnist is None:
        x = np.abs(rng.uniform(-1, 1, (100, 784))).astype(dtype)
        t = rng.integers(0, 10, 100)
    else:
        x_train, t_train = load(mnist["dir"], "train")
        x, t = x_train[mnist["rows"]].astype(dtype), t_train[mnist["rows"]]
    return lambda: net.step(x, t, 0.1)


def samples(fn, budget_ms, max_reps):
    """Milliseconds of repeated calls after one warm-up: at least one, until the budget is spent."""
    fn()
    times = []
    started = time.perf_counter()
    while len(times) < max_reps and (
        not times or (time.perf_counter() - started) * 1e3 < budget_ms
    ):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def blas():
    """The OpenBLAS kernel and thread count numpy runs with (threadpoolctl's answer, without it)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line}
    for path in paths:
        lib = ctypes.CDLL(path)
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                core = getattr(lib, f"{prefix}_get_corename{suffix}", None)
                threads = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if core is not None and threads is not None:
                    core.restype = ctypes.c_char_p
                    return {"kernel": core().decode(), "threads": threads()}
    return None


def main():
    work = json.load(sys.stdin)
    rng = np.random.default_rng(1)
    runs = [
        (p["id"], product(p["kind"], p["m"], p["k"], p["n"], p["dtype"], rng))
        for p in work["products"]
    ]
    for s in work["steps"]:
        rows = s.get("mnistRows")
        mnist = None if rows is None else {"dir": work["mnistDir"], "rows": rows}
        runs.append((s["id"], training_step(s["dtype"], rng, mnist)))
    times = {id: samples(fn, work["budgetMs"], work["maxReps"]) for id, fn in runs}
    print(json.dumps({"numpy": np.__version__, "blas": blas(), "times": times}))


if __name__ == "__main__":
    main()
