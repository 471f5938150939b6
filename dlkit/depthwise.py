"""Depthwise and depthwise-separable convolutions (MobileNet) on NHWC tensors.

A **depthwise** convolution gives each channel its own f x f filter and does not mix channels::

    Z[i, h, w, c] = sum_{di, dj} A_pad[i, h*s + di, w*s + dj, c] * W[di, dj, c] + b[c]

    A_prev : (m, n_H_prev, n_W_prev, n_C)   W : (f, f, n_C)   b : (1, 1, 1, n_C)
    Z      : (m, n_H, n_W, n_C)             n_H = floor((n_H_prev + 2p - f) / s) + 1

A **depthwise-separable** convolution follows it with a **pointwise** (1x1) convolution that
mixes the channels, ``W_pointwise`` of shape (1, 1, n_C, n_C_out). Together they cost
``1/n_C_out + 1/f**2`` of a full f x f convolution with the same input and output shapes.

``*_reference`` are explicit loops; the public functions take the Numba path of
:mod:`dlkit.kernels.depthwise` (and BLAS for the pointwise step) unless
``implementation="reference"``. hparameters are ``{"stride": s, "pad": p}`` (``p`` may be "same").
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlkit import conv
from dlkit.kernels import as_float, check_implementation, float_dtype
from dlkit.kernels import depthwise as kernels
from dlkit.validation import as_array, expect_shape


class DepthwiseCache(NamedTuple):
    """What :func:`depthwise_conv_backward` needs: the forward pass's inputs."""

    A_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray
    hparameters: dict


class SeparableCache(NamedTuple):
    """The caches of the two steps of :func:`separable_conv_forward`."""

    depthwise: DepthwiseCache
    pointwise: conv.ConvCache


def _check_inputs(A_prev, W, b, hparameters):
    """Validate a depthwise forward pass; return float arrays, stride and pad."""
    A_prev, W, b = as_array("A_prev", A_prev, ndim=4), as_array("W", W, ndim=3), as_array("b", b)
    f, f_w, n_C = W.shape
    if f != f_w or n_C != A_prev.shape[3]:
        raise ValueError(f"W has shape {W.shape} but expected (f, f, {A_prev.shape[3]}): one square filter "
                         f"per channel of A_prev (shape {A_prev.shape})")
    expect_shape("b", b, (1, 1, 1, n_C))
    stride, pad = conv.conv_padding(hparameters, f)
    conv.check_output_size(A_prev.shape[1], A_prev.shape[2], f, stride, pad)
    dtype = float_dtype(A_prev, W, b)
    return A_prev.astype(dtype, copy=False), W.astype(dtype, copy=False), b.astype(dtype, copy=False), stride, pad


def _check_dZ(dZ, cache):
    A_prev, W, _, hparameters = cache[:4]
    f = W.shape[0]
    stride, pad = conv.conv_padding(hparameters, f)
    n_H, n_W = conv.check_output_size(A_prev.shape[1], A_prev.shape[2], f, stride, pad)
    dZ = as_array("dZ", dZ, ndim=4)
    expect_shape("dZ", dZ, (A_prev.shape[0], n_H, n_W, A_prev.shape[3]))
    dtype = float_dtype(A_prev, W, dZ)
    return dZ.astype(dtype, copy=False), as_float(A_prev, dtype), as_float(W, dtype), stride, pad


# ---------------------------------------------------------------- reference loops

def depthwise_conv_forward_reference(A_prev, W, b, hparameters):
    """Depthwise convolution with explicit loops. See :func:`depthwise_conv_forward`."""
    A_prev, W, b, stride, pad = _check_inputs(A_prev, W, b, hparameters)
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    f = W.shape[0]
    n_H, n_W = conv.output_size(n_H_prev, f, stride, pad), conv.output_size(n_W_prev, f, stride, pad)
    A_prev_pad = conv.zero_pad(A_prev, pad)
    Z = np.zeros((m, n_H, n_W, n_C), dtype=A_prev.dtype)
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                a_slice = A_prev_pad[i, h * stride:h * stride + f, w * stride:w * stride + f, :]  # (f, f, n_C)
                Z[i, h, w, :] = np.sum(a_slice * W, axis=(0, 1)) + b[0, 0, 0, :]
    return Z, DepthwiseCache(A_prev, W, b, hparameters)


def depthwise_conv_backward_reference(dZ, cache: DepthwiseCache):
    """Gradients of the depthwise convolution with explicit loops. See :func:`depthwise_conv_backward`."""
    dZ, A_prev, W, stride, pad = _check_dZ(dZ, cache)
    f = W.shape[0]
    A_prev_pad = conv.zero_pad(A_prev, pad)
    dA_prev_pad, dW = np.zeros_like(A_prev_pad), np.zeros_like(W)
    for i in range(dZ.shape[0]):
        for h in range(dZ.shape[1]):
            vert = slice(h * stride, h * stride + f)
            for w in range(dZ.shape[2]):
                horiz = slice(w * stride, w * stride + f)
                dA_prev_pad[i, vert, horiz, :] += W * dZ[i, h, w, :]
                dW += A_prev_pad[i, vert, horiz, :] * dZ[i, h, w, :]
    n_H_prev, n_W_prev = A_prev.shape[1:3]
    dA_prev = np.ascontiguousarray(dA_prev_pad[:, pad:pad + n_H_prev, pad:pad + n_W_prev, :])
    return dA_prev, dW, dZ.sum(axis=(0, 1, 2)).reshape(1, 1, 1, -1)


# ---------------------------------------------------------------- public entry points

def depthwise_conv_forward(A_prev, W, b, hparameters, implementation: str = "fast"):
    """Forward pass of a depthwise convolution: each channel convolved with its own filter.

    Parameters
    ----------
    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C)
    W : ndarray of shape (f, f, n_C)
    b : ndarray of shape (1, 1, 1, n_C)
    hparameters : dict
        ``{"stride": s, "pad": p}``.
    implementation : {"fast", "reference"}

    Returns
    -------
    Z : ndarray of shape (m, n_H, n_W, n_C)
        ``n_H = floor((n_H_prev + 2p - f) / s) + 1``, likewise ``n_W``.
    cache : DepthwiseCache

    >>> Z, _ = depthwise_conv_forward(np.ones((1, 4, 4, 2)), np.ones((3, 3, 2)), np.zeros((1, 1, 1, 2)),
    ...                               {"stride": 1, "pad": 0})
    >>> Z[0, :, :, 1]
    array([[9., 9.],
           [9., 9.]])
    """
    if check_implementation(implementation) == "reference":
        return depthwise_conv_forward_reference(A_prev, W, b, hparameters)
    A_prev, W, b, stride, pad = _check_inputs(A_prev, W, b, hparameters)
    return kernels.forward(A_prev, W, b, stride, pad), DepthwiseCache(A_prev, W, b, hparameters)


def depthwise_conv_backward(dZ, cache: DepthwiseCache, implementation: str = "fast"):
    """Backward pass of a depthwise convolution.

    Parameters
    ----------
    dZ : ndarray of shape (m, n_H, n_W, n_C)
    cache : DepthwiseCache
    implementation : {"fast", "reference"}

    Returns
    -------
    dA_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C)
    dW : ndarray of shape (f, f, n_C)
    db : ndarray of shape (1, 1, 1, n_C)
    """
    if check_implementation(implementation) == "reference":
        return depthwise_conv_backward_reference(dZ, cache)
    dZ, A_prev, W, stride, pad = _check_dZ(dZ, cache)
    return kernels.backward(dZ, A_prev, W, stride, pad)


def separable_conv_forward(A_prev, W_depthwise, b_depthwise, W_pointwise, b_pointwise, hparameters,
                           implementation: str = "fast"):
    """Depthwise-separable convolution: a depthwise convolution, then a 1x1 (pointwise) convolution.

    Parameters
    ----------
    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C)
    W_depthwise : ndarray of shape (f, f, n_C)
    b_depthwise : ndarray of shape (1, 1, 1, n_C)
    W_pointwise : ndarray of shape (1, 1, n_C, n_C_out)
    b_pointwise : ndarray of shape (1, 1, 1, n_C_out)
    hparameters : dict
        ``{"stride": s, "pad": p}`` of the depthwise step (the pointwise step has stride 1, no padding).
    implementation : {"fast", "reference"}

    Returns
    -------
    Z : ndarray of shape (m, n_H, n_W, n_C_out)
    cache : SeparableCache
    """
    A, depthwise_cache = depthwise_conv_forward(A_prev, W_depthwise, b_depthwise, hparameters, implementation)
    W_pointwise = as_array("W_pointwise", W_pointwise, ndim=4)
    if W_pointwise.shape[:2] != (1, 1):
        raise ValueError(f"W_pointwise has shape {W_pointwise.shape} but expected (1, 1, n_C, n_C_out)")
    Z, pointwise_cache = conv.conv_forward(A, W_pointwise, b_pointwise, {"stride": 1, "pad": 0}, implementation)
    return Z, SeparableCache(depthwise_cache, pointwise_cache)


def separable_conv_backward(dZ, cache: SeparableCache, implementation: str = "fast"):
    """Backward pass of :func:`separable_conv_forward`.

    Returns
    -------
    dA_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C)
    dW_depthwise : ndarray of shape (f, f, n_C)
    db_depthwise : ndarray of shape (1, 1, 1, n_C)
    dW_pointwise : ndarray of shape (1, 1, n_C, n_C_out)
    db_pointwise : ndarray of shape (1, 1, 1, n_C_out)
    """
    dA, dW_pointwise, db_pointwise = conv.conv_backward(dZ, cache.pointwise, implementation)
    dA_prev, dW_depthwise, db_depthwise = depthwise_conv_backward(dA, cache.depthwise, implementation)
    return dA_prev, dW_depthwise, db_depthwise, dW_pointwise, db_pointwise
