"""Starting a grading kernel: its own processes, no network, a private read-only root, another uid, limits.

A kernel runs untrusted student code. It is started in three steps (each a process):

1. the *supervisor* (``python -I -S sandbox.py``, root): leaves the grader's mount, network, PID,
   IPC and UTS namespaces, forks the next step, reports its pid, forwards interrupts and reports
   how it ended (wait status, peak memory, CPU time);
2. *init* (pid 1 of the new PID namespace, root): builds a new root from an allowlist of host
   directories bound read-only (the system, Python and the packages the kernel imports; nothing
   else: no solutions/, no submissions, no output directory, no home directories), with private
   size-limited tmpfs for ``/tmp``, ``/dev/shm`` and the working directory, chroots into it and
   forks the kernel; when init exits every process of the namespace dies with it;
3. the *kernel* (an unprivileged uid of its own, no new privileges, resource limits): execs
   ``python -m autograde.remote`` talking to the grader over two inherited pipes.

Without root (a developer's machine) the namespaces, chroot and uid change are skipped and the
kernel runs with the grader's rights and the resource limits only; ``Kernel.isolation`` says so.

This file runs as a script for step 1 (standard library only at module level).
"""
from __future__ import annotations

import ctypes
import functools
import json
import os
import resource
import signal
import sys
import time

# Linux constants (sched.h, sys/mount.h, sys/prctl.h).
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38

UID_BASE = 1_500_000_000  # kernel uid = UID_BASE + supervisor pid: unique among running kernels
HOME = "/home/student"  # the kernel's working directory inside the sandbox
DEVICES = ("null", "zero", "full", "random", "urandom")
KERNEL_EXIT_STARTUP = 120  # init or kernel failed before exec (details in the kernel log)
KERNEL_PROGRAM = ("-m", "autograde.remote")


# ============================================================================ steps 1 to 3 (script)

def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source, target, fstype, flags, data=None) -> None:
    enc = (lambda s: None if s is None else s.encode())
    _check(_libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {source} on {target}")


def _prctl(option: int, value: int) -> None:
    if sys.platform.startswith("linux"):  # elsewhere (a developer's Mac) there is no prctl: nothing to set
        _check(_libc().prctl(option, ctypes.c_ulong(value), 0, 0, 0), f"prctl {option}")


def _supervisor_main() -> None:
    """Step 1: read the spec from stdin, unshare, fork init, report, wait, report."""
    spec = json.loads(sys.stdin.read())
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if spec["isolate"]:
        flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
        _check(_libc().unshare(flags), "unshare")
    uid = UID_BASE + os.getpid()
    pid = os.fork()
    if pid == 0:
        _run_child(_init_main, spec, uid)
    for fd in spec["kernel_fds"]:
        os.close(fd)
    print(json.dumps({"pid": pid, "uid": uid}), flush=True)
    signal.signal(signal.SIGINT, lambda *_: os.kill(pid, signal.SIGINT))
    # Isolated, killing init ends its PID namespace. Otherwise init must end the kernel's group itself.
    stop = signal.SIGKILL if spec["isolate"] else signal.SIGTERM
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, stop))
    _, status, usage = os.wait4(pid, 0)
    print(json.dumps({"status": status, "maxrss_kib": usage.ru_maxrss,
                      "cpu_s": usage.ru_utime + usage.ru_stime}), flush=True)


def _run_child(main, *args) -> None:
    """Run ``main`` in a forked child; never return (a failure is logged and exits with 120)."""
    try:
        main(*args)
    except BaseException:  # noqa: BLE001 - a child must never return into its parent's code
        import traceback
        traceback.print_exc()
        sys.stderr.flush()
    os._exit(KERNEL_EXIT_STARTUP)


def _init_main(spec: dict, uid: int) -> None:
    """Step 2: build and enter the private root, fork the kernel, wait for it, exit as it did."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    log_fd = os.open(spec["log"], os.O_WRONLY | os.O_APPEND)
    if spec["isolate"]:
        _build_root(spec, uid)
        os.chroot(spec["root"])
        os.chdir(HOME)
    else:
        os.chdir(spec["workdir"])
    pid = os.fork()
    if pid == 0:
        _run_child(_kernel_main, spec, uid, log_fd)
    os.close(log_fd)
    for fd in spec["kernel_fds"]:
        os.close(fd)
    signal.signal(signal.SIGINT, lambda *_: os.kill(pid, signal.SIGINT))
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    status = _reap_until(pid)
    if not spec["isolate"]:  # no PID namespace: end what the kernel left behind in its group
        _kill_group(pid)
    os._exit(128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status))


def _reap_until(pid: int) -> int:
    """Reap every child (init adopts the namespace's orphans) until ``pid`` has ended; its status."""
    while True:
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if done == pid:
            return status


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def _kernel_main(spec: dict, uid: int, log_fd: int) -> None:
    """Step 3: limits, then the unprivileged uid, then exec the kernel program."""
    os.setsid()
    open_max = os.sysconf("SC_OPEN_MAX")  # before RLIMIT_NOFILE lowers it
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    for name, (soft, hard) in spec["rlimits"].items():
        try:
            resource.setrlimit(getattr(resource, name), (soft, hard))
        except (ValueError, OSError):
            if spec["isolate"]:  # on Linux as root every limit applies; elsewhere (a Mac) some cannot
                raise
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the log's size limit a write fails, no kill
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    if spec["isolate"]:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it: die with init
    keep = sorted(spec["kernel_fds"])
    for fd in keep:
        os.set_inheritable(fd, True)
    os.closerange(3, keep[0])
    for low, high in zip(keep, keep[1:] + [max(open_max, keep[-1] + 1)]):
        os.closerange(low + 1, high)
    os.execve(spec["argv"][0], spec["argv"], spec["env"])


def _build_root(spec: dict, uid: int) -> None:
    """Mount the private root at ``spec["root"]`` (runs in the new mount and PID namespaces)."""
    root = spec["root"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    _tmpfs(root + "/tmp", spec["tmp_bytes"], "mode=1777")  # first: allowed paths under /tmp go on top
    _tmpfs(root + HOME, spec["home_bytes"], f"mode=0700,uid={uid},gid={uid}")
    for path in spec["binds"]:
        _bind(path, root + path)
    for path in spec["hide"]:
        if os.path.isdir(root + path):
            _mount("tmpfs", root + path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
    _build_dev(root + "/dev")
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name, data in spec["home_files"].items():
        _write_owned(root + HOME, name, data, uid)
    for source, name in spec["home_copies"]:
        with open(source, "rb") as handle:
            _write_owned(root + HOME, name, handle.read(), uid)
    _mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _tmpfs(path: str, size: int, options: str) -> None:
    os.makedirs(path, exist_ok=True)
    _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(size)},{options}")


def _bind(source: str, target: str, flags: int = MS_NODEV) -> None:
    """Make ``source`` (a host path) appear read-only at ``target``; symlinks are copied as links."""
    if os.path.islink(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | flags)


def _build_dev(dev: str) -> None:
    """A minimal /dev: the harmless character devices, /dev/fd links and a private /dev/shm."""
    os.makedirs(dev)
    for name in DEVICES:
        open(f"{dev}/{name}", "a").close()
        _mount(f"/dev/{name}", f"{dev}/{name}", None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{dev}/{name}")
    _tmpfs(f"{dev}/shm", 64 << 20, "mode=1777")


def _write_owned(home: str, name: str, data, uid: int) -> None:
    """Write ``home/name`` (text or bytes; directories created), all of it owned by ``uid``."""
    path = os.path.join(home, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
    for directory in _parents_below(os.path.dirname(path), home):
        os.chown(directory, uid, uid)
    os.chown(path, uid, uid)


def _parents_below(path: str, top: str) -> list[str]:
    out = []
    while len(path) > len(top) and path.startswith(top):
        out.append(path)
        path = os.path.dirname(path)
    return out


# ============================================================================ the grader's side

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/sys/devices/system/cpu")


class SandboxError(RuntimeError):
    """The kernel could not be started (the reason is in the message)."""


def isolation_available() -> bool:
    """Can kernels be isolated here (Linux, running as root, and ``AUTOGRADE_SANDBOX`` is not ``off``)?

    ``AUTOGRADE_SANDBOX=off`` is for machines where root lacks the right to create namespaces (some
    containers): kernels then run with the grader's rights, and grading.log says so.
    """
    if os.environ.get("AUTOGRADE_SANDBOX", "").lower() == "off":
        return False
    return sys.platform.startswith("linux") and os.geteuid() == 0


def _package_dirs(*names: str) -> list[str]:
    import importlib.util
    dirs = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            dirs += list(spec.submodule_search_locations)
    return dirs


def allowed_paths() -> list[str]:
    """The host paths a kernel sees (read-only): the system, this Python, its packages, dlkit, autograde."""
    import site
    paths = list(SYSTEM_DIRS) + [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    paths += site.getsitepackages() + [os.path.dirname(os.path.realpath(sys.executable))]
    paths += _package_dirs("autograde", "dlkit")
    return _outermost(p for p in paths if os.path.lexists(p))


def _outermost(paths) -> list[str]:
    """Absolute normalized paths, dropping any that lies inside another (a recursive bind covers it)."""
    out: list[str] = []
    for path in sorted({os.path.normpath(os.path.abspath(p)) for p in paths}):
        if not any(path == kept or path.startswith(kept.rstrip("/") + "/") for kept in out):
            out.append(path)
    return out


def _kernel_env(home: str, python_path: list[str]) -> dict:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "USER": "student", "LOGNAME": "student",
        "LANG": "C.UTF-8", "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{home}/.config/matplotlib",
        "IPYTHONDIR": f"{home}/.ipython", "NUMBA_CACHE_DIR": f"{home}/{NUMBA_CACHE}",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "DLKIT_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": os.pathsep.join(python_path),
    }


@functools.lru_cache(maxsize=None)
def _home_files() -> dict:
    """Small files copied into the kernel's home: matplotlib's font cache (saves ~1 s per kernel)."""
    try:
        import glob

        import matplotlib
        cache = glob.glob(os.path.join(matplotlib.get_cachedir(), "fontlist-*.json"))
    except Exception:  # noqa: BLE001 - an optimisation only
        return {}
    files = {}
    for path in cache[:1]:
        with open(path, encoding="utf-8") as handle:
            files[".config/matplotlib/" + os.path.basename(path)] = handle.read()
    return files


NUMBA_CACHE = ".cache/numba"  # the kernel's NUMBA_CACHE_DIR, under its home


def _numba_cache_copies() -> list[tuple[str, str]]:
    """dlkit's compiled Numba kernels (``__pycache__/*.nbi, *.nbc``) as (host file, place in the kernel's home).

    Numba only uses a cache it can write to, and dlkit's ``__pycache__`` is read-only in the kernel,
    so the files are copied where Numba looks for them under ``NUMBA_CACHE_DIR``: a folder named
    ``<source dir name>_<sha1 of the source dir>``. Without them every submission compiles every
    kernel it uses again (seconds per notebook).
    """
    import glob
    import hashlib
    copies = []
    for package in _package_dirs("dlkit"):
        for cache in glob.glob(os.path.join(package, "**", "__pycache__"), recursive=True):
            source_dir = os.path.dirname(os.path.abspath(cache))
            folder = f"{os.path.basename(source_dir)}_{hashlib.sha1(source_dir.encode()).hexdigest()}"
            for path in sorted(glob.glob(os.path.join(cache, "*.nb[ic]"))):
                if os.path.isfile(path) and not os.path.islink(path):
                    copies.append((path, f"{NUMBA_CACHE}/{folder}/{os.path.basename(path)}"))
    return copies


class Kernel:
    """A running sandboxed kernel process and the pipes to talk to it.

    Use ``Kernel.start(...)``; ``read_fd``/``write_fd`` carry the protocol of ``autograde.remote``.
    """

    def __init__(self, popen, read_fd: int, write_fd: int, isolation: str, log_path: str):
        self.popen, self.read_fd, self.write_fd = popen, read_fd, write_fd
        self.isolation, self.log_path = isolation, log_path
        self.uid = None
        self._exit = None

    @classmethod
    def start(cls, scratch_dir, *, memory_bytes: int, cpu_s: float, output_bytes: int,
              hide=(), isolate: bool | None = None, startup_timeout_s: float = 30.0,
              home_bytes: int = 256 << 20, program: tuple = KERNEL_PROGRAM) -> "Kernel":
        """Start a kernel whose files live in ``scratch_dir`` (an empty directory of the grader's).

        Parameters
        ----------
        scratch_dir : path
            Holds ``kernel.log`` (the kernel's own stdout/stderr, capped at ``output_bytes``)
            and the empty mount point of the private root.
        memory_bytes, cpu_s, output_bytes : int, float, int
            Address-space limit, CPU-time limit (SIGXCPU, then SIGKILL 2 s later), log size limit.
        hide : sequence of paths
            Directories to cover with an empty tmpfs should they lie inside an allowed path.
        isolate : bool, optional
            Default: isolate when possible (root on Linux). True without root raises SandboxError.
        program : tuple of str
            The interpreter's arguments (the pipe numbers follow as ``--read-fd R --write-fd W``).
        """
        import subprocess
        isolate = isolation_available() if isolate is None else isolate
        if isolate and not isolation_available():
            raise SandboxError("isolating a kernel needs root on Linux")
        scratch = os.path.abspath(os.fspath(scratch_dir))
        log_path, root = os.path.join(scratch, "kernel.log"), os.path.join(scratch, "root")
        os.makedirs(root, exist_ok=True)
        open(log_path, "w").close()
        to_kernel_r, to_kernel_w = os.pipe()
        from_kernel_r, from_kernel_w = os.pipe()
        kernel_fds = [to_kernel_r, from_kernel_w]
        python_path = [os.path.dirname(p) for p in _package_dirs("autograde", "dlkit")]
        home = HOME if isolate else scratch
        spec = {
            "isolate": isolate, "root": root, "workdir": scratch, "log": log_path, "kernel_fds": kernel_fds,
            "binds": allowed_paths() if isolate else [], "hide": [os.path.abspath(os.fspath(h)) for h in hide],
            "tmp_bytes": 64 << 20, "home_bytes": home_bytes, "home_files": _home_files() if isolate else {},
            "home_copies": _numba_cache_copies() if isolate else [],
            "argv": [sys.executable, *program, "--read-fd", str(to_kernel_r),
                     "--write-fd", str(from_kernel_w), "--output-bytes", str(int(output_bytes))]
                    + (["--end-strays"] if isolate and program == KERNEL_PROGRAM else []),
            "env": _kernel_env(home, python_path),
            "rlimits": _rlimits(memory_bytes, cpu_s, output_bytes, per_uid=isolate),
        }
        with open(log_path, "a") as log:
            popen = subprocess.Popen([sys.executable, "-I", "-S", os.path.abspath(__file__)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                     pass_fds=kernel_fds, close_fds=True)
        os.close(to_kernel_r)
        os.close(from_kernel_w)
        kernel = cls(popen, from_kernel_r, to_kernel_w, "namespaces+chroot+uid" if isolate else "none", log_path)
        try:
            popen.stdin.write(json.dumps(spec).encode())
            popen.stdin.close()
            hello = _read_line(popen.stdout.fileno(), time.monotonic() + startup_timeout_s)
            kernel.uid = json.loads(hello)["uid"] if hello else None
        except (OSError, ValueError, KeyError) as exc:
            kernel.kill()
            raise SandboxError(f"the kernel supervisor failed to start: {exc}; {kernel.log_tail()}") from exc
        if hello is None:
            kernel.kill()
            raise SandboxError(f"the kernel supervisor did not start: {kernel.log_tail()}")
        return kernel

    def interrupt(self) -> None:
        """Send SIGINT to the kernel (it raises KeyboardInterrupt in the student's code)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)

    def kill(self) -> None:
        """End the kernel and every process it started (idempotent)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)  # the supervisor SIGKILLs init: the namespace dies
            try:
                self.popen.wait(5)
            except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired
                self.popen.kill()  # init and the kernel die with it (parent-death signal)
        self.wait()

    def wait(self, timeout: float = 10.0) -> "KernelExit":
        """Wait for the kernel to end; how it ended (cached)."""
        if self._exit is None:
            self._exit = _exit_info(self.popen, timeout)
            for fd in (self.read_fd, self.write_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self.popen.stdout.close()
        return self._exit

    def log_tail(self, limit: int = 2000) -> str:
        """The end of the kernel's own output (startup errors, fatal Python errors)."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, os.path.getsize(self.log_path) - limit))
                return handle.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""


class KernelExit:
    """How a kernel ended: ``code`` (exit status), ``signal`` (killing signal or None), peak memory, CPU."""

    def __init__(self, code, sig, maxrss_bytes: int, cpu_s: float):
        self.code, self.signal, self.maxrss_bytes, self.cpu_s = code, sig, maxrss_bytes, cpu_s

    def describe(self) -> str:
        if self.signal is not None:
            return f"killed by signal {signal.Signals(self.signal).name}"
        return f"exited with code {self.code}"

    def __repr__(self) -> str:
        return f"KernelExit({self.describe()}, maxrss={self.maxrss_bytes >> 20} MiB, cpu={self.cpu_s:.1f} s)"


def _exit_info(popen, timeout: float) -> KernelExit:
    line = _read_line(popen.stdout.fileno(), time.monotonic() + timeout)
    try:
        popen.wait(timeout)
    except Exception:  # noqa: BLE001
        popen.kill()
        popen.wait()
    try:
        info = json.loads(line) if line else {}
    except ValueError:
        info = {}
    status = info.get("status")
    if status is None:  # the supervisor itself was killed
        return KernelExit(None, signal.SIGKILL, 0, 0.0)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    sig = code - 128 if code > 128 else None  # init exits with 128 + the kernel's signal
    return KernelExit(None if sig else code, sig, int(info.get("maxrss_kib", 0)) * 1024, float(info.get("cpu_s", 0.0)))


def _read_line(fd: int, deadline: float) -> str | None:
    """Read one line from ``fd`` before ``deadline``; None on EOF or timeout."""
    import select
    data = b""
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return None
        chunk = os.read(fd, 1)
        if not chunk:
            return None
        data += chunk
    return data.decode()


def _rlimits(memory_bytes: int, cpu_s: float, output_bytes: int, *, per_uid: bool) -> dict:
    """Resource limits of the kernel. Files (the log included) may reach 64 MiB or ``output_bytes``."""
    cpu, fsize = max(1, int(cpu_s)), max(int(output_bytes), 64 << 20)
    limits = {
        "RLIMIT_AS": (int(memory_bytes), int(memory_bytes)),
        "RLIMIT_CPU": (cpu, cpu + 2),
        "RLIMIT_FSIZE": (fsize, fsize),
        "RLIMIT_CORE": (0, 0),
        "RLIMIT_NOFILE": (256, 256),
        "RLIMIT_MEMLOCK": (64 << 10, 64 << 10),
    }
    if per_uid:  # counts the processes of the kernel's own uid only when it has one
        limits["RLIMIT_NPROC"] = (256, 256)
    return limits


if __name__ == "__main__":
    _supervisor_main()
