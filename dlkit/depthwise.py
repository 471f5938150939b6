"""Depthwise and depthwise-separable convolution (MobileNet), forward and backward, and their costs.

A **depthwise** convolution gives each input channel its own ``f x f`` filter and keeps the
channels apart, so there is one filter of shape ``(f, f, n_C_prev)``::

    Z[i, h, w, c] = sum over di, dj of A_pad[i, h*s + di, w*s + dj, c] * W[di, dj, c] + b[c]

    A_prev : (m, n_H_prev, n_W_prev, n_C_prev)   W : (f, f, n_C_prev)   b : (1, 1, 1, n_C_prev)
    Z      : (m, n_H, n_W, n_C_prev)             n_H = floor((n_H_prev + 2p - f) / s) + 1

A **depthwise-separable** convolution follows it with a **pointwise** one: ``n_C`` filters of
shape ``(1, 1, n_C_prev)`` (a 1x1 :func:`dlkit.conv.conv_forward`) that mix the channels.
For an output of ``n_H x n_W`` the multiplications are::

    normal conv:     f*f*n_C_prev * n_H*n_W * n_C
    separable conv:  f*f*n_C_prev * n_H*n_W  +  n_C_prev * n_H*n_W * n_C
    ratio:           1/n_C + 1/f**2

The code below loops over the ``f*f`` offsets of the filter and handles every example,
position and channel at once for each offset.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlkit.conv import ConvCache, check_output_size, conv_backward, conv_forward, conv_padding, output_size, zero_pad
from dlkit.layers import Layer, check_image_shape
from dlkit.validation import as_array, as_generator, expect_shape


class DepthwiseCache(NamedTuple):
    """What :func:`depthwise_conv_backward` needs.

    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W : ndarray of shape (f, f, n_C_prev)
    b : ndarray of shape (1, 1, 1, n_C_prev)
    hparameters : dict
    """

    A_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    hparameters: dict


def _check_depthwise_inputs(A_prev, W, b, hparameters):
    """Validate a depthwise forward pass; return float arrays, ``stride``, ``pad`` and ``(n_H, n_W)``."""
    A_prev, W, b = as_array("A_prev", A_prev, ndim=4), as_array("W", W, ndim=3), as_array("b", b)
    f, f_w, n_C_prev = W.shape
    if f != f_w or n_C_prev != A_prev.shape[3]:
        raise ValueError(f"W has shape {W.shape} but A_prev has shape {A_prev.shape}; a depthwise filter "
                         f"must be (f, f, {A_prev.shape[3]}), one f x f filter per input channel")
    expect_shape("b", b, (1, 1, 1, n_C_prev))
    stride, pad = conv_padding(hparameters, f)
    n_H, n_W = check_output_size(A_prev.shape[1], A_prev.shape[2], f, stride, pad)
    as_float = [x.astype(np.float64, copy=False) for x in (A_prev, W, b)]
    return (*as_float, stride, pad, (n_H, n_W))


def _window(n: int, offset: int, stride: int) -> slice:
    """Rows (or columns) ``offset, offset + stride, ...`` of the padded input, ``n`` of them."""
    return slice(offset, offset + stride * (n - 1) + 1, stride)


def depthwise_conv_forward(A_prev, W, b, hparameters):
    """Forward pass of a depthwise convolution: each channel convolved with its own filter.

    Parameters
    ----------
    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W : ndarray of shape (f, f, n_C_prev)
        ``W[:, :, c]`` is the filter of channel ``c``.
    b : ndarray of shape (1, 1, 1, n_C_prev)
    hparameters : dict
        ``{"stride": s, "pad": p}``, ``p`` an int or ``"same"`` (odd ``f``).

    Returns
    -------
    Z : ndarray of shape (m, n_H, n_W, n_C_prev)
        ``n_H = floor((n_H_prev + 2p - f) / s) + 1``, likewise ``n_W``.
    cache : DepthwiseCache

    >>> A = np.arange(9.0).reshape(1, 3, 3, 1)
    >>> Z, _ = depthwise_conv_forward(A, np.ones((2, 2, 1)), np.zeros((1, 1, 1, 1)), {"stride": 1, "pad": 0})
    >>> Z[0, :, :, 0]
    array([[ 8., 12.],
           [20., 24.]])
    """
    A_prev, W, b, stride, pad, (n_H, n_W) = _check_depthwise_inputs(A_prev, W, b, hparameters)
    A_pad = zero_pad(A_prev, pad)  # (m, n_H_prev + 2p, n_W_prev + 2p, n_C_prev)
    f = W.shape[0]
    Z = np.zeros((A_prev.shape[0], n_H, n_W, A_prev.shape[3]))
    for di in range(f):
        for dj in range(f):
            # (m, n_H, n_W, n_C_prev): the input entry that meets filter entry (di, dj) at every output position
            Z += A_pad[:, _window(n_H, di, stride), _window(n_W, dj, stride), :] * W[di, dj, :]
    return Z + b, DepthwiseCache(A_prev, W, b, hparameters)


def depthwise_conv_backward(dZ, cache: DepthwiseCache):
    """Backward pass of a depthwise convolution.

    Parameters
    ----------
    dZ : ndarray of shape (m, n_H, n_W, n_C_prev)
    cache : DepthwiseCache

    Returns
    -------
    dA_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
        For each offset ``(di, dj)``: ``dA_pad[window] += dZ * W[di, dj]``, padding stripped.
    dW : ndarray of shape (f, f, n_C_prev)
        ``dW[di, dj, c] = sum over i, h, w of A_pad[window] * dZ``.
    db : ndarray of shape (1, 1, 1, n_C_prev)
    """
    A_prev, W, _, hparameters = cache
    f = W.shape[0]
    stride, pad = conv_padding(hparameters, f)
    n_H, n_W = output_size(A_prev.shape[1], f, stride, pad), output_size(A_prev.shape[2], f, stride, pad)
    dZ = as_array("dZ", dZ, ndim=4)
    expect_shape("dZ", dZ, (A_prev.shape[0], n_H, n_W, A_prev.shape[3]))
    A_pad = zero_pad(A_prev, pad)
    dA_pad, dW = np.zeros_like(A_pad), np.zeros_like(W)
    for di in range(f):
        for dj in range(f):
            window = (slice(None), _window(n_H, di, stride), _window(n_W, dj, stride), slice(None))
            dA_pad[window] += dZ * W[di, dj, :]
            dW[di, dj, :] = np.sum(A_pad[window] * dZ, axis=(0, 1, 2))
    db = np.sum(dZ, axis=(0, 1, 2)).reshape(1, 1, 1, -1)
    dA_prev = dA_pad[:, pad:pad + A_prev.shape[1], pad:pad + A_prev.shape[2], :]  # strip the padding
    return np.ascontiguousarray(dA_prev), dW, db


# ----------------------------------------------------------------------------------------------
# Depthwise-separable: depthwise then pointwise (1x1)
# ----------------------------------------------------------------------------------------------

class SeparableCache(NamedTuple):
    """The caches of the two stages of :func:`separable_conv_forward`."""

    depthwise: DepthwiseCache
    pointwise: ConvCache


def separable_conv_forward(A_prev, W_depthwise, b_depthwise, W_pointwise, b_pointwise, hparameters):
    """Depthwise-separable convolution: a depthwise convolution, then a 1x1 convolution across channels.

    Parameters
    ----------
    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W_depthwise : ndarray of shape (f, f, n_C_prev)
    b_depthwise : ndarray of shape (1, 1, 1, n_C_prev)
    W_pointwise : ndarray of shape (1, 1, n_C_prev, n_C)
    b_pointwise : ndarray of shape (1, 1, 1, n_C)
    hparameters : dict
        ``{"stride": s, "pad": p}`` of the depthwise stage (the pointwise one has stride 1, no padding).

    Returns
    -------
    Z : ndarray of shape (m, n_H, n_W, n_C)
    cache : SeparableCache

    >>> A = np.ones((2, 5, 5, 3))
    >>> Z, _ = separable_conv_forward(A, np.ones((3, 3, 3)), np.zeros((1, 1, 1, 3)), np.ones((1, 1, 3, 4)),
    ...                               np.zeros((1, 1, 1, 4)), {"stride": 1, "pad": "same"})
    >>> Z.shape, float(Z[0, 2, 2, 0])
    ((2, 5, 5, 4), 27.0)
    """
    W_pointwise = as_array("W_pointwise", W_pointwise, ndim=4)
    if W_pointwise.shape[:2] != (1, 1):
        raise ValueError(f"W_pointwise has shape {W_pointwise.shape} but a pointwise filter is (1, 1, n_C_prev, n_C)")
    Z_depthwise, depthwise_cache = depthwise_conv_forward(A_prev, W_depthwise, b_depthwise, hparameters)
    Z, pointwise_cache = conv_forward(Z_depthwise, W_pointwise, b_pointwise, {"stride": 1, "pad": 0})
    return Z, SeparableCache(depthwise_cache, pointwise_cache)


def separable_conv_backward(dZ, cache: SeparableCache):
    """Backward pass of :func:`separable_conv_forward`.

    Returns
    -------
    dA_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    dW_depthwise : ndarray of shape (f, f, n_C_prev)
    db_depthwise : ndarray of shape (1, 1, 1, n_C_prev)
    dW_pointwise : ndarray of shape (1, 1, n_C_prev, n_C)
    db_pointwise : ndarray of shape (1, 1, 1, n_C)
    """
    dZ_depthwise, dW_pointwise, db_pointwise = conv_backward(dZ, cache.pointwise)
    dA_prev, dW_depthwise, db_depthwise = depthwise_conv_backward(dZ_depthwise, cache.depthwise)
    return dA_prev, dW_depthwise, db_depthwise, dW_pointwise, db_pointwise


# ----------------------------------------------------------------------------------------------
# Costs
# ----------------------------------------------------------------------------------------------

def conv_multiplications(n_H: int, n_W: int, f: int, n_C_prev: int, n_C: int) -> int:
    """Multiplications of a normal convolution: ``(f*f*n_C_prev) * (n_H*n_W) * n_C``.

    Filter parameters times filter positions times number of filters.

    >>> conv_multiplications(8, 8, 3, 3, 5)
    8640
    """
    return f * f * n_C_prev * n_H * n_W * n_C


def separable_multiplications(n_H: int, n_W: int, f: int, n_C_prev: int, n_C: int) -> int:
    """Multiplications of a depthwise-separable convolution: ``f*f*n_C_prev*n_H*n_W + n_C_prev*n_H*n_W*n_C``.

    >>> separable_multiplications(8, 8, 3, 3, 5)
    2688
    >>> round(separable_multiplications(8, 8, 3, 3, 5) / conv_multiplications(8, 8, 3, 3, 5), 4), round(1/5 + 1/9, 4)
    (0.3111, 0.3111)
    """
    return f * f * n_C_prev * n_H * n_W + n_C_prev * n_H * n_W * n_C


# ----------------------------------------------------------------------------------------------
# Layer object
# ----------------------------------------------------------------------------------------------

class DepthwiseConv2D(Layer):
    """:func:`depthwise_conv_forward` as a layer: ``(m, n_H_prev, n_W_prev, n_C) -> (m, n_H, n_W, n_C)``.

    Parameters
    ----------
    n_C : int
        Channels in and out.
    f, stride, pad
        As for :class:`dlkit.layers.Conv2D`.
    seed : int or numpy.random.Generator
        He initialization: each output sums ``f*f`` inputs, so ``W ~ normal(0, 1) * sqrt(2 / f**2)``.
    name : str, optional

    ``(f*f + 1) * n_C`` parameters. Follow it with ``Conv2D(n_C, n_C_out, 1)`` for a separable convolution.
    """

    kind = "dwconv"

    def __init__(self, n_C: int, f: int, stride: int = 1, pad: int | str = 0, seed=0, name: str | None = None):
        super().__init__(name)
        self.hparameters = {"stride": stride, "pad": pad}
        self.stride, self.pad = conv_padding(self.hparameters, f)
        self.n_C, self.f = n_C, f
        W = as_generator(seed).standard_normal((f, f, n_C)) * np.sqrt(2.0 / (f * f))
        self._params = {"W": W, "b": np.zeros((1, 1, 1, n_C))}

    def forward(self, x, training: bool = True) -> np.ndarray:
        Z, self.cache = depthwise_conv_forward(x, self._params["W"], self._params["b"], self.hparameters)
        return Z

    def backward(self, dout) -> np.ndarray:
        dA_prev, dW, db = depthwise_conv_backward(dout, self._last_cache())
        self._grads = {"W": dW, "b": db}
        return dA_prev

    def output_shape(self, input_shape):
        n_H_prev, n_W_prev, _ = check_image_shape(self, input_shape, self.n_C)
        return (output_size(n_H_prev, self.f, self.stride, self.pad),
                output_size(n_W_prev, self.f, self.stride, self.pad), self.n_C)

    def describe(self) -> str:
        return f"{self.n_C}, f={self.f}, stride={self.stride}, pad={self.hparameters['pad']!r}"
