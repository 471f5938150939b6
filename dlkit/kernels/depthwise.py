"""Numba kernels of the depthwise convolution (one f x f filter per channel), forward and backward.

In NHWC the channels of a pixel are contiguous and every channel has its own filter, so each
kernel walks the output pixels and the filter taps and works on all channels at once in the
innermost loop (``W[di, dj, :]`` against ``A_prev[i, r, col, :]``), which vectorizes. Flat
views and unsigned offsets as in :mod:`dlkit.kernels.conv`; examples ``start:stop`` per call
for ``run_batch_split``; outputs written in place.
"""
from __future__ import annotations

import numpy as np

from dlkit.kernels import jit, run_batch_split
from dlkit.kernels.conv import column_sums

MIN_SPLIT_WORK = 1 << 19  # multiply-adds below which one thread is faster


@jit
def depthwise_forward(A_prev, W, b, stride, pad, Z, start, stop):
    """``Z[i, h, w, c] = b[c] + sum_{di, dj} A_pad[i, h*s + di, w*s + dj, c] * W[di, dj, c]``.

    A_prev (m, n_H_prev, n_W_prev, n_C); W (f, f, n_C); b (n_C,); Z (m, n_H, n_W, n_C), written
    for examples ``start:stop``.
    """
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    f = W.shape[0]
    _, n_H, n_W, _ = Z.shape
    src, weights, dst = A_prev.reshape(A_prev.size), W.reshape(W.size), Z.reshape(Z.size)
    C = np.uint64(n_C)
    for i in range(start, stop):
        for h in range(n_H):
            for w in range(n_W):
                o = np.uint64(((i * n_H + h) * n_W + w) * n_C)
                for c in range(C):
                    dst[o + c] = b[c]
                for di in range(f):
                    r = h * stride - pad + di
                    if r < 0 or r >= n_H_prev:
                        continue
                    for dj in range(f):
                        col = w * stride - pad + dj
                        if col < 0 or col >= n_W_prev:
                            continue
                        s = np.uint64(((i * n_H_prev + r) * n_W_prev + col) * n_C)
                        k = np.uint64((di * f + dj) * n_C)
                        for c in range(C):
                            dst[o + c] += src[s + c] * weights[k + c]


@jit
def depthwise_backward(dZ, A_prev, W, stride, pad, dA_prev, dW, start, stop):
    """Input and filter gradients of examples ``start:stop``.

    dZ (m, n_H, n_W, n_C); A_prev, dA_prev (m, n_H_prev, n_W_prev, n_C), dA_prev overwritten for
    those examples; W, dW (f, f, n_C), dW accumulated into.
    """
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    f = W.shape[0]
    _, n_H, n_W, _ = dZ.shape
    grad, src, weights = dZ.reshape(dZ.size), A_prev.reshape(A_prev.size), W.reshape(W.size)
    dsrc, dweights = dA_prev.reshape(dA_prev.size), dW.reshape(dW.size)
    C = np.uint64(n_C)
    per_example = n_H_prev * n_W_prev * n_C
    for k in range(np.uint64(start * per_example), np.uint64(stop * per_example)):
        dsrc[k] = 0.0
    for i in range(start, stop):
        for h in range(n_H):
            for w in range(n_W):
                o = np.uint64(((i * n_H + h) * n_W + w) * n_C)
                for di in range(f):
                    r = h * stride - pad + di
                    if r < 0 or r >= n_H_prev:
                        continue
                    for dj in range(f):
                        col = w * stride - pad + dj
                        if col < 0 or col >= n_W_prev:
                            continue
                        s = np.uint64(((i * n_H_prev + r) * n_W_prev + col) * n_C)
                        k = np.uint64((di * f + dj) * n_C)
                        for c in range(C):
                            dsrc[s + c] += grad[o + c] * weights[k + c]
                            dweights[k + c] += grad[o + c] * src[s + c]


# ---------------------------------------------------------------- forward and backward passes

def forward(A_prev, W, b, stride, pad):
    """Fast depthwise convolution: A_prev (m, n_H_prev, n_W_prev, n_C), W (f, f, n_C), b (1, 1, 1, n_C)."""
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    f = W.shape[0]
    n_H, n_W = (n_H_prev + 2 * pad - f) // stride + 1, (n_W_prev + 2 * pad - f) // stride + 1
    Z = np.empty((m, n_H, n_W, n_C), dtype=A_prev.dtype)
    run_batch_split(depthwise_forward, m, np.ascontiguousarray(A_prev), np.ascontiguousarray(W), b.reshape(n_C),
                    stride, pad, Z, work=Z.size * f * f, min_work=MIN_SPLIT_WORK)
    return Z


def _backward_part(dZ, A_prev, W, stride, pad, dA_prev, start, stop):
    """One thread's share: writes dA_prev for examples start:stop, returns its own dW."""
    dW = np.zeros(W.shape, dtype=W.dtype)
    depthwise_backward(dZ, A_prev, W, stride, pad, dA_prev, dW, start, stop)
    return dW


def backward(dZ, A_prev, W, stride, pad):
    """Gradients of :func:`forward`: ``dA_prev``, ``dW`` (f, f, n_C), ``db`` (1, 1, 1, n_C)."""
    dZ, A_prev, W = np.ascontiguousarray(dZ), np.ascontiguousarray(A_prev), np.ascontiguousarray(W)
    dA_prev = np.empty(A_prev.shape, dtype=A_prev.dtype)
    parts = run_batch_split(_backward_part, A_prev.shape[0], dZ, A_prev, W, stride, pad, dA_prev,
                            work=dZ.size * W.shape[0] ** 2, min_work=MIN_SPLIT_WORK)
    db = np.empty(dZ.shape[3], dtype=dZ.dtype)
    column_sums(dZ.reshape(-1, dZ.shape[3]), db)
    return dA_prev, sum(parts), db.reshape(1, 1, 1, -1)


def warmup(dtype) -> None:
    """Compile (or load from the cache) every kernel of this module for ``dtype``."""
    rng = np.random.default_rng(0)
    A_prev, W = rng.standard_normal((2, 5, 5, 3)).astype(dtype), rng.standard_normal((3, 3, 3)).astype(dtype)
    Z = forward(A_prev, W, np.zeros((1, 1, 1, 3), dtype=dtype), 2, 1)
    backward(Z, A_prev, W, 2, 1)
