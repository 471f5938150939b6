"""Transposed convolution, the learned upsampling of U-Net: each input pixel paints a weighted copy of the filter.

Where a convolution reads an ``f x f`` window of its input for every output position, a transposed
convolution writes one: input pixel ``(h, w)`` adds ``A_prev[i, h, w, :] @ W`` (an ``f x f x n_C``
block) onto the output at rows ``h*s .. h*s + f - 1`` and columns ``w*s .. w*s + f - 1``; blocks
that overlap add up; then ``p`` rows and columns are cropped from each border and ``b`` is added::

    A_prev : (m, n_H_prev, n_W_prev, n_C_prev)   W : (f, f, n_C_prev, n_C)   b : (1, 1, 1, n_C)
    Z      : (m, n_H, n_W, n_C)                  n_H = (n_H_prev - 1) * s + f - 2p

This is the formula of a convolution solved for its input size: a convolution with the same
``f``, ``s`` and ``p`` maps ``n_H`` back to ``n_H_prev``. In fact the transposed convolution is
exactly the backward pass of that convolution with respect to its input (``dA_prev`` of
:func:`dlkit.conv.conv_backward` with the filters' channel axes swapped), hence its name.
With ``f = s = 2`` and ``p = 0`` it doubles the height and width, as in U-Net's expanding path.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlkit.conv import check_hparameters, check_int
from dlkit.layers import Layer, check_image_shape, initialize_conv
from dlkit.validation import as_array, expect_shape

TRANSPOSE_HPARAMETERS = ("stride", "pad")


class ConvTransposeCache(NamedTuple):
    """What :func:`conv_transpose_backward` needs.

    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W : ndarray of shape (f, f, n_C_prev, n_C)
    b : ndarray of shape (1, 1, 1, n_C)
    hparameters : dict
    """

    A_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    hparameters: dict


def conv_transpose_output_size(n_prev: int, f: int, stride: int, pad: int) -> int:
    """``(n_prev - 1) * stride + f - 2 * pad``, the output height (or width) of a transposed convolution.

    >>> conv_transpose_output_size(4, 2, 2, 0), conv_transpose_output_size(4, 3, 2, 1), conv_transpose_output_size(5, 3, 1, 1)
    (8, 7, 5)
    """
    return (n_prev - 1) * stride + f - 2 * pad


def _stride_and_pad(hparameters) -> tuple[int, int]:
    check_hparameters(hparameters, TRANSPOSE_HPARAMETERS, "transposed conv")
    return check_int('hparameters["stride"]', hparameters["stride"], 1), check_int('hparameters["pad"]', hparameters["pad"], 0)


def _sizes(A_prev_shape, f, stride, pad) -> tuple[int, int]:
    """``(n_H, n_W)``, or ``ValueError`` quoting the formula when the cropping leaves nothing."""
    n_H, n_W = (conv_transpose_output_size(n, f, stride, pad) for n in A_prev_shape[1:3])
    if n_H <= 0 or n_W <= 0:
        raise ValueError(f"output size would be ({n_H}, {n_W}): n_H = (n_H_prev - 1) * stride + f - 2*pad "
                         f"= ({A_prev_shape[1]} - 1) * {stride} + {f} - 2*{pad}; the padding crops everything")
    return n_H, n_W


def _check_inputs(A_prev, W, b, hparameters):
    A_prev, W, b = as_array("A_prev", A_prev, ndim=4), as_array("W", W, ndim=4), as_array("b", b)
    f, f_w, n_C_in, n_C = W.shape
    if f != f_w or n_C_in != A_prev.shape[3]:
        raise ValueError(f"W has shape {W.shape} but A_prev has shape {A_prev.shape}; W must be "
                         f"(f, f, {A_prev.shape[3]}, n_C) with square filters")
    expect_shape("b", b, (1, 1, 1, n_C))
    stride, pad = _stride_and_pad(hparameters)
    _sizes(A_prev.shape, f, stride, pad)
    return A_prev.astype(np.float64, copy=False), W.astype(np.float64, copy=False), b.astype(np.float64, copy=False), stride, pad


def _block(n_prev: int, offset: int, stride: int) -> slice:
    """Output rows (or columns) that filter row ``offset`` reaches from inputs ``0 .. n_prev - 1``."""
    return slice(offset, offset + stride * (n_prev - 1) + 1, stride)


def conv_transpose_forward(A_prev, W, b, hparameters):
    """Forward pass of a transposed convolution (learned upsampling).

    Parameters
    ----------
    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W : ndarray of shape (f, f, n_C_prev, n_C)
        ``W[:, :, c_prev, c]``: what one unit of input channel ``c_prev`` paints on output channel ``c``.
    b : ndarray of shape (1, 1, 1, n_C)
    hparameters : dict
        ``{"stride": s, "pad": p}``: the spacing of the painted blocks and the border cropped.

    Returns
    -------
    Z : ndarray of shape (m, n_H, n_W, n_C)
        ``n_H = (n_H_prev - 1) * s + f - 2p``, likewise ``n_W``.
    cache : ConvTransposeCache

    >>> A = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    >>> Z, _ = conv_transpose_forward(A, np.ones((2, 2, 1, 1)), np.zeros((1, 1, 1, 1)), {"stride": 2, "pad": 0})
    >>> Z[0, :, :, 0]
    array([[1., 1., 2., 2.],
           [1., 1., 2., 2.],
           [3., 3., 4., 4.],
           [3., 3., 4., 4.]])
    """
    A_prev, W, b, stride, pad = _check_inputs(A_prev, W, b, hparameters)
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, n_C = W.shape[0], W.shape[3]
    n_H, n_W = _sizes(A_prev.shape, f, stride, pad)
    Z_full = np.zeros((m, n_H + 2 * pad, n_W + 2 * pad, n_C))  # before cropping
    for di in range(f):
        for dj in range(f):
            # (m, n_H_prev, n_W_prev, n_C_prev) @ (n_C_prev, n_C): what filter entry (di, dj) paints from every pixel
            Z_full[:, _block(n_H_prev, di, stride), _block(n_W_prev, dj, stride), :] += A_prev @ W[di, dj]
    Z = Z_full[:, pad:pad + n_H, pad:pad + n_W, :] + b  # crop p from each border
    return Z, ConvTransposeCache(A_prev, W, b, hparameters)


def conv_transpose_backward(dZ, cache: ConvTransposeCache):
    """Backward pass of a transposed convolution.

    Each input pixel's gradient gathers ``dZ`` over the block it painted: this is a normal
    convolution of ``dZ`` (padded by ``p``) with stride ``s``.

    Parameters
    ----------
    dZ : ndarray of shape (m, n_H, n_W, n_C)
    cache : ConvTransposeCache

    Returns
    -------
    dA_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
        ``sum over (di, dj) of dZ_pad[block(di, dj)] @ W[di, dj].T``.
    dW : ndarray of shape (f, f, n_C_prev, n_C)
        ``dW[di, dj] = sum over examples and pixels of A_prev^T dZ_pad[block(di, dj)]``.
    db : ndarray of shape (1, 1, 1, n_C)
    """
    A_prev, W, _, hparameters = cache
    stride, pad = _stride_and_pad(hparameters)
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    f, n_C = W.shape[0], W.shape[3]
    n_H, n_W = _sizes(A_prev.shape, f, stride, pad)
    dZ = as_array("dZ", dZ, ndim=4)
    expect_shape("dZ", dZ, (m, n_H, n_W, n_C))
    dZ_full = np.zeros((m, n_H + 2 * pad, n_W + 2 * pad, n_C))
    dZ_full[:, pad:pad + n_H, pad:pad + n_W, :] = dZ  # the cropped border had no effect: zero gradient
    dA_prev, dW = np.zeros(A_prev.shape), np.zeros(W.shape)
    A_rows = A_prev.reshape(-1, n_C_prev)  # (m*n_H_prev*n_W_prev, n_C_prev)
    for di in range(f):
        for dj in range(f):
            dZ_block = dZ_full[:, _block(n_H_prev, di, stride), _block(n_W_prev, dj, stride), :]  # (m, n_H_prev, n_W_prev, n_C)
            dA_prev += dZ_block @ W[di, dj].T
            dW[di, dj] = A_rows.T @ dZ_block.reshape(-1, n_C)  # (n_C_prev, n_C)
    db = np.sum(dZ, axis=(0, 1, 2)).reshape(1, 1, 1, n_C)
    return dA_prev, dW, db


class ConvTranspose2D(Layer):
    """:func:`conv_transpose_forward` as a layer: ``(m, n_H_prev, n_W_prev, n_C_prev) -> (m, n_H, n_W, n_C)``.

    Parameters
    ----------
    n_C_prev, n_C : int
    f : int
    stride : int
        2 with ``f = 2`` doubles the height and width.
    pad : int
        Rows and columns cropped from each border.
    seed : int or numpy.random.Generator
        He-initialized ``W`` (f, f, n_C_prev, n_C), zero ``b`` (1, 1, 1, n_C): ``(f*f*n_C_prev + 1) * n_C`` parameters.
    name : str, optional
    """

    kind = "convT"

    def __init__(self, n_C_prev: int, n_C: int, f: int, stride: int = 2, pad: int = 0, seed=0,
                 name: str | None = None):
        super().__init__(name)
        self.hparameters = {"stride": stride, "pad": pad}
        self.stride, self.pad = _stride_and_pad(self.hparameters)
        self.n_C_prev, self.n_C, self.f = n_C_prev, n_C, f
        W, b = initialize_conv(f, n_C_prev, n_C, seed)
        self._params = {"W": W, "b": b}

    def forward(self, x, training: bool = True) -> np.ndarray:
        Z, self.cache = conv_transpose_forward(x, self._params["W"], self._params["b"], self.hparameters)
        return Z

    def backward(self, dout) -> np.ndarray:
        dA_prev, dW, db = conv_transpose_backward(dout, self._last_cache())
        self._grads = {"W": dW, "b": db}
        return dA_prev

    def output_shape(self, input_shape):
        n_H_prev, n_W_prev, _ = check_image_shape(self, input_shape, self.n_C_prev)
        return (conv_transpose_output_size(n_H_prev, self.f, self.stride, self.pad),
                conv_transpose_output_size(n_W_prev, self.f, self.stride, self.pad), self.n_C)

    def describe(self) -> str:
        return f"{self.n_C_prev}->{self.n_C}, f={self.f}, stride={self.stride}, pad={self.pad}"
