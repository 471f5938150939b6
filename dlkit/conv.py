"""Convolution layers on channels-last (NHWC) tensors: padding, one step, forward and backward.

Shapes (notes' notation)::

    A_prev : (m, n_H_prev, n_W_prev, n_C_prev)   W : (f, f, n_C_prev, n_C)   b : (1, 1, 1, n_C)
    Z      : (m, n_H, n_W, n_C)                  hparameters = {"stride": s, "pad": p}
    n_H = floor((n_H_prev + 2p - f) / s) + 1     n_W = floor((n_W_prev + 2p - f) / s) + 1

``pad`` may be ``"same"``: ``p = (f - 1) // 2`` for an odd ``f``, which keeps the size when s = 1.

Two implementations share every signature:

* ``*_reference``: the loops of the notes, written to be read (and to be the truth in tests);
* the public :func:`conv_forward` / :func:`conv_backward`: by default the fast path of
  :mod:`dlkit.kernels.conv` (im2col in Numba, products in BLAS), or the reference loops with
  ``implementation="reference"``. Both make the same cache.

float32 inputs give float32 outputs; anything else computes in float64. A 1x1 convolution is
``conv_forward`` with ``f = 1``: the fast path then skips im2col altogether.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlkit.kernels import as_float, check_implementation, float_dtype
from dlkit.kernels import conv as kernels
from dlkit.validation import as_array, expect_shape

CONV_HPARAMETERS = ("stride", "pad")


class ConvCache(NamedTuple):
    """What :func:`conv_backward` needs from :func:`conv_forward`.

    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W : ndarray of shape (f, f, n_C_prev, n_C)
    b : ndarray of shape (1, 1, 1, n_C)
    hparameters : dict
        ``{"stride": s, "pad": p}`` as given to the forward pass.
    cols : ndarray of shape (m*n_H*n_W, f*f*n_C_prev) or None
        Fast path only: the receptive fields as rows, kept when small (see
        ``dlkit.kernels.conv.keeps_cols``) so that the backward pass need not gather them again.

    The first four fields are the notes' ``(A_prev, W, b, hparameters)``; the reference loops
    leave ``cols`` None, and :func:`conv_backward` accepts a plain 4-tuple too.
    """

    A_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    hparameters: dict
    cols: np.ndarray | None = None


# ---------------------------------------------------------------- shapes and hyperparameters

def output_size(n_prev: int, f: int, stride: int, pad: int) -> int:
    """``floor((n_prev + 2*pad - f) / stride) + 1``, the output height (or width).

    >>> output_size(32, 3, 1, 1), output_size(8, 3, 2, 1), output_size(28, 5, 1, 0)
    (32, 4, 24)
    """
    return (n_prev + 2 * pad - f) // stride + 1


def check_int(name: str, value, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, or ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_hparameters(hparameters, expected: tuple[str, ...], layer: str) -> None:
    """Raise ``ValueError`` unless ``hparameters`` is a dict with exactly the ``expected`` keys."""
    if not isinstance(hparameters, dict):
        raise ValueError(f"hparameters must be a dict with keys {list(expected)}, got {type(hparameters).__name__}")
    unknown = sorted(set(hparameters) - set(expected))
    missing = [key for key in expected if key not in hparameters]
    if unknown or missing:
        raise ValueError(f"{layer} hparameters must have exactly the keys {list(expected)}; "
                         f"unknown: {unknown}, missing: {missing}")


def conv_padding(hparameters: dict, f: int) -> tuple[int, int]:
    """Return ``(stride, pad)`` from conv ``hparameters``, resolving ``pad="same"``."""
    check_hparameters(hparameters, CONV_HPARAMETERS, "conv")
    stride = check_int('hparameters["stride"]', hparameters["stride"], 1)
    pad = hparameters["pad"]
    if pad == "same":
        if f % 2 == 0:
            raise ValueError(f'pad="same" needs an odd filter size f, got f={f}')
        return stride, (f - 1) // 2
    return stride, check_int('hparameters["pad"]', pad, 0)


def check_output_size(n_H_prev, n_W_prev, f, stride, pad, what="f") -> tuple[int, int]:
    """``(n_H, n_W)``, or ``ValueError`` quoting the formula when one of them is <= 0."""
    n_H, n_W = output_size(n_H_prev, f, stride, pad), output_size(n_W_prev, f, stride, pad)
    if n_H <= 0 or n_W <= 0:
        raise ValueError(f"output size would be ({n_H}, {n_W}): n_H = floor((n_H_prev + 2*pad - {what}) / stride) + 1 "
                         f"= floor(({n_H_prev} + 2*{pad} - {f}) / {stride}) + 1, and likewise n_W with "
                         f"n_W_prev={n_W_prev}; the input is too small for this window")
    return n_H, n_W


def _check_conv_inputs(A_prev, W, b, hparameters):
    """Validate the inputs of a conv forward pass; return them as float arrays and ``(stride, pad)``."""
    A_prev, W = as_array("A_prev", A_prev, ndim=4), as_array("W", W, ndim=4)
    b = as_array("b", b)
    f, f_w, n_C_in, n_C = W.shape
    if f != f_w:
        raise ValueError(f"W has shape {W.shape} but filters must be square: (f, f, n_C_prev, n_C)")
    if n_C_in != A_prev.shape[3]:
        raise ValueError(f"W has shape {W.shape} but A_prev has {A_prev.shape[3]} channels "
                         f"(A_prev shape {A_prev.shape}); W must be (f, f, {A_prev.shape[3]}, n_C)")
    expect_shape("b", b, (1, 1, 1, n_C))
    stride, pad = conv_padding(hparameters, f)
    check_output_size(A_prev.shape[1], A_prev.shape[2], f, stride, pad)
    dtype = float_dtype(A_prev, W, b)
    return A_prev.astype(dtype, copy=False), W.astype(dtype, copy=False), b.astype(dtype, copy=False), stride, pad


def _check_dZ(dZ, cache: ConvCache):
    """Validate ``dZ`` against the forward pass recorded in ``cache``; return it as a float array."""
    if not isinstance(cache, tuple) or len(cache) < 4:
        raise ValueError("cache must be the ConvCache returned by conv_forward")
    A_prev, W, _, hparameters = cache[:4]
    stride, pad = conv_padding(hparameters, W.shape[0])
    n_H, n_W = check_output_size(A_prev.shape[1], A_prev.shape[2], W.shape[0], stride, pad)
    dZ = as_array("dZ", dZ, ndim=4)
    expect_shape("dZ", dZ, (A_prev.shape[0], n_H, n_W, W.shape[3]))
    return dZ.astype(float_dtype(A_prev, W, dZ), copy=False), stride, pad


# ---------------------------------------------------------------- reference: the notes' loops

def zero_pad(X, pad: int) -> np.ndarray:
    """Pad the height and width of every image of ``X`` with ``pad`` zeros on each side.

    Parameters
    ----------
    X : ndarray of shape (m, n_H, n_W, n_C)
    pad : int
        Zeros added above, below, left and right of each image.

    Returns
    -------
    X_pad : ndarray of shape (m, n_H + 2*pad, n_W + 2*pad, n_C)
        Same dtype as ``X``; ``X`` is not modified.

    >>> zero_pad(np.ones((1, 1, 2, 1)), 1)[0, :, :, 0]
    array([[0., 0., 0., 0.],
           [0., 1., 1., 0.],
           [0., 0., 0., 0.]])
    """
    X = as_array("X", X, ndim=4)
    pad = check_int("pad", pad, 0)
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=0)


def conv_single_step(a_slice_prev, W, b) -> float:
    """Apply one filter to one receptive field: ``sum(a_slice_prev * W) + b``.

    Parameters
    ----------
    a_slice_prev : ndarray of shape (f, f, n_C_prev)
    W : ndarray of shape (f, f, n_C_prev)
    b : ndarray of shape (1, 1, 1) (or any array with one entry)

    Returns
    -------
    Z : float

    >>> conv_single_step(np.ones((2, 2, 3)), np.full((2, 2, 3), 0.5), np.array([[[1.0]]]))
    7.0
    """
    a_slice_prev, W, b = as_array("a_slice_prev", a_slice_prev), as_array("W", W), as_array("b", b)
    if a_slice_prev.shape != W.shape or a_slice_prev.ndim != 3:
        raise ValueError(f"a_slice_prev has shape {a_slice_prev.shape} but W has shape {W.shape}; "
                         "both must be (f, f, n_C_prev)")
    if b.size != 1:
        raise ValueError(f"b has shape {b.shape} but expected (1, 1, 1)")
    return float(np.sum(a_slice_prev * W) + b.reshape(()))


def conv_forward_reference(A_prev, W, b, hparameters):
    """Convolution forward pass with explicit loops (the notes' version). See :func:`conv_forward`."""
    A_prev, W, b, stride, pad = _check_conv_inputs(A_prev, W, b, hparameters)
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, _, _, n_C = W.shape
    n_H, n_W = output_size(n_H_prev, f, stride, pad), output_size(n_W_prev, f, stride, pad)
    Z = np.zeros((m, n_H, n_W, n_C), dtype=A_prev.dtype)
    A_prev_pad = zero_pad(A_prev, pad)
    for i in range(m):
        a_prev_pad = A_prev_pad[i]  # (n_H_prev + 2p, n_W_prev + 2p, n_C_prev)
        for h in range(n_H):
            vert_start = h * stride
            for w in range(n_W):
                horiz_start = w * stride
                a_slice_prev = a_prev_pad[vert_start:vert_start + f, horiz_start:horiz_start + f, :]
                for c in range(n_C):
                    Z[i, h, w, c] = conv_single_step(a_slice_prev, W[:, :, :, c], b[:, :, :, c])
    return Z, ConvCache(A_prev, W, b, hparameters)


def conv_backward_reference(dZ, cache: ConvCache):
    """Convolution backward pass with explicit loops (the notes' version). See :func:`conv_backward`."""
    dZ, stride, pad = _check_dZ(dZ, cache)
    A_prev, W = cache[0].astype(dZ.dtype, copy=False), cache[1].astype(dZ.dtype, copy=False)
    m, n_H, n_W, n_C = dZ.shape
    f = W.shape[0]
    A_prev_pad = zero_pad(A_prev, pad)
    dA_prev_pad = np.zeros_like(A_prev_pad)
    dW = np.zeros_like(W)
    db = np.zeros((1, 1, 1, n_C), dtype=dZ.dtype)
    for i in range(m):
        for h in range(n_H):
            vert = slice(h * stride, h * stride + f)
            for w in range(n_W):
                horiz = slice(w * stride, w * stride + f)
                a_slice = A_prev_pad[i, vert, horiz, :]  # (f, f, n_C_prev)
                for c in range(n_C):
                    dA_prev_pad[i, vert, horiz, :] += W[:, :, :, c] * dZ[i, h, w, c]
                    dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
    n_H_prev, n_W_prev = A_prev.shape[1:3]
    dA_prev = dA_prev_pad[:, pad:pad + n_H_prev, pad:pad + n_W_prev, :]  # strip the padding
    return np.ascontiguousarray(dA_prev), dW, db


# ---------------------------------------------------------------- public entry points

def conv_forward(A_prev, W, b, hparameters, implementation: str = "fast"):
    """Forward pass of a convolution layer: ``Z[i, h, w, c] = sum(A_pad-window * W[..., c]) + b[c]``.

    Parameters
    ----------
    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
        Activations of the previous layer.
    W : ndarray of shape (f, f, n_C_prev, n_C)
        ``n_C`` filters of size f x f.
    b : ndarray of shape (1, 1, 1, n_C)
    hparameters : dict
        ``{"stride": s, "pad": p}``; ``p`` an int >= 0 or ``"same"`` (odd ``f``).
    implementation : {"fast", "reference"}
        The Numba/BLAS path or the loops of :func:`conv_forward_reference`.

    Returns
    -------
    Z : ndarray of shape (m, n_H, n_W, n_C)
        ``n_H = floor((n_H_prev + 2p - f) / s) + 1``, ``n_W = floor((n_W_prev + 2p - f) / s) + 1``;
        float32 when every input is float32, float64 otherwise.
    cache : ConvCache

    Raises
    ------
    ValueError
        For wrong shapes (W's channels must match A_prev's), unknown or missing hparameters,
        or an output size <= 0.

    >>> Z, cache = conv_forward(np.ones((2, 5, 5, 3)), np.ones((3, 3, 3, 4)), np.zeros((1, 1, 1, 4)),
    ...                         {"stride": 2, "pad": 1})
    >>> Z.shape, float(Z[0, 1, 1, 0])
    ((2, 3, 3, 4), 27.0)
    """
    if check_implementation(implementation) == "reference":
        return conv_forward_reference(A_prev, W, b, hparameters)
    A_prev, W, b, stride, pad = _check_conv_inputs(A_prev, W, b, hparameters)
    Z, cols = kernels.conv_forward_keeping_cols(A_prev, W, b, stride, pad)
    return Z, ConvCache(A_prev, W, b, hparameters, cols)


def conv_backward(dZ, cache: ConvCache, implementation: str = "fast"):
    """Backward pass of a convolution layer.

    Parameters
    ----------
    dZ : ndarray of shape (m, n_H, n_W, n_C)
        Gradient of the cost with respect to the output ``Z`` of :func:`conv_forward`.
    cache : ConvCache
        From :func:`conv_forward` (either implementation).
    implementation : {"fast", "reference"}

    Returns
    -------
    dA_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
        ``dA_prev_pad[i, window] += W[..., c] * dZ[i, h, w, c]``, padding stripped.
    dW : ndarray of shape (f, f, n_C_prev, n_C)
        ``dW[..., c] += a_slice * dZ[i, h, w, c]``.
    db : ndarray of shape (1, 1, 1, n_C)
        ``db[c] = sum over i, h, w of dZ[i, h, w, c]``.
    """
    if check_implementation(implementation) == "reference":
        return conv_backward_reference(dZ, cache)
    dZ, stride, pad = _check_dZ(dZ, cache)
    A_prev, W = as_float(cache[0], dZ.dtype), as_float(cache[1], dZ.dtype)
    cols = cache[4] if len(cache) > 4 else None
    return kernels.conv_backward(as_float(dZ, dZ.dtype), A_prev, W, stride, pad, cols)
