"""Configuration of dlkit's Numba kernels: threading layer, on-disk cache location, dtypes.

The kernels themselves live one module per family of operations (``dlkit.kernels.conv``,
``dlkit.kernels.pooling``, ...). Each is a plain Numba function that takes only arrays and
integers, compiled lazily with ``cache=True`` the first time it meets a dtype (float32 or
float64), so a fresh process loads machine code from disk instead of compiling again
(``python -m dlkit.kernels.warmup`` fills that cache for every kernel and both dtypes).

Importing this package, before any Numba thread starts, settles these things:

* **Threads.** The kernels do not use Numba's parallel loops: :func:`run_batch_split` gives
  parts of a batch to a small pool of Python threads (``DLKIT_NUM_THREADS``, default: the
  CPUs this process may use), the kernels releasing the GIL, and limits BLAS to one thread
  per call meanwhile (:func:`single_threaded_blas`), so exactly one busy thread runs per core.
  Spinning pools that fight over the cores (OpenMP's, OpenBLAS's) turned 1 ms convolutions
  into 10 ms ones here. For other Numba code in the process, unless ``NUMBA_THREADING_LAYER``
  is already set, dlkit selects Numba's ``workqueue`` layer, whose idle threads sleep.
* **Cache directory.** Numba writes its cache beside the source (``__pycache__``), then in
  the user's cache directory. When neither is writable (a read-only install in a sandbox
  with no home directory) Numba would refuse to define the kernels at all; dlkit then sets
  ``NUMBA_CACHE_DIR`` to a writable directory (``$XDG_CACHE_HOME/dlkit/numba``,
  ``~/.cache/dlkit/numba`` or a per-user folder in the temporary directory).
  An explicit ``NUMBA_CACHE_DIR`` is always respected.
* **Memory reuse.** A convolution allocates arrays of a few MB on every call. glibc returns
  such blocks to the system when they are freed and the next call pays a page fault per 4 KB
  again (measured: 4 ms instead of 0.5 ms for three 7 MB arrays). On glibc dlkit raises the
  allocator's mmap and trim thresholds (``mallopt``) so freed blocks are reused, as
  deep-learning frameworks' caching allocators do; ``DLKIT_KEEP_MALLOC=1`` leaves them alone.
* **Dtypes.** :func:`float_dtype` and :func:`as_float` pick float32 when every input is
  float32 and float64 otherwise, so float32 in means float32 out.

``NUMBA_DISABLE_JIT=1`` turns every kernel back into the Python function it is written as:
slow, but steppable in a debugger and checked by the same tests.
"""
from __future__ import annotations

import ctypes
import os
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_THREADING_LAYER = "workqueue"
IMPLEMENTATIONS = ("fast", "reference")


def is_writable_dir(path: str | os.PathLike) -> bool:
    """Return True when ``path`` exists (or can be created) and a file can be written in it."""
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return False
    return True


def fallback_cache_dir() -> Path | None:
    """Return the first writable directory for Numba's cache outside the package, or None."""
    candidates = []
    if os.environ.get("XDG_CACHE_HOME"):
        candidates.append(Path(os.environ["XDG_CACHE_HOME"]) / "dlkit" / "numba")
    candidates.append(Path.home() / ".cache" / "dlkit" / "numba")
    user = str(os.getuid()) if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    candidates.append(Path(tempfile.gettempdir()) / f"dlkit-numba-{user}")
    return next((path for path in candidates if is_writable_dir(path)), None)


def choose_cache_dir(package_dir: str | os.PathLike = PACKAGE_DIR) -> Path | None:
    """Return the directory to force as ``NUMBA_CACHE_DIR``, or None to keep Numba's default.

    None when the user already set ``NUMBA_CACHE_DIR`` or when the package's own
    ``__pycache__`` is writable (the normal case for a checkout or an editable install).
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    if is_writable_dir(Path(package_dir) / "__pycache__"):
        return None
    return fallback_cache_dir()


def _configure_numba_environment() -> None:
    """Set the threading layer and cache directory through the environment Numba reads."""
    os.environ.setdefault("NUMBA_THREADING_LAYER", DEFAULT_THREADING_LAYER)
    cache_dir = choose_cache_dir()
    if cache_dir is not None:
        os.environ["NUMBA_CACHE_DIR"] = str(cache_dir)
    if "numba" in sys.modules:  # imported before dlkit: make it read the environment again
        from numba.core import config

        config.reload_config()


def _keep_freed_memory(threshold: int = 1 << 28) -> bool:
    """Ask glibc to serve blocks below ``threshold`` bytes from the heap and keep them when freed."""
    if os.environ.get("DLKIT_KEEP_MALLOC") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # from malloc.h
        return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2 * threshold))
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return False


_configure_numba_environment()
MALLOC_TUNED = _keep_freed_memory()

import numba  # noqa: E402  (must follow the environment set-up above)


def jit(function):
    """Compile ``function`` lazily with Numba: nopython, ``cache=True``, GIL released.

    Signatures are not given, so a kernel is compiled (or loaded from the cache) once per
    dtype the first time it is called with it.
    """
    return numba.njit(cache=True, nogil=True)(function)


def jit_enabled() -> bool:
    """Return False when ``NUMBA_DISABLE_JIT`` makes kernels run as plain Python."""
    return not numba.config.DISABLE_JIT


def float_dtype(*arrays) -> np.dtype:
    """Return float32 when every array is float32, float64 otherwise (ints, mixed, float16).

    >>> float_dtype(np.zeros(2, np.float32), np.ones(3, np.float32))
    dtype('float32')
    >>> float_dtype(np.zeros(2, np.float32), np.ones(3))
    dtype('float64')
    """
    if arrays and all(np.asarray(a).dtype == np.float32 for a in arrays):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def as_float(array, dtype) -> np.ndarray:
    """Return ``array`` as a C-contiguous array of ``dtype``, copying only when needed."""
    return np.ascontiguousarray(array, dtype=dtype)


def check_implementation(implementation: str) -> str:
    """Return ``implementation`` if it is "fast" or "reference", else raise ``ValueError``."""
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f'implementation must be "fast" or "reference", got {implementation!r}')
    return implementation


def configuration() -> dict:
    """Return what the kernels run with: JIT on/off, threading layer, cache dir, BLAS."""
    return {
        "jit": jit_enabled(),
        "numba": numba.__version__,
        "threading_layer_requested": numba.config.THREADING_LAYER,
        "cache_dir": numba.config.CACHE_DIR or str(PACKAGE_DIR / "__pycache__"),
        "threads": num_threads(),
        "malloc_tuned": MALLOC_TUNED,
    }


_CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def num_threads() -> int:
    """Threads the batch-split kernels use: ``DLKIT_NUM_THREADS`` or the CPUs this process may use."""
    if os.environ.get("DLKIT_NUM_THREADS"):
        return max(1, int(os.environ["DLKIT_NUM_THREADS"]))
    return _CPUS


_pool: ThreadPoolExecutor | None = None


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    """The process-wide pool of helper threads, created on first use (threads sleep when idle)."""
    global _pool
    if _pool is None or _pool._max_workers < workers:
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dlkit-kernel")
    return _pool


def run_batch_split(kernel, m: int, *args, min_work: int = 0, work: int = 0, blas: bool = False) -> list:
    """Run ``kernel(*args, start, stop)`` over examples ``0:m``, in parts on several threads.

    The kernel must release the GIL (Numba ``nogil`` kernels and NumPy products do) and touch
    only the examples it is given. The calling thread takes the first part. Runs in the calling
    thread alone when there is one CPU, one example, or less ``work`` (any measure, e.g.
    numbers written) than ``min_work``. Returns the parts' return values, in order.

    ``blas=True`` says the kernel calls BLAS; each BLAS call then runs on one thread, except
    for one large part (a single example): parts and BLAS threads must not fight over the
    cores, and multi-threaded OpenBLAS stalls on small products (seen here: 8 ms for a
    float32 product of 0.1 ms).
    """
    threads = min(num_threads(), m)
    if threads <= 1 or work < min_work or not jit_enabled():
        with single_threaded_blas(blas and (work < min_work or num_threads() > 1)):
            return [kernel(*args, 0, m)]
    bounds = [m * t // threads for t in range(threads + 1)]
    pool = _thread_pool(threads - 1)
    with single_threaded_blas(blas):
        futures = [pool.submit(kernel, *args, bounds[t], bounds[t + 1]) for t in range(1, threads)]
        first = kernel(*args, bounds[0], bounds[1])
        return [first] + [future.result() for future in futures]


def _load_numba_blas() -> None:
    """Load the BLAS that Numba's ``np.dot`` calls (SciPy's), so that threadpoolctl sees it too."""
    try:
        import scipy.linalg.cython_blas  # noqa: F401
    except ImportError:  # no SciPy: Numba's np.dot is unavailable and the kernels say so when compiled
        pass


_blas_controller = None
_blas_lock = threading.Lock()
_blas_users = 0
_blas_saved: list[int] = []


@contextmanager
def single_threaded_blas(active: bool = True):
    """Within the block, BLAS (NumPy's and SciPy's, found by threadpoolctl) runs each call on one thread.

    Safe to nest and to enter from several threads: the first to enter saves BLAS's thread
    counts, the last to leave restores them. (Seen with OpenBLAS 0.3.31: once its pool is
    running, only the main thread's setting takes effect, for every thread; the usual caller,
    ``run_batch_split`` on the main thread, is such a case.)
    """
    global _blas_controller, _blas_users, _blas_saved
    if not active:
        yield
        return
    with _blas_lock:
        if _blas_controller is None:
            from threadpoolctl import ThreadpoolController

            _load_numba_blas()
            _blas_controller = ThreadpoolController().select(user_api="blas").lib_controllers
        if _blas_users == 0:
            _blas_saved = [lib.get_num_threads() for lib in _blas_controller]
            for lib in _blas_controller:
                lib.set_num_threads(1)
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                for lib, threads in zip(_blas_controller, _blas_saved):
                    lib.set_num_threads(threads)
