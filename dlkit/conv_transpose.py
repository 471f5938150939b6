"""Transposed convolution (U-Net's upsampling) on NHWC tensors: forward and backward.

Each input pixel paints a copy of the filters, weighted by its channels, onto the output, the
copies ``s`` pixels apart and overlapping where ``f > s``; then ``p`` pixels are cut from every
border::

    Z_pad[i, h*s:h*s+f, w*s:w*s+f, c] += sum_c' A_prev[i, h, w, c'] * W[:, :, c', c]
    Z = Z_pad[:, p:-p, p:-p, :] + b

Shapes::

    A_prev : (m, n_H_prev, n_W_prev, n_C_prev)   W : (f, f, n_C_prev, n_C)   b : (1, 1, 1, n_C)
    Z      : (m, n_H, n_W, n_C)                  n_H = (n_H_prev - 1)*s - 2p + f  (same for n_W)
    hparameters = {"stride": s, "pad": p}

It is the convolution run backwards: a convolution with stride ``s`` and padding ``p`` maps an
``n_H``-high input back to ``n_H_prev``. So the fast path (:mod:`dlkit.kernels.conv`) reuses the
convolution's kernels: the forward pass is a convolution's input gradient, the backward pass a
convolution forward (for ``dA_prev``) and a convolution's weight gradient (for ``dW``).
With ``f = s = 2, p = 0`` the output is twice as high and wide: U-Net's up-convolution.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlkit.conv import conv_padding
from dlkit.kernels import as_float, check_implementation, float_dtype
from dlkit.kernels import conv as kernels
from dlkit.validation import as_array, expect_shape


class ConvTransposeCache(NamedTuple):
    """What :func:`conv_transpose_backward` needs: the forward pass's inputs."""

    A_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    hparameters: dict


def conv_transpose_output_size(n_prev: int, f: int, stride: int, pad: int) -> int:
    """``(n_prev - 1)*stride - 2*pad + f``, the output height (or width).

    >>> conv_transpose_output_size(4, 2, 2, 0), conv_transpose_output_size(4, 3, 2, 1)
    (8, 7)
    """
    return (n_prev - 1) * stride - 2 * pad + f


def _check_inputs(A_prev, W, b, hparameters):
    """Validate a transposed-convolution forward pass; return float arrays, stride, pad."""
    A_prev, W, b = as_array("A_prev", A_prev, ndim=4), as_array("W", W, ndim=4), as_array("b", b)
    f, f_w, n_C_prev, n_C = W.shape
    if f != f_w:
        raise ValueError(f"W has shape {W.shape} but filters must be square: (f, f, n_C_prev, n_C)")
    if n_C_prev != A_prev.shape[3]:
        raise ValueError(f"W has shape {W.shape} but A_prev has {A_prev.shape[3]} channels; "
                         f"W must be (f, f, {A_prev.shape[3]}, n_C)")
    expect_shape("b", b, (1, 1, 1, n_C))
    stride, pad = conv_padding(hparameters, f)
    sizes = [conv_transpose_output_size(n, f, stride, pad) for n in A_prev.shape[1:3]]
    if min(sizes) <= 0:
        raise ValueError(f"output size would be {tuple(sizes)}: n_H = (n_H_prev - 1)*stride - 2*pad + f "
                         f"= ({A_prev.shape[1]} - 1)*{stride} - 2*{pad} + {f}; the padding is too large")
    dtype = float_dtype(A_prev, W, b)
    return A_prev.astype(dtype, copy=False), W.astype(dtype, copy=False), b.astype(dtype, copy=False), stride, pad


def _check_dZ(dZ, cache):
    A_prev, W, _, hparameters = cache[:4]
    stride, pad = conv_padding(hparameters, W.shape[0])
    f = W.shape[0]
    dZ = as_array("dZ", dZ, ndim=4)
    expect_shape("dZ", dZ, (A_prev.shape[0], conv_transpose_output_size(A_prev.shape[1], f, stride, pad),
                            conv_transpose_output_size(A_prev.shape[2], f, stride, pad), W.shape[3]))
    dtype = float_dtype(A_prev, W, dZ)
    return dZ.astype(dtype, copy=False), as_float(A_prev, dtype), as_float(W, dtype), stride, pad


# ---------------------------------------------------------------- reference loops

def conv_transpose_forward_reference(A_prev, W, b, hparameters):
    """Transposed convolution with explicit loops. See :func:`conv_transpose_forward`."""
    A_prev, W, b, stride, pad = _check_inputs(A_prev, W, b, hparameters)
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, _, _, n_C = W.shape
    n_H, n_W = (conv_transpose_output_size(n, f, stride, pad) for n in (n_H_prev, n_W_prev))
    Z_pad = np.zeros((m, n_H + 2 * pad, n_W + 2 * pad, n_C), dtype=A_prev.dtype)
    for i in range(m):
        for h in range(n_H_prev):
            vert = slice(h * stride, h * stride + f)
            for w in range(n_W_prev):
                horiz = slice(w * stride, w * stride + f)
                for c_prev in range(A_prev.shape[3]):
                    Z_pad[i, vert, horiz, :] += A_prev[i, h, w, c_prev] * W[:, :, c_prev, :]  # (f, f, n_C)
    Z = Z_pad[:, pad:pad + n_H, pad:pad + n_W, :] + b  # cut the padding
    return Z, ConvTransposeCache(A_prev, W, b, hparameters)


def conv_transpose_backward_reference(dZ, cache: ConvTransposeCache):
    """Gradients of the transposed convolution with explicit loops. See :func:`conv_transpose_backward`."""
    dZ, A_prev, W, stride, pad = _check_dZ(dZ, cache)
    f = W.shape[0]
    dZ_pad = np.pad(dZ, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dA_prev, dW = np.zeros_like(A_prev), np.zeros_like(W)
    for i in range(A_prev.shape[0]):
        for h in range(A_prev.shape[1]):
            vert = slice(h * stride, h * stride + f)
            for w in range(A_prev.shape[2]):
                horiz = slice(w * stride, w * stride + f)
                dz_slice = dZ_pad[i, vert, horiz, :]  # (f, f, n_C): where this pixel painted
                for c_prev in range(A_prev.shape[3]):
                    dA_prev[i, h, w, c_prev] = np.sum(dz_slice * W[:, :, c_prev, :])
                    dW[:, :, c_prev, :] += A_prev[i, h, w, c_prev] * dz_slice
    db = dZ.sum(axis=(0, 1, 2)).reshape(1, 1, 1, -1)
    return dA_prev, dW, db


# ---------------------------------------------------------------- public entry points

def conv_transpose_forward(A_prev, W, b, hparameters, implementation: str = "fast"):
    """Forward pass of a transposed convolution (upsampling).

    Parameters
    ----------
    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W : ndarray of shape (f, f, n_C_prev, n_C)
    b : ndarray of shape (1, 1, 1, n_C)
    hparameters : dict
        ``{"stride": s, "pad": p}``: ``s`` the spacing of the painted copies, ``p`` the border cut.
    implementation : {"fast", "reference"}

    Returns
    -------
    Z : ndarray of shape (m, n_H, n_W, n_C)
        ``n_H = (n_H_prev - 1)*s - 2p + f``, ``n_W = (n_W_prev - 1)*s - 2p + f``.
    cache : ConvTransposeCache

    >>> Z, _ = conv_transpose_forward(np.ones((1, 2, 2, 1)), np.ones((2, 2, 1, 1)), np.zeros((1, 1, 1, 1)),
    ...                               {"stride": 2, "pad": 0})
    >>> Z.shape
    (1, 4, 4, 1)
    """
    if check_implementation(implementation) == "reference":
        return conv_transpose_forward_reference(A_prev, W, b, hparameters)
    A_prev, W, b, stride, pad = _check_inputs(A_prev, W, b, hparameters)
    Z = kernels.conv_transpose_forward(A_prev, W, b, stride, pad)
    return Z, ConvTransposeCache(A_prev, W, b, hparameters)


def conv_transpose_backward(dZ, cache: ConvTransposeCache, implementation: str = "fast"):
    """Backward pass of a transposed convolution.

    Parameters
    ----------
    dZ : ndarray of shape (m, n_H, n_W, n_C)
    cache : ConvTransposeCache
    implementation : {"fast", "reference"}

    Returns
    -------
    dA_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
        ``sum(dZ_pad-window * W[:, :, c', :])`` for each pixel and channel ``c'``.
    dW : ndarray of shape (f, f, n_C_prev, n_C)
    db : ndarray of shape (1, 1, 1, n_C)
    """
    if check_implementation(implementation) == "reference":
        return conv_transpose_backward_reference(dZ, cache)
    dZ, A_prev, W, stride, pad = _check_dZ(dZ, cache)
    return kernels.conv_transpose_backward(dZ, A_prev, W, stride, pad)

