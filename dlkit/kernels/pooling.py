"""Numba kernels of max and average pooling, forward and backward, on NHWC arrays.

Every window is an f x f block of pixels; the channels of a pixel are contiguous, so each
kernel walks the window's pixels and works on all channels at once in the innermost loop,
which vectorizes (flat views indexed with unsigned offsets, as in :mod:`dlkit.kernels.conv`).

Max pooling's backward pass follows the notes' mask ``x == max(x)``: an upstream gradient goes
to every entry of the window equal to the window's maximum (all of them when they tie).

Kernels take the examples ``start:stop`` (see ``dlkit.kernels.run_batch_split``), only arrays
and integers, and write their output in place.
"""
from __future__ import annotations

import numpy as np

from dlkit.kernels import jit, run_batch_split

MIN_SPLIT_WORK = 1 << 16  # numbers read below which one thread is faster


@jit
def max_pool_forward(A_prev, f, stride, A, start, stop):
    """``A[i, h, w, c] = max of A_prev[i, h*s:h*s+f, w*s:w*s+f, c]`` for examples ``start:stop``."""
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    _, n_H, n_W, _ = A.shape
    src = A_prev.reshape(A_prev.size)
    dst = A.reshape(A.size)
    C = np.uint64(n_C)
    for i in range(start, stop):
        for h in range(n_H):
            for w in range(n_W):
                o = np.uint64(((i * n_H + h) * n_W + w) * n_C)
                first = np.uint64(((i * n_H_prev + h * stride) * n_W_prev + w * stride) * n_C)
                for c in range(C):
                    dst[o + c] = src[first + c]
                for di in range(f):
                    for dj in range(f):
                        s = np.uint64(((i * n_H_prev + h * stride + di) * n_W_prev + w * stride + dj) * n_C)
                        for c in range(C):
                            dst[o + c] = max(dst[o + c], src[s + c])


@jit
def avg_pool_forward(A_prev, f, stride, A, start, stop):
    """``A[i, h, w, c] = mean of A_prev[i, h*s:h*s+f, w*s:w*s+f, c]`` for examples ``start:stop``."""
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    _, n_H, n_W, _ = A.shape
    src = A_prev.reshape(A_prev.size)
    dst = A.reshape(A.size)
    C = np.uint64(n_C)
    count = f * f
    for i in range(start, stop):
        for h in range(n_H):
            for w in range(n_W):
                o = np.uint64(((i * n_H + h) * n_W + w) * n_C)
                for c in range(C):
                    dst[o + c] = 0.0
                for di in range(f):
                    for dj in range(f):
                        s = np.uint64(((i * n_H_prev + h * stride + di) * n_W_prev + w * stride + dj) * n_C)
                        for c in range(C):
                            dst[o + c] += src[s + c]
                for c in range(C):
                    dst[o + c] /= count


@jit
def max_pool_backward(dA, A_prev, f, stride, dA_prev, start, stop):
    """Send ``dA[i, h, w, c]`` to every maximum of its window (examples ``start:stop``).

    dA : (m, n_H, n_W, n_C); A_prev, dA_prev : (m, n_H_prev, n_W_prev, n_C). When the windows
    tile the input exactly (see :func:`windows_tile`) every entry of ``dA_prev`` is written;
    otherwise ``dA_prev`` must hold zeros and is accumulated into (windows may overlap).
    """
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    _, n_H, n_W, _ = dA.shape
    src = A_prev.reshape(A_prev.size)
    grad = dA.reshape(dA.size)
    dst = dA_prev.reshape(dA_prev.size)
    C = np.uint64(n_C)
    tiled = windows_tile(n_H_prev, n_W_prev, f, stride)
    best = np.empty(n_C, dtype=A_prev.dtype)
    for i in range(start, stop):
        for h in range(n_H):
            for w in range(n_W):
                first = np.uint64(((i * n_H_prev + h * stride) * n_W_prev + w * stride) * n_C)
                for c in range(C):
                    best[c] = src[first + c]
                for di in range(f):
                    for dj in range(f):
                        s = np.uint64(((i * n_H_prev + h * stride + di) * n_W_prev + w * stride + dj) * n_C)
                        for c in range(C):
                            best[c] = max(best[c], src[s + c])
                o = np.uint64(((i * n_H + h) * n_W + w) * n_C)
                for di in range(f):
                    for dj in range(f):
                        s = np.uint64(((i * n_H_prev + h * stride + di) * n_W_prev + w * stride + dj) * n_C)
                        if tiled:
                            for c in range(C):
                                dst[s + c] = grad[o + c] if src[s + c] == best[c] else 0.0
                        else:
                            for c in range(C):
                                if src[s + c] == best[c]:
                                    dst[s + c] += grad[o + c]


@jit
def avg_pool_backward(dA, f, stride, dA_prev, start, stop):
    """Spread ``dA[i, h, w, c] / (f*f)`` evenly over its window (examples ``start:stop``).

    dA : (m, n_H, n_W, n_C); dA_prev : (m, n_H_prev, n_W_prev, n_C), written whole when the
    windows tile the input, else zeros on entry and accumulated into.
    """
    m, n_H_prev, n_W_prev, n_C = dA_prev.shape
    _, n_H, n_W, _ = dA.shape
    grad = dA.reshape(dA.size)
    dst = dA_prev.reshape(dA_prev.size)
    C = np.uint64(n_C)
    tiled = windows_tile(n_H_prev, n_W_prev, f, stride)
    count = f * f
    for i in range(start, stop):
        for h in range(n_H):
            for w in range(n_W):
                o = np.uint64(((i * n_H + h) * n_W + w) * n_C)
                for di in range(f):
                    for dj in range(f):
                        s = np.uint64(((i * n_H_prev + h * stride + di) * n_W_prev + w * stride + dj) * n_C)
                        if tiled:
                            for c in range(C):
                                dst[s + c] = grad[o + c] / count
                        else:
                            for c in range(C):
                                dst[s + c] += grad[o + c] / count


@jit
def windows_tile(n_H_prev, n_W_prev, f, stride):
    """True when the pooling windows cover the input exactly once (stride = f, no leftover)."""
    return stride == f and n_H_prev % f == 0 and n_W_prev % f == 0


# ---------------------------------------------------------------- forward and backward passes

def pool_forward(A_prev, f, stride, mode):
    """Fast pooling forward pass. A_prev (m, n_H_prev, n_W_prev, n_C) -> A (m, n_H, n_W, n_C)."""
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    A = np.empty((m, (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1, n_C), dtype=A_prev.dtype)
    kernel = max_pool_forward if mode == "max" else avg_pool_forward
    run_batch_split(kernel, m, np.ascontiguousarray(A_prev), f, stride, A,
                    work=A_prev.size, min_work=MIN_SPLIT_WORK)
    return A


def pool_backward(dA, A_prev, f, stride, mode):
    """Fast pooling backward pass. dA (m, n_H, n_W, n_C) -> dA_prev (shape of A_prev)."""
    n_H_prev, n_W_prev = A_prev.shape[1:3]
    empty = np.empty if windows_tile(n_H_prev, n_W_prev, f, stride) else np.zeros  # tiled: all written
    dA_prev = empty(A_prev.shape, dtype=dA.dtype)
    dA = np.ascontiguousarray(dA)
    if mode == "max":
        run_batch_split(max_pool_backward, dA.shape[0], dA, np.ascontiguousarray(A_prev), f, stride, dA_prev,
                        work=A_prev.size, min_work=MIN_SPLIT_WORK)
    else:
        run_batch_split(avg_pool_backward, dA.shape[0], dA, f, stride, dA_prev,
                        work=A_prev.size, min_work=MIN_SPLIT_WORK)
    return dA_prev


def warmup(dtype) -> None:
    """Compile (or load from the cache) every kernel of this module for ``dtype``."""
    A_prev = np.random.default_rng(0).standard_normal((2, 4, 4, 3)).astype(dtype)
    for mode in ("max", "average"):
        A = pool_forward(A_prev, 2, 2, mode)
        pool_backward(A, A_prev, 2, 2, mode)
