"""Max and average pooling on channels-last (NHWC) tensors, forward and backward.

Shapes (notes' notation)::

    A_prev : (m, n_H_prev, n_W_prev, n_C)      hparameters = {"f": f, "stride": s}
    A      : (m, n_H, n_W, n_C)                n_H = floor((n_H_prev - f) / s) + 1
                                               n_W = floor((n_W_prev - f) / s) + 1

Pooling has no parameters, only hyperparameters, and works on each channel separately.
Backward passes route the upstream gradient through each window: for max pooling to the
window's maximum (:func:`create_mask_from_window`), for average pooling spread evenly
(:func:`distribute_value`).

As in :mod:`dlkit.conv`, ``*_reference`` are the notes' loops and the public functions take the
Numba path of :mod:`dlkit.kernels.pooling` unless ``implementation="reference"``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlkit.conv import check_hparameters, check_int, check_output_size
from dlkit.kernels import as_float, check_implementation, float_dtype
from dlkit.kernels import pooling as kernels
from dlkit.validation import as_array, expect_shape

POOL_HPARAMETERS = ("f", "stride")
MODES = ("max", "average")


class PoolCache(NamedTuple):
    """What :func:`pool_backward` needs from :func:`pool_forward`.

    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C)
    hparameters : dict
        ``{"f": f, "stride": s}``.
    mode : str
        ``"max"`` or ``"average"``, checked against the backward pass's ``mode``.
    A : ndarray of shape (m, n_H, n_W, n_C) or None
        The forward output, kept by the fast path: for max pooling it is each window's
        maximum, which the backward pass then need not search for again.
    max_taps : ndarray of uint8, shape (m, n_H, n_W, n_C), or None
        Kept by the fast path for max pooling over 2x2 tiles (f = stride = 2): which entries of
        each window equal its maximum, 4 bits (see :func:`dlkit.kernels.pooling.max_pool_forward_2x2`).
    """

    A_prev: np.ndarray
    hparameters: dict
    mode: str = "max"
    A: np.ndarray | None = None
    max_taps: np.ndarray | None = None


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f'mode must be "max" or "average", got {mode!r}')
    return mode


def pool_window(hparameters) -> tuple[int, int]:
    """Return ``(f, stride)`` from pooling ``hparameters`` (exactly the keys "f" and "stride")."""
    check_hparameters(hparameters, POOL_HPARAMETERS, "pool")
    f = check_int('hparameters["f"]', hparameters["f"], 1)
    return f, check_int('hparameters["stride"]', hparameters["stride"], 1)


def _check_pool_inputs(A_prev, hparameters, mode):
    """Validate a pooling forward pass; return ``A_prev`` as floats, ``f``, ``stride``, output size."""
    _check_mode(mode)
    A_prev = as_array("A_prev", A_prev, ndim=4)
    f, stride = pool_window(hparameters)
    n_H, n_W = check_output_size(A_prev.shape[1], A_prev.shape[2], f, stride, 0)
    return A_prev.astype(float_dtype(A_prev), copy=False), f, stride, (n_H, n_W)


def _check_pool_backward(dA, cache, mode):
    """Validate a pooling backward pass against its cache; return dA, A_prev, f, stride."""
    _check_mode(mode)
    if not isinstance(cache, tuple) or len(cache) < 2:
        raise ValueError("cache must be the PoolCache returned by pool_forward")
    A_prev, hparameters = cache[0], cache[1]
    if len(cache) > 2 and cache[2] != mode:
        raise ValueError(f"the cache comes from pool_forward with mode={cache[2]!r} but mode={mode!r} here")
    f, stride = pool_window(hparameters)
    n_H, n_W = check_output_size(A_prev.shape[1], A_prev.shape[2], f, stride, 0)
    dA = as_array("dA", dA, ndim=4)
    expect_shape("dA", dA, (A_prev.shape[0], n_H, n_W, A_prev.shape[3]))
    dtype = float_dtype(A_prev, dA)
    return dA.astype(dtype, copy=False), A_prev.astype(dtype, copy=False), f, stride


# ---------------------------------------------------------------- reference: the notes' loops

def pool_forward_reference(A_prev, hparameters, mode: str = "max"):
    """Pooling forward pass with explicit loops (the notes' version). See :func:`pool_forward`."""
    A_prev, f, stride, (n_H, n_W) = _check_pool_inputs(A_prev, hparameters, mode)
    m, _, _, n_C = A_prev.shape
    A = np.zeros((m, n_H, n_W, n_C), dtype=A_prev.dtype)
    reduce = np.max if mode == "max" else np.mean
    for i in range(m):
        for h in range(n_H):
            vert_start = h * stride
            for w in range(n_W):
                horiz_start = w * stride
                for c in range(n_C):
                    a_prev_slice = A_prev[i, vert_start:vert_start + f, horiz_start:horiz_start + f, c]
                    A[i, h, w, c] = reduce(a_prev_slice)
    return A, PoolCache(A_prev, hparameters, mode)


def create_mask_from_window(x) -> np.ndarray:
    """Where the maximum of ``x`` is: True at every entry equal to ``max(x)``.

    Parameters
    ----------
    x : ndarray of shape (f, f)

    Returns
    -------
    mask : ndarray of bool, shape (f, f)

    >>> create_mask_from_window(np.array([[1.0, 3.0], [4.0, 2.0]]))
    array([[False, False],
           [ True, False]])
    """
    x = as_array("x", x)
    return x == np.max(x)


def distribute_value(dz, shape) -> np.ndarray:
    """Spread the gradient ``dz`` evenly over a window of ``shape``.

    Parameters
    ----------
    dz : float
        The gradient of one average-pooled output.
    shape : tuple (n_H, n_W)
        The window's shape.

    Returns
    -------
    a : ndarray of shape (n_H, n_W)
        Every entry ``dz / (n_H * n_W)``.

    >>> distribute_value(2.0, (2, 2))
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    n_H, n_W = shape
    if n_H <= 0 or n_W <= 0:
        raise ValueError(f"shape must be two positive sizes (n_H, n_W), got {shape}")
    average = dz / (n_H * n_W)
    return np.ones((n_H, n_W)) * average


def pool_backward_reference(dA, cache: PoolCache, mode: str = "max"):
    """Pooling backward pass with explicit loops (the notes' version). See :func:`pool_backward`."""
    dA, A_prev, f, stride = _check_pool_backward(dA, cache, mode)
    m, n_H, n_W, n_C = dA.shape
    dA_prev = np.zeros(A_prev.shape, dtype=dA.dtype)
    for i in range(m):
        for h in range(n_H):
            vert = slice(h * stride, h * stride + f)
            for w in range(n_W):
                horiz = slice(w * stride, w * stride + f)
                for c in range(n_C):
                    if mode == "max":
                        mask = create_mask_from_window(A_prev[i, vert, horiz, c])
                        dA_prev[i, vert, horiz, c] += mask * dA[i, h, w, c]
                    else:
                        dA_prev[i, vert, horiz, c] += distribute_value(dA[i, h, w, c], (f, f))
    return dA_prev


# ---------------------------------------------------------------- public entry points

def pool_forward(A_prev, hparameters, mode: str = "max", implementation: str = "fast"):
    """Forward pass of a pooling layer: the max or the mean of each f x f window, per channel.

    Parameters
    ----------
    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C)
    hparameters : dict
        ``{"f": f, "stride": s}``.
    mode : {"max", "average"}
    implementation : {"fast", "reference"}

    Returns
    -------
    A : ndarray of shape (m, n_H, n_W, n_C)
        ``n_H = floor((n_H_prev - f) / s) + 1``, ``n_W = floor((n_W_prev - f) / s) + 1``; float32
        for a float32 input, float64 otherwise.
    cache : PoolCache

    Raises
    ------
    ValueError
        For a wrong number of dimensions, unknown or missing hparameters, an unknown mode or
        an output size <= 0.

    >>> A, cache = pool_forward(np.arange(16.0).reshape(1, 4, 4, 1), {"f": 2, "stride": 2})
    >>> A[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    if check_implementation(implementation) == "reference":
        return pool_forward_reference(A_prev, hparameters, mode)
    A_prev, f, stride, _ = _check_pool_inputs(A_prev, hparameters, mode)
    A, max_taps = kernels.pool_forward(A_prev, f, stride, mode)
    return A, PoolCache(A_prev, hparameters, mode, A, max_taps)


def pool_backward(dA, cache: PoolCache, mode: str = "max", implementation: str = "fast"):
    """Backward pass of a pooling layer.

    Parameters
    ----------
    dA : ndarray of shape (m, n_H, n_W, n_C)
        Gradient of the cost with respect to the output of :func:`pool_forward`.
    cache : PoolCache
        From :func:`pool_forward` with the same ``mode``.
    mode : {"max", "average"}
    implementation : {"fast", "reference"}

    Returns
    -------
    dA_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C)
        Max: ``dA[i, h, w, c]`` added at every maximum of its window; average:
        ``dA[i, h, w, c] / f**2`` added over its window. Overlapping windows add up.
    """
    if check_implementation(implementation) == "reference":
        return pool_backward_reference(dA, cache, mode)
    dA, A_prev, f, stride = _check_pool_backward(dA, cache, mode)
    A = cache[3] if len(cache) > 3 and cache[3] is not None and cache[3].dtype == dA.dtype else None
    max_taps = cache[4] if len(cache) > 4 else None  # the same for any dtype: float32 -> float64 keeps ties
    return kernels.pool_backward(as_float(dA, dA.dtype), as_float(A_prev, dA.dtype), A, f, stride, mode, max_taps)
