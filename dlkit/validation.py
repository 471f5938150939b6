"""Input validation for dlkit's public entry points: clear errors that name what was expected."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_array(name: str, value, *, ndim: int | None = None) -> np.ndarray:
    """Return ``value`` as an ndarray, or raise ``ValueError`` naming ``name``.

    Parameters
    ----------
    name : str
        How the argument is called in the caller's signature, used in the message.
    value : array_like
        The argument.
    ndim : int, optional
        The number of dimensions the argument must have.
    """
    if not isinstance(value, np.ndarray):
        try:
            value = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must be array-like of numbers, got {type(value).__name__}") from exc
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {value.shape}")
    return value


def expect_shape(name: str, array: np.ndarray, expected: Sequence[int | None]) -> None:
    """Raise ``ValueError`` unless ``array.shape`` matches ``expected`` (``None`` matches any size).

    >>> expect_shape("b", np.zeros((3, 1)), (3, 1))
    >>> expect_shape("b", np.zeros((3,)), (3, 1))
    Traceback (most recent call last):
    ...
    ValueError: b has shape (3,) but expected (3, 1)
    """
    shape = np.shape(array)
    if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape)):
        shown = "(" + ", ".join("any" if e is None else str(e) for e in expected) + ("," if len(expected) == 1 else "") + ")"
        raise ValueError(f"{name} has shape {shape} but expected {shown}")


def expect_same_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"{name_a} has shape {np.shape(a)} but {name_b} has shape {np.shape(b)}; they must match")


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from a seed or an existing generator (never global state)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}")
