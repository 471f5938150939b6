"""Numba kernels of max and average pooling, forward and backward, on NHWC arrays.

The kernels go through the output one row at a time, so that their inner loops run along a
whole row (``n_W`` pixels of ``n_C`` channels) with offsets computed once per row, rather than
over one window's few channels (short loops that the compiler cannot vectorize well). Average
pooling sweeps the row once per tap ``(di, dj)``; max pooling is separable: the max over the
window's ``f`` input rows first, then over its ``f`` columns. Flat views and unsigned offsets as
in :mod:`dlkit.kernels.conv`.

Max pooling's backward pass follows the notes' mask ``x == max(x)``: an upstream gradient goes
to every entry of the window equal to the window's maximum (all of them when they tie). The
maximum is the forward pass's output, so the backward pass reads it instead of searching the
window again.

When the windows tile the input exactly (``stride == f`` and ``f`` divides the size) every
input entry belongs to one window, and the backward passes write ``dA_prev`` once instead of
zeroing it and adding into it.

The most common case, 2x2 windows with stride 2, has kernels of its own. The forward pass goes
window by window (one store per output instead of one per tap) and records in ``max_taps``, one
byte per output, which of the window's 4 entries equal its maximum: bit ``2*di + dj`` for the
entry ``(di, dj)``. That is the notes' mask ``x == max(x)``, ties included, packed in 4 bits. The
backward pass then reads those bytes and ``dA`` only, not ``A_prev`` and ``A``: these kernels
wait on memory more than on arithmetic.

Kernels take examples ``start:stop`` (see ``dlkit.kernels.run_batch_split``), only arrays and
integers, and write their outputs in place.
"""
from __future__ import annotations

import numpy as np

from dlkit.kernels import jit, run_batch_split

# Bytes of A_prev below which one thread is faster than two. Measured fwd+bwd (max): float32
# (64,32,32,16) 4 MB: one thread 175 us, two 225 us; 8 MB: about even in float64 (64,32,32,16),
# two faster in float32 (64,32,32,32,3,2) (680 vs 820 us); 16 MB float64: two 1.7x faster.
MIN_SPLIT_WORK = 8 << 20


def windows_tile(n_H_prev: int, n_W_prev: int, f: int, stride: int) -> bool:
    """True when the pooling windows cover the input exactly once (stride = f, no leftover)."""
    return stride == f and n_H_prev % f == 0 and n_W_prev % f == 0


@jit
def _window_rows_max(src, top, f, row_len, rows_max):
    """``rows_max[q] = max(src[top + di*row_len + q] for di < f)``: a row of windows' f input rows,
    reduced to one row, column by column (contiguous loops as long as the row: no short loops
    over channels).

    src : flat A_prev; top : offset of the first row; row_len : n_W_prev * n_C;
    rows_max : (n_W_prev * n_C,), written.
    """
    n = np.uint64(row_len)
    for q in range(n):
        rows_max[q] = src[top + q]
    for di in range(1, f):
        row = top + np.uint64(di) * n
        for q in range(n):
            rows_max[q] = max(rows_max[q], src[row + q])


@jit
def max_pool_forward(A_prev, f, stride, A, start, stop):
    """``A[i, h, w, c] = max of A_prev[i, h*s:h*s+f, w*s:w*s+f, c]`` for examples ``start:stop``.

    A_prev : (m, n_H_prev, n_W_prev, n_C); A : (m, n_H, n_W, n_C), written.

    Max is separable: the max over a row of windows' f input rows (:func:`_window_rows_max`),
    then over each window's f columns of that. Half as many short loops over ``n_C`` channels as
    tap by tap (f per window instead of f*f): 2.5x faster for 3x3 windows of 8 channels.
    """
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    _, n_H, n_W, _ = A.shape
    src, dst = A_prev.reshape(A_prev.size), A.reshape(A.size)
    C, step = np.uint64(n_C), np.uint64(stride * n_C)
    rows_max = np.empty(n_W_prev * n_C, dtype=A.dtype)
    for i in range(start, stop):
        for h in range(n_H):
            o = np.uint64((i * n_H + h) * n_W * n_C)
            _window_rows_max(src, np.uint64((i * n_H_prev + h * stride) * n_W_prev * n_C), f, n_W_prev * n_C, rows_max)
            for w in range(np.uint64(n_W)):  # the window's first column starts the max
                for c in range(C):
                    dst[o + w * C + c] = rows_max[w * step + c]
            for dj in range(1, f):
                for w in range(np.uint64(n_W)):
                    col = w * step + np.uint64(dj) * C
                    for c in range(C):
                        dst[o + w * C + c] = max(dst[o + w * C + c], rows_max[col + c])


def tiles_2x2(n_H_prev: int, n_W_prev: int, f: int, stride: int) -> bool:
    """True for 2x2 windows with stride 2 that tile the input: the case with kernels of its own."""
    return f == 2 and windows_tile(n_H_prev, n_W_prev, f, stride)


@jit
def _row_max_and_taps_2x2(src, dst, taps, top, o, n_W, n_C, next_row):
    """One row of :func:`max_pool_forward_2x2` in one sweep: each window's max and its taps.

    src, dst, taps : flat A_prev, A, max_taps; top, o : offsets of the row's first window entry
    and first output; next_row : offset from an input row to the next (n_W_prev * n_C).
    """
    C = np.uint64(n_C)
    for w in range(np.uint64(n_W)):
        a, d = top + np.uint64(2) * w * C, o + w * C  # window's top-left entry, output
        b = a + next_row  # window's bottom-left entry
        for c in range(C):
            x0, x1, x2, x3 = src[a + c], src[a + C + c], src[b + c], src[b + C + c]
            top_max = max(max(x0, x1), max(x2, x3))
            dst[d + c] = top_max
            taps[d + c] = (x0 == top_max) | ((x1 == top_max) << 1) | ((x2 == top_max) << 2) | ((x3 == top_max) << 3)


@jit
def _row_max_then_taps_2x2(src, dst, taps, top, o, n_W, n_C, next_row):
    """Same as :func:`_row_max_and_taps_2x2` in two sweeps of the row: the maxima, then the taps."""
    C = np.uint64(n_C)
    for w in range(np.uint64(n_W)):
        a, d = top + np.uint64(2) * w * C, o + w * C
        b = a + next_row
        for c in range(C):
            dst[d + c] = max(max(src[a + c], src[a + C + c]), max(src[b + c], src[b + C + c]))
    for w in range(np.uint64(n_W)):  # the row is still in cache
        a, d = top + np.uint64(2) * w * C, o + w * C
        b = a + next_row
        for c in range(C):
            top_max = dst[d + c]
            taps[d + c] = ((src[a + c] == top_max) | ((src[a + C + c] == top_max) << 1)
                           | ((src[b + c] == top_max) << 2) | ((src[b + C + c] == top_max) << 3))


@jit
def max_pool_forward_2x2(A_prev, A, max_taps, start, stop):
    """Max pooling over 2x2 tiles (stride 2), and where each maximum is, for examples ``start:stop``.

    A_prev : (m, 2*n_H, 2*n_W, n_C); A : (m, n_H, n_W, n_C), written; max_taps : uint8 array
    (m, n_H, n_W, n_C), written: bit ``2*di + dj`` set when ``A_prev[i, 2h+di, 2w+dj, c]`` equals
    ``A[i, h, w, c]``.

    Rows go window by window (one store per output, not one per tap), in one sweep except for
    float64 with fewer than 16 channels. Why (measured, LLVM's choices here): the one-sweep loop
    over channels is vectorized 16 channels at a time, and for float32 only the rest 4 at a time;
    a float64 row of 8 channels ran scalar, 3x slower than two sweeps.
    """
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    _, n_H, n_W, _ = A.shape
    src, dst, taps = A_prev.reshape(A_prev.size), A.reshape(A.size), max_taps.reshape(max_taps.size)
    next_row = np.uint64(n_W_prev * n_C)
    one_sweep = n_C >= 16 or A_prev.itemsize == 4
    for i in range(start, stop):
        for h in range(n_H):
            o = np.uint64((i * n_H + h) * n_W * n_C)
            top = np.uint64((i * n_H_prev + 2 * h) * n_W_prev * n_C)
            if one_sweep:
                _row_max_and_taps_2x2(src, dst, taps, top, o, n_W, n_C, next_row)
            else:
                _row_max_then_taps_2x2(src, dst, taps, top, o, n_W, n_C, next_row)


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
def max_pool_backward(dA, A_prev, A, f, stride, dA_prev, start, stop):
    """Send ``dA[i, h, w, c]`` to every entry of its window equal to ``A[i, h, w, c]`` (the max).

    dA, A : (m, n_H, n_W, n_C); A_prev, dA_prev : (m, n_H_prev, n_W_prev, n_C), dA_prev
    overwritten for examples ``start:stop`` (0 outside every window, overlaps add up; each row is
    written when a window first reaches it, added to afterwards: no zeroing pass).

    In two steps, as the forward pass: with ``rows_max`` the max over the window's rows of each
    column (:func:`_window_rows_max`), an entry ``x`` of the window equals the window's max
    exactly when ``rows_max`` of its column equals the max and ``x`` equals that ``rows_max``
    (``x <= rows_max <= max``). So the gradient goes first to the columns whose ``rows_max`` is
    the max (short loops over channels, f per window), then down each column to the entries
    equal to its ``rows_max`` (loops as long as a row). 1.5x faster than tap by tap.
    """
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    _, n_H, n_W, _ = dA.shape
    grad, dst = dA.reshape(dA.size), dA_prev.reshape(dA_prev.size)
    src, out = A_prev.reshape(A_prev.size), A.reshape(A.size)
    C, step, row_len = np.uint64(n_C), np.uint64(stride * n_C), np.uint64(n_W_prev * n_C)
    rows_max = np.empty(n_W_prev * n_C, dtype=A_prev.dtype)
    cols_grad = np.empty(n_W_prev * n_C, dtype=dA.dtype)  # gradient reaching each entry of rows_max
    # A's and dA's row spread to the windows' first columns (w*stride); the other columns keep a
    # gradient of 0, so that a window's column dj is these rows shifted by dj columns.
    spread_max = np.empty(n_W_prev * n_C, dtype=A.dtype)
    spread_grad = np.zeros(n_W_prev * n_C, dtype=dA.dtype)
    spread_len = np.uint64(((n_W - 1) * stride + 1) * n_C)
    zero = dA.dtype.type(0)  # not 0.0: a float64 literal made float32 sums run in float64 (10% slower)
    for i in range(start, stop):
        first_row = np.uint64(i * n_H_prev * n_W_prev * n_C)
        written = first_row  # rows of example i before this offset hold their gradient or its first part
        for h in range(n_H):
            o = np.uint64((i * n_H + h) * n_W * n_C)
            top = np.uint64((i * n_H_prev + h * stride) * n_W_prev * n_C)
            _window_rows_max(src, top, f, n_W_prev * n_C, rows_max)
            for w in range(np.uint64(n_W)):
                for c in range(C):
                    spread_max[w * step + c] = out[o + w * C + c]
            for w in range(np.uint64(n_W)):  # separate loops: one store each, vectorized in float64 too
                for c in range(C):
                    spread_grad[w * step + c] = grad[o + w * C + c]
            for q in range(spread_len, row_len):  # the columns after the last window's first one
                cols_grad[q] = zero
            for dj in range(f):  # to the columns holding the window's max
                shift = np.uint64(dj) * C
                for q in range(spread_len):
                    g = spread_grad[q] if rows_max[shift + q] == spread_max[q] else zero
                    cols_grad[shift + q] = g + cols_grad[shift + q] if dj else g
            for di in range(f):  # down each column, to the entries holding its max
                row = top + np.uint64(di) * row_len
                if row < written:  # the row of a window above: add
                    for q in range(row_len):
                        dst[row + q] += cols_grad[q] if src[row + q] == rows_max[q] else zero
                else:  # a row reached for the first time (rows skipped by a stride > f get 0)
                    for k in range(written, row):
                        dst[k] = zero
                    for q in range(row_len):
                        dst[row + q] = cols_grad[q] if src[row + q] == rows_max[q] else zero
                    written = row + row_len
        for k in range(written, first_row + np.uint64(n_H_prev) * row_len):  # rows below every window
            dst[k] = zero


@jit
def max_pool_backward_2x2(dA, max_taps, dA_prev, start, stop):
    """Backward pass of :func:`max_pool_forward_2x2`: ``dA[i, h, w, c]`` to every entry its bit marks.

    dA : (m, n_H, n_W, n_C); max_taps : uint8 (m, n_H, n_W, n_C) from the forward pass;
    dA_prev : (m, 2*n_H, 2*n_W, n_C), written (every entry: the windows tile it) for ``start:stop``.
    """
    m, n_H_prev, n_W_prev, n_C = dA_prev.shape
    _, n_H, n_W, _ = dA.shape
    grad, taps, dst = dA.reshape(dA.size), max_taps.reshape(max_taps.size), dA_prev.reshape(dA_prev.size)
    C, step = np.uint64(n_C), np.uint64(2 * n_C)
    for i in range(start, stop):
        for h in range(n_H):
            o = np.uint64((i * n_H + h) * n_W * n_C)
            top = np.uint64((i * n_H_prev + 2 * h) * n_W_prev * n_C)
            for di in range(2):
                for dj in range(2):  # one tap at a time: one store per loop, which LLVM vectorizes
                    tap = top + np.uint64((di * n_W_prev + dj) * n_C)
                    bit = np.uint8(1 << (2 * di + dj))
                    for w in range(np.uint64(n_W)):
                        for c in range(C):
                            g = o + w * C + c
                            dst[tap + w * step + c] = grad[g] if taps[g] & bit else 0.0


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

def run_kernel(kernel, m, *args, work):
    """``kernel(*args, 0, m)`` directly below ``MIN_SPLIT_WORK`` bytes of work, else ``run_batch_split``.

    The same decision ``run_batch_split`` makes, without its set-up (reading the environment, a
    context manager for BLAS): 2 us a call, 3-5% of pooling a small batch forward and backward.
    """
    if work < MIN_SPLIT_WORK:
        return kernel(*args, 0, m)
    return run_batch_split(kernel, m, *args, work=work, min_work=MIN_SPLIT_WORK)


def pool_forward(A_prev, f, stride, mode):
    """Fast pooling forward pass: A_prev (m, n_H_prev, n_W_prev, n_C) -> (A, max_taps).

    A : (m, n_H, n_W, n_C). max_taps : uint8 array of A's shape for max pooling over 2x2 tiles
    (see :func:`max_pool_forward_2x2`), None otherwise.
    """
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    A_prev = np.ascontiguousarray(A_prev)
    A = np.empty((m, (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1, n_C), dtype=A_prev.dtype)
    if mode == "max" and tiles_2x2(n_H_prev, n_W_prev, f, stride):
        max_taps = np.empty(A.shape, dtype=np.uint8)
        run_kernel(max_pool_forward_2x2, m, A_prev, A, max_taps, work=A_prev.nbytes)
        return A, max_taps
    kernel = max_pool_forward if mode == "max" else avg_pool_forward
    run_kernel(kernel, m, A_prev, f, stride, A, work=A_prev.nbytes)
    return A, None


def pool_backward(dA, A_prev, A, f, stride, mode, max_taps=None):
    """Fast pooling backward pass: dA (m, n_H, n_W, n_C) -> dA_prev (shape of A_prev).

    ``A`` and ``max_taps`` are the forward pass's outputs (:func:`pool_forward`), or None to
    compute them again (max pooling).
    """
    dA = np.ascontiguousarray(dA)
    dA_prev = np.empty(A_prev.shape, dtype=dA.dtype)
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    if mode == "max" and tiles_2x2(n_H_prev, n_W_prev, f, stride):
        if max_taps is None:
            _, max_taps = pool_forward(A_prev, f, stride, mode)
        run_kernel(max_pool_backward_2x2, m, dA, max_taps, dA_prev, work=A_prev.nbytes)
        return dA_prev
    if mode == "max":
        A = pool_forward(A_prev, f, stride, mode)[0] if A is None else np.ascontiguousarray(A)
        run_kernel(max_pool_backward, m, dA, np.ascontiguousarray(A_prev), A, f, stride, dA_prev, work=A_prev.nbytes)
    else:
        tiled = windows_tile(n_H_prev, n_W_prev, f, stride)
        run_kernel(avg_pool_backward, m, dA, f, stride, tiled, dA_prev, work=A_prev.nbytes)
    return dA_prev


def warmup(dtype) -> None:
    """Compile (or load from the cache) every kernel of this module for ``dtype``."""
    A_prev = np.random.default_rng(0).standard_normal((2, 5, 5, 3)).astype(dtype)
    for mode in ("max", "average"):
        for f, stride in ((2, 2), (3, 2)):  # 2x2 tiles (own kernels for max), overlapping windows
            x = A_prev[:, :4, :4] if f == 2 else A_prev
            A, max_taps = pool_forward(x, f, stride, mode)
            pool_backward(A, x, A, f, stride, mode, max_taps)
