"""Checks for notebook test cells: staged comparisons whose failures tell a student what is wrong.

A test cell calls the student's function and compares the result with an expected one. The
comparison goes in stages and stops at the first problem, because that is the one to fix first:
type (array, number, tuple, dict, ...), then structure (tuple length, dict keys, recursing with a
path such as ``output[1]["dW2"]``), then shape, then NaN and inf, then the values (first wrong
entry, expected vs. got, max abs and rel error, how many entries are wrong), and a hint when the
wrong result matches a known mistake (see ``autograde.mistakes``).

>>> import numpy as np
>>> expected = np.array([[0.5], [0.7311], [0.8808]])
>>> assert_close(expected.copy(), expected, name="sigmoid(z)")
>>> assert_close(1 - expected, expected, name="sigmoid(z)")
Traceback (most recent call last):
...
AssertionError: sigmoid(z) differs at index (1, 0): expected 0.7311, got 0.2689 (2 of 3 entries wrong; max abs error 0.7616, max rel error 0.8647). Hint: the result looks like 1 - expected: check the sign of the exponent (sigmoid(z) = 1 / (1 + exp(-z))), or whether Y and 1 - Y are swapped.
>>> assert_close({"dw": expected.T, "db": 0.5}, {"dw": expected, "db": 0.5}, name="grads")
Traceback (most recent call last):
...
AssertionError: grads["dw"] has shape (1, 3) but expected (3, 1). Hint: it is the transpose of the expected array: remove (or add) a .T, or swap the factors of the matrix product.

A test cell reads like this (visible checks, hidden ones, then the line that prints the points)::

    checks.compare_to_reference(propagate, dlkit_propagate, [(w, b, X, Y)], output_names=("grads", "cost"),
                                context=lambda w, b, X, Y: {"m": X.shape[1]})
    checks.check_backward(linear_backward, linear_forward, (A_prev, W, b), wrt=("A_prev", "W", "b"),
                          reference_forward=dlkit_linear_forward)
    checks.passed("propagate", 2)

The checks accept any callables: real functions in the student's kernel, or the grader's proxies
that run the student's function elsewhere. Under ``redacted()`` (the grader's hidden tests) the
messages keep the kind of problem, the index, the shapes and the hint, and drop expected values.

Choices worth knowing:

- Tuples and lists are interchangeable (both unpack the same way); dict keys must match exactly.
- A number is expected -> a Python number, a NumPy scalar or a 0-d array is accepted. An array of
  size 1 such as ``np.array([[0.69]])`` is accepted too when its value is right (it behaves like the
  number in what follows); pass ``strict_scalars=True`` to require a true scalar.
- Integer arrays are accepted where floats are expected when the values match (0/1 predictions);
  when they do not and look truncated, the message says so. ``assert_equal`` is exact on values
  and rejects a float number where an int is expected (a shape computed as 4.0 is a bug), but
  compares arrays by value whatever their dtypes.
- Float32 results (or float32 expected values) get tolerances widened to float32 round-off, so a
  correct answer never fails because of the precision it was computed in.
- Imported in a notebook (an IPython kernel), this module also installs
  ``autograde.failing_exercises``: a cell that raises after an exercise's test failed gets a note
  naming the exercises to fix first.
- Every check takes ``note="..."``, a sentence of advice appended to any failure it reports (a
  recipe, where to look), so a test cell never wraps a check in try/except to add one.
  ``assert_less(value, limit, name=..., advice=...)`` checks a number the student computed, such
  as the difference of a gradient check.
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import inspect
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from autograde import failing_exercises, mistakes
from autograde.errors import StudentError

__all__ = [
    "assert_close",
    "assert_equal",
    "assert_less",
    "compare_to_reference",
    "check_backward",
    "check_loss_gradient",
    "passed",
    "hint_for",
    "redacted",
    "is_redacted",
]

# ---------------------------------------------------------------------------------------------
# Redaction: a context variable, so nested ``with redacted():`` blocks and threads do not clash.

_REDACTED: contextvars.ContextVar[bool] = contextvars.ContextVar("autograde_checks_redacted", default=False)


@contextlib.contextmanager
def redacted() -> Iterator[None]:
    """Within this block, failure messages show no expected values or reference numbers.

    They keep the kind of problem, the index of the first wrong entry, the shapes and the hint.

    >>> with redacted():
    ...     assert_close(np.array([1.0, 5.0]), np.array([1.0, 2.0]), name="y")
    Traceback (most recent call last):
    ...
    AssertionError: y differs at index 1: got 5 (1 of 2 entries wrong).
    """
    token = _REDACTED.set(True)
    try:
        yield
    finally:
        _REDACTED.reset(token)


def is_redacted() -> bool:
    """Return True inside a ``redacted()`` block."""
    return _REDACTED.get()


def hint_for(got, expected, context: Mapping | None = None) -> str | None:
    """Return the known-mistake hint for a wrong ``got`` (see ``autograde.mistakes.hint_for``).

    >>> hint_for(-np.ones(3), np.ones(3))
    'the sign is flipped: check the minus sign of the cost, dZ = A - Y (not Y - A), and W - learning_rate * dW.'
    """
    return mistakes.hint_for(got, expected, context, reveal=not is_redacted())


# ---------------------------------------------------------------------------------------------
# Describing values in a student's terms.

def _is_number(value) -> bool:
    """True for Python and NumPy numbers (not bools) and 0-d numeric arrays."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf"


def _describe(value) -> str:
    """A short phrase for what ``value`` is: 'an ndarray of shape (3, 1)', 'a list of 2 items'."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an ndarray of shape {value.shape}" if value.ndim else f"a 0-d ndarray of dtype {value.dtype}"
    if isinstance(value, (bool, np.bool_)):
        return f"a bool ({bool(value)})"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {_items(len(value))}"
    if isinstance(value, Mapping):
        return f"a dict with keys {_keys(value)}"
    name = getattr(value, "type_name", None)  # an opaque handle may say what it stands for
    name = name if isinstance(name, str) and name else type(value).__name__
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name}"


def _items(count: int) -> str:
    return f"{count} item{'' if count == 1 else 's'}"


def _keys(keys) -> str:
    """'dW1', 'db1' listed for a message."""
    return ", ".join(repr(key) for key in keys) or "(none)"


def _index(index: tuple) -> str:
    """An array index as a student would type it: '2' for 1-D, '(2, 0)' otherwise."""
    index = tuple(int(i) for i in index)
    return str(index[0]) if len(index) == 1 else str(index)


def _number(x) -> str:
    """A number with 4 significant digits."""
    return f"{x:.4g}"


def _pair(expected, got) -> tuple[str, str]:
    """Two numbers with just enough digits that they do not print the same (4 digits when they are equal)."""
    for digits in (4, 6, 9, 12, 17) if expected != got else (4,):
        a, b = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        if a != b:
            break
    return a, b


def _count(wrong: np.ndarray) -> str:
    """'2 of 3 entries wrong'."""
    return f"{int(wrong.sum())} of {wrong.size} {'entry' if wrong.size == 1 else 'entries'} wrong"


def _short_repr(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# The staged comparison. Each method returns the failure message or None; the public functions
# raise, so a student's traceback shows a single frame of this module.

@dataclass(frozen=True)
class _Comparer:
    rtol: float = 1e-6
    atol: float = 1e-9
    exact: bool = False
    context: Mapping = field(default_factory=dict)
    strict_scalars: bool = False
    allow_extra_keys: bool = False

    def compare(self, got, expected, path: str, order: Sequence | None = None) -> str | None:
        """The first problem of ``got`` against ``expected``, as a message starting with ``path``.

        ``order`` lists the parts of a tuple or dict ``expected`` (positions, field names or keys)
        to compare first, in that order; the others follow in their own order.
        """
        if got is None and expected is not None:
            return f"{path} is None: did you forget a return statement?"
        if isinstance(expected, Mapping):
            return self._mapping(got, expected, path, order)
        if isinstance(expected, (tuple, list)):
            return self._sequence(got, expected, path, order)
        if order is not None:
            raise ValueError(f"an order of the parts needs a tuple or dict result, but the expected {path} is {_describe(expected)}")
        if _is_number(expected):
            return self._number(got, expected, path)
        if isinstance(expected, np.ndarray):
            return self._array(got, expected, path)
        return self._other(got, expected, path)

    def hint(self, got, expected) -> str:
        text = mistakes.hint_for(got, expected, self.context, reveal=not is_redacted())
        return f" Hint: {text}" if text else ""

    # structure -------------------------------------------------------------------------------
    def _mapping(self, got, expected: Mapping, path: str, order: Sequence | None = None) -> str | None:
        if not isinstance(got, Mapping):
            return f"{path} is {_describe(got)} but expected a dict with keys {_keys(expected)}."
        missing = [key for key in expected if key not in got]
        extra = [] if self.allow_extra_keys else [key for key in got if key not in expected]
        if missing or extra:
            return f"{path} {_key_problem(missing, extra)}."
        parts = [((key,), f'{path}["{key}"]' if isinstance(key, str) else f"{path}[{key!r}]", got[key], value)
                 for key, value in expected.items()]
        return self.compare_parts(parts, order)

    def _sequence(self, got, expected: Sequence, path: str, order: Sequence | None = None) -> str | None:
        fields = getattr(expected, "_fields", None)
        kind = f"a {type(expected).__name__}" if fields else f"a {'tuple' if isinstance(expected, tuple) else 'list'}"
        if isinstance(got, np.ndarray) and not fields and expected and all(_is_number(x) for x in expected):
            return self._array(got, np.asarray(expected), path)  # a list of numbers: an array will do
        if not isinstance(got, (tuple, list)):
            return f"{path} is {_describe(got)} but expected {kind} of {_items(len(expected))}."
        if len(got) != len(expected):
            named = f" ({', '.join(fields)})" if fields else ""
            return f"{path} has {_items(len(got))} but expected {len(expected)}{named}."
        parts = [((i, fields[i]), f"{path}.{fields[i]}", g, x) if fields else ((i,), f"{path}[{i}]", g, x)
                 for i, (g, x) in enumerate(zip(got, expected))]
        return self.compare_parts(parts, order)

    def compare_parts(self, parts: list[tuple[tuple, str, object, object]], order: Sequence | None) -> str | None:
        """Compare ``(names, path, got, expected)`` parts, those that ``order`` names first, and stop at the first problem."""
        for index in _ordered([names for names, *_ in parts], order):
            _, path, got, expected = parts[index]
            message = self.compare(got, expected, path)
            if message:
                return message
        return None

    # numbers ---------------------------------------------------------------------------------
    def _number(self, got, expected, path: str) -> str | None:
        if isinstance(got, (bool, np.bool_)):
            return f"{path} is a bool ({bool(got)}) but expected a number."
        if isinstance(got, np.ndarray) and got.ndim > 0:
            if got.size != 1:
                return f"{path} is an ndarray of shape {got.shape} but expected a number.{self.hint(got, expected)}"
            if self.strict_scalars:
                return f"{path} is an ndarray of shape {got.shape} but expected a number: use np.squeeze or float(...)."
            got = got.reshape(())  # a matching (1, 1) cost works like the number in what follows
        if isinstance(got, np.ndarray) and got.dtype.kind == "b":
            return f"{path} is an ndarray of bools but expected a number."
        if not _is_number(got):
            return f"{path} is {_describe(got)} but expected a number."
        if self.exact and _is_integral(expected) and not _is_integral(got):
            return f"{path} is a float ({got}) but expected an integer: use int(...) or integer division //."
        got, expected = np.asarray(got), np.asarray(expected)
        return self._non_finite(got, expected, path) or self._values(got, expected, path)

    # arrays ----------------------------------------------------------------------------------
    def _array(self, got, expected: np.ndarray, path: str) -> str | None:
        message = self.array_form(got, expected, path)
        if message:
            return message
        if expected.dtype.kind not in "biuf" or got.dtype.kind not in "biuf":
            return None if np.array_equal(got, expected) else self._values(got, expected, path)
        return self._non_finite(got, expected, path) or self._values(got, expected, path)

    def array_form(self, got, expected: np.ndarray, path: str) -> str | None:
        """Type, dtype and shape of an array result (no values)."""
        if not isinstance(got, np.ndarray):
            if isinstance(got, (tuple, list)):
                return f"{path} is {_describe(got)} but expected an ndarray of shape {expected.shape}: convert it with np.array(...)."
            if _is_number(got) or isinstance(got, np.generic):
                return f"{path} is a single number but expected an ndarray of shape {expected.shape}.{self.hint(got, expected)}"
            return f"{path} is {_describe(got)} but expected an ndarray of shape {expected.shape}."
        if expected.dtype.kind in "biuf" and got.dtype.kind not in "biuf":
            return f"{path} has dtype {got.dtype} but expected numbers (dtype {expected.dtype})."
        if got.shape != expected.shape:
            return f"{path} has shape {got.shape} but expected {expected.shape}.{self.hint(got, expected)}"
        return None

    def _non_finite(self, got: np.ndarray, expected: np.ndarray, path: str) -> str | None:
        if got.dtype.kind != "f":
            return None
        for test, what in ((np.isnan, "NaN"), (np.isinf, "inf")):
            bad = test(got) & np.isfinite(expected)
            if bad.any() and got.ndim == 0:
                return f"{path} is {what} but a number is expected.{self.hint(got, expected)}"
            if bad.any():
                flat = np.flatnonzero(bad)
                where = _index(np.unravel_index(flat[0], got.shape))
                return (f"{path} contains {what} at index {where} ({flat.size} of {got.size} entries) "
                        f"where a number is expected.{self.hint(got, expected)}")
        return None

    def _values(self, got: np.ndarray, expected: np.ndarray, path: str) -> str | None:
        wrong = self._wrong_entries(got, expected)
        if not wrong.any():
            return None
        flat = np.flatnonzero(wrong)
        first = np.unravel_index(flat[0], got.shape)
        shown_got, shown_expected = got[first], expected[first]
        if got.dtype.kind not in "biuf" or expected.dtype.kind not in "biuf":
            return self._mismatch(shown_got.item(), shown_expected.item(), path, first if got.ndim else None)
        text = _value_text(got.astype(np.float64), expected.astype(np.float64), wrong, first, path)
        if expected.dtype.kind == "f" and got.dtype.kind in "biu" and _truncated(got, expected):
            return (f"{text} Hint: {path} has integer dtype {got.dtype} but floats are expected: "
                    f"were the values truncated (an integer np.zeros, or //)?")
        small = _small_difference_note(got, expected, self) if not self.exact else ""
        return f"{text}{small}{self.hint(got, expected)}"

    def _wrong_entries(self, got: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """Boolean mask of the entries that differ (beyond tolerance unless ``exact``)."""
        if got.dtype.kind not in "biuf" or expected.dtype.kind not in "biuf":
            return np.asarray(got != expected)
        g, e = got.astype(np.float64), expected.astype(np.float64)
        both_nan = np.isnan(g) & np.isnan(e)
        if self.exact:
            return (g != e) & ~both_nan
        rtol, atol = _tolerances(self.rtol, self.atol, got, expected)
        with np.errstate(all="ignore"):
            return ~np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)

    # other values ----------------------------------------------------------------------------
    def _other(self, got, expected, path: str) -> str | None:
        """Strings, bools, None and other objects: exact equality, with the type checked first."""
        if isinstance(expected, (bool, np.bool_)):
            is_bool = isinstance(got, (bool, np.bool_)) or (isinstance(got, np.ndarray) and got.shape == () and got.dtype.kind == "b")
            if not is_bool:
                return f"{path} is {_describe(got)} but expected a bool (True or False)."
            return None if bool(got) == bool(expected) else self._mismatch(bool(got), bool(expected), path)
        if isinstance(expected, str) and not isinstance(got, str):
            return f"{path} is {_describe(got)} but expected a str."
        if expected is None:
            return None if got is None else f"{path} is {_describe(got)} but expected None."
        try:
            equal = bool(got == expected)
        except Exception:  # an object whose == does not give one bool
            equal = False
        return None if equal else self._mismatch(got, expected, path)

    def _mismatch(self, got, expected, path: str, index=None) -> str:
        where = f" at index {_index(index)}" if index is not None else ""
        if is_redacted():
            return f"{path} is wrong{where}: got {_short_repr(got)}."
        return f"{path} is wrong{where}: expected {_short_repr(expected)}, got {_short_repr(got)}."


def _ordered(names: list[tuple], order: Sequence | None) -> list[int]:
    """Indices of the parts called ``names`` (each a tuple of what a part answers to), ``order``'s first."""
    if order is None:
        return list(range(len(names)))
    first = []
    for item in [order] if isinstance(order, (str, int)) else order:
        found = [i for i, aliases in enumerate(names) if any(type(item) is type(a) and item == a for a in aliases)]
        if not found:
            known = ", ".join(repr(aliases[-1]) for aliases in names)
            raise ValueError(f"the order names {item!r}, which is not one of the parts ({known})")
        first += [i for i in found[:1] if i not in first]
    return first + [i for i in range(len(names)) if i not in first]


def _truncated(got: np.ndarray, expected: np.ndarray) -> bool:
    """True when the integers ``got`` are the floats ``expected`` rounded down or toward zero."""
    with np.errstate(all="ignore"):
        return bool(np.array_equal(got, np.trunc(expected)) or np.array_equal(got, np.floor(expected)))


def _is_integral(value) -> bool:
    return isinstance(value, (int, np.integer)) or (isinstance(value, np.ndarray) and value.dtype.kind in "iub")


def _key_problem(missing: list, extra: list) -> str:
    """'is missing the key 'db'' / 'has unexpected keys ...', with a case-sensitivity hint."""
    parts = []
    if missing:
        parts.append(f"is missing the key{'s' if len(missing) > 1 else ''} {_keys(missing)}")
    if extra:
        parts.append(f"has the unexpected key{'s' if len(extra) > 1 else ''} {_keys(extra)}")
    text = " and ".join(parts)
    near = [(x, m) for x in extra for m in missing if isinstance(x, str) and isinstance(m, str) and x.lower() == m.lower()]
    if near:
        text += f". Hint: keys are case-sensitive: {near[0][0]!r} is not {near[0][1]!r}"
    return text


def _tolerances(rtol: float, atol: float, got: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """Tolerances widened to the round-off of the least precise float involved, scaled to the data.

    A float32 result carries relative errors near 1e-7 per operation, and a sum of a thousand
    terms can reach 1e-4; entries that cancel to near 0 carry errors relative to the array's scale.
    """
    eps = max(np.finfo(a.dtype).eps if a.dtype.kind == "f" else np.finfo(np.float64).eps for a in (got, expected))
    finite = np.abs(expected[np.isfinite(expected)]) if expected.dtype.kind == "f" else np.abs(expected)
    scale = float(finite.max()) if finite.size else 0.0
    if eps > np.finfo(np.float64).eps:
        rtol = max(rtol, 1000 * eps)
    return rtol, max(atol, 64 * eps * scale)


def _value_text(got: np.ndarray, expected: np.ndarray, wrong: np.ndarray, first: tuple, path: str) -> str:
    """'y differs at index (2, 0): expected 0.88, got 0.12 (1 of 3 entries wrong; max abs ...).'"""
    with np.errstate(all="ignore"):
        error = np.abs(got - expected)
        relative = error[expected != 0] / np.abs(expected[expected != 0])
    max_abs = float(np.nanmax(error)) if error.size else 0.0
    max_rel = f", max rel error {_number(float(np.nanmax(relative)))}" if relative.size and not np.all(np.isnan(relative)) else ""
    x, g = _pair(float(expected[first]), float(got[first]))
    if got.ndim == 0:
        if is_redacted():
            return f"{path} is {g}, which is not the expected value."
        return f"{path} is {g} but expected {x} (abs error {_number(max_abs)}{max_rel.replace('max rel', 'rel')})."
    count = _count(wrong)
    if is_redacted():
        return f"{path} differs at index {_index(first)}: got {g} ({count})."
    return f"{path} differs at index {_index(first)}: expected {x}, got {g} ({count}; max abs error {_number(max_abs)}{max_rel})."


def _small_difference_note(got: np.ndarray, expected: np.ndarray, comparer: _Comparer) -> str:
    """A sentence when every difference is tiny: the result is nearly right, a small term is off."""
    g, e = got.astype(np.float64), expected.astype(np.float64)
    with np.errstate(all="ignore"):
        error = np.abs(g - e)
        limit = 1e-3 * np.maximum(np.abs(e), np.abs(e).max(initial=0.0) * 1e-3)
        if not np.all(np.isfinite(error)) or np.any(error > limit):
            return ""
    return (f" The differences are small but beyond the tolerance (rtol={comparer.rtol:g}, atol={comparer.atol:g}): "
            f"look for a small term left out or added (an epsilon, a regularization term) or a float32 conversion.")


# ---------------------------------------------------------------------------------------------
# Public checks on values.

def _fail(message: str, note: str | None) -> AssertionError:
    """The error a check raises: its message, then the test author's advice when there is one."""
    return AssertionError(f"{message} {note}" if note else message)


def assert_close(got, expected, *, name: str, rtol: float = 1e-6, atol: float = 1e-9,
                 context: Mapping | None = None, strict_scalars: bool = False,
                 allow_extra_keys: bool = False, note: str | None = None) -> None:
    """Raise ``AssertionError`` unless ``got`` matches ``expected`` to tolerance, in stages.

    Parameters
    ----------
    got : object
        The student's result: an ndarray, a number, or tuples/lists/dicts of them.
    expected : object
        The expected result, of the same form.
    name : str
        What the result is called in the message, e.g. ``"sigmoid(z)"`` or ``"grads"``.
    rtol, atol : float
        Tolerances per entry, ``|got - expected| <= atol + rtol * |expected|``; widened
        automatically for float32 round-off.
    context : Mapping, optional
        Facts for the known-mistake hints, e.g. ``{"m": 5}`` (see ``autograde.mistakes``).
    strict_scalars : bool, default False
        Reject a size-1 array where a number is expected (accepted by default when it matches).
    allow_extra_keys : bool, default False
        Accept dict results holding more keys than expected.
    note : str, optional
        A sentence of advice appended to the message of any failure (a recipe, where to look).

    Examples
    --------
    >>> assert_close(np.float32(0.6931472), 0.6931471805599453, name="cost")
    >>> assert_close(np.array([[0.6931]]), 0.6931, name="cost")
    >>> assert_close(np.array([[0.6931]]), 0.6931, name="cost", strict_scalars=True)
    Traceback (most recent call last):
    ...
    AssertionError: cost is an ndarray of shape (1, 1) but expected a number: use np.squeeze or float(...).
    >>> assert_close(np.array([2.5, 1.0]) * 4, np.array([2.5, 1.0]), name="dw", context={"m": 4})
    Traceback (most recent call last):
    ...
    AssertionError: dw differs at index 0: expected 2.5, got 10 (2 of 2 entries wrong; max abs error 7.5, max rel error 3). Hint: the result is m = 4 times too large: did you divide by m?
    """
    comparer = _Comparer(rtol, atol, False, context or {}, strict_scalars, allow_extra_keys)
    message = comparer.compare(got, expected, name)
    if message:
        raise _fail(message, note)


def assert_equal(got, expected, *, name: str, allow_extra_keys: bool = False, note: str | None = None) -> None:
    """Raise ``AssertionError`` unless ``got`` equals ``expected`` exactly (ints, str, bools, arrays).

    An integer is expected -> a Python or NumPy integer is accepted, a float is not (even 3.0).
    ``note`` is appended to the message of a failure, as in ``assert_close``.

    Examples
    --------
    >>> assert_equal((2, 4, 1), (2, 4, 1), name="layer_sizes(X, Y)")
    >>> assert_equal((2, 4.0, 1), (2, 4, 1), name="layer_sizes(X, Y)")
    Traceback (most recent call last):
    ...
    AssertionError: layer_sizes(X, Y)[1] is a float (4.0) but expected an integer: use int(...) or integer division //.
    >>> assert_equal("relu", "sigmoid", name="activation")
    Traceback (most recent call last):
    ...
    AssertionError: activation is wrong: expected 'sigmoid', got 'relu'.
    """
    comparer = _Comparer(0.0, 0.0, True, {}, False, allow_extra_keys)
    message = comparer.compare(got, expected, name)
    if message:
        raise _fail(message, note)


def _number_form(value, name: str) -> str | None:
    """What is wrong with ``value`` where a single number is expected, or None."""
    if value is None:
        return f"{name} is None: did you forget a return statement?"
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iuf":
        return None  # np.array([[0.3]]) works like the number
    if not _is_number(value):
        return f"{name} is {_describe(value)} but expected a number."
    return None


def assert_less(value, limit: float, *, name: str, advice: str | None = None) -> None:
    """Raise ``AssertionError`` unless the number ``value`` is below ``limit`` (e.g. a gradient-check difference).

    Parameters
    ----------
    value : number
        The student's number (a size-1 array is accepted).
    limit : float
        The value must be strictly below it; NaN never is.
    name : str
        What the value is called in the message, e.g. ``"the difference of gradient_check_n"``.
    advice : str, optional
        A sentence appended to the message: what to look at when the value is too large.

    Examples
    --------
    >>> assert_less(2.3e-10, 1e-7, name="the difference")
    >>> assert_less(0.42, 1e-7, name="the difference", advice="Compare grad and gradapprox entry by entry.")
    Traceback (most recent call last):
    ...
    AssertionError: the difference is 0.42, but it should be below 1e-07. Compare grad and gradapprox entry by entry.
    """
    message = _number_form(value, name)
    if message is None:
        number = float(np.asarray(value, dtype=np.float64).reshape(()))
        if math.isnan(number):
            message = f"{name} is NaN, but it should be a number below {limit:g}."
        elif not number < limit:
            shown_limit, shown = _pair(limit, number)
            message = f"{name} is {shown}, but it should be below {shown_limit}."
    if message:
        raise _fail(message, advice)


# ---------------------------------------------------------------------------------------------
# Calling student functions.

def _function_name(fn: Callable) -> str:
    """The name a student knows the function by."""
    fn = getattr(fn, "func", fn)  # functools.partial
    name = getattr(fn, "__name__", None) or getattr(fn, "name", None)
    return name if isinstance(name, str) else "the function"


def _parameter_names(fn: Callable) -> list[str] | None:
    """Names of ``fn``'s parameters in order, or None when they cannot be read."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    named = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return named or None  # a proxy's (*args, **kwargs) says nothing


def _is_not_implemented(exc: BaseException) -> bool:
    return isinstance(exc, NotImplementedError) or (isinstance(exc, StudentError) and exc.is_a("NotImplementedError"))


def _call_student(fn: Callable, args: tuple, kwargs: dict, where: str, fname: str):
    """Call ``fn``; if it raises, let the student's exception through with a note naming the case."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        if _is_not_implemented(exc):
            exc.add_note(f"{fname} is not implemented yet: this exercise is still a stub. "
                         f"Replace `raise NotImplementedError()` with your code and run its cell again.")
        exc.add_note(f"(raised by your code while checking {where})")
        raise


def _copy(value):
    """A deep copy of test inputs: arrays copied, containers rebuilt, other objects deep-copied."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, tuple):
        items = [_copy(item) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    try:
        return copy.deepcopy(value)
    except Exception:  # an opaque object that cannot be copied: pass it as it is
        return value


def _unpack_case(case) -> tuple[tuple, dict]:
    """A case is a tuple of positional arguments or ``{"args": (...), "kwargs": {...}}``."""
    if isinstance(case, Mapping):
        unknown = set(case) - {"args", "kwargs"}
        if unknown:
            raise ValueError(f"a case dict holds only 'args' and 'kwargs', got also {sorted(unknown)}")
        return tuple(case.get("args", ())), dict(case.get("kwargs", {}))
    if isinstance(case, (tuple, list)):
        return tuple(case), {}
    raise ValueError(f"a case must be a tuple of arguments or a dict with 'args'/'kwargs', got {type(case).__name__}")


def _short_numbers(value) -> str | None:
    """'[4, 3, 1]' for a short list or tuple of numbers, else None (long, not all numbers, or floats under redaction)."""
    if hasattr(value, "_fields") or not value or len(value) > 8:
        return None
    if not all(_is_number(x) and not isinstance(x, np.ndarray) for x in value):
        return None
    integers = all(isinstance(x, (int, np.integer)) for x in value)
    if is_redacted() and not integers:
        return None
    items = [str(int(x)) if isinstance(x, (int, np.integer)) else f"{float(x):.4g}" for x in value]
    text = f"[{', '.join(items)}]" if isinstance(value, list) else f"({', '.join(items)}{',' if len(items) == 1 else ''})"
    return text if len(text) <= 40 else None


def _describe_input(name: str, value) -> str:
    """'X of shape (2, 3)', 'learning_rate = 0.01', 'layers_dims = [4, 3, 1]', 'parameters with W1 (4, 2), b1 (4, 1)'."""
    if isinstance(value, np.ndarray) and value.ndim:
        return f"{name} of shape {value.shape}"
    if isinstance(value, (tuple, list)) and _short_numbers(value):
        return f"{name} = {_short_numbers(value)}"
    if isinstance(value, (bool, np.bool_, int, np.integer, str)) and len(repr(value)) <= 30:
        return f"{name} = {value!r}" if not isinstance(value, np.generic) else f"{name} = {value.item()!r}"
    if _is_number(value):
        return f"{name} (a number)" if is_redacted() else f"{name} = {float(value):.4g}"
    if isinstance(value, Mapping):
        items = [f"{key} {np.shape(item)}" if isinstance(item, np.ndarray) else str(key) for key, item in list(value.items())[:8]]
        more = ", ..." if len(value) > 8 else ""
        return f"{name} with {', '.join(items)}{more}"
    return f"{name} = {_describe(value)}"


def _labels(names: list[str] | None, args: tuple, kwargs: dict) -> list[str]:
    """The names of a call's arguments: parameter names where known, else ``arg1``, ``arg2``..."""
    positional = [names[i] if names and i < len(names) else f"arg{i + 1}" for i in range(len(args))]
    return positional + list(kwargs)


def _describe_call(fname: str, names: list[str] | None, args: tuple, kwargs: dict) -> str:
    """'sigmoid(z) for z of shape (3, 1)'."""
    labels = _labels(names, args, kwargs)
    details = [_describe_input(n, v) for n, v in zip(labels, list(args) + list(kwargs.values()))]
    return f"{fname}({', '.join(labels)})" + (f" for {', '.join(details)}" if details else "")


def _first_difference(before, after, path: str) -> str | None:
    """Where ``after`` differs from ``before`` (exact, NaN equal to NaN), as a path, or None."""
    if isinstance(before, np.random.Generator):
        return None  # drawing from a generator is what it is passed for: its state may move on
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or after.shape != before.shape:
            return path
        if before.dtype.kind in "biufc":
            differs = ~((before == after) | (np.isnan(before) & np.isnan(after)) if before.dtype.kind in "fc" else (before == after))
        else:
            differs = np.asarray(before != after)
        if not differs.any():
            return None
        return f"{path}[{', '.join(str(int(i)) for i in np.unravel_index(np.flatnonzero(differs)[0], before.shape))}]"
    if isinstance(before, Mapping):
        if not isinstance(after, Mapping) or set(before) != set(after):
            return path
        for key in before:
            found = _first_difference(before[key], after[key], f'{path}["{key}"]' if isinstance(key, str) else f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(before, (tuple, list)):
        if not isinstance(after, (tuple, list)) or len(after) != len(before):
            return path
        for i, (b, a) in enumerate(zip(before, after)):
            found = _first_difference(b, a, f"{path}[{i}]")
            if found:
                return found
        return None
    try:
        return None if bool(before == after) else path
    except Exception:
        return None


def _mutation_message(fname: str, labels: list[str], before: list, after: list) -> str | None:
    """A message naming the first input the student's function changed, or None."""
    for label, b, a in zip(labels, before, after):
        where = _first_difference(b, a, label)
        if where:
            return (f"{fname} changed its input {label} (first at {where}): a function must not modify its arguments. "
                    f"Work on a copy ({label} = {label}.copy()) or use operations that make a new array ({label} = {label} * 2, not {label} *= 2 or {label}[...] = 0).")
    return None


def _compare_outputs(comparer: _Comparer, got, expected, output_names, output_order=None) -> str | None:
    """Compare a function's outputs, naming them ``output[1]`` or by ``output_names``, in ``output_order``."""
    if output_names is None:
        root = "output" if isinstance(expected, (tuple, list, Mapping)) else "the output"
        return comparer.compare(got, expected, root, output_order)
    if isinstance(output_names, str):
        return comparer.compare(got, expected, output_names, output_order)
    names = list(output_names)
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        return f"the output is {_describe(got)} but expected a tuple of {len(names)} items ({', '.join(names)})."
    parts = [((i, label), label, g, x) for i, (label, g, x) in enumerate(zip(names, got, expected))]
    return comparer.compare_parts(parts, output_order)


def compare_to_reference(student_fn: Callable, reference_fn: Callable, cases: Sequence, *,
                         name: str | None = None, rtol: float = 1e-6, atol: float = 1e-9,
                         output_names: Sequence[str] | str | None = None,
                         context: Mapping | Callable[..., Mapping] | None = None,
                         strict_scalars: bool = False, allow_extra_keys: bool = False,
                         note: str | None = None, output_order: Sequence | None = None) -> None:
    """Call both functions on copies of each case's inputs and compare the outputs with assert_close.

    Parameters
    ----------
    student_fn, reference_fn : callable
        The student's function (or a grader proxy for it) and the trusted reference.
    cases : sequence
        Each item is a tuple of positional arguments or ``{"args": (...), "kwargs": {...}}``.
        Randomized cases are drawn by the test author from a seeded ``numpy.random.Generator``.
    name : str, optional
        The function's name in messages (default: the student function's ``__name__``).
    rtol, atol : float
        Tolerances, as in ``assert_close``.
    output_names : str or sequence of str, optional
        Names of the outputs, e.g. ``("grads", "cost")``; default ``output[0]``, ``output[1]``.
    context : Mapping or callable, optional
        Facts for the hints, or ``context(*args, **kwargs) -> Mapping`` computed per case.
    strict_scalars, allow_extra_keys : bool
        As in ``assert_close``.
    note : str, optional
        A sentence of advice appended to the message of any failure (not to an exception raised by
        the student's function, which keeps its own).
    output_order : sequence, optional
        For outputs that are a tuple or a dict, the parts to compare first, in this order: names
        from ``output_names``, positions, field names of a NamedTuple, or dict keys. The others
        follow in their own order. E.g. ``output_names=("parameters", "v"), output_order=("v",)``
        reports a wrong velocity before the parameters it spoils.

    Raises
    ------
    AssertionError
        Naming the case (its argument shapes) and the first problem, or an input that the
        student's function modified.
    Exception
        Whatever the student's function raises, unchanged (traceback kept), with a note naming
        the case; a stub's ``NotImplementedError`` gets a note saying the exercise is not done.

    Examples
    --------
    >>> def sigmoid(z):
    ...     return 1 / (1 + np.exp(z))
    >>> def reference(z):
    ...     return 1 / (1 + np.exp(-z))
    >>> compare_to_reference(sigmoid, reference, [(np.array([[0.0], [1.0], [2.0]]),)])
    Traceback (most recent call last):
    ...
    AssertionError: sigmoid(z) for z of shape (3, 1): the output differs at index (1, 0): expected 0.7311, got 0.2689 (2 of 3 entries wrong; max abs error 0.7616, max rel error 0.8647). Hint: the result looks like 1 - expected: check the sign of the exponent (sigmoid(z) = 1 / (1 + exp(-z))), or whether Y and 1 - Y are swapped.
    """
    if not cases:
        raise ValueError("compare_to_reference needs at least one case")
    fname = name or _function_name(student_fn)
    names = _parameter_names(student_fn) or _parameter_names(reference_fn)  # the student's own names first
    for number, case in enumerate(cases, 1):
        args, kwargs = _unpack_case(case)
        where = _describe_call(fname, names, args, kwargs)
        if len(cases) > 1:
            where += f" (case {number} of {len(cases)})"
        expected = reference_fn(*_copy(args), **_copy(kwargs))
        student_args, student_kwargs = _copy(args), _copy(kwargs)
        got = _call_student(student_fn, student_args, student_kwargs, where, fname)
        facts = context(*args, **kwargs) if callable(context) else (context or {})
        if "inputs_have_nan" not in facts and _has_nan((args, kwargs)):
            facts = {**facts, "inputs_have_nan": True}
        comparer = _Comparer(rtol, atol, False, facts, strict_scalars, allow_extra_keys)
        message = _compare_outputs(comparer, got, expected, output_names, output_order)
        changed = _mutation_message(fname, _labels(names, args, kwargs), list(args) + list(kwargs.values()),
                                    list(student_args) + list(student_kwargs.values()))
        if message or changed:
            problems = " Also: ".join(p for p in (message, changed) if p)
            raise _fail(f"{where}: {problems}", note)


def _has_nan(value) -> bool:
    """True when a float array or number inside ``value`` (nested in tuples, lists, dicts) is NaN."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "fc" and bool(np.isnan(value).any())
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    if isinstance(value, Mapping):
        return any(_has_nan(item) for item in value.values())
    if isinstance(value, tuple | list):
        return any(_has_nan(item) for item in value)
    return False


# ---------------------------------------------------------------------------------------------
# Backward functions against central differences.

def _float64(value):
    """Copies of test inputs with every float array (and nested ones) in float64."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return np.array(value, dtype=np.float64)
    if isinstance(value, dict):
        return {key: _float64(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_float64(item) for item in value)
    return _copy(value)


def _resolve_wrt(wrt, names: list[str] | None, args: tuple) -> list[tuple[str, tuple]]:
    """``wrt`` as (label, path) pairs: ``"W"`` -> ``("dW", (1,))``; ``(3, "Wax")`` -> ``("dWax", (3, "Wax"))``."""
    wrt = (wrt,) if isinstance(wrt, (str, int)) else wrt
    items = list(wrt.items()) if isinstance(wrt, Mapping) else [(None, item) for item in wrt]
    resolved = []
    for label, item in items:
        path = item if isinstance(item, tuple) else (item,)
        head = path[0]
        if isinstance(head, str):
            if not names or head not in names:
                raise ValueError(f"wrt names {head!r}, which is not a parameter of the forward function ({names}); use its position")
            path = (names.index(head),) + path[1:]
        if not 0 <= path[0] < len(args):
            raise ValueError(f"wrt position {path[0]} is outside the {len(args)} arguments")
        last = path[-1] if len(path) > 1 else (names[path[0]] if names and path[0] < len(names) else f"arg{path[0] + 1}")
        resolved.append((label or f"d{last}", path))
    return resolved


def _differentiable(args: tuple, targets: list[tuple[str, tuple]]) -> list:
    """Float64 copies of ``args`` in which each number differentiated (such as a bias ``b = 0.5``) is a 0-d array.

    Central differences perturb their input in place, which a Python float does not allow.
    """
    work = list(_float64(args))
    for _, path in targets:
        container = _at(work, path[:-1])
        if _is_number(container[path[-1]]) and isinstance(container, (list, dict)):
            container[path[-1]] = np.array(container[path[-1]], dtype=np.float64)
    return work


def _at(args, path: tuple):
    value = args
    for key in path:
        value = value[key]
    return value


def _first_output(result):
    """The differentiated output of a forward: ``out`` in ``(out, cache)`` or ``(out, ..., cache)``."""
    return result[0] if isinstance(result, (tuple, list)) else result


def _central_differences(loss: Callable[[], float], x: np.ndarray, h: float) -> np.ndarray:
    """d loss / d x by central differences, perturbing ``x`` in place (restored on return)."""
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)  # (x.size,) views
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + h
        plus = loss()
        flat_x[i] = old - h
        minus = loss()
        flat_x[i] = old
        flat_grad[i] = (plus - minus) / (2 * h)
    return grad


def _gradients_by_label(grads, labels: list[str], bname: str) -> dict | str:
    """The student's gradients keyed by label, or a message saying what is wrong with them."""
    if isinstance(grads, Mapping):
        missing = [label for label in labels if label not in grads]
        if missing:
            return f"{bname} returned a dict that {_key_problem(missing, [])}."
        return {label: grads[label] for label in labels}
    if len(labels) == 1 and isinstance(grads, np.ndarray):
        grads = (grads,)
    if not isinstance(grads, (tuple, list)) or len(grads) != len(labels):
        plural = "s" if len(labels) > 1 else ""
        return f"{bname} returned {_describe(grads)} but expected {len(labels)} gradient{plural} ({', '.join(labels)})."
    return dict(zip(labels, grads))


def _gradient_message(got, numerical: np.ndarray, label: str, rtol: float, context: Mapping) -> str | None:
    """'dW has relative error 0.41 against central differences (limit 1e-05): ...', or None."""
    comparer = _Comparer(context=context)
    if numerical.ndim:
        form = comparer.array_form(got, numerical, label)
    else:
        form = None if _is_number(got) else f"{label} is {_describe(got)} but expected a number."
    if form:
        return form
    got = np.asarray(got)
    if got.dtype.kind == "f":
        rtol = max(rtol, 1000 * float(np.finfo(got.dtype).eps)) if got.dtype != np.float64 else rtol
    with np.errstate(all="ignore"):
        g = got.astype(np.float64)
        error = np.abs(g - numerical)
        scale = max(float(np.max(np.abs(g) + np.abs(numerical), initial=0.0)), 1e-300)
        rel = float(np.max(error, initial=0.0)) / scale
    if rel <= rtol and np.all(np.isfinite(g)):
        return None
    wrong = ~(error <= rtol * scale)
    first = np.unravel_index(np.flatnonzero(wrong)[0], g.shape) if g.ndim else ()
    head = f"{label} has relative error {rel:.2g} against central differences (limit {rtol:g})"
    index = f" at index {_index(first)}" if g.ndim else ""
    count = f" ({_count(wrong)})" if g.ndim else ""
    if is_redacted():
        detail = f"; first wrong entry{index}: got {_pair(0.0, float(g[first]))[1]}{count}."
    else:
        x, y = _pair(float(numerical[first]), float(g[first]))
        detail = f"; first wrong entry{index}: expected {x}, got {y}{count}."
    return head + detail + comparer.hint(g, numerical)


def _forward_form(cache_index: int) -> str:
    """'a tuple (out, cache)', or the form a forward whose cache sits elsewhere returns."""
    if cache_index in (-1, 1):
        return "a tuple (out, cache)" if cache_index == -1 else "a tuple (out, cache, ...)"
    return f"a tuple (out, ...) with the cache at position {cache_index}"


def _student_gradients(forward_fn, backward_fn, args: tuple, dout: np.ndarray, backward_args: tuple,
                       out_shape: tuple, labels: list[str], arg_labels: list[str], names: tuple,
                       cache_index: int = -1) -> dict | str:
    """Run the student's forward then backward (on ``result[cache_index]``) on copies; return the gradients by label.

    Or a message, when the forward's output or the gradients have the wrong form, or when either
    function modified its inputs (``dout`` included: the check differentiates with it).
    """
    where, fname, bname = names
    forward_args = _copy(args)
    result = _call_student(forward_fn, forward_args, {}, where, fname)
    changed = _mutation_message(fname, arg_labels, list(args), list(forward_args))
    if not isinstance(result, (tuple, list)) or len(result) < 2 or not -len(result) <= cache_index < len(result):
        return f"{fname} returned {_describe(result)} but expected {_forward_form(cache_index)}."
    if np.shape(result[0]) != out_shape:
        return f"{fname} returns an output of shape {np.shape(result[0])} but expected {out_shape}: fix {fname} before its backward."
    student_dout = dout.copy()
    grads = _call_student(backward_fn, (student_dout, result[cache_index], *backward_args), {}, where, bname)
    changed = changed or _mutation_message(bname, ["dout"], [dout], [student_dout])
    return changed or _gradients_by_label(grads, labels, bname)


def check_backward(backward_fn: Callable, forward_fn: Callable, args: Sequence, *, wrt,
                   reference_forward: Callable | None = None, seed: int = 0, rtol: float = 1e-5,
                   backward_args: Sequence = (), name: str | None = None, h: float = 1e-5,
                   context: Mapping | None = None, scale: Mapping[str, float] | None = None,
                   cache_index: int = -1, note: str | None = None) -> None:
    """Check every gradient a backward function returns against central differences.

    Runs ``out, cache = forward_fn(*args)`` (for a forward returning more, the first output is
    ``out`` and output ``cache_index``, by default the last, is ``cache``), draws ``dout`` from a
    normal distribution seeded by ``seed``, calls ``backward_fn(dout, cache, *backward_args)``,
    and compares each returned gradient with central differences of
    ``sum(reference_forward(*args)[0] * dout)`` in float64.

    Parameters
    ----------
    backward_fn, forward_fn : callable
        The student's backward and the forward whose cache it consumes (real or proxies).
    args : sequence
        The forward's positional arguments (float arrays are differentiated in float64).
    wrt : sequence or Mapping
        What the gradients are with respect to, in the order the backward returns them: names
        of the forward's parameters (``("A_prev", "W", "b")``), positions (``(0, 1, 2)``), or
        paths into a dict argument (``(("parameters", "Wax"),)``). The gradient of ``W`` is
        called ``dW``; a Mapping ``{"dW": "W"}`` sets the labels. A backward returning a dict
        is read by these labels.
    reference_forward : callable, optional
        The trusted forward differentiated numerically (default ``forward_fn``). Give it in graded
        tests: differentiating the student's forward through a grader proxy is slow, and a wrong
        forward would make a matching wrong backward pass.
    seed : int, default 0
        Seed of the random upstream gradient ``dout``.
    rtol : float, default 1e-5
        Largest accepted relative error ``max|got - num| / max(|got| + |num|)`` per gradient.
    backward_args : sequence, optional
        Extra positional arguments after the cache (e.g. ``mode`` for pooling).
    name : str, optional
        The backward's name in messages.
    h : float, default 1e-5
        Step of the central differences.
    context : Mapping, optional
        Facts for the known-mistake hints.
    scale : Mapping of str to float, optional
        A factor for the central differences of some gradients, keyed by label, for backward
        functions whose convention is not the plain chain rule: with the notes' dense layers,
        ``dZ`` is a per-example derivative and ``dW = dZ A_prev^T / m``, so pass
        ``scale={"dW": 1 / m, "db": 1 / m}``.
    cache_index : int, default -1
        Which output of the forward is the cache: ``1`` for a batch norm returning
        ``(out, cache, running)``.
    note : str, optional
        A sentence of advice appended to the message of any failure.

    Examples
    --------
    >>> def forward(x, w):
    ...     return x * w, (x, w)
    >>> def backward(dout, cache):
    ...     x, w = cache
    ...     return dout * w, dout * x * 2
    >>> check_backward(backward, forward, (np.array([1.0, 2.0]), np.array([3.0, -1.0])), wrt=("x", "w"))
    Traceback (most recent call last):
    ...
    AssertionError: backward for forward(x, w) for x of shape (2,), w of shape (2,): dw has relative error 0.33 against central differences (limit 1e-05); first wrong entry at index 0: expected 0.1257, got 0.2515 (2 of 2 entries wrong). Hint: the result is twice too large: is a term counted twice, or a factor 1/2 missing?
    """
    args = tuple(args)
    reference_forward = reference_forward or forward_fn
    names = _parameter_names(reference_forward) or _parameter_names(forward_fn)
    targets = _resolve_wrt(wrt, names, args)
    fname, bname = _function_name(forward_fn), name or _function_name(backward_fn)
    where = f"{bname} for {_describe_call(fname, names, args, {})}"
    work = _differentiable(args, targets)
    reference_out = np.asarray(_first_output(reference_forward(*work)), dtype=np.float64)
    dout = np.random.default_rng(seed).standard_normal(reference_out.shape)
    grads = _student_gradients(forward_fn, backward_fn, args, dout, tuple(backward_args),
                               reference_out.shape, [label for label, _ in targets], _labels(names, args, {}),
                               (where, fname, bname), cache_index)

    def loss() -> float:
        return float(np.sum(np.asarray(_first_output(reference_forward(*work)), dtype=np.float64) * dout))

    message = grads if isinstance(grads, str) else _numerical_mismatch(grads, targets, work, loss, h, rtol,
                                                                       scale or {}, context or {})
    if message:
        raise _fail(f"{where}: {message}", note)


def _numerical_mismatch(grads: dict, targets: list[tuple[str, tuple]], work: list, loss: Callable[[], float],
                        h: float, rtol: float, scale: Mapping, context: Mapping) -> str | None:
    """The message for the first gradient (in the order of ``targets``) that central differences of ``loss`` refute."""
    for label, path in targets:
        numerical = _central_differences(loss, _at(work, path), h) * scale.get(label, 1.0)
        message = _gradient_message(grads[label], numerical, label, rtol, context)
        if message:
            return message
    return None


# ---------------------------------------------------------------------------------------------
# Loss functions returning (cost, gradient) against central differences of the cost.

def _cost_value(result) -> float:
    """The cost of a reference loss returning ``cost`` or ``(cost, ...)``, as a float (a (1, 1) array too)."""
    cost = np.asarray(_first_output(result), dtype=np.float64)
    if cost.size != 1:
        raise ValueError(f"the reference loss returned a cost of shape {cost.shape}; a cost is a single number")
    return float(cost.reshape(()))


def _loss_outputs(result, labels: list[str], fname: str) -> tuple | str:
    """``(cost, gradients by label)`` of a loss's result, or a message saying what is wrong with its form."""
    form = f"{fname} returned {_describe(result)} but expected a tuple (cost, {', '.join(labels)})."
    if not isinstance(result, (tuple, list)) or len(result) < 2:
        return form
    grads = result[1] if len(result) == 2 else result[1:]  # (cost, dZ), (cost, grads) or (cost, dA, dW)
    by_label = _gradients_by_label(grads, labels, fname)
    if isinstance(by_label, str):
        return by_label if isinstance(grads, Mapping) else form
    return result[0], by_label


def check_loss_gradient(loss_fn: Callable, args: Sequence, *, wrt, reference_loss: Callable | None = None,
                        rtol: float = 1e-5, name: str | None = None, h: float = 1e-5, context: Mapping | None = None,
                        scale: Mapping[str, float] | None = None, strict_scalars: bool = False,
                        note: str | None = None) -> None:
    """Check a loss function that returns ``(cost, gradient)``: its cost, then its gradient against central differences.

    Calls ``loss_fn(*args)`` on copies, compares the cost with ``reference_loss``'s (as in
    ``assert_close``: a number, or a size-1 array such as ``np.array([[0.69]])`` unless
    ``strict_scalars``), then compares each returned gradient with central differences of the
    reference cost in float64.

    Parameters
    ----------
    loss_fn : callable
        The student's loss (or a grader proxy), returning ``(cost, dZ)``, ``(cost, dA, dW)`` or
        ``(cost, grads)`` with ``grads`` a dict read by label.
    args : sequence
        Its positional arguments (float arrays are differentiated in float64).
    wrt : str, sequence or Mapping
        What the gradients are with respect to, in the order they follow the cost, as in
        ``check_backward``: ``"Z"`` (its gradient is called ``dZ``), ``("A", "W")``, positions,
        paths into a dict argument, or a Mapping ``{"dZ": "Z"}``.
    reference_loss : callable, optional
        The trusted loss, returning ``cost`` or ``(cost, ...)`` with ``cost`` a number or a size-1
        array; differentiated numerically (default ``loss_fn``). Give it in graded tests.
    rtol : float, default 1e-5
        Largest accepted relative error per gradient (the cost is compared with rtol=1e-6).
    name : str, optional
        The function's name in messages.
    h : float, default 1e-5
        Step of the central differences.
    context : Mapping, optional
        Facts for the known-mistake hints, e.g. ``{"m": Z.shape[1]}``.
    scale : Mapping of str to float, optional
        A factor for the central differences of some gradients, keyed by label (as in
        ``check_backward``), for a gradient that leaves out a factor of the cost such as its 1/m.
    strict_scalars : bool, default False
        Reject a size-1 array where the cost is a number.
    note : str, optional
        A sentence of advice appended to the message of any failure.

    Raises
    ------
    AssertionError
        On a result of the wrong form, a wrong cost, a gradient that central differences refute,
        or an input the function modified.

    Examples
    --------
    >>> def mean_squared_error(A, Y):
    ...     m = Y.shape[1]
    ...     return np.sum((A - Y) ** 2) / (2 * m), A - Y
    >>> A, Y = np.array([[0.5, 1.0, 0.25]]), np.array([[1.0, 0.0, 0.5]])
    >>> check_loss_gradient(mean_squared_error, (A, Y), wrt="A", context={"m": 3})
    Traceback (most recent call last):
    ...
    AssertionError: mean_squared_error(A, Y) for A of shape (1, 3), Y of shape (1, 3): dA has relative error 0.5 against central differences (limit 1e-05); first wrong entry at index (0, 0): expected -0.1667, got -0.5 (3 of 3 entries wrong). Hint: the result is m = 3 times too large: did you divide by m?
    """
    args = tuple(args)
    reference_loss = reference_loss or loss_fn
    names = _parameter_names(loss_fn) or _parameter_names(reference_loss)
    targets = _resolve_wrt(wrt, names, args)
    fname = name or _function_name(loss_fn)
    where = _describe_call(fname, names, args, {})
    work = _differentiable(args, targets)
    expected_cost = _cost_value(reference_loss(*_copy(work)))
    student_args = _copy(args)
    result = _call_student(loss_fn, student_args, {}, where, fname)
    message = _mutation_message(fname, _labels(names, args, {}), list(args), list(student_args))
    outputs = _loss_outputs(result, [label for label, _ in targets], fname)
    message = message or (outputs if isinstance(outputs, str) else None)
    if not message:
        comparer = _Comparer(context=context or {}, strict_scalars=strict_scalars)
        message = comparer.compare(outputs[0], expected_cost, "the cost") or _numerical_mismatch(
            outputs[1], targets, work, lambda: _cost_value(reference_loss(*work)), h, rtol, scale or {}, context or {})
    if message:
        raise _fail(f"{where}: {message}", note)


# ---------------------------------------------------------------------------------------------

def passed(name: str, points: float) -> None:
    """Print the one line that ends a test cell whose checks all passed.

    >>> passed("sigmoid", 1)
    sigmoid: all checks passed (1 point)
    >>> passed("propagate", 2.5)
    propagate: all checks passed (2.5 points)
    """
    shown = f"{points:g}"
    print(f"{name}: all checks passed ({shown} point{'' if shown == '1' else 's'})")


failing_exercises.install()  # in a notebook: failing cells name the exercises whose tests failed
