"""Compile or load every dlkit kernel for float32 and float64 once: ``python -m dlkit.kernels.warmup``.

Each module of ``dlkit.kernels`` that defines ``warmup(dtype)`` is run for both dtypes; the
first run on a machine compiles and writes Numba's on-disk cache, later runs (and every later
process) only load it. Prints the time per module and dtype and how many kernels were
compiled or loaded from the cache. The two dtypes compile in two processes at once (Numba
compiles one function at a time per process, and the machine has two cores); ``--jobs 1``
does everything in this process. ``--cold`` does the same with an empty temporary cache, to
measure compilation from scratch.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import subprocess
import sys
import tempfile
import time

import numpy as np

import dlkit.kernels
from dlkit.kernels import configuration

DTYPES = (np.float32, np.float64)


def kernel_modules() -> list:
    """Every module of ``dlkit.kernels`` that defines ``warmup(dtype)``, by name."""
    modules = []
    for info in sorted(pkgutil.iter_modules(dlkit.kernels.__path__), key=lambda i: i.name):
        if info.name == "warmup":
            continue
        module = importlib.import_module(f"dlkit.kernels.{info.name}")
        if callable(getattr(module, "warmup", None)):
            modules.append(module)
    return modules


def dispatchers(module) -> list:
    """The Numba-compiled functions defined in ``module``."""
    return [obj for obj in vars(module).values()
            if hasattr(obj, "py_func") and getattr(obj.py_func, "__module__", None) == module.__name__]


def _cache_counts(module) -> tuple[int, int]:
    """``(compiled, loaded)``: signatures compiled so far and signatures loaded from the cache."""
    hits = misses = 0
    for dispatcher in dispatchers(module):
        stats = getattr(dispatcher, "stats", None)
        if stats is not None:
            hits += sum(stats.cache_hits.values())
            misses += sum(stats.cache_misses.values())
    return misses, hits


def warm_all(dtypes=DTYPES, verbose: bool = True) -> float:
    """Run every module's ``warmup`` for each dtype in this process; return the time in seconds."""
    start = time.perf_counter()
    for module in kernel_modules():
        for dtype in dtypes:
            before = _cache_counts(module)
            t0 = time.perf_counter()
            module.warmup(dtype)
            seconds = time.perf_counter() - t0
            compiled, loaded = (now - then for now, then in zip(_cache_counts(module), before))
            if verbose:
                print(f"  {module.__name__:<28} {np.dtype(dtype).name:<8} {seconds:7.3f} s  "
                      f"compiled {compiled:2d}, loaded from cache {loaded:2d}")
    return time.perf_counter() - start


def warm_in_processes(env: dict | None = None, quiet: bool = False) -> int:
    """Warm each dtype in its own child process, at the same time; print their reports in order."""
    command = [sys.executable, "-m", "dlkit.kernels.warmup", "--jobs", "1"] + (["--quiet"] if quiet else [])
    children = [subprocess.Popen(command + ["--dtype", np.dtype(dtype).name], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for dtype in DTYPES]
    status = 0
    for child in children:
        output, _ = child.communicate()
        print(output, end="")
        status = status or child.returncode
    return status


def run_cold(jobs: int) -> int:
    """Run the warm-up with an empty temporary cache directory (in child processes)."""
    with tempfile.TemporaryDirectory(prefix="dlkit-cold-cache-") as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
        if jobs > 1:
            return warm_in_processes(env)
        return subprocess.call([sys.executable, "-m", "dlkit.kernels.warmup", "--jobs", "1"], env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlkit.kernels.warmup", description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="compile from scratch into an empty temporary cache")
    parser.add_argument("--quiet", action="store_true", help="print only the totals")
    parser.add_argument("--jobs", type=int, default=2, help="processes compiling at once (1 or 2; default 2)")
    parser.add_argument("--dtype", choices=[np.dtype(d).name for d in DTYPES], help="warm one dtype only")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.cold:
        status = run_cold(args.jobs)
    elif args.jobs > 1 and args.dtype is None and configuration()["jit"]:
        status = warm_in_processes(quiet=args.quiet)
    else:
        settings = configuration()
        dtypes = [np.dtype(args.dtype)] if args.dtype else DTYPES
        if not args.quiet:
            print(f"dlkit kernels ({', '.join(np.dtype(d).name for d in dtypes)}): numba {settings['numba']}, "
                  f"jit {'on' if settings['jit'] else 'off'}, cache {settings['cache_dir']}")
        seconds = warm_all(dtypes, verbose=not args.quiet)
        print(f"  ready in {seconds:.2f} s")
        return 0
    print(f"all dlkit kernels ready in {time.perf_counter() - start:.2f} s (wall time, {args.jobs} processes)")
    return status


if __name__ == "__main__":
    sys.exit(main())
