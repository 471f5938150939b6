"""Tests of autograde.remote: pickle-free values, frames, and proxies talking to a real kernel."""
from __future__ import annotations

import inspect
import json
import os
import time
from collections import namedtuple

import numpy as np
import pytest

from autograde import remote, sandbox
from autograde.errors import ReferenceUsedError, StudentError
from autograde.remote import ProtocolError, decode, encode


def roundtrip(value, **options):
    buffers = []
    tree = json.loads(json.dumps(encode(value, buffers)))
    return decode(tree, [bytes(memoryview(b).cast("B")) for b in buffers], **options)


# ------------------------------------------------------------------------------------- values

@pytest.mark.parametrize("value", [None, True, 3, -2**70, 0.1, float("inf"), "é", (1, [2.5, None]), {"a": {1: (2,)}},
                                   {3, 4}, frozenset({"x"}), 1 + 2j, b"\x00\xff"])
def test_python_values_roundtrip(value):
    """Do plain Python values come back equal and of the same type?"""
    back = roundtrip(value)
    assert back == value and type(back) is type(value)


def test_nan_roundtrips():
    """Does a NaN come back as a NaN?"""
    assert np.isnan(roundtrip(float("nan")))


@pytest.mark.parametrize("array", [np.arange(6.0).reshape(2, 3).T, np.zeros((0, 3)), np.array(2.5), np.arange(4, dtype=np.int32),
                                   np.array([True, False]), np.array([1 + 1j], dtype=np.complex64), np.array(["ab", "c"]),
                                   np.array(["2024-01-02"], dtype="datetime64[D]"), np.ones((2, 2), dtype=">f8")])
def test_arrays_roundtrip(array):
    """Do arrays of every plain dtype come back with their dtype, shape and values (and writable)?"""
    back = roundtrip(array)
    assert back.dtype == array.dtype and back.shape == array.shape and np.array_equal(back, array)
    assert back.flags.writeable


def test_numpy_scalars_keep_their_type():
    """Does a NumPy scalar come back as the same NumPy scalar type (not a float)?"""
    for scalar in (np.float32(1.5), np.int64(7), np.bool_(True), np.float64(0.1)):
        back = roundtrip(scalar)
        assert type(back) is type(scalar) and back == scalar


def test_records_keep_fields_and_rebuild():
    """Does a NamedTuple come back as a tuple with the same fields, rebuildable like a namedtuple?"""
    Cache = namedtuple("Cache", ["A_prev", "W"])
    back = roundtrip(Cache(np.ones(2), 3.0))
    assert back._fields == ("A_prev", "W") and back.W == 3.0 and isinstance(back, tuple)
    assert type(back)(*back).W == 3.0 and back._asdict()["W"] == 3.0 and "Cache(" in repr(back)


def test_generators_keep_their_state():
    """Does a numpy Generator come back drawing the same numbers?"""
    rng = np.random.default_rng(3)
    rng.normal()
    back = roundtrip(rng)
    assert back.normal() == rng.normal()


def test_objects_are_refused_on_the_grader_side():
    """Is an object (or an object array) refused rather than pickled?"""
    for value in (object(), np.array([object()]), lambda x: x):
        with pytest.raises(TypeError, match="cannot be sent"):
            encode(value, [])


@pytest.mark.parametrize("tree, buffers", [
    ({"$": "pickle", "v": "gASV"}, []),
    ({"$": "nd", "dtype": "|O8", "shape": [1], "b": 0}, [b"\x00" * 8]),
    ({"$": "nd", "dtype": "|V8", "shape": [1], "b": 0}, [b"\x00" * 8]),
    ({"$": "nd", "dtype": "[('a', '<f8')]", "shape": [1], "b": 0}, [b"\x00" * 8]),
    ({"$": "nd", "dtype": "<f8", "shape": [2], "b": 0}, [b"\x00" * 8]),
    ({"$": "nd", "dtype": "<f8", "shape": [-1], "b": 0}, [b""]),
    ({"$": "scalar", "dtype": "<f8", "b": 3}, []),
    ({"$": "record", "module": "m", "qualname": "C", "fields": ["__class__"], "v": [1]}, []),
    ({"$": "rng", "state": {"bit_generator": "os.system"}}, []),
    ({"$": "dict", "k": [1, 2], "v": [1]}, []),
    ([1, 2], []),
])
def test_bad_trees_are_protocol_errors(tree, buffers):
    """Is every malformed or dangerous value (unknown tag, object dtype, bad shape...) a ProtocolError?"""
    with pytest.raises(ProtocolError):
        decode(tree, buffers)


def test_deep_nesting_is_refused():
    """Is a value nested deeper than MAX_DEPTH refused on both sides?"""
    deep = []
    for _ in range(remote.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ValueError, match="nested"):
        encode(deep, [])
    tree = {"$": "list", "v": []}
    for _ in range(remote.MAX_DEPTH + 5):
        tree = {"$": "list", "v": [tree]}
    with pytest.raises(ProtocolError):
        decode(tree, [])


# ------------------------------------------------------------------------------------- frames

def test_frames_roundtrip_and_time_out():
    """Does a frame arrive whole, and does waiting for a missing one stop at the deadline?"""
    read_fd, write_fd = os.pipe()
    try:
        remote.send_frame(write_fd, {"op": "x"}, [b"abc", memoryview(np.arange(3.0))])
        header, buffers = remote.FrameReader(read_fd).read(time.monotonic() + 5)
        assert header == {"op": "x"} and bytes(buffers[0]) == b"abc" and len(buffers[1]) == 24
        with pytest.raises(TimeoutError):
            remote.FrameReader(read_fd).read(time.monotonic() + 0.05)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_oversized_frame_is_discarded_and_the_stream_goes_on():
    """Is a frame over the size limit (in its buffers or its header) refused, skipped, and the next one read?"""
    read_fd, write_fd = os.pipe()
    try:
        reader = remote.FrameReader(read_fd, max_bytes=10)
        remote.send_frame(write_fd, {"n": 1}, [b"x" * 11])
        remote.send_frame(write_fd, {"n": 2}, [b"ok"])
        with pytest.raises(ProtocolError, match="larger than"):
            reader.read(time.monotonic() + 5)
        assert reader.read(time.monotonic() + 5)[0] == {"n": 2}
        remote.send_frame(write_fd, {"long": "y" * 100})
        remote.send_frame(write_fd, {"n": 3})
        with pytest.raises(ProtocolError, match="larger than"):
            reader.read(time.monotonic() + 5)
        assert reader.read(time.monotonic() + 5)[0] == {"n": 3}
    finally:
        os.close(read_fd)
        os.close(write_fd)


# ------------------------------------------------------------------------------------- a kernel

STUDENT = '''
import collections
import numpy as np
from dlkit import activations

Cache = collections.namedtuple("Cache", ["x", "scale"])

def forward(x, scale=2.0):
    return x * scale, Cache(x, scale)

def backward(dout, cache):
    assert isinstance(cache, Cache), type(cache)
    return dout * cache.scale

def broken(a):
    return a["missing"]

class Counter:
    def __init__(self):
        self.count = 0

def make_counter():
    return Counter()

def bump(counter):
    counter.count += 1
    return counter.count

def cheat(z):
    return activations.sigmoid(z)

def sneaky(z):
    try:
        return activations.sigmoid(z)
    except Exception:
        return np.zeros_like(z)

def uses_dlkit_inside(z):
    return activations.sigmoid_derivative(z)

def spin(seconds):
    import time
    end = time.time() + seconds
    while time.time() < end:
        pass
    return "done"

def momentum(v, beta):
    for key in v:
        v[key] *= beta
    return len(v)

def flatten_in_place(x):
    x.shape = (x.size,)

def draw(rng):
    return rng.normal()

def keep(counter, holder):
    holder.append(counter)

big = np.zeros(10**6)
'''


def start(tmp_path, **options):
    kernel = sandbox.Kernel.start(tmp_path, memory_bytes=2 << 30, cpu_s=60, output_bytes=1 << 16)
    client = remote.KernelClient(kernel, **options)
    return kernel, client


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    kernel, client = start(tmp_path_factory.mktemp("kernel"), max_value_bytes=1 << 20, interrupt_grace_s=5.0)
    with client.time_limit(time.monotonic() + 60):
        reply = client.execute(STUDENT, "<cell student>")
    assert reply["ok"], reply
    yield client
    kernel.kill()


def fetch(client, *names):
    with client.time_limit(time.monotonic() + 30):
        found = client.fetch(names)
    return [found.get(name) for name in names]


def test_functions_become_callable_proxies(client):
    """Is a student's function a RemoteFunction with its name and parameters, returning real arrays?"""
    (forward,) = fetch(client, "forward")
    assert isinstance(forward, remote.RemoteFunction) and forward.__name__ == "forward"
    assert list(inspect.signature(forward).parameters) == ["x", "scale"]
    with client.time_limit(time.monotonic() + 30):
        out, cache = forward(np.arange(3.0), scale=3.0)
    assert np.array_equal(out, [0.0, 3.0, 6.0]) and cache.scale == 3.0


def test_records_go_back_as_the_students_class(client):
    """Does a cache returned by the student's forward reach their backward as their own NamedTuple?"""
    forward, backward = fetch(client, "forward", "backward")
    with client.time_limit(time.monotonic() + 30):
        _, cache = forward(np.ones(2))
        assert np.array_equal(backward(np.ones(2), cache), [2.0, 2.0])


def test_student_exceptions_carry_their_traceback(client):
    """Does a student's exception come back as StudentError with type, message and their code's line?"""
    (broken,) = fetch(client, "broken")
    with client.time_limit(time.monotonic() + 30), pytest.raises(StudentError) as info:
        broken({})
    assert info.value.is_a("KeyError") and "'missing'" in str(info.value)
    assert 'File "<cell student>"' in info.value.traceback_text and "remote.py" not in info.value.traceback_text


def test_objects_stay_in_the_kernel_as_handles(client):
    """Is an unsendable object a handle that can be passed back (the same object each time)?"""
    make_counter, bump = fetch(client, "make_counter", "bump")
    with client.time_limit(time.monotonic() + 30):
        counter = make_counter()
        assert isinstance(counter, remote.RemoteHandle) and counter.type_name == "Counter"
        assert (bump(counter), bump(counter)) == (1, 2)
        assert counter.count == 2


def test_released_handles_are_stale(client):
    """After release(), does using an old proxy fail clearly instead of reaching another object?"""
    (make_counter,) = fetch(client, "make_counter")
    with client.time_limit(time.monotonic() + 30):
        client.release()
        with pytest.raises(RuntimeError, match="earlier test cell"):
            make_counter()


def test_reference_use_is_refused_only_while_forbidden(client):
    """Is calling a forbidden dlkit function refused (even when caught), allowed inside dlkit, and restored after?"""
    cheat, sneaky, inside = fetch(client, "cheat", "sneaky", "uses_dlkit_inside")
    z = np.array([0.0, 1.0])
    with client.time_limit(time.monotonic() + 30):
        with remote.forbidden_references(["dlkit.activations.sigmoid"]):
            with pytest.raises(ReferenceUsedError, match="dlkit.activations.sigmoid"):
                cheat(z)
            with pytest.raises(ReferenceUsedError):
                sneaky(z)
            assert np.allclose(inside(z), [0.25, 0.19661193])
        assert np.allclose(cheat(z), [0.5, 0.73105858])


def test_too_large_values_fail_the_call_only(client):
    """Is a value over the size limit a failed call, with the kernel still answering after?"""
    with client.time_limit(time.monotonic() + 30):
        with pytest.raises(ValueError, match="too large"):
            client.fetch(["big"])
        assert client.execute("small = 1", "<cell small>")["ok"]


def test_interrupt_stops_long_code_and_the_kernel_goes_on(client):
    """Does a call past its deadline raise CellTimeout, leaving a kernel that still answers?"""
    (spin,) = fetch(client, "spin")
    with client.time_limit(time.monotonic() + 0.5), pytest.raises(remote.CellTimeout):
        spin(30)
    with client.time_limit(time.monotonic() + 30):
        assert spin(0) == "done"


def test_magics_run_in_cells(client):
    """Do IPython magics (%timeit) work in the student's cells?"""
    with client.time_limit(time.monotonic() + 30):
        reply = client.execute("%timeit -n1 -r1 sum(range(10))", "<cell magic>")
    assert reply["ok"] and "loop" in reply["output"]


def test_matplotlib_magic_works_and_the_cell_goes_on(client):
    """Does ``%matplotlib inline`` (as course notebooks start) run, and the rest of its cell with it?"""
    with client.time_limit(time.monotonic() + 60):
        reply = client.execute("%matplotlib inline\nafter_magic = 1", "<cell magic2>")
        assert reply["ok"], reply
        assert client.fetch(["after_magic"]) == {"after_magic": 1}


def test_missing_attributes_are_attribute_errors(client):
    """Is reading an attribute a kernel object lacks an AttributeError (so getattr with a default works)?"""
    (forward,) = fetch(client, "forward")
    with client.time_limit(time.monotonic() + 30):
        assert getattr(forward, "func", None) is None
        with pytest.raises(AttributeError):
            forward.no_such_attribute


def test_output_is_capped(client):
    """Is a huge output cut at the limit but counted?"""
    with client.time_limit(time.monotonic() + 30):
        reply = client.execute("print('x' * 200_000)", "<cell loud>")
    assert reply["ok"] and reply["output_chars"] == 200_001 and len(reply["output"]) <= 2000


def test_a_dead_kernel_is_reported_and_stays_dead(tmp_path):
    """After os._exit, is the loss reported (with the exit code), and every later request refused?"""
    kernel, client = start(tmp_path)
    with client.time_limit(time.monotonic() + 30):
        with pytest.raises(remote.KernelDied):
            client.execute("import os\nos._exit(7)", "<cell exit>")
        with pytest.raises(remote.KernelDied):
            client.execute("x = 1", "<cell after>")
    assert kernel.wait().code == 7


# ------------------------------------------------------------------------------------- arguments changed in place

def test_changes_to_arguments_reach_the_callers_objects(client):
    """Does a dict argument updated in place in the kernel come back updated in the caller's dict,
    its arrays changed in place (same objects), and the change noted?"""
    (momentum,) = fetch(client, "momentum")
    v = {"dW1": np.ones((2, 3)), "db1": np.full((2, 1), 4.0)}
    dW1 = v["dW1"]
    client.changed_inputs.clear()
    with client.time_limit(time.monotonic() + 30):
        assert momentum(beta=0.5, v=v) == 2  # by name (the grading tests pass it by position)
    assert v["dW1"] is dW1 and np.array_equal(dW1, np.full((2, 3), 0.5)) and np.array_equal(v["db1"], [[2.0], [2.0]])
    assert client.changed_inputs == [
        "momentum changed its input v: a function must not modify its arguments. Work on a copy (v = v.copy()) "
        "or use operations that make a new array (v = v * 2, not v *= 2 or v[...] = 0)."]


def test_calls_that_change_nothing_note_nothing(client):
    """Are the arguments of a function that only reads them left as they were, with no change noted?"""
    (forward,) = fetch(client, "forward")
    x = np.arange(3.0)
    client.changed_inputs.clear()
    with client.time_limit(time.monotonic() + 30):
        forward(x, scale=3.0)
    assert np.array_equal(x, [0.0, 1.0, 2.0]) and client.changed_inputs == []


def test_an_array_reshaped_in_place_is_refused(client):
    """Is an argument whose shape the function changed in place reported (ArgumentChanged), and left alone?"""
    (flatten_in_place,) = fetch(client, "flatten_in_place")
    x = np.ones((2, 2))
    with client.time_limit(time.monotonic() + 30), pytest.raises(remote.ArgumentChanged, match=r"shape \(4,\)"):
        flatten_in_place(x)
    assert x.shape == (2, 2)


def test_generators_advance_without_counting_as_changes(client):
    """Does a generator passed to the student's function advance here as it did there, without being a change?"""
    (draw,) = fetch(client, "draw")
    rng, mirror = np.random.default_rng(5), np.random.default_rng(5)
    client.changed_inputs.clear()
    with client.time_limit(time.monotonic() + 30):
        assert (draw(rng), draw(rng)) == (mirror.normal(), mirror.normal())
    assert client.changed_inputs == []


def test_handles_put_in_a_changed_argument_stay_the_same_proxies(client):
    """When the kernel adds an object it was given by reference to a list argument, is it the same proxy here?"""
    make_counter, keep = fetch(client, "make_counter", "keep")
    with client.time_limit(time.monotonic() + 30):
        counter = make_counter()
        holder = [counter]
        keep(counter, holder)
    assert len(holder) == 2 and holder[0] is counter and holder[1] is counter


def received(value):
    """``value`` as the kernel receives it: (its tree, its buffers, the decoded copy)."""
    buffers = []
    tree = json.loads(json.dumps(encode(value, buffers)))
    buffers = [bytearray(memoryview(b).cast("B")) for b in buffers]
    return tree, buffers, decode(tree, buffers)


@pytest.mark.parametrize("change", [
    lambda v: v["W"].__setitem__((0, 0), 7.0),
    lambda v: v.__setitem__("W", v["W"].ravel()),
    lambda v: v.__setitem__("new", 1),
    lambda v: v.pop("b"),
    lambda v: v["rest"][1].append(3),
    lambda v: v["rest"][0].__setitem__(0, -1),
    lambda v: v.__setitem__("b", 2.5),
    lambda v: v["rng"].normal(),
    lambda v: v["tags"].add("z"),
])
def test_the_kernel_sees_every_change_to_what_it_received(change):
    """Does the kernel's comparison catch a changed entry, a replaced, added or removed key, a nested
    change and a drawn generator, and does it find an untouched value unchanged?"""
    value = {"W": np.arange(6.0).reshape(2, 3), "b": 1.5, "rest": (np.zeros(2), [1, 2]), "name": "x",
             "rng": np.random.default_rng(0), "tags": {"a"}, "when": np.array(["2024-01-02"], dtype="datetime64[D]")}
    tree, buffers, copy = received(value)
    assert remote._unchanged(copy, tree, buffers, {})
    change(copy)
    assert not remote._unchanged(copy, tree, buffers, {})


def test_update_in_place_follows_the_new_value_where_it_can():
    """Do lists, nested tuples and sets take the new contents in place, and are read-only arrays,
    other shapes and other types refused?"""
    old_list, inner = [np.zeros(2), 1], np.zeros(2)
    assert remote.update_in_place(old_list, [np.ones(2), 1, "added"]) == (True, True)
    assert old_list[1:] == [1, "added"] and np.array_equal(old_list[0], [1.0, 1.0])
    assert remote.update_in_place((inner, 3), (np.ones(2), 3)) == (True, True) and inner.sum() == 2.0
    tags = {"a"}
    assert remote.update_in_place(tags, {"a", "b"}) == (True, True) and tags == {"a", "b"}
    frozen = np.zeros(2)
    frozen.flags.writeable = False
    assert remote.update_in_place(frozen, np.ones(2)) == (False, True)
    assert remote.update_in_place(frozen, np.zeros(2)) == (True, False)
    assert remote.update_in_place(np.zeros(2), np.zeros(2, dtype=np.float32)).fits is False
    assert remote.update_in_place(2.0, float("nan")) == (False, True)
    assert remote.update_in_place(float("nan"), float("nan")) == (True, False)


@pytest.mark.parametrize("changed", [[1], {"args": [[5, 1]]}, {"args": [["0", 1]]}, {"kwargs": [["y", 1]]},
                                     {"args": [[0]]}, {"globals": []}, {"args": "x"}])
def test_bad_lists_of_changed_arguments_are_protocol_errors(changed):
    """Is a kernel's report of changes to arguments that were not passed (or malformed) a ProtocolError?"""
    with pytest.raises(ProtocolError):
        list(remote._changed_items(changed, (np.zeros(1),), {"x": 1}, ["a"]))
