"""Talking to the sandboxed kernel: pickle-free serialization, the kernel's server, the grader's proxies.

The grader runs test cells in its own (trusted) process. A name that a test cell reads from the
student's notebook becomes a proxy here: a ``RemoteFunction`` for a function (calling it runs the
student's function in the kernel), a value fetched by copy otherwise, or a ``RemoteHandle`` for an
object that cannot be copied (it can be passed back into later calls).

Arguments travel by copy, yet a student's function that changes one in place (``v["dW1"] *= beta``)
must be seen doing so, as in their own kernel: after each call the kernel compares every argument
with the bytes it received and sends back those that differ, and the grader makes the same change
to the caller's objects (``update_in_place``) and notes it (``KernelClient.changed_inputs``).

Wire format: a frame is ``u32 header length | JSON header | u32 buffer count | u64 length per
buffer | buffers``. Values are JSON trees where every non-scalar is tagged (``{"$": "nd", ...}``)
and array data travels as raw buffers. Decoding only ever builds None, bool, int, float, complex,
str, bytes, tuple, list, dict, set, ndarray (plain numeric/bool/str/datetime dtypes), NumPy scalars,
``numpy.random.Generator`` and tuple classes with named fields: no pickle, no import, no eval, so a
kernel cannot run code in the grader, whatever it sends.

>>> buffers = []
>>> tree = encode({"W1": np.eye(2), "b1": (0.5, None)}, buffers)
>>> value = decode(json.loads(json.dumps(tree)), buffers)
>>> value["b1"], value["W1"].shape
((0.5, None), (2, 2))
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import contextvars
import inspect
import json
import keyword
import linecache
import operator
import os
import re
import select
import signal
import struct
import sys
import time
import traceback
import types
from typing import NamedTuple

import numpy as np

from autograde.errors import ReferenceUsedError, StudentError

__all__ = ["RemoteFunction", "RemoteHandle", "KernelClient", "StudentError", "ReferenceUsedError", "ArgumentChanged",
           "update_in_place", "KernelLost", "KernelDied", "KernelTimeout", "CellTimeout", "forbidden_references", "encode", "decode"]

MAX_DEPTH = 100  # nesting of containers in one value
MAX_HEADER_BYTES = 64 << 20
MAX_BUFFERS = 1 << 20
_DTYPE = re.compile(r"^[<>|=]?[biufcmMUS]\d+(\[[a-zA-Z]+\])?$")  # '<f8', '|b1', '<U5', '<M8[ns]'
_BITGENS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class ProtocolError(Exception):
    """A frame or value that breaks the protocol (from a confused or hostile kernel)."""


# ============================================================================ serialization

def encode(value, buffers: list, *, on_other=None, _depth: int = 0):
    """Encode ``value`` as a JSON-able tree, appending array data to ``buffers``.

    ``on_other(value) -> tree`` encodes anything else (the kernel turns it into a handle); by
    default such a value raises TypeError.
    """
    if _depth > MAX_DEPTH:
        raise ValueError(f"the value is nested more than {MAX_DEPTH} levels deep")
    kind = type(value)
    if value is None or kind in (bool, int, str) or kind is float:
        return value
    again = (lambda item: encode(item, buffers, on_other=on_other, _depth=_depth + 1))
    if kind is np.ndarray and _plain_dtype(value.dtype):
        return _encode_array(value, buffers)
    if isinstance(value, np.generic) and _plain_dtype(value.dtype):
        buffers.append(np.asarray(value).tobytes())
        return {"$": "scalar", "dtype": value.dtype.str, "b": len(buffers) - 1}
    if kind is complex:
        return {"$": "complex", "re": value.real, "im": value.imag}
    if kind is bytes:
        buffers.append(value)
        return {"$": "bytes", "b": len(buffers) - 1}
    if isinstance(value, tuple) and _fields_of(type(value)) is not None:
        cls = type(value)
        origin = getattr(cls, "_remote_origin", (cls.__module__, cls.__qualname__))
        return {"$": "record", "module": origin[0], "qualname": origin[1], "fields": list(cls._fields),
                "v": [again(item) for item in value]}
    if isinstance(value, (tuple, list)):
        return {"$": "tuple" if isinstance(value, tuple) else "list", "v": [again(item) for item in value]}
    if isinstance(value, dict):
        return {"$": "dict", "k": [again(k) for k in value], "v": [again(v) for v in value.values()]}
    if isinstance(value, (set, frozenset)):
        return {"$": "frozenset" if isinstance(value, frozenset) else "set", "v": [again(item) for item in value]}
    if kind is np.random.Generator and type(value.bit_generator).__name__ in _BITGENS:
        return {"$": "rng", "state": again(value.bit_generator.state)}
    if on_other is None:
        raise TypeError(f"a {kind.__name__} cannot be sent to the student's kernel (send data, not objects)")
    return on_other(value)


def _plain_dtype(dtype: np.dtype) -> bool:
    return dtype.kind in "biufcmMUS" and dtype.fields is None and not dtype.hasobject and dtype.subdtype is None


def _fields_of(cls) -> tuple | None:
    fields = getattr(cls, "_fields", None)
    return fields if isinstance(fields, tuple) and all(isinstance(f, str) for f in fields) else None


def _encode_array(array: np.ndarray, buffers: list) -> dict:
    data = array if array.flags.c_contiguous else array.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
    buffers.append(memoryview(data).cast("B") if data.size and data.dtype.kind not in "mM" else data.tobytes())
    return {"$": "nd", "dtype": data.dtype.str, "shape": list(data.shape), "b": len(buffers) - 1}


def decode(tree, buffers: list, *, on_handle=None, on_record=None, _depth: int = 0):
    """Rebuild a value from ``encode``'s tree and buffers; never runs code from the sender.

    ``on_handle(tree)`` rebuilds handles (``{"$": "handle"}`` from the kernel, ``{"$": "ref"}`` from
    the grader); ``on_record(module, qualname, fields, values)`` rebuilds named-field tuples.
    """
    if _depth > MAX_DEPTH:
        raise ProtocolError("value nested too deeply")
    if tree is None or type(tree) in (bool, int, float, str):
        return tree
    if type(tree) is not dict or not isinstance(tree.get("$"), str):
        raise ProtocolError(f"unexpected {type(tree).__name__} in a value")
    again = (lambda item: decode(item, buffers, on_handle=on_handle, on_record=on_record, _depth=_depth + 1))
    tag = tree["$"]
    if tag in ("list", "tuple", "set", "frozenset"):
        items = [again(item) for item in _list(tree, "v")]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict":
        keys, values = _list(tree, "k"), _list(tree, "v")
        if len(keys) != len(values):
            raise ProtocolError("dict with mismatched keys and values")
        return {again(k): again(v) for k, v in zip(keys, values)}
    if tag == "nd":
        return _decode_array(tree, buffers)
    if tag == "scalar":
        return np.frombuffer(_buffer(tree, buffers), dtype=_dtype(tree.get("dtype")), count=1)[0]
    if tag == "complex":
        return complex(_float(tree.get("re")), _float(tree.get("im")))
    if tag == "bytes":
        return bytes(_buffer(tree, buffers))
    if tag == "record":
        return _decode_record(tree, [again(item) for item in _list(tree, "v")], on_record)
    if tag == "rng":
        return _decode_rng(again(tree.get("state")))
    if tag in ("handle", "ref") and on_handle is not None:
        return on_handle(tree)
    raise ProtocolError(f"unknown value tag {tag!r}")


def _list(tree: dict, key: str) -> list:
    items = tree.get(key)
    if type(items) is not list:
        raise ProtocolError(f"{tree['$']} without its {key!r} list")
    return items


def _float(value) -> float:
    if type(value) not in (int, float):
        raise ProtocolError("complex part is not a number")
    return float(value)


def _dtype(text) -> np.dtype:
    if not isinstance(text, str) or not _DTYPE.match(text):
        raise ProtocolError(f"dtype {text!r} is not allowed")
    dtype = np.dtype(text)
    if not _plain_dtype(dtype):
        raise ProtocolError(f"dtype {text!r} is not allowed")
    return dtype


def _buffer(tree: dict, buffers: list):
    index = tree.get("b")
    if type(index) is not int or not 0 <= index < len(buffers):
        raise ProtocolError("missing array buffer")
    return buffers[index]


def _decode_array(tree: dict, buffers: list) -> np.ndarray:
    dtype, data = _dtype(tree.get("dtype")), _buffer(tree, buffers)
    shape = tree.get("shape")
    if type(shape) is not list or len(shape) > 32 or any(type(n) is not int or n < 0 for n in shape):
        raise ProtocolError("bad array shape")
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(data):
        raise ProtocolError("array buffer does not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(tuple(shape)).copy()


def _decode_record(tree: dict, values: list, on_record):
    module, qualname, fields = tree.get("module"), tree.get("qualname"), tree.get("fields")
    if not (isinstance(module, str) and isinstance(qualname, str) and type(fields) is list):
        raise ProtocolError("bad record")
    if len(fields) != len(values) or not all(_valid_field(f) for f in fields) or len(set(fields)) != len(fields):
        raise ProtocolError("bad record fields")
    return (on_record or record_class)(module, qualname, tuple(fields), values)


def _valid_field(name) -> bool:
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


def _decode_rng(state) -> np.random.Generator:
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BITGENS:
        raise ProtocolError("unknown bit generator")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise ProtocolError(f"bad generator state: {exc}") from None
    return np.random.Generator(bit_generator)


_RECORD_CLASSES: dict = {}


def record_class(module: str, qualname: str, fields: tuple, values: list):
    """A tuple with named fields standing for the kernel's NamedTuple ``module.qualname`` (built without exec)."""
    key = (module, qualname, fields)
    cls = _RECORD_CLASSES.get(key)
    if cls is None:
        name = qualname.rsplit(".", 1)[-1]
        namespace = {"__slots__": (), "_fields": fields, "_remote_origin": (module, qualname),
                     "__new__": _record_new, "_make": classmethod(tuple.__new__), "_asdict": _record_asdict,
                     "__repr__": _record_repr, "__getnewargs__": lambda self: tuple(self),
                     "__module__": module, "__qualname__": qualname}
        for index, field in enumerate(fields):
            namespace[field] = property(operator.itemgetter(index), doc=f"Alias for field number {index}")
        cls = _RECORD_CLASSES[key] = type(name if name.isidentifier() else "Record", (tuple,), namespace)
    return cls._make(values)


def _record_new(cls, *args, **kwargs):
    values = list(args)
    for field in cls._fields[len(args):]:
        if field not in kwargs:
            raise TypeError(f"{cls.__name__}() missing argument {field!r}")
        values.append(kwargs.pop(field))
    if kwargs or len(values) != len(cls._fields):
        raise TypeError(f"{cls.__name__}() takes {len(cls._fields)} arguments")
    return tuple.__new__(cls, values)


def _record_asdict(self) -> dict:
    return dict(zip(self._fields, self))


def _record_repr(self) -> str:
    return f"{type(self).__name__}({', '.join(f'{f}={v!r}' for f, v in zip(self._fields, self))})"


# ============================================================================ framing

def send_frame(fd: int, header: dict, buffers: list = ()) -> None:
    """Write one frame (blocking)."""
    head = json.dumps(header, separators=(",", ":")).encode()
    sizes = [memoryview(b).nbytes for b in buffers]
    prefix = struct.pack("<I", len(head)) + head + struct.pack("<I", len(sizes)) + struct.pack(f"<{len(sizes)}Q", *sizes)
    _write_all(fd, prefix)
    for buffer in buffers:
        _write_all(fd, memoryview(buffer).cast("B"))


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class FrameReader:
    """Reads frames from ``fd`` with a deadline and a size limit."""

    def __init__(self, fd: int, max_bytes: int | None = None):
        self.fd, self.max_bytes = fd, max_bytes

    def read(self, deadline: float | None = None) -> tuple[dict, list]:
        """One frame; raises EOFError, TimeoutError, ProtocolError (too large: rest discarded)."""
        (size,) = struct.unpack("<I", self._exactly(4, deadline))
        limit = MAX_HEADER_BYTES if self.max_bytes is None else min(MAX_HEADER_BYTES, self.max_bytes)
        header = self._header(self._exactly(size, deadline)) if size <= limit else self._discard(size, deadline)
        (count,) = struct.unpack("<I", self._exactly(4, deadline))
        if count > MAX_BUFFERS:
            raise ProtocolError("too many buffers")
        sizes = struct.unpack(f"<{count}Q", self._exactly(8 * count, deadline))
        if header is None or (self.max_bytes is not None and sum(sizes) > self.max_bytes):
            self._discard(sum(sizes), deadline)  # skip it whole: the next frame is read correctly
            raise ProtocolError(f"the value is larger than {(self.max_bytes or MAX_HEADER_BYTES) >> 20} MiB")
        return header, [self._exactly(n, deadline) for n in sizes]

    @staticmethod
    def _header(data: bytes) -> dict:
        try:
            header = json.loads(data)
        except ValueError as exc:
            raise ProtocolError(f"frame header is not JSON: {exc}") from None
        if type(header) is not dict:
            raise ProtocolError("frame header is not an object")
        return header

    def _exactly(self, n: int, deadline: float | None) -> bytearray:
        data = bytearray(n)
        view, got = memoryview(data), 0
        while got < n:
            self._wait(deadline)
            chunk = os.readv(self.fd, [view[got:]])
            if chunk == 0:
                raise EOFError("the kernel closed the connection")
            got += chunk
        return data

    def _discard(self, n: int, deadline: float | None) -> None:
        """Read and drop ``n`` bytes (returns None)."""
        while n > 0:
            self._wait(deadline)
            chunk = os.read(self.fd, min(n, 1 << 20))
            if not chunk:
                raise EOFError("the kernel closed the connection")
            n -= len(chunk)

    def _wait(self, deadline: float | None) -> None:
        if deadline is None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
            raise TimeoutError


# ============================================================================ kernel side

class _Capture:
    """A text stream keeping the first ``limit`` characters written to it (the rest is counted only)."""

    encoding, errors = "utf-8", "replace"

    def __init__(self, limit: int):
        self.limit, self.parts, self.kept, self.total = limit, [], 0, 0

    def write(self, text) -> int:
        text = str(text)
        self.total += len(text)
        if self.kept < self.limit:
            piece = text[: self.limit - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def text(self) -> str:
        return "".join(self.parts)


class KernelServer:
    """The kernel's side: runs cells and calls in ``__main__`` and answers the grader's requests.

    SIGINT is blocked except while student code runs, so an interrupt lands in the student's code
    (as KeyboardInterrupt) and never in the middle of a reply.
    """

    def __init__(self, read_fd: int, write_fd: int, output_bytes: int, end_strays: bool = False):
        self.reader, self.write_fd, self.output_bytes = FrameReader(read_fd), write_fd, output_bytes
        self.end_strays = end_strays and os.getuid() != 0  # never as root: kill(-1) would reach everything
        self.handles: dict[int, object] = {}
        self.namespace = self._main_module().__dict__
        self.shell = None
        self.guards = _ReferenceGuards()

    @staticmethod
    def _main_module() -> types.ModuleType:
        module = types.ModuleType("__main__", "The student's notebook namespace.")
        module.__builtins__ = __builtins__
        sys.modules["__main__"] = module
        return module

    def serve(self) -> None:
        """Answer requests until the grader closes the pipe or asks to stop."""
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        while True:
            try:
                header, buffers = self.reader.read()
            except EOFError:
                return
            if header.get("op") == "stop":
                return
            reply, out_buffers = self.handle(header, buffers)
            send_frame(self.write_fd, reply, out_buffers)

    def handle(self, header: dict, buffers: list) -> tuple[dict, list]:
        op = header.get("op")
        handler = getattr(self, f"op_{op}", None) if isinstance(op, str) and op.isidentifier() else None
        if handler is None:
            return {"ok": False, "internal": f"unknown request {op!r}"}, []
        out: list = []
        try:
            return handler(header, buffers, out), out
        except BaseException as exc:  # noqa: BLE001 - every failure is a reply, the server goes on
            return {"ok": False, "internal": f"{type(exc).__name__}: {exc}"}, []

    # ---------------------------------------------------------------- running student code

    def _student(self, run, *, forbid=()):
        """Run ``run()`` as student code: output captured, SIGINT allowed, dlkit references guarded."""
        capture = _Capture(self.output_bytes)
        _drain_sigint()  # an interrupt meant for an earlier request
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = capture
        self.guards.install(forbid)
        outcome = {"ok": True}
        try:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            try:
                outcome["value"] = run()
            finally:
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        except BaseException as exc:  # noqa: BLE001 - the student's exception goes to the grader
            outcome = {"ok": False, "error": _describe_exception(exc)}
        finally:
            used = self.guards.remove()
            sys.stdout, sys.stderr = saved
            _drain_sigint()
            _close_figures()
            if self.end_strays:
                _end_other_processes()
        if used:
            outcome = {"ok": False, "reference_used": used, "error": outcome.get("error")}
        outcome["output_chars"] = capture.total
        outcome["output"] = capture.text()[:2000]
        return outcome

    def op_exec(self, header: dict, buffers: list, out: list) -> dict:
        """Run a cell's code (IPython syntax: magics allowed) in the notebook namespace."""
        source, filename = str(header.get("code", "")), str(header.get("filename", "<cell>"))
        outcome = self._student(lambda: self._run_cell(source, filename))
        outcome.pop("value", None)
        return outcome

    def _run_cell(self, source: str, filename: str) -> None:
        code = self._ipython().transform_cell(source) if _needs_ipython(source) else source
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        exec(compile(ast.parse(code, filename), filename, "exec"), self.namespace)  # noqa: S102 - student code, sandboxed

    def _ipython(self):
        if self.shell is None:
            from IPython.core.interactiveshell import InteractiveShell
            from traitlets.config import Config

            class GradingShell(InteractiveShell):
                def enable_gui(self, gui=None):  # no event loop here: %matplotlib just picks a backend
                    pass

            config = Config()
            config.HistoryManager.enabled = False
            self.shell = GradingShell.instance(config=config, user_module=sys.modules["__main__"])
            self.namespace = self.shell.user_ns
        return self.shell

    def op_describe(self, header: dict, buffers: list, out: list) -> dict:
        """What each of ``names`` is in the notebook namespace: missing, a callable (handle) or a value."""
        found = {}
        for name in header.get("names", []):
            if not isinstance(name, str) or name not in self.namespace:
                continue
            value = self.namespace[name]
            if isinstance(value, types.ModuleType):
                found[name] = {"$": "module", "name": value.__name__}
                continue
            outcome = self._student(lambda: encode(value, out, on_other=self._handle))
            found[name] = outcome["value"] if outcome["ok"] else {"$": "unsendable", "error": outcome["error"]}
        return {"ok": True, "found": found}

    def op_call(self, header: dict, buffers: list, out: list) -> dict:
        """Call a handle with decoded arguments; the result is encoded (unsendable parts as handles).

        Arguments that the call changed in place (an array's values, a dict's entries, a
        generator's state) are encoded again under ``changed`` (``{"args": [[position, value]],
        "kwargs": [[name, value]]}``), so the grader can change its own objects the same way.
        """
        target = self._lookup(header.get("target"))
        trees, refs = (header.get("args"), header.get("kwargs")), {}
        args, kwargs = (self._decode(tree, buffers, refs) for tree in trees)
        forbid = [name for name in header.get("forbid", []) if isinstance(name, str)]

        def run():
            value = encode(target(*args, **kwargs), out, on_other=self._handle)
            return value, self._changed_arguments(trees, args, kwargs, buffers, refs, out)

        outcome = self._student(run, forbid=forbid)
        if outcome["ok"]:
            outcome["value"], changed = outcome["value"]
            if changed:
                outcome["changed"] = changed
        return outcome

    def _changed_arguments(self, trees: tuple, args: list, kwargs: dict, buffers: list, refs: dict, out: list) -> dict:
        """The arguments of a call that no longer hold what was received, encoded again (empty when none).

        Comparing costs a pass over the received bytes and copies nothing that did not change; an
        object that came by reference goes back as the same reference.
        """
        def back(value) -> dict:
            number = refs.get(id(value))
            return {"$": "ref", "id": number} if number is not None else self._handle(value)

        def same(value, tree) -> bool:
            return _unchanged(value, tree, buffers, self.handles)

        changed = {}
        positional = [[i, encode(value, out, on_other=back)]
                      for i, (value, tree) in enumerate(zip(args, _list(trees[0], "v"))) if not same(value, tree)]
        named = [[name, encode(kwargs[name], out, on_other=back)]
                 for name, tree in zip(_list(trees[1], "k"), _list(trees[1], "v")) if not same(kwargs[name], tree)]
        if positional:
            changed["args"] = positional
        if named:
            changed["kwargs"] = named
        return changed

    def op_getattr(self, header: dict, buffers: list, out: list) -> dict:
        """An attribute of a handle; a missing one says so (``missing``) so the grader raises AttributeError."""
        target, name = self._lookup(header.get("target")), header.get("name")
        if not isinstance(name, str) or name.startswith("_"):
            return {"ok": False, "missing": True}
        outcome = self._student(lambda: encode(getattr(target, name), out, on_other=self._handle))
        if not outcome["ok"] and (outcome.get("error") or {}).get("type") == "AttributeError":
            return {"ok": False, "missing": True}
        return outcome

    def op_release(self, header: dict, buffers: list, out: list) -> dict:
        self.handles.clear()
        return {"ok": True}

    def op_ping(self, header: dict, buffers: list, out: list) -> dict:
        return {"ok": True, "pid": os.getpid()}

    # ---------------------------------------------------------------- handles

    def _handle(self, value) -> dict:
        number = len(self.handles) + 1
        self.handles[number] = value
        tree = {"$": "handle", "id": number, "type": type(value).__qualname__, "callable": callable(value)}
        tree["repr"] = _safe_repr(value)
        if callable(value):
            tree["name"] = str(getattr(value, "__name__", type(value).__name__))
            tree["params"] = _parameters(value)
        return tree

    def _lookup(self, number):
        if number not in self.handles:
            raise LookupError(f"no object #{number} in the kernel (released)")
        return self.handles[number]

    def _decode(self, tree, buffers, refs: dict | None = None):
        """Decode a value from the grader; ``refs`` collects ``id(object) -> handle number`` of the references in it."""
        def lookup(tree: dict):
            value = self._lookup(tree.get("id"))
            if refs is not None:
                refs[id(value)] = tree.get("id")
            return value

        return decode(tree, buffers, on_handle=lookup, on_record=_kernel_record)


def _unchanged(value, tree, buffers: list, handles: dict) -> bool:
    """Does ``value``, decoded from ``tree`` and then given to student code, still hold exactly that?

    Containers must be of the same type with the same items in the same order, arrays of the same
    dtype and shape with the same bytes, references the same objects, generators the same state.
    Types are checked before values, so an object of the student's own put in a container makes
    it differ without being compared.
    """
    if tree is None or type(tree) in (bool, int, float, str):
        return value is tree or (type(value) is type(tree) and value == tree)
    same = (lambda v, t: _unchanged(v, t, buffers, handles))
    tag = tree["$"]
    if tag == "nd":
        return (type(value) is np.ndarray and value.dtype == _dtype(tree["dtype"]) and list(value.shape) == tree["shape"]
                and value.tobytes() == buffers[tree["b"]])
    if tag in ("list", "tuple"):
        items = tree["v"]
        return type(value) is (list if tag == "list" else tuple) and len(value) == len(items) and all(map(same, value, items))
    if tag == "record":
        items = tree["v"]
        return (isinstance(value, tuple) and _fields_of(type(value)) == tuple(tree["fields"]) and len(value) == len(items)
                and all(map(same, value, items)))
    if tag == "dict":
        keys, items = tree["k"], tree["v"]
        return (type(value) is dict and len(value) == len(keys)
                and all(same(k, kt) and same(v, vt) for (k, v), kt, vt in zip(value.items(), keys, items)))
    if tag == "scalar":
        return isinstance(value, np.generic) and value.dtype == _dtype(tree["dtype"]) and value.tobytes() == buffers[tree["b"]]
    if tag == "ref":
        return value is handles.get(tree.get("id"))
    if tag == "rng":
        return type(value) is np.random.Generator and same(value.bit_generator.state, tree["state"])
    fresh = decode(tree, buffers, on_handle=lambda t: handles.get(t.get("id")), on_record=_kernel_record)
    return type(value) is type(fresh) and value == fresh  # complex, bytes, sets: plain types


def _needs_ipython(source: str) -> bool:
    """Does a cell use IPython syntax (magics, shell escapes, help) or IPython itself? (Importing it costs 0.2 s.)"""
    lines = [line.strip() for line in source.splitlines()]
    return "get_ipython" in source or any(line.startswith(("%", "!")) or line.endswith("?") for line in lines)


def _describe_exception(exc: BaseException) -> dict:
    """The student's exception as type name, message (with notes) and traceback of their own frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    text = "".join(traceback.format_list(frames))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    message = str(exc)
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        message += "".join(f"\n{note}" for note in notes if isinstance(note, str))
    return {"type": type(exc).__qualname__, "message": message[:20000], "traceback": text[-20000:]}


def _safe_repr(value, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a student's __repr__ may fail
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _parameters(fn) -> list | None:
    try:
        return [[p.name, int(p.kind), p.default is not p.empty] for p in inspect.signature(fn).parameters.values()]
    except (TypeError, ValueError):
        return None


def _kernel_record(module: str, qualname: str, fields: tuple, values: list):
    """Rebuild a NamedTuple in the kernel: the real class when it is loaded and matches, else a lookalike."""
    cls = sys.modules.get(module)
    for part in qualname.split("."):
        cls = getattr(cls, part, None)
    if isinstance(cls, type) and issubclass(cls, tuple) and getattr(cls, "_fields", None) == fields:
        return cls(*values)
    import collections
    return collections.namedtuple(qualname.rsplit(".", 1)[-1], fields)(*values)


def _drain_sigint() -> None:
    """Forget an interrupt that arrived after the student's code had finished (where the OS can tell)."""
    if not hasattr(signal, "sigtimedwait"):
        return
    while signal.SIGINT in signal.sigpending():
        signal.sigtimedwait({signal.SIGINT}, 0)


def _end_other_processes() -> None:
    """Kill every process the student's code left running (its uid's, in its PID namespace; not init),
    then reap this process's own children (init reaps the rest), so none lingers as a zombie."""
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        return  # nothing to kill
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                time.sleep(0.005)
        except ChildProcessError:
            return


def _close_figures() -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception:  # noqa: BLE001 - the student may have broken matplotlib
            pass


class _ReferenceGuards:
    """Swaps dlkit functions for stand-ins that refuse calls from student code, and records the attempts.

    The function objects keep their identity and only their ``__code__`` changes, so names bound
    at import time (``from dlkit.activations import sigmoid as s``) are caught too. Calls coming
    from dlkit's own code still run the original, so the rest of dlkit keeps working.
    """

    def __init__(self):
        self.swapped: list = []
        self.used: list[str] = []
        self.originals: dict[str, types.FunctionType] = {}

    def install(self, names) -> None:
        self.used = []
        for dotted in names:
            fn = _resolve_dlkit(dotted)
            if isinstance(fn, types.FunctionType) and fn.__code__.co_name != "_autograde_standin":
                self.originals[dotted] = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__,
                                                            fn.__defaults__, fn.__closure__)
                self.originals[dotted].__kwdefaults__ = fn.__kwdefaults__
                fn.__globals__["__autograde_reference__"] = self._called
                self.swapped.append((fn, fn.__code__))
                fn.__code__ = _standin_code(dotted, fn.__code__.co_freevars)

    def remove(self) -> list[str]:
        while self.swapped:
            fn, code = self.swapped.pop()
            fn.__code__ = code
        return sorted(set(self.used))

    def _called(self, dotted: str, args, kwargs):
        caller = sys._getframe(2).f_globals.get("__name__", "")
        if caller == "dlkit" or str(caller).startswith("dlkit."):
            return self.originals[dotted](*args, **kwargs)
        self.used.append(dotted)
        raise ReferenceUsedError(f"{dotted} is dlkit's own implementation of this exercise: "
                                 f"grading needs your code, so write it without calling {dotted.rsplit('.', 1)[-1]}")


def _resolve_dlkit(dotted: str):
    """The dlkit function ``dlkit.module.name`` (its module imported if need be), or None."""
    if not (dotted.startswith("dlkit.") and all(p.isidentifier() for p in dotted.split("."))):
        return None
    module_name, _, name = dotted.rpartition(".")
    try:
        import importlib
        return getattr(importlib.import_module(module_name), name, None)
    except Exception:  # noqa: BLE001 - the student may have broken dlkit; nothing to guard then
        return None


def _standin_code(dotted: str, freevars: tuple) -> types.CodeType:
    """Code for ``def _autograde_standin(*args, **kwargs)`` with the same free variables as the original."""
    lines = ["def _outer():"] + [f"    {name} = None" for name in freevars]
    lines += ["    def _autograde_standin(*args, **kwargs):"]
    if freevars:
        lines += ["        if False:", f"            ({', '.join(freevars)},)"]
    lines += [f"        return __autograde_reference__({dotted!r}, args, kwargs)", "    return _autograde_standin"]
    namespace: dict = {}
    exec("\n".join(lines), namespace)  # noqa: S102 - generated from identifiers, kernel side only
    return namespace["_outer"]().__code__


# ============================================================================ grader side

class KernelLost(BaseException):
    """The kernel is gone or unresponsive: grading of this notebook cannot go on in it.

    A BaseException so that a test cell's ``except Exception`` does not swallow it.
    """


class KernelDied(KernelLost):
    """The kernel process ended (crash, os._exit, killed)."""


class KernelTimeout(KernelLost):
    """The kernel did not answer in time and was stopped."""


class CellTimeout(BaseException):
    """The student's code ran past its time limit and was interrupted (the kernel lives on).

    A BaseException too: a test cell must not catch it and go on calling into a late kernel.
    """


_FORBIDDEN: contextvars.ContextVar[tuple] = contextvars.ContextVar("autograde_forbidden", default=())


@contextlib.contextmanager
def forbidden_references(names):
    """While inside, every remote call runs with these dlkit functions (dotted names) refused."""
    token = _FORBIDDEN.set(tuple(_FORBIDDEN.get()) + tuple(names))
    try:
        yield
    finally:
        _FORBIDDEN.reset(token)


class KernelClient:
    """The grader's connection to a kernel: requests with deadlines, interrupts, proxies.

    Parameters
    ----------
    kernel : autograde.sandbox.Kernel
        The running kernel (its pipes, interrupt and kill).
    max_value_bytes : int
        Largest reply accepted; larger values fail the call.
    interrupt_grace_s : float
        How long an interrupted kernel has to answer before it is killed.
    """

    def __init__(self, kernel, *, max_value_bytes: int = 256 << 20, interrupt_grace_s: float = 2.0):
        self.kernel = kernel
        self.reader = FrameReader(kernel.read_fd, max_value_bytes)
        self.deadline: float | None = None
        self.interrupt_grace_s = interrupt_grace_s
        self.generation = 0
        self.lost: KernelLost | None = None
        self.changed_inputs: list[str] = []  # what calls changed in their arguments (the caller clears it)

    @contextlib.contextmanager
    def time_limit(self, deadline: float):
        """Requests made inside must be answered before ``deadline`` (time.monotonic)."""
        saved, self.deadline = self.deadline, deadline
        try:
            yield
        finally:
            self.deadline = saved

    def request(self, header: dict, buffers: list = ()) -> tuple[dict, list]:
        """Send one request and wait for its reply (raises KernelLost, CellTimeout)."""
        if self.lost is not None:
            raise self.lost
        try:
            send_frame(self.kernel.write_fd, header, buffers)
            return self.reader.read(self.deadline)
        except TimeoutError:
            return self._interrupt()
        except (EOFError, BrokenPipeError) as exc:  # it ended by itself: let it finish, to learn how
            raise self._lose(KernelDied(f"the kernel stopped: {exc}"), wait_s=3.0) from None
        except (ProtocolError, OSError) as exc:
            if isinstance(exc, ProtocolError) and "larger than" in str(exc):
                raise ValueError(f"the returned value is too large: {exc}") from None
            raise self._lose(KernelDied(f"the kernel broke the protocol: {exc}")) from None

    def _interrupt(self):
        self.kernel.interrupt()
        try:
            self.reader.read(time.monotonic() + self.interrupt_grace_s)
        except TimeoutError:
            raise self._lose(KernelTimeout("the student's code ran past the time limit and ignored the interrupt"))
        except (EOFError, OSError, ProtocolError) as exc:
            raise self._lose(KernelDied(f"the kernel stopped when interrupted: {exc}")) from None
        raise CellTimeout("the student's code ran past the time limit and was interrupted")

    def _lose(self, error: KernelLost, wait_s: float = 0.0) -> KernelLost:
        """Remember that the kernel is gone and make sure it is (after ``wait_s`` to end by itself)."""
        self.lost = error
        if wait_s:
            self.kernel.wait(wait_s)
        self.kernel.kill()
        return error

    # ---------------------------------------------------------------- operations

    def execute(self, code: str, filename: str) -> dict:
        """Run a cell in the kernel; its reply (``ok``, ``error``, ``output_chars``)."""
        reply, _ = self.request({"op": "exec", "code": code, "filename": filename})
        return reply

    def fetch(self, names) -> dict:
        """Proxies for those of ``names`` the kernel defines: RemoteFunction, RemoteHandle or a copy."""
        reply, buffers = self.request({"op": "describe", "names": list(names)})
        found = {}
        for name, tree in _reply_dict(reply, "found").items():
            if isinstance(tree, dict) and tree.get("$") in ("module", "unsendable"):
                continue
            found[name] = self._decode(tree, buffers)
        return found

    def call(self, target: int, args: tuple, kwargs: dict, name: str = "the function", params=None):
        """Call kernel object ``target``; returns the decoded result or raises the student's error.

        Arguments the call changed in place in the kernel are changed the same way here (see
        ``update_in_place``), so a caller comparing its arguments before and after sees what the
        student's code did, and each change is noted in ``changed_inputs`` (naming the argument by
        ``params``, the positional parameter names). A change that cannot be copied (an array whose
        shape or dtype changed in place) raises ``ArgumentChanged``.
        """
        buffers: list = []
        sent: dict = {}  # handle id -> the RemoteHandle passed in this call
        header = {"op": "call", "target": target, "args": self._encode(list(args), buffers, sent),
                  "kwargs": self._encode(dict(kwargs), buffers, sent), "forbid": list(dict.fromkeys(_FORBIDDEN.get()))}
        reply, out = self.request(header, buffers)
        value = self._result(reply, out, name)
        if "changed" in reply:
            self._apply_changes(reply["changed"], out, (args, kwargs), sent, name, params)
        return value

    def getattr(self, target: int, name: str):
        """Attribute ``name`` of kernel object ``target`` (AttributeError when it has none)."""
        reply, out = self.request({"op": "getattr", "target": target, "name": name})
        if reply.get("missing"):
            raise AttributeError(name)
        return self._result(reply, out)

    def release(self) -> None:
        """Forget every handle (proxies made before stop working)."""
        self.generation += 1
        if self.lost is None:
            self.request({"op": "release"})

    def stop(self) -> None:
        if self.lost is None:
            try:
                send_frame(self.kernel.write_fd, {"op": "stop"})
            except OSError:
                pass

    # ---------------------------------------------------------------- helpers

    def _result(self, reply: dict, buffers: list, name: str = "the function"):
        if reply.get("reference_used"):
            used = ", ".join(str(n) for n in reply["reference_used"])
            raise ReferenceUsedError(f"{name} calls dlkit's own implementation ({used}) instead of your own code: "
                                     "this exercise is graded on code you write yourself")
        if reply.get("ok"):
            return self._decode(reply.get("value"), buffers)
        if "internal" in reply:
            raise ProtocolError(f"the kernel could not answer: {reply['internal']}")
        error = reply.get("error") if isinstance(reply.get("error"), dict) else {}
        raise StudentError(str(error.get("type", "Exception")), str(error.get("message", "")),
                           str(error.get("traceback", "")))

    def _apply_changes(self, changed, buffers: list, call: tuple, sent: dict, name: str, params) -> None:
        """Make to the caller's ``(args, kwargs)`` the in-place changes the kernel reported, and note them."""
        misfits = []
        for label, old, tree in _changed_items(changed, *call, params):
            new = self._decode(tree, buffers, sent)
            update = update_in_place(old, new)
            if not update.fits:
                misfits.append(f"{label} ({_change_text(old, new)})")
            if update.changed:
                self.changed_inputs.append(
                    f"{name} changed its input {label}: a function must not modify its arguments. Work on a copy "
                    f"({label} = {label}.copy()) or use operations that make a new array "
                    f"({label} = {label} * 2, not {label} *= 2 or {label}[...] = 0).")
        if misfits:
            raise ArgumentChanged(f"{name} changed its input{'s' if len(misfits) > 1 else ''} {', '.join(misfits)}: "
                                  "a function must not modify its arguments. Work on a copy, and make new arrays "
                                  "(x = x.reshape(...), not x.shape = ...).")

    def _encode(self, value, buffers: list, sent: dict | None = None):
        return encode(value, buffers, on_other=lambda v: self._reference(v, sent))

    def _reference(self, value, sent: dict | None = None) -> dict:
        if isinstance(value, RemoteHandle) and value._client is self:
            value._check()
            if sent is not None:
                sent[value._id] = value
            return {"$": "ref", "id": value._id}
        raise TypeError(f"a {type(value).__name__} cannot be sent to the student's kernel (send data, not objects)")

    def _decode(self, tree, buffers, sent: dict | None = None):
        """Decode the kernel's value; with ``sent``, references to the handles passed in the call are allowed."""
        def rebuild(tree: dict):
            if tree.get("$") == "ref" and sent is not None and tree.get("id") in sent:
                return sent[tree["id"]]
            return self._proxy(tree)

        try:
            return decode(tree, buffers, on_handle=rebuild)
        except (ProtocolError, ValueError, TypeError, RecursionError) as exc:
            raise ProtocolError(f"the kernel sent a value that cannot be read: {exc}") from None

    def _proxy(self, tree: dict):
        if tree.get("$") != "handle" or type(tree.get("id")) is not int:
            raise ProtocolError("bad handle")
        cls = RemoteFunction if tree.get("callable") is True else RemoteHandle
        return cls(self, tree)


class ArgumentChanged(AssertionError):
    """The student's function changed an argument in place in a way the grader's copy cannot follow
    (an array's shape or dtype): the check fails as it would have for the change itself."""


def _changed_items(changed, args: tuple, kwargs: dict, params):
    """``(label, caller's object, tree)`` for each changed argument of a call reply (ProtocolError if malformed)."""
    if type(changed) is not dict or not set(changed) <= {"args", "kwargs"}:
        raise ProtocolError("bad list of changed arguments")
    for part, pairs in changed.items():
        for pair in pairs if type(pairs) is list else [None]:
            if type(pair) is not list or len(pair) != 2:
                raise ProtocolError("bad changed argument")
            where, tree = pair
            if part == "args" and type(where) is int and 0 <= where < len(args):
                named = params is not None and where < len(params)
                yield (params[where] if named else f"arg{where + 1}"), args[where], tree
            elif part == "kwargs" and type(where) is str and where in kwargs:
                yield where, kwargs[where], tree
            else:
                raise ProtocolError(f"changed argument {where!r} was not passed")


def _change_text(old, new) -> str:
    """What became of an argument the grader could not change the same way."""
    if isinstance(old, np.ndarray) and isinstance(new, np.ndarray) and (old.shape, old.dtype) != (new.shape, new.dtype):
        return f"it became an ndarray of shape {new.shape} and dtype {new.dtype}, from {old.shape} and {old.dtype}"
    return "its contents changed"


class Update(NamedTuple):
    """What ``update_in_place`` did."""

    fits: bool  # the object now holds the new contents (False: it cannot be changed that way)
    changed: bool  # the contents differed (a generator's new state does not count: drawing is no mutation)


def update_in_place(old, new) -> Update:
    """Make ``old`` hold what ``new`` holds by changing ``old`` itself, and say whether anything differed.

    Arrays take the new values when shape and dtype match (``old[...] = new``); dicts and lists
    take the new entries in the new order (each entry updated in place where it can be, else
    replaced); tuples update their items; sets take the new items; generators the new state.
    An equal immutable value (NaN for NaN) needs nothing. ``new`` comes from ``decode``: data only.

    >>> v = {"dW1": np.zeros(2), "db1": np.zeros(1)}
    >>> dW1 = v["dW1"]
    >>> update_in_place(v, {"dW1": np.ones(2), "db1": np.zeros((1, 1))}), dW1, v["db1"].shape
    (Update(fits=True, changed=True), array([1., 1.]), (1, 1))
    >>> update_in_place(np.zeros(2), np.zeros(3))
    Update(fits=False, changed=True)
    """
    if old is new:
        return Update(True, False)
    if isinstance(old, np.ndarray):
        return _update_array(old, new)
    if isinstance(old, dict) and type(new) is dict:
        return _update_entries(old, list(old.items()), list(new.items()))
    if isinstance(old, list) and type(new) is list:
        return _update_entries(old, list(enumerate(old)), list(enumerate(new)))
    if isinstance(old, tuple) and isinstance(new, tuple) and len(old) == len(new):
        done = [update_in_place(a, b) for a, b in zip(old, new)]  # every item, not up to the first misfit
        return Update(all(u.fits for u in done), any(u.changed for u in done))
    if isinstance(old, set) and isinstance(new, (set, frozenset)):
        changed = old != new
        if changed:
            old.clear()
            old.update(new)
        return Update(True, changed)
    if isinstance(old, np.random.Generator) and type(new) is np.random.Generator:
        fits = type(old.bit_generator) is type(new.bit_generator)
        if fits:
            old.bit_generator.state = new.bit_generator.state
        return Update(fits, not fits)
    same = _same_value(old, new)
    return Update(same, not same)


def _update_array(old: np.ndarray, new) -> Update:
    if type(new) is not np.ndarray or (new.shape, new.dtype) != (old.shape, old.dtype):
        return Update(False, True)
    if np.array_equal(old, new, equal_nan=old.dtype.kind in "fc"):
        return Update(True, False)
    if not old.flags.writeable:
        return Update(False, True)
    old[...] = new
    return Update(True, True)


def _update_entries(old, before: list, after: list) -> Update:
    """Give the dict or list ``old`` the entries ``after`` (key, value), keeping its objects that can follow."""
    current = dict(before)
    entries, changed = [], [key for key, _ in before] != [key for key, _ in after]
    for key, value in after:
        update = update_in_place(current[key], value) if key in current else Update(False, True)
        entries.append((key, current[key] if update.fits else value))
        changed = changed or update.changed
    if changed:
        if isinstance(old, dict):
            old.clear()
            old.update(entries)
        else:
            old[:] = [value for _, value in entries]
    return Update(True, changed)


def _same_value(old, new) -> bool:
    """Equal immutable values of the same type (NaN equal to NaN)."""
    if type(old) is not type(new) or isinstance(old, (np.ndarray, RemoteHandle)):
        return False
    try:
        return bool(old == new) or bool(old != old and new != new)
    except (TypeError, ValueError):
        return False


def _reply_dict(reply: dict, key: str) -> dict:
    value = reply.get(key)
    if not reply.get("ok") or type(value) is not dict:
        raise ProtocolError(f"bad reply: {str(reply)[:200]}")
    return value


class RemoteHandle:
    """An object living in the student's kernel; can be passed back to remote calls, attributes are fetched."""

    def __init__(self, client: KernelClient, tree: dict):
        self._client, self._id, self._generation = client, tree["id"], client.generation
        self.type_name = str(tree.get("type", "object"))[:100]
        self._repr = str(tree.get("repr", ""))[:200]

    def _check(self) -> None:
        if self._generation != self._client.generation:
            raise RuntimeError(f"this {self.type_name} from the student's kernel belongs to an earlier test cell")

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        self._check()
        return self._client.getattr(self._id, name)

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self

    def __repr__(self) -> str:
        return f"<{self.type_name} in the student's kernel: {self._repr}>"


class RemoteFunction(RemoteHandle):
    """A callable in the student's kernel: calling it sends the arguments there and returns the result.

    The student's exceptions come back as ``StudentError``; a call that reached one of the dlkit
    functions refused by ``forbidden_references`` raises ``ReferenceUsedError``.
    """

    def __init__(self, client: KernelClient, tree: dict):
        super().__init__(client, tree)
        name = str(tree.get("name", "function"))[:100]
        self.__name__ = self.__qualname__ = name if name.isidentifier() else "function"
        self.__signature__ = _signature(tree.get("params"))

    def __call__(self, *args, **kwargs):
        self._check()
        params = None
        if self.__signature__ is not None:
            params = [p.name for p in self.__signature__.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        return self._client.call(self._id, args, kwargs, self.__name__, params)

    def __repr__(self) -> str:
        return f"<function {self.__name__} in the student's kernel>"


def _signature(params) -> inspect.Signature | None:
    """A signature from the kernel's parameter list, or None (names only; defaults are placeholders)."""
    if type(params) is not list:
        return None
    try:
        return inspect.Signature([
            inspect.Parameter(name, inspect._ParameterKind(kind), default=... if has_default else inspect.Parameter.empty)
            for name, kind, has_default in params
            if isinstance(name, str) and type(kind) is int and type(has_default) is bool
        ])
    except (ValueError, TypeError):
        return None


# ============================================================================ kernel program

def main(argv: list[str] | None = None) -> None:
    """Entry point of the kernel process: ``python -m autograde.remote --read-fd R --write-fd W``."""
    parser = argparse.ArgumentParser(description="autograde kernel server (started by autograde.sandbox)")
    parser.add_argument("--read-fd", type=int, required=True)
    parser.add_argument("--write-fd", type=int, required=True)
    parser.add_argument("--output-bytes", type=int, default=1 << 20)
    parser.add_argument("--end-strays", action="store_true",
                        help="after each request, kill the processes student code left (isolated kernels only)")
    args = parser.parse_args(argv)
    KernelServer(args.read_fd, args.write_fd, args.output_bytes, args.end_strays).serve()


if __name__ == "__main__":
    main()
