"""Tests of autograde.sandbox: what a kernel can see, write, reach and use, and that it leaves nothing behind."""
from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import time
from pathlib import Path

import pytest

import autograde
from autograde import sandbox

REPO = Path(autograde.__file__).resolve().parent.parent
needs_root = pytest.mark.skipif(not sandbox.isolation_available(), reason="isolating kernels needs root on Linux")

PROBE = r'''
import json, os, resource, socket, subprocess, sys
out = {"uid": os.getuid(), "pid": os.getpid(), "cwd": os.getcwd(), "exists": {}, "write": {},
       "as": resource.getrlimit(resource.RLIMIT_AS)[0], "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
       "nnp": "NoNewPrivs:\t1" in open("/proc/self/status").read(), "procs": sorted(p for p in os.listdir("/proc") if p.isdigit()),
       "interfaces": [name for _, name in socket.if_nameindex()]}
for path in json.loads(sys.argv[1])["look"]:
    out["exists"][path] = os.path.exists(path)
for path in json.loads(sys.argv[1])["write"]:
    try:
        with open(path, "w") as handle:
            handle.write("x")
        out["write"][path] = "written"
    except OSError as error:
        out["write"][path] = type(error).__name__
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    out["net"] = "connected"
except OSError as error:
    out["net"] = str(error)
child = subprocess.Popen(["sleep", "300"], start_new_session=True)
out["child"] = child.pid
w = int(sys.argv[sys.argv.index("--write-fd") + 1])
os.write(w, json.dumps(out).encode())
os.close(w)
import time
time.sleep(300)
'''


def probe(scratch: Path, look=(), write=(), **options) -> tuple[dict, sandbox.Kernel]:
    """Start a kernel running PROBE; its report and the kernel (still running: it sleeps)."""
    argument = json.dumps({"look": [str(p) for p in look], "write": [str(p) for p in write]})
    kernel = sandbox.Kernel.start(scratch, memory_bytes=1 << 30, cpu_s=30, output_bytes=1 << 16,
                                  program=("-c", PROBE, argument), **options)
    data, deadline = b"", time.monotonic() + 60
    while time.monotonic() < deadline:
        chunk = os.read(kernel.read_fd, 1 << 16)
        if not chunk:
            break
        data += chunk
    assert data, kernel.log_tail()
    return json.loads(data), kernel


def host_processes_of(uid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"Uid:\t{uid}\t" in status:
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def isolated(tmp_path_factory):
    """One isolated probe run (the checks below read its report)."""
    if not sandbox.isolation_available():
        pytest.skip("isolating kernels needs root on Linux")
    base = tmp_path_factory.mktemp("sandbox")
    secret = base / "secret.txt"
    secret.write_text("do not read")
    look = [secret, REPO / "solutions", REPO / ".git", REPO / "tests", REPO / "pyproject.toml",
            REPO / "dlkit" / "__init__.py", REPO / "autograde" / "remote.py", "/root/.bashrc", "/etc/passwd"]
    write = [REPO / "dlkit" / "owned.py", "/etc/owned", "/home/student/mine.txt", "/tmp/mine.txt", "/dev/shm/mine"]
    report, kernel = probe(base / "scratch", look, write)
    yield {"report": report, "kernel": kernel, "secret": str(secret)}
    kernel.kill()


@needs_root
def test_kernel_runs_as_its_own_unprivileged_user(isolated):
    """Does the kernel run as a non-root uid without the right to gain privileges?"""
    report = isolated["report"]
    assert report["uid"] == isolated["kernel"].uid and report["uid"] >= sandbox.UID_BASE
    assert report["nnp"]


@needs_root
def test_kernel_sees_only_what_it_needs(isolated):
    """Are solutions, .git, tests, the host's temporary files and root's home invisible, dlkit and Python visible?"""
    exists = isolated["report"]["exists"]
    hidden = [isolated["secret"], REPO / "solutions", REPO / ".git", REPO / "tests", REPO / "pyproject.toml", "/root/.bashrc"]
    assert not any(exists[str(p)] for p in hidden), exists
    assert all(exists[str(p)] for p in (REPO / "dlkit" / "__init__.py", REPO / "autograde" / "remote.py", "/etc/passwd"))


@needs_root
def test_kernel_writes_only_to_its_own_space(isolated):
    """Can the kernel write its home, /tmp and /dev/shm (private) but nothing of the host?"""
    written = isolated["report"]["write"]
    assert written[str(REPO / "dlkit" / "owned.py")] != "written" and written["/etc/owned"] != "written"
    assert (written["/home/student/mine.txt"], written["/tmp/mine.txt"], written["/dev/shm/mine"]) == ("written",) * 3
    assert not (REPO / "dlkit" / "owned.py").exists() and not Path("/tmp/mine.txt").exists()


@needs_root
def test_kernel_has_no_network(isolated):
    """Is the kernel alone in a network namespace with only a loopback that is down?"""
    report = isolated["report"]
    assert report["interfaces"] == ["lo"] and report["net"] != "connected"


@needs_root
def test_kernel_sees_only_its_own_processes(isolated):
    """Is the kernel in its own PID namespace (init, itself, its children)?"""
    report = isolated["report"]
    assert report["pid"] == 2 and len(report["procs"]) <= 4


@needs_root
def test_limits_apply(isolated):
    """Are the address-space and CPU limits set in the kernel?"""
    report = isolated["report"]
    assert report["as"] == 1 << 30 and report["cpu"] == 30


@needs_root
def test_killing_the_kernel_ends_all_it_started(tmp_path):
    """After kill(), is no process of the kernel's uid (its detached child included) left on the host?"""
    report, kernel = probe(tmp_path)
    assert len(host_processes_of(kernel.uid)) == 2  # the kernel and its sleeping child
    kernel.kill()
    deadline = time.monotonic() + 10
    while host_processes_of(kernel.uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert host_processes_of(kernel.uid) == []
    assert kernel.wait().signal is not None


@needs_root
def test_hidden_paths_stay_hidden_inside_allowed_ones(tmp_path, monkeypatch):
    """When a directory to hide lies inside an allowed one, is it covered while its siblings stay visible?"""
    allowed = tmp_path / "allowed"
    (allowed / "secret").mkdir(parents=True)
    (allowed / "secret" / "answer.txt").write_text("42")
    (allowed / "public.txt").write_text("hello")
    original = sandbox.allowed_paths()
    monkeypatch.setattr(sandbox, "allowed_paths", lambda: original + [str(allowed)])
    report, kernel = probe(tmp_path / "scratch", look=[allowed / "public.txt", allowed / "secret" / "answer.txt"],
                           hide=[allowed / "secret"])
    kernel.kill()
    assert report["exists"] == {str(allowed / "public.txt"): True, str(allowed / "secret" / "answer.txt"): False}


def test_without_isolation_the_limits_still_apply(tmp_path):
    """With isolation off (what a non-root machine gets), does the kernel run, limited, and say so?"""
    report, kernel = probe(tmp_path, isolate=False)
    kernel.kill()
    with contextlib.suppress(OSError):  # its own session escapes the kernel's group: no PID namespace here
        os.kill(report["child"], signal.SIGKILL)
    assert kernel.isolation == "none"
    assert report["uid"] == os.getuid() and report["as"] == 1 << 30
    assert not Path(f"/proc/{report['pid']}").exists(), "kill() left the kernel running"


def test_rlimits_name_real_limits():
    """Does every resource limit the kernel gets name a limit of this platform?"""
    for name in sandbox._rlimits(1 << 30, 10, 1 << 20, per_uid=True):
        assert hasattr(resource, name)


@needs_root
def test_processes_left_by_a_cell_are_ended(tmp_path):
    """Is a child process a cell leaves running (even detached) ended once the cell is over?"""
    from autograde import remote
    kernel = sandbox.Kernel.start(tmp_path, memory_bytes=1 << 30, cpu_s=30, output_bytes=1 << 16)
    client = remote.KernelClient(kernel)
    try:
        with client.time_limit(time.monotonic() + 60):
            reply = client.execute("import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True)", "<c>")
            assert reply["ok"], reply
            assert len(host_processes_of(kernel.uid)) == 1  # the kernel alone
    finally:
        kernel.kill()


@needs_root
def test_numba_cache_of_dlkit_is_copied_into_the_kernel(tmp_path):
    """Does the kernel find dlkit's compiled Numba kernels under its NUMBA_CACHE_DIR (so it need not compile)?"""
    copies = sandbox._numba_cache_copies()
    if not copies:
        pytest.skip("no Numba cache in dlkit yet (python -m dlkit.kernels.warmup fills it)")
    from autograde import remote
    kernel = sandbox.Kernel.start(tmp_path, memory_bytes=1 << 30, cpu_s=30, output_bytes=1 << 16)
    client = remote.KernelClient(kernel)
    try:
        with client.time_limit(time.monotonic() + 60):
            client.execute("import os\nfound = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.environ['NUMBA_CACHE_DIR'])"
                           " for f in fs)", "<c>")
            found = client.fetch(["found"])["found"]
    finally:
        kernel.kill()
    assert [p.rsplit("/", 2)[-2:] for p in found] == sorted(name.rsplit("/", 2)[-2:] for _, name in copies)
