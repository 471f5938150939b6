"""Tests of dlkit.kernels: configuration, cache-directory fallback, no-JIT mode, batch splitting, warm-up."""
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import dlkit.kernels as kernels
from dlkit.kernels import warmup

pytestmark = pytest.mark.lesson12

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, env_changes: dict, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with the environment changed as given (None removes)."""
    env = {key: value for key, value in os.environ.items() if key not in env_changes}
    env.update({key: value for key, value in env_changes.items() if value is not None})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_float_dtype_keeps_float32_only_when_all_inputs_are():
    """Is float32 chosen only when every input is float32?"""
    f32, f64 = np.zeros(1, np.float32), np.zeros(1)
    assert kernels.float_dtype(f32, f32) == np.float32
    assert kernels.float_dtype(f32, f64) == np.float64
    assert kernels.float_dtype(np.zeros(1, int)) == np.float64


def test_as_float_copies_only_when_needed():
    """Does as_float return the same array when it already fits, and a contiguous copy otherwise?"""
    x = np.zeros((3, 4), np.float32)
    assert kernels.as_float(x, np.float32) is x
    y = kernels.as_float(x.T, np.float64)
    assert y.flags.c_contiguous and y.dtype == np.float64


def test_check_implementation():
    """Are "fast" and "reference" accepted and anything else refused?"""
    assert kernels.check_implementation("fast") == "fast"
    with pytest.raises(ValueError, match="reference"):
        kernels.check_implementation("numba")


def test_threading_layer_is_workqueue_unless_chosen():
    """Does importing dlkit.kernels select the workqueue layer, and respect a user's choice?"""
    code = "import dlkit.kernels, numba; print(numba.config.THREADING_LAYER)"
    assert run_python(code, {"NUMBA_THREADING_LAYER": None}).stdout.strip() == "workqueue"
    assert run_python(code, {"NUMBA_THREADING_LAYER": "omp"}).stdout.strip() == "omp"


def test_cache_dir_kept_when_package_is_writable(tmp_path, monkeypatch):
    """With a writable package directory and no NUMBA_CACHE_DIR, is Numba's default kept?"""
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert kernels.choose_cache_dir(tmp_path) is None


def test_cache_dir_falls_back_when_package_is_read_only(tmp_path, monkeypatch):
    """When the package directory cannot be written, is a writable user cache directory chosen?"""
    blocker = tmp_path / "file"
    blocker.write_text("a file where the package's __pycache__ directory would go")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    chosen = kernels.choose_cache_dir(blocker)
    assert chosen == tmp_path / "xdg" / "dlkit" / "numba" and chosen.is_dir()


def test_explicit_numba_cache_dir_is_respected(tmp_path, monkeypatch):
    """Is a NUMBA_CACHE_DIR set by the user never overridden?"""
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert kernels.choose_cache_dir(tmp_path / "missing" / "x") is None


def test_read_only_install_caches_in_temporary_directory(tmp_path):
    """With no writable package dir nor home, do kernels still compile and cache in the temp dir?"""
    package = tmp_path / "site" / "dlkit"
    shutil.copytree(ROOT / "dlkit", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "kernels" / "__pycache__").write_text("not a directory: nothing can be cached here")
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    temp = tmp_path / "tmp"
    temp.mkdir()
    code = """
        import numpy as np, numba
        from dlkit import pooling
        A, _ = pooling.pool_forward(np.ones((1, 2, 2, 1)), {"f": 2, "stride": 2})
        print(A.ravel()[0], numba.config.CACHE_DIR)
    """
    result = run_python(code, {"PYTHONPATH": str(package.parent), "HOME": str(home), "TMPDIR": str(temp),
                               "XDG_CACHE_HOME": None, "NUMBA_CACHE_DIR": None, "NUMBA_DISABLE_JIT": None},
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    value, cache_dir = result.stdout.split()
    assert value == "1.0" and Path(cache_dir).parent == temp
    assert list(Path(cache_dir).rglob("*.nbi")), "no kernel was written to the fallback cache"


def test_public_functions_run_with_jit_disabled():
    """With NUMBA_DISABLE_JIT=1, do the fast paths still run (as Python) and equal the reference?"""
    code = """
        import numpy as np, numba
        from dlkit import conv, pooling
        from dlkit.gradcheck import rel_error
        assert numba.config.DISABLE_JIT
        rng = np.random.default_rng(0)
        A, W, b = rng.standard_normal((2, 5, 4, 2)), rng.standard_normal((3, 3, 2, 3)), rng.standard_normal((1, 1, 1, 3))
        hp = {"stride": 2, "pad": 1}
        for implementation in ("fast", "reference"):
            Z, cache = conv.conv_forward(A, W, b, hp, implementation=implementation)
            grads = conv.conv_backward(np.ones_like(Z), cache, implementation=implementation)
            P, pcache = pooling.pool_forward(A, {"f": 2, "stride": 1}, implementation=implementation)
            dP = pooling.pool_backward(np.ones_like(P), pcache, implementation=implementation)
            if implementation == "fast":
                fast = (Z, *grads, P, dP)
        reference = (Z, *grads, P, dP)
        print(max(rel_error(x, y) for x, y in zip(fast, reference)))
    """
    result = run_python(code, {"NUMBA_DISABLE_JIT": "1"})
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 1e-10


def test_run_batch_split_covers_every_example_once(monkeypatch):
    """Does run_batch_split hand each example to exactly one part, in order, across threads?"""
    monkeypatch.setenv("DLKIT_NUM_THREADS", "3")
    monkeypatch.setattr(kernels, "jit_enabled", lambda: True)  # also under NUMBA_DISABLE_JIT=1
    seen = []
    kernels.run_batch_split(lambda out, start, stop: out.append((start, stop)), 10, seen, work=1, min_work=0)
    assert sorted(seen) == [(0, 3), (3, 6), (6, 10)]
    seen.clear()
    kernels.run_batch_split(lambda out, start, stop: out.append((start, stop)), 10, seen, work=1, min_work=5)
    assert seen == [(0, 10)]


def test_warmup_covers_every_kernel():
    """Does the warm-up compile every Numba kernel of every kernel module for both dtypes?"""
    modules = warmup.kernel_modules()
    assert {"dlkit.kernels.conv", "dlkit.kernels.pooling"} <= {module.__name__ for module in modules}
    warmup.warm_all(verbose=False)
    for module in modules:
        for dispatcher in warmup.dispatchers(module):
            if dispatcher.__name__.startswith("_"):  # private helpers compile inside the kernels calling them
                continue
            assert dispatcher.signatures, f"{module.__name__}.{dispatcher.__name__} was never compiled"
            dtypes = {str(arg.dtype) for signature in dispatcher.signatures for arg in signature
                      if hasattr(arg, "dtype")}
            if dtypes:  # kernels on arrays, not helpers on integers
                assert {"float32", "float64"} <= dtypes, f"{module.__name__}.{dispatcher.__name__}: {dtypes}"


def test_warmup_command_runs():
    """Does `python -m dlkit.kernels.warmup --jobs 1 --quiet` finish and report a time?"""
    result = subprocess.run([sys.executable, "-m", "dlkit.kernels.warmup", "--jobs", "1", "--quiet"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "ready in" in result.stdout


def test_single_threaded_blas_restores_thread_counts():
    """Inside, does BLAS run on one thread, and after nested and concurrent uses are its counts restored?"""
    import threading

    from threadpoolctl import threadpool_info

    before = threadpool_info()
    with kernels.single_threaded_blas():
        with kernels.single_threaded_blas():
            assert {lib.get_num_threads() for lib in kernels._blas_controller} == {1}

        def use():
            with kernels.single_threaded_blas():
                pass

        workers = [threading.Thread(target=use) for _ in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert kernels._blas_users == 1
    assert kernels._blas_users == 0
    assert threadpool_info() == before
