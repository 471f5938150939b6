"""Fast convolution: Numba kernels for im2col and col2im, BLAS for the products, in cache-sized chunks.

A convolution is a matrix product once every receptive field is laid out as a row::

    cols[(i*n_H + h)*n_W + w, (di*f + dj)*n_C_prev + c] = A_pad[i, h*s + di, w*s + dj, c]
    Z.reshape(m*n_H*n_W, n_C) = cols @ W.reshape(f*f*n_C_prev, n_C) + b

so the forward pass is ``im2col`` then one product, and the backward pass is two products
(``dW = cols.T @ dZ``, ``dcols = dZ @ W.T``) then ``col2im``, which adds every row of ``dcols``
back onto the input positions it was read from. The zero padding never exists in memory:
``im2col`` writes zeros where a field hangs over the border and ``col2im`` skips them.

Speed comes from five choices, measured on the course shapes:

* ``cols`` is f*f times larger than the input: built for the whole batch it falls out of the
  caches between im2col and the products. Instead each thread takes half of the examples and
  goes through them a few at a time (about :data:`CHUNK_BYTES` of ``cols``), so im2col, the
  products and col2im meet the same data in the core's own cache.
* Up to :data:`KEEP_COLS_BYTES` (12 MB: a part of the 32 MB L3 cache here), the forward pass
  writes ``cols`` for the whole batch and keeps it (:func:`conv_forward_keeping_cols`), and
  the backward pass reads it instead of running im2col again: measured 18% less time for
  forward + backward on (64,32,32,3,16,3,1,1), 42% on (32,28,28,1,8,5,1,0), where im2col's
  short runs of ``f*n_C_prev`` numbers cost more than the products. Larger cols are built
  again, a chunk at a time: reading 14-19 MB back was slower than rebuilding them.
* The two threads each call BLAS on one thread (``run_batch_split(..., blas=True)``): two
  independent halves rather than two BLAS threads synchronizing on every product. On a quiet
  machine both are about as fast; when another process is busy on the other core, BLAS's
  synchronized threads wait for whole scheduler slices (measured: 3 ms -> 25 ms per pass)
  while independent halves only slow down in proportion.
* Each thread's share is one compiled call (:func:`forward_part`, :func:`backward_part`) that
  loops over its chunks and calls BLAS through Numba's ``np.dot``, so the threads never wait
  for the GIL between the steps of a chunk.
* In NHWC one row of a receptive field, ``f`` pixels of ``n_C_prev`` channels, is a contiguous
  run of ``f*n_C_prev`` numbers in ``A_prev`` and in ``cols``. The kernels copy such runs
  through flat views indexed with unsigned integers (every offset is >= 0), which spares
  Numba's negative-index check and lets LLVM vectorize the copies.

A 1x1 convolution with no padding needs no im2col at all: its fields are the pixels.

Kernels take only arrays and integers, work on examples ``start:stop`` (their rows of ``cols``
start at example ``start``), release the GIL, and write their outputs in place; arrays are
C-contiguous float32 or float64.
"""
from __future__ import annotations

import numpy as np

from dlkit.kernels import jit, num_threads, run_batch_split

CHUNK_BYTES = 1 << 19  # size of one thread's piece of cols: well inside a 2 MB L2 cache
KEEP_COLS_BYTES = 12 << 20  # cols kept from the forward to the backward pass up to this size (see module doc)
MIN_SPLIT_WORK = 1 << 22  # multiply-adds below which one thread is faster than two (measured: ~2.4M)


@jit
def _im2col(A_prev, f, stride, pad, cols, start, stop):
    """Write the receptive fields of examples ``start:stop`` of ``A_prev`` as rows of ``cols``.

    A_prev : (m, n_H_prev, n_W_prev, n_C_prev); cols : ((stop-start)*n_H*n_W, f*f*n_C_prev) or
    larger, its first rows written.
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
                    d = np.uint64(((((i - start) * n_H + h) * n_W + w) * f + di) * run)
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
def _col2im(dcols, f, stride, pad, dA_prev, start, stop):
    """Set ``dA_prev[start:stop]`` to the sum of the rows of ``dcols`` over the positions they came from.

    dcols : ((stop-start)*n_H*n_W, f*f*n_C_prev) or larger (its first rows are read);
    dA_prev : (m, n_H_prev, n_W_prev, n_C_prev), examples ``start:stop`` overwritten.
    """
    m, n_H_prev, n_W_prev, n_C = dA_prev.shape
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    src = dcols.reshape(dcols.size)
    dst = dA_prev.reshape(dA_prev.size)
    per_example = n_H_prev * n_W_prev * n_C
    for k in range(np.uint64(start * per_example), np.uint64(stop * per_example)):
        dst[k] = 0.0
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
                    s = np.uint64((((((i - start) * n_H + h) * n_W + w) * f + di) * f + lo) * n_C)
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


# ---------------------------------------------------------------- one thread's share of a batch
# Each part runs as one compiled call that never takes the GIL: the products are NumPy's
# ``np.dot`` compiled by Numba (a direct BLAS call). Driving the chunks from Python instead cost
# each thread a GIL hand-over per call, and the two threads waited for each other (measured: the
# backward pass of the first course shape took 1.45x as long on two threads as one half alone).

def _chunk(examples: int, rows_per_example: int, K: int, itemsize: int) -> int:
    """Examples per chunk: ``examples`` cut into equal chunks of at most about CHUNK_BYTES of cols."""
    most = max(1, CHUNK_BYTES // max(1, rows_per_example * K * itemsize))
    chunks = -(-examples // most)  # ceil
    return -(-examples // chunks)


@jit
def forward_part(A_prev, W_rows, b, f, stride, pad, step, Z_rows, kept, start, stop):
    """Examples ``start:stop`` of the forward pass, ``step`` examples at a time: im2col, product, bias.

    A_prev : (m, n_H_prev, n_W_prev, n_C_prev); W_rows : (f*f*n_C_prev, n_C); b : (n_C,);
    Z_rows : (m*n_H*n_W, n_C), the rows of these examples written. ``kept``: the whole batch's
    cols (m*n_H*n_W, f*f*n_C_prev), these examples' rows written and left for the backward pass,
    or an array with no row (cols then live in a chunk-sized buffer).
    """
    per = Z_rows.shape[0] // A_prev.shape[0]  # n_H*n_W rows per example
    keep = kept.shape[0] > 0
    cols = np.empty((0 if keep else min(step, stop - start) * per, W_rows.shape[0]), dtype=A_prev.dtype)
    for i0 in range(start, stop, step):
        i1 = min(stop, i0 + step)
        rows = kept[i0 * per:i1 * per] if keep else cols[:(i1 - i0) * per]  # (chunk*n_H*n_W, f*f*n_C_prev)
        _im2col(A_prev, f, stride, pad, rows, i0, i1)
        np.dot(rows, W_rows, Z_rows[i0 * per:i1 * per])
        add_bias(Z_rows, b, i0 * per, i1 * per)


@jit
def backward_part(dZ_rows, A_prev, W_rows, f, stride, pad, step, weights, dA_prev, kept, start, stop):
    """Examples ``start:stop`` of the backward pass, ``step`` examples at a time.

    dZ_rows : (m*n_H*n_W, n_C); A_prev, dA_prev : (m, n_H_prev, n_W_prev, n_C_prev); W_rows :
    (f*f*n_C_prev, n_C). With ``weights`` returns this part's ``dW`` (f*f*n_C_prev, n_C) and
    ``db`` (n_C,) (else two empty arrays, and ``A_prev`` is not read: pass any array of its shape);
    writes ``dA_prev`` for these examples unless it has no element. ``kept``: the cols the forward
    pass kept (see :func:`forward_part`), read instead of running im2col again, or no row.
    """
    inputs = dA_prev.size > 0
    m = dA_prev.shape[0] if inputs else A_prev.shape[0]
    per = dZ_rows.shape[0] // m
    K, n_C = W_rows.shape
    cols = np.empty((min(step, stop - start) * per, K), dtype=dZ_rows.dtype)
    W_T = np.ascontiguousarray(W_rows.T)  # (n_C, K)
    dW = np.zeros((K, n_C) if weights else (0, 0), dtype=dZ_rows.dtype)
    dW_chunk = np.empty_like(dW)
    for i0 in range(start, stop, step):
        i1 = min(stop, i0 + step)
        rows, dZ_chunk = cols[:(i1 - i0) * per], dZ_rows[i0 * per:i1 * per]
        if weights:
            if kept.shape[0] > 0:
                np.dot(kept[i0 * per:i1 * per].T, dZ_chunk, dW_chunk)  # (K, n_C)
            else:
                _im2col(A_prev, f, stride, pad, rows, i0, i1)
                np.dot(rows.T, dZ_chunk, dW_chunk)
            dW += dW_chunk
        if inputs:
            np.dot(dZ_chunk, W_T, rows)  # dcols: (chunk*n_H*n_W, K)
            _col2im(rows, f, stride, pad, dA_prev, i0, i1)
    db = np.empty(n_C if weights else 0, dtype=dZ_rows.dtype)
    if weights:
        column_sums(dZ_rows[start * per:stop * per], db)
    return dW, db


def _backward(dZ_rows, A_prev, W_rows, f, stride, pad, dA_prev, cols=None):
    """Run :func:`backward_part` over the batch on the threads; return the summed ``dW``, ``db``.

    ``A_prev`` None: input gradient only (returns None, None); ``dA_prev`` None: weights only;
    ``cols``: kept by the forward pass, or None.
    """
    weights = A_prev is not None
    shaped = A_prev if weights else dA_prev
    if dA_prev is None:
        dA_prev = np.empty((0, 1, 1, 1), dtype=dZ_rows.dtype)
    m = shaped.shape[0]
    step = _chunk(-(-m // num_threads()), dZ_rows.shape[0] // m, W_rows.shape[0], dZ_rows.itemsize)
    kept = cols if cols is not None else np.empty((0, W_rows.shape[0]), dtype=dZ_rows.dtype)
    parts = run_batch_split(backward_part, m, dZ_rows, shaped, W_rows, f, stride, pad, step, weights, dA_prev, kept,
                            work=dZ_rows.size * W_rows.shape[0], min_work=MIN_SPLIT_WORK, blas=True)
    if not weights:
        return None, None
    return sum(part[0] for part in parts), sum(part[1] for part in parts)  # each thread's share added up


# ---------------------------------------------------------------- forward and backward passes

def keeps_cols(A_prev_shape, W_shape, stride: int, pad: int, itemsize: int) -> bool:
    """True when :func:`conv_forward_keeping_cols` keeps the receptive fields for the backward pass:
    an im2col convolution (not 1x1 unpadded) whose cols take at most :data:`KEEP_COLS_BYTES`."""
    m, n_H_prev, n_W_prev, n_C_prev = A_prev_shape
    f = W_shape[0]
    if f == 1 and pad == 0:
        return False
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    return m * n_H * n_W * f * f * n_C_prev * itemsize <= KEEP_COLS_BYTES


def conv_forward_keeping_cols(A_prev, W, b, stride, pad):
    """Fast convolution forward pass that also returns what the backward pass can reuse.

    A_prev (m, n_H_prev, n_W_prev, n_C_prev), W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C), all of
    one float dtype. Returns ``Z`` (m, n_H, n_W, n_C) and ``cols`` (m*n_H*n_W, f*f*n_C_prev), the
    receptive fields as rows, or None when :func:`keeps_cols` says they are not worth keeping.
    """
    return _forward(A_prev, W, b, stride, pad, keep_cols=True)


def conv_forward(A_prev, W, b, stride, pad):
    """Fast convolution forward pass, cols in chunk-sized buffers only (nothing kept for a backward pass).

    A_prev (m, n_H_prev, n_W_prev, n_C_prev), W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C), all of
    one float dtype. Returns ``Z`` (m, n_H, n_W, n_C).
    """
    return _forward(A_prev, W, b, stride, pad, keep_cols=False)[0]


def _forward(A_prev, W, b, stride, pad, keep_cols: bool):
    """``(Z, cols or None)``: :func:`conv_forward_keeping_cols`, keeping cols only if ``keep_cols`` allows."""
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    f, _, _, n_C = W.shape
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    A_prev, W_rows = np.ascontiguousarray(A_prev), np.ascontiguousarray(W).reshape(f * f * n_C_prev, n_C)
    b = np.ascontiguousarray(b).reshape(n_C)
    Z_rows = np.empty((m * n_H * n_W, n_C), dtype=A_prev.dtype)
    work = Z_rows.size * W_rows.shape[0]
    if f == 1 and pad == 0:
        run_batch_split(_one_by_one_forward_part, m, A_prev, W_rows, b, stride, Z_rows,
                        work=work, min_work=MIN_SPLIT_WORK, blas=True)
        return Z_rows.reshape(m, n_H, n_W, n_C), None
    keep = keep_cols and keeps_cols(A_prev.shape, W.shape, stride, pad, A_prev.itemsize)
    cols = np.empty((m * n_H * n_W if keep else 0, W_rows.shape[0]), dtype=A_prev.dtype)
    step = _chunk(-(-m // num_threads()), n_H * n_W, W_rows.shape[0], A_prev.itemsize)
    run_batch_split(forward_part, m, A_prev, W_rows, b, f, stride, pad, step, Z_rows, cols,
                    work=work, min_work=MIN_SPLIT_WORK, blas=True)
    return Z_rows.reshape(m, n_H, n_W, n_C), (cols if keep else None)


def conv_backward(dZ, A_prev, W, stride, pad, cols=None):
    """Fast convolution backward pass.

    dZ (m, n_H, n_W, n_C), A_prev and W as given to :func:`conv_forward`, of dZ's dtype; ``cols``
    from :func:`conv_forward_keeping_cols` (of dZ's dtype) or None.
    Returns ``dA_prev`` (shape of A_prev), ``dW`` (shape of W), ``db`` (1, 1, 1, n_C).
    """
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    f, _, _, n_C = W.shape
    A_prev, W_rows = np.ascontiguousarray(A_prev), np.ascontiguousarray(W).reshape(f * f * n_C_prev, n_C)
    dZ_rows = np.ascontiguousarray(dZ).reshape(-1, n_C)  # (m*n_H*n_W, n_C)
    if f == 1 and pad == 0:
        return _one_by_one_backward(dZ_rows, A_prev, W_rows, stride, W.shape)
    if cols is not None and (cols.dtype != dZ_rows.dtype or cols.shape != (dZ_rows.shape[0], W_rows.shape[0])):
        cols = None  # kept for another dtype or shape: build them again
    dA_prev = np.empty(A_prev.shape, dtype=A_prev.dtype)
    dW, db = _backward(dZ_rows, A_prev, W_rows, f, stride, pad, dA_prev, cols)
    return dA_prev, dW.reshape(W.shape), db.reshape(1, 1, 1, n_C)


def _pixels(A_prev, stride, start, stop):
    """The fields of a 1x1 convolution of examples ``start:stop``: (rows, n_C_prev), a view when stride = 1."""
    pixels = A_prev[start:stop, ::stride, ::stride, :] if stride > 1 else A_prev[start:stop]
    return np.ascontiguousarray(pixels).reshape(-1, A_prev.shape[3])


def _one_by_one_forward_part(A_prev, W_rows, b, stride, Z_rows, start, stop):
    """Examples ``start:stop`` of a 1x1 convolution without padding: the pixels times W, plus b."""
    per = Z_rows.shape[0] // A_prev.shape[0]
    np.matmul(_pixels(A_prev, stride, start, stop), W_rows, out=Z_rows[start * per:stop * per])
    add_bias(Z_rows, b, start * per, stop * per)


def _one_by_one_backward_part(dZ_rows, A_prev, W_rows, stride, dA_prev, start, stop):
    """Examples ``start:stop`` of a 1x1 convolution's backward pass; returns this part's dW, db."""
    per = dZ_rows.shape[0] // A_prev.shape[0]
    dZ_part = dZ_rows[start * per:stop * per]
    dW = np.matmul(_pixels(A_prev, stride, start, stop).T, dZ_part)  # (n_C_prev, n_C)
    db = np.empty(dZ_rows.shape[1], dtype=dZ_rows.dtype)
    column_sums(dZ_part, db)
    dpixels = np.matmul(dZ_part, W_rows.T)  # (rows, n_C_prev)
    if stride == 1:
        dA_prev[start:stop] = dpixels.reshape(dA_prev[start:stop].shape)
    else:
        dA_prev[start:stop] = 0.0
        target = dA_prev[start:stop, ::stride, ::stride, :]
        target[...] = dpixels.reshape(target.shape)
    return dW, db


def _one_by_one_backward(dZ_rows, A_prev, W_rows, stride, W_shape):
    """Backward pass of a 1x1 convolution without padding: two products on the pixels, per thread."""
    dA_prev = np.empty(A_prev.shape, dtype=dZ_rows.dtype)
    parts = run_batch_split(_one_by_one_backward_part, A_prev.shape[0], dZ_rows, A_prev, W_rows, stride, dA_prev,
                            work=dZ_rows.size * W_rows.shape[0], min_work=MIN_SPLIT_WORK, blas=True)
    dW, db = sum(part[0] for part in parts), sum(part[1] for part in parts)
    return dA_prev, dW.reshape(W_shape), db.reshape(1, 1, 1, -1)


# ---------------------------------------------------------------- transposed convolution (fast path for dlkit.transposed_conv)
# The transposed convolution with filters W (f, f, n_C_prev, n_C) is the input gradient of the
# convolution with filters V = W.transpose(0, 1, 3, 2) (f, f, n_C, n_C_prev); its own input
# gradient is that convolution's forward pass, and its weight gradient that convolution's.

def conv_transpose_forward(A_prev, W, b, stride, pad):
    """Fast transposed convolution: A_prev (m, n_H_prev, n_W_prev, n_C_prev), W (f, f, n_C_prev, n_C),
    b (1, 1, 1, n_C) -> Z (m, n_H, n_W, n_C), ``n_H = (n_H_prev - 1)*s - 2p + f``."""
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, _, n_C_prev, n_C = W.shape
    n_H, n_W = (n_H_prev - 1) * stride - 2 * pad + f, (n_W_prev - 1) * stride - 2 * pad + f
    V_rows = np.ascontiguousarray(W.transpose(0, 1, 3, 2)).reshape(f * f * n_C, n_C_prev)
    Z = np.empty((m, n_H, n_W, n_C), dtype=A_prev.dtype)
    _backward(np.ascontiguousarray(A_prev).reshape(-1, n_C_prev), None, V_rows, f, stride, pad, Z)
    Z_rows = Z.reshape(-1, n_C)
    add_bias(Z_rows, b.reshape(n_C), 0, Z_rows.shape[0])
    return Z


def conv_transpose_backward(dZ, A_prev, W, stride, pad):
    """Gradients of :func:`conv_transpose_forward`: ``dA_prev``, ``dW``, ``db`` in the shapes of
    A_prev, W and (1, 1, 1, n_C)."""
    f, _, n_C_prev, n_C = W.shape
    V = np.ascontiguousarray(W.transpose(0, 1, 3, 2))  # (f, f, n_C, n_C_prev)
    dA_prev = conv_forward(dZ, V, np.zeros((1, 1, 1, n_C_prev), dtype=dZ.dtype), stride, pad)
    dV, db = _backward(np.ascontiguousarray(A_prev).reshape(-1, n_C_prev), np.ascontiguousarray(dZ),
                       V.reshape(f * f * n_C, n_C_prev), f, stride, pad, None)
    dW = dV.reshape(f, f, n_C, n_C_prev).transpose(0, 1, 3, 2)  # (f, f, n_C_prev, n_C)
    db = np.empty(n_C, dtype=dZ.dtype)
    column_sums(np.ascontiguousarray(dZ).reshape(-1, n_C), db)
    return dA_prev, np.ascontiguousarray(dW), db.reshape(1, 1, 1, n_C)


def warmup(dtype) -> None:
    """Compile (or load from the cache) every kernel of this module for ``dtype``."""
    rng = np.random.default_rng(0)
    A_prev = rng.standard_normal((2, 5, 5, 2)).astype(dtype)
    W = rng.standard_normal((3, 3, 2, 3)).astype(dtype)
    b = np.zeros((1, 1, 1, 3), dtype=dtype)
    Z, cols = conv_forward_keeping_cols(A_prev, W, b, 2, 1)
    conv_backward(Z, A_prev, W, 2, 1, cols)
    conv_backward(Z, A_prev, W, 2, 1)
    Z = conv_transpose_forward(A_prev, W, b, 2, 1)
    conv_transpose_backward(Z, A_prev, W, 2, 1)
    Z = conv_forward(A_prev, W[:1, :1], b, 2, 0)
    conv_backward(Z, A_prev, W[:1, :1], 2, 0)
