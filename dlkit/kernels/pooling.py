"""Numba kernels of max and average pooling, forward and backward, on NHWC arrays.

The kernels go through the output one row at a time: for each tap ``(di, dj)`` of the window
they sweep the whole row, ``n_W`` pixels of ``n_C`` channels, with offsets computed once per
row (twice as fast as looping window by window here). Flat views and unsigned offsets as in
:mod:`dlkit.kernels.conv`.

Max pooling's backward pass follows the notes' mask ``x == max(x)``: an upstream gradient goes
to every entry of the window equal to the window's maximum (all of them when they tie). The
maximum is the forward pass's output, so the backward pass reads it instead of searching the
window again.

When the windows tile the input exactly (``stride == f`` and ``f`` divides the size) every
input entry belongs to one window, and the backward passes write ``dA_prev`` once instead of
zeroing it and adding into it.

Kernels take examples ``start:stop`` (see ``dlkit.kernels.run_batch_split``), only arrays and
integers, and write their outputs in place.
"""
from __future__ import annotations

import numpy as np

from dlkit.kernels import jit, run_batch_split

MIN_SPLIT_WORK = 1 << 20  # numbers read below which one thread is faster than two (measured)


def windows_tile(n_H_prev: int, n_W_prev: int, f: int, stride: int) -> bool:
    """True when the pooling windows cover the input exactly once (stride = f, no leftover)."""
    return stride == f and n_H_prev % f == 0 and n_W_prev % f == 0


@jit
def max_pool_forward(A_prev, f, stride, A, start, stop):
    """``A[i, h, w, c] = max of A_prev[i, h*s:h*s+f, w*s:w*s+f, c]`` for examples ``start:stop``.

    A_prev : (m, n_H_prev, n_W_prev, n_C); A : (m, n_H, n_W, n_C), written.
    """
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    _, n_H, n_W, _ = A.shape
    src, dst = A_prev.reshape(A_prev.size), A.reshape(A.size)
    C, step = np.uint64(n_C), np.uint64(stride * n_C)
    for i in range(start, stop):
        for h in range(n_H):
            o = np.uint64((i * n_H + h) * n_W * n_C)
            top = np.uint64((i * n_H_prev + h * stride) * n_W_prev * n_C)
            for w in range(np.uint64(n_W)):  # the window's first entry starts the max
                for c in range(C):
                    dst[o + w * C + c] = src[top + w * step + c]
            for di in range(f):
                for dj in range(f):
                    tap = top + np.uint64((di * n_W_prev + dj) * n_C)
                    for w in range(np.uint64(n_W)):
                        for c in range(C):
                            dst[o + w * C + c] = max(dst[o + w * C + c], src[tap + w * step + c])


@jit
def avg_pool_forward(A_prev, f, stride, A, start, stop):
    """``A[i, h, w, c] = mean of A_prev[i, h*s:h*s+f, w*s:w*s+f, c]`` for examples ``start:stop``."""
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    _, n_H, n_W, _ = A.shape
    src, dst = A_prev.reshape(A_prev.size), A.reshape(A.size)
    C, step, row_len = np.uint64(n_C), np.uint64(stride * n_C), np.uint64(n_W * n_C)
    for i in range(start, stop):
        for h in range(n_H):
            o = np.uint64((i * n_H + h) * n_W * n_C)
            top = np.uint64((i * n_H_prev + h * stride) * n_W_prev * n_C)
            for k in range(row_len):
                dst[o + k] = 0.0
            for di in range(f):
                for dj in range(f):
                    tap = top + np.uint64((di * n_W_prev + dj) * n_C)
                    for w in range(np.uint64(n_W)):
                        for c in range(C):
                            dst[o + w * C + c] += src[tap + w * step + c]
            for k in range(row_len):
                dst[o + k] /= f * f


@jit
def _zero_examples(dA_prev, start, stop):
    """``dA_prev[start:stop] = 0``."""
    flat = dA_prev.reshape(dA_prev.size)
    per_example = dA_prev.size // dA_prev.shape[0]
    for k in range(np.uint64(start * per_example), np.uint64(stop * per_example)):
        flat[k] = 0.0


@jit
def max_pool_backward(dA, A_prev, A, f, stride, tiled, dA_prev, start, stop):
    """Send ``dA[i, h, w, c]`` to every entry of its window equal to ``A[i, h, w, c]`` (the max).

    dA, A : (m, n_H, n_W, n_C); A_prev, dA_prev : (m, n_H_prev, n_W_prev, n_C), dA_prev
    overwritten for examples ``start:stop``. ``tiled``: see :func:`windows_tile`.
    """
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    _, n_H, n_W, _ = dA.shape
    grad, dst = dA.reshape(dA.size), dA_prev.reshape(dA_prev.size)
    src, out = A_prev.reshape(A_prev.size), A.reshape(A.size)
    C, step = np.uint64(n_C), np.uint64(stride * n_C)
    if not tiled:  # entries outside every window stay 0, overlaps add up
        _zero_examples(dA_prev, start, stop)
    for i in range(start, stop):
        for h in range(n_H):
            o = np.uint64((i * n_H + h) * n_W * n_C)
            top = np.uint64((i * n_H_prev + h * stride) * n_W_prev * n_C)
            for di in range(f):
                for dj in range(f):
                    tap = top + np.uint64((di * n_W_prev + dj) * n_C)
                    if tiled:
                        for w in range(np.uint64(n_W)):
                            for c in range(C):
                                s, g = tap + w * step + c, o + w * C + c
                                dst[s] = grad[g] if src[s] == out[g] else 0.0
                    else:
                        for w in range(np.uint64(n_W)):
                            for c in range(C):
                                s, g = tap + w * step + c, o + w * C + c
                                if src[s] == out[g]:
                                    dst[s] += grad[g]


@jit
def avg_pool_backward(dA, f, stride, tiled, dA_prev, start, stop):
    """Spread ``dA[i, h, w, c] / f**2`` over its window (examples ``start:stop``).

    dA : (m, n_H, n_W, n_C); dA_prev : (m, n_H_prev, n_W_prev, n_C), overwritten for those examples.
    """
    m, n_H_prev, n_W_prev, n_C = dA_prev.shape
    _, n_H, n_W, _ = dA.shape
    grad, dst = dA.reshape(dA.size), dA_prev.reshape(dA_prev.size)
    C, step = np.uint64(n_C), np.uint64(stride * n_C)
    scale = 1.0 / (f * f)
    if not tiled:
        _zero_examples(dA_prev, start, stop)
    for i in range(start, stop):
        for h in range(n_H):
            o = np.uint64((i * n_H + h) * n_W * n_C)
            top = np.uint64((i * n_H_prev + h * stride) * n_W_prev * n_C)
            for di in range(f):
                for dj in range(f):
                    tap = top + np.uint64((di * n_W_prev + dj) * n_C)
                    if tiled:
                        for w in range(np.uint64(n_W)):
                            for c in range(C):
                                dst[tap + w * step + c] = grad[o + w * C + c] * scale
                    else:
                        for w in range(np.uint64(n_W)):
                            for c in range(C):
                                dst[tap + w * step + c] += grad[o + w * C + c] * scale


# ---------------------------------------------------------------- forward and backward passes

def pool_forward(A_prev, f, stride, mode):
    """Fast pooling forward pass. A_prev (m, n_H_prev, n_W_prev, n_C) -> A (m, n_H, n_W, n_C)."""
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    A = np.empty((m, (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1, n_C), dtype=A_prev.dtype)
    kernel = max_pool_forward if mode == "max" else avg_pool_forward
    run_batch_split(kernel, m, np.ascontiguousarray(A_prev), f, stride, A, work=A_prev.size, min_work=MIN_SPLIT_WORK)
    return A


def pool_backward(dA, A_prev, A, f, stride, mode):
    """Fast pooling backward pass: dA (m, n_H, n_W, n_C) -> dA_prev (shape of A_prev).

    ``A`` is the forward output (m, n_H, n_W, n_C), or None to compute it again (max pooling).
    """
    dA = np.ascontiguousarray(dA)
    dA_prev = np.empty(A_prev.shape, dtype=dA.dtype)
    tiled = windows_tile(A_prev.shape[1], A_prev.shape[2], f, stride)
    if mode == "max":
        A = pool_forward(A_prev, f, stride, mode) if A is None else np.ascontiguousarray(A)
        run_batch_split(max_pool_backward, dA.shape[0], dA, np.ascontiguousarray(A_prev), A, f, stride, tiled,
                        dA_prev, work=A_prev.size, min_work=MIN_SPLIT_WORK)
    else:
        run_batch_split(avg_pool_backward, dA.shape[0], dA, f, stride, tiled, dA_prev,
                        work=A_prev.size, min_work=MIN_SPLIT_WORK)
    return dA_prev


def warmup(dtype) -> None:
    """Compile (or load from the cache) every kernel of this module for ``dtype``."""
    A_prev = np.random.default_rng(0).standard_normal((2, 5, 5, 3)).astype(dtype)
    for mode in ("max", "average"):
        for f, stride in ((2, 2), (3, 2)):
            A = pool_forward(A_prev[:, :4, :4] if f == 2 else A_prev, f, stride, mode)
            pool_backward(A, A_prev[:, :4, :4] if f == 2 else A_prev, A, f, stride, mode)
