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
def pool_forward_rows(A_prev, f, stride, is_max, A, start, stop):
    """``A[i, h, w, c]`` = max (``is_max``) or mean of ``A_prev[i, h*s:h*s+f, w*s:w*s+f, c]``.

    A_prev : (m, n_H_prev, n_W_prev, n_C); A : (m, n_H, n_W, n_C), written for examples
    ``start:stop``.
    """
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    _, n_H, n_W, _ = A.shape
    src, dst = A_prev.reshape(A_prev.size), A.reshape(A.size)
    C, step, row_len = np.uint64(n_C), np.uint64(stride * n_C), np.uint64(n_W * n_C)
    for i in range(start, stop):
        for h in range(n_H):
            o = np.uint64((i * n_H + h) * n_W * n_C)
            top = np.uint64((i * n_H_prev + h * stride) * n_W_prev * n_C)
            for w in range(np.uint64(n_W)):  # the window's first entry starts the max / the sum
                for c in range(C):
                    dst[o + w * C + c] = src[top + w * step + c]
            for di in range(f):
                for dj in range(f):
                    if di == 0 and dj == 0:
                        continue
                    tap = top + np.uint64((di * n_W_prev + dj) * n_C)
                    for w in range(np.uint64(n_W)):
                        for c in range(C):
                            if is_max:
                                dst[o + w * C + c] = max(dst[o + w * C + c], src[tap + w * step + c])
                            else:
                                dst[o + w * C + c] += src[tap + w * step + c]
            if not is_max:
                for k in range(row_len):
                    dst[o + k] /= f * f


@jit
def pool_backward_rows(dA, A_prev, A, f, stride, is_max, tiled, dA_prev, start, stop):
    """Route ``dA`` back through the windows of examples ``start:stop``.

    Max (``is_max``): ``dA[i, h, w, c]`` to every entry of the window equal to ``A[i, h, w, c]``
    (the forward output); average: ``dA[i, h, w, c] / f**2`` to every entry. dA, A :
    (m, n_H, n_W, n_C); A_prev, dA_prev : (m, n_H_prev, n_W_prev, n_C), dA_prev overwritten
    for those examples (A_prev and A are not read for average pooling). ``tiled``: see
    :func:`windows_tile`.
    """
    m, n_H_prev, n_W_prev, n_C = dA_prev.shape
    _, n_H, n_W, _ = dA.shape
    grad, dst = dA.reshape(dA.size), dA_prev.reshape(dA_prev.size)
    src, out = A_prev.reshape(A_prev.size), A.reshape(A.size)
    C, step = np.uint64(n_C), np.uint64(stride * n_C)
    if not tiled:  # entries outside every window stay 0, overlaps add up
        per_example = n_H_prev * n_W_prev * n_C
        for k in range(np.uint64(start * per_example), np.uint64(stop * per_example)):
            dst[k] = 0.0
    scale = 1.0 / (f * f)
    for i in range(start, stop):
        for h in range(n_H):
            o = np.uint64((i * n_H + h) * n_W * n_C)
            top = np.uint64((i * n_H_prev + h * stride) * n_W_prev * n_C)
            for di in range(f):
                for dj in range(f):
                    tap = top + np.uint64((di * n_W_prev + dj) * n_C)
                    for w in range(np.uint64(n_W)):
                        s, g = tap + w * step, o + w * C
                        if is_max and tiled:
                            for c in range(C):
                                dst[s + c] = grad[g + c] if src[s + c] == out[g + c] else 0.0
                        elif is_max:
                            for c in range(C):
                                if src[s + c] == out[g + c]:
                                    dst[s + c] += grad[g + c]
                        elif tiled:
                            for c in range(C):
                                dst[s + c] = grad[g + c] * scale
                        else:
                            for c in range(C):
                                dst[s + c] += grad[g + c] * scale


# ---------------------------------------------------------------- forward and backward passes

def pool_forward(A_prev, f, stride, mode):
    """Fast pooling forward pass. A_prev (m, n_H_prev, n_W_prev, n_C) -> A (m, n_H, n_W, n_C)."""
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    A = np.empty((m, (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1, n_C), dtype=A_prev.dtype)
    run_batch_split(pool_forward_rows, m, np.ascontiguousarray(A_prev), f, stride, mode == "max", A,
                    work=A_prev.size, min_work=MIN_SPLIT_WORK)
    return A


def pool_backward(dA, A_prev, A, f, stride, mode):
    """Fast pooling backward pass: dA (m, n_H, n_W, n_C) -> dA_prev (shape of A_prev).

    ``A`` is the forward output (m, n_H, n_W, n_C), or None to compute it again (max pooling).
    """
    if mode == "max" and A is None:
        A = pool_forward(A_prev, f, stride, mode)
    A = dA if A is None else A  # average pooling reads neither A_prev nor A
    dA_prev = np.empty(A_prev.shape, dtype=dA.dtype)
    tiled = windows_tile(A_prev.shape[1], A_prev.shape[2], f, stride)
    run_batch_split(pool_backward_rows, dA.shape[0], np.ascontiguousarray(dA), np.ascontiguousarray(A_prev),
                    np.ascontiguousarray(A), f, stride, mode == "max", tiled, dA_prev,
                    work=A_prev.size, min_work=MIN_SPLIT_WORK)
    return dA_prev


def warmup(dtype) -> None:
    """Compile (or load from the cache) every kernel of this module for ``dtype``."""
    A_prev = np.random.default_rng(0).standard_normal((2, 5, 5, 3)).astype(dtype)
    for mode in ("max", "average"):
        for f, stride in ((2, 2), (3, 2)):
            A = pool_forward(A_prev[:, :4, :4] if f == 2 else A_prev, f, stride, mode)
            pool_backward(A, A_prev[:, :4, :4] if f == 2 else A_prev, A, f, stride, mode)
