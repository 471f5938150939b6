"""Run every benchmark: ``python -m benchmarks`` (what ``make bench`` runs).

In order: convolution and max-pooling kernels (:mod:`benchmarks.conv_kernels`), one epoch of the
small ResNet (:mod:`benchmarks.resnet_epoch`) and, when present, the grading throughput
(``benchmarks.grading_throughput``).

BLAS environment. Some machines set ``OPENBLAS_CORETYPE`` (and ``OPENBLAS_L2_SIZE``) for the
sake of old OpenBLAS builds; on a current NumPy that forces a slower kernel (e.g. Haswell's
AVX2 on an AVX-512 CPU) on every NumPy product. A student's machine does not set them, so the
benchmarks run in a copy of this process with both removed, and print which kernel OpenBLAS
then uses (threadpoolctl). ``--keep-blas-env`` measures with the environment as it is. Only the
benchmark's own process is affected: tests and CI never change these variables.

Timings are medians; the machine's load average is printed before and after, because another
busy process on a 2-core machine makes every multi-threaded library (OpenBLAS, PyTorch's
OpenMP, dlkit's threads) stall for whole scheduler slices.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys

BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
REEXEC_MARK = "DLKIT_BENCH_REMOVED_BLAS_ENV"


def rerun_without_blas_overrides(argv: list[str]) -> None:
    """Replace this process by the same command with the BLAS overrides removed (once)."""
    removed = {key: os.environ[key] for key in BLAS_OVERRIDES if key in os.environ}
    if not removed or REEXEC_MARK in os.environ:
        return
    env = {key: value for key, value in os.environ.items() if key not in BLAS_OVERRIDES}
    env[REEXEC_MARK] = ", ".join(f"{key}={value}" for key, value in removed.items())
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, "-m", "benchmarks", *argv], env)


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else ""


def run_grading_throughput() -> None:
    """Run ``benchmarks.grading_throughput`` if that module exists (it is written separately)."""
    if importlib.util.find_spec("benchmarks.grading_throughput") is None:
        print("\n(benchmarks.grading_throughput not present: skipped)")
        return
    importlib.import_module("benchmarks.grading_throughput").main([])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--keep-blas-env", action="store_true", help="keep OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE as set")
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--only", choices=("conv", "resnet", "grading"), action="append", help="run only these")
    args = parser.parse_args(argv)
    if not args.keep_blas_env:
        rerun_without_blas_overrides(argv)
    if os.environ.get(REEXEC_MARK):
        print(f"BLAS environment: removed {os.environ[REEXEC_MARK]} for this benchmark process only")
    print(f"start: {load_average()}")
    only = set(args.only or ("conv", "resnet", "grading"))
    if "conv" in only:
        from benchmarks import conv_kernels

        conv_kernels.main(["--quick"] if args.quick else [])
    if "resnet" in only:
        from benchmarks import resnet_epoch

        resnet_epoch.main([])
    if "grading" in only:
        run_grading_throughput()
    print(f"\nend: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
