"""Numba kernels of the convolution: im2col and its adjoint col2im.

A convolution is a matrix product once every receptive field is laid out as a row::

    cols[(i*n_H + h)*n_W + w, (di*f + dj)*n_C_prev + c] = A_pad[i, h*s + di, w*s + dj, c]
    Z.reshape(m*n_H*n_W, n_C) = cols @ W.reshape(f*f*n_C_prev, n_C) + b

so the forward pass is ``im2col`` then one BLAS product, and the backward pass is two BLAS
products (``dW = cols.T @ dZ``, ``dcols = dZ @ W.T``) then ``col2im``, which adds every row of
``dcols`` back onto the input positions it was read from. The zero padding never exists in
memory: ``im2col`` writes zeros where a field hangs over the border and ``col2im`` skips them.

In NHWC one row of a receptive field, ``f`` pixels of ``n_C_prev`` channels, is a contiguous
run of ``f*n_C_prev`` numbers both in ``A_prev`` and in ``cols``: the kernels copy such runs.
They index flat views with unsigned integers (every offset is >= 0), which spares Numba's negative-index check and
lets LLVM vectorize the copies (about 3x faster than 4-d indexing here).

Each kernel works on the examples ``start <= i < stop`` so that
``dlkit.kernels.run_batch_split`` can give parts of a batch to several threads (the kernels
release the GIL). They take only arrays and integers; arrays are C-contiguous float32 or
float64 and outputs are written in place.
"""
from __future__ import annotations

import numpy as np

from dlkit.kernels import jit, run_batch_split


@jit
def im2col(A_prev, f, stride, pad, cols, start, stop):
    """Write the receptive fields of examples ``start:stop`` of ``A_prev`` as rows of ``cols``.

    A_prev : (m, n_H_prev, n_W_prev, n_C_prev); cols : (m*n_H*n_W, f*f*n_C_prev), written.
    """
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    src = A_prev.reshape(A_prev.size)
    dst = cols.reshape(cols.size)
    run = f * n_C  # one row of a receptive field, contiguous in A_prev and in cols
    for i in range(start, stop):
        for h in range(n_H):
            for w in range(n_W):
                left = w * stride - pad
                lo = min(max(0, -left), f)  # pixels [0, lo) of the field are padding on the left,
                hi = max(min(f, n_W_prev - left), lo)  # [hi, f) on the right
                zeros_left, zeros_right = np.uint64(lo * n_C), np.uint64((f - hi) * n_C)
                inside = np.uint64((hi - lo) * n_C)
                for di in range(f):
                    r = h * stride - pad + di
                    d = np.uint64((((i * n_H + h) * n_W + w) * f + di) * run)
                    if r < 0 or r >= n_H_prev:
                        for k in range(np.uint64(run)):
                            dst[d + k] = 0.0
                        continue
                    for k in range(zeros_left):
                        dst[d + k] = 0.0
                    d += zeros_left
                    s = np.uint64(((i * n_H_prev + r) * n_W_prev + left + lo) * n_C)
                    for k in range(inside):
                        dst[d + k] = src[s + k]
                    d += inside
                    for k in range(zeros_right):
                        dst[d + k] = 0.0


@jit
def col2im(dcols, f, stride, pad, dA_prev, start, stop):
    """Add each row of ``dcols`` onto the input positions it came from (examples ``start:stop``).

    dcols : (m*n_H*n_W, f*f*n_C_prev); dA_prev : (m, n_H_prev, n_W_prev, n_C_prev), zeros on
    entry for those examples, accumulated into.
    """
    m, n_H_prev, n_W_prev, n_C = dA_prev.shape
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    src = dcols.reshape(dcols.size)
    dst = dA_prev.reshape(dA_prev.size)
    for i in range(start, stop):
        for h in range(n_H):
            for w in range(n_W):
                left = w * stride - pad
                lo = min(max(0, -left), f)  # pixels [0, lo) and [hi, f) of the field are padding
                hi = max(min(f, n_W_prev - left), lo)
                inside = np.uint64((hi - lo) * n_C)
                for di in range(f):
                    r = h * stride - pad + di
                    if r < 0 or r >= n_H_prev:
                        continue
                    s = np.uint64(((((i * n_H + h) * n_W + w) * f + di) * f + lo) * n_C)
                    d = np.uint64(((i * n_H_prev + r) * n_W_prev + left + lo) * n_C)
                    for k in range(inside):
                        dst[d + k] += src[s + k]


@jit
def add_bias(Z_rows, b, start, stop):
    """``Z_rows[r, :] += b`` for rows ``start:stop``. Z_rows : (rows, n_C); b : (n_C,)."""
    n_C = Z_rows.shape[1]
    flat = Z_rows.reshape(Z_rows.size)
    for r in range(start, stop):
        o = np.uint64(r * n_C)
        for c in range(np.uint64(n_C)):
            flat[o + c] += b[c]


@jit
def column_sums(X_rows, out):
    """``out[c] = sum_r X_rows[r, c]`` in float64. X_rows : (rows, n_C); out : (n_C,), written.

    Eight rows at a time into eight partial sums: independent additions that vectorize.
    """
    rows, n_C = X_rows.shape
    acc = np.zeros((8, n_C), dtype=np.float64)
    whole = rows - rows % 8
    for r in range(0, whole, 8):
        for t in range(8):
            for c in range(n_C):
                acc[t, c] += X_rows[r + t, c]
    for r in range(whole, rows):
        for c in range(n_C):
            acc[0, c] += X_rows[r, c]
    for c in range(n_C):
        out[c] = acc[:, c].sum()


# ---------------------------------------------------------------- forward and backward passes
# Work below which splitting a batch over threads costs more than it saves (numbers written).
MIN_SPLIT_WORK = 1 << 16


def receptive_fields(A_prev, f, stride, pad):
    """The im2col matrix of ``A_prev``: (m*n_H*n_W, f*f*n_C_prev), a view when f = 1, pad = 0."""
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    if f == 1 and pad == 0:  # 1x1 convolution: each field is one pixel
        pixels = A_prev[:, ::stride, ::stride, :] if stride > 1 else A_prev
        return np.ascontiguousarray(pixels).reshape(-1, n_C_prev)  # (m*n_H*n_W, n_C_prev)
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    cols = np.empty((m * n_H * n_W, f * f * n_C_prev), dtype=A_prev.dtype)
    run_batch_split(im2col, m, A_prev, f, stride, pad, cols, work=cols.size, min_work=MIN_SPLIT_WORK)
    return cols


def fields_to_image(dcols, f, stride, pad, shape):
    """The adjoint of :func:`receptive_fields`: sum each row of ``dcols`` back into an image."""
    m, n_H_prev, n_W_prev, n_C_prev = shape
    if f == 1 and pad == 0:
        if stride == 1:
            return dcols.reshape(shape)
        dA_prev = np.zeros(shape, dtype=dcols.dtype)
        dA_prev[:, ::stride, ::stride, :] = dcols.reshape(m, -1, dA_prev[0, ::stride, ::stride].shape[1], n_C_prev)
        return dA_prev
    dA_prev = np.zeros(shape, dtype=dcols.dtype)
    run_batch_split(col2im, m, dcols, f, stride, pad, dA_prev, work=dcols.size, min_work=MIN_SPLIT_WORK)
    return dA_prev


def conv_forward(A_prev, W, b, stride, pad):
    """Fast convolution forward pass: im2col, one matrix product, the bias.

    A_prev (m, n_H_prev, n_W_prev, n_C_prev), W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C), all of
    one float dtype. Returns ``Z`` (m, n_H, n_W, n_C) and ``cols`` (m*n_H*n_W, f*f*n_C_prev).
    """
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, _, n_C_prev, n_C = W.shape
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    cols = receptive_fields(np.ascontiguousarray(A_prev), f, stride, pad)
    Z = np.matmul(cols, W.reshape(f * f * n_C_prev, n_C))  # (m*n_H*n_W, n_C)
    run_batch_split(add_bias, Z.shape[0], Z, b.reshape(n_C), work=Z.size, min_work=MIN_SPLIT_WORK)
    return Z.reshape(m, n_H, n_W, n_C), cols


def conv_backward(dZ, A_prev, W, cols, stride, pad):
    """Fast convolution backward pass: two matrix products and col2im.

    dZ (m, n_H, n_W, n_C); ``cols`` from :func:`conv_forward` or None (then rebuilt).
    Returns ``dA_prev`` (shape of A_prev), ``dW`` (shape of W), ``db`` (1, 1, 1, n_C).
    """
    f, _, n_C_prev, n_C = W.shape
    if cols is None:
        cols = receptive_fields(np.ascontiguousarray(A_prev), f, stride, pad)
    dZ_rows = np.ascontiguousarray(dZ).reshape(-1, n_C)  # (m*n_H*n_W, n_C)
    W_rows = np.ascontiguousarray(W).reshape(f * f * n_C_prev, n_C)
    dW = np.matmul(cols.T, dZ_rows).reshape(W.shape)  # (f*f*n_C_prev, n_C) -> (f, f, n_C_prev, n_C)
    db = np.empty((1, 1, 1, n_C), dtype=dZ.dtype)
    column_sums(dZ_rows, db.reshape(n_C))
    dcols = np.matmul(dZ_rows, W_rows.T)  # (m*n_H*n_W, f*f*n_C_prev)
    return fields_to_image(dcols, f, stride, pad, A_prev.shape), dW, db


def warmup(dtype) -> None:
    """Compile (or load from the cache) every kernel of this module for ``dtype``."""
    rng = np.random.default_rng(0)
    A_prev = rng.standard_normal((2, 5, 5, 2)).astype(dtype)
    W = rng.standard_normal((3, 3, 2, 3)).astype(dtype)
    b = np.zeros((1, 1, 1, 3), dtype=dtype)
    Z, cols = conv_forward(A_prev, W, b, 2, 1)
    conv_backward(Z, A_prev, W, cols, 2, 1)
