"""Numba kernels of spatial batch normalization, forward and backward, on NHWC arrays.

An NHWC tensor (m, n_H, n_W, n_C) is, in memory, a matrix of rows (m*n_H*n_W, n_C): one row per
position, one column per channel. Batch norm normalizes each column, so the kernels sweep the
rows once per pass and keep one running sum per channel, in float64 whatever the input dtype.
The readable NumPy version (``dlkit.batchnorm``, ``implementation="reference"``) reduces the same
numbers through a transposed (n_C, m*n_H*n_W) view, which NumPy walks with a stride of n_C.

Formulas (``R = m*n_H*n_W`` rows, one channel ``c``)::

    mean = sum_r X[r] / R,   var = sum_r (X[r] - mean)**2 / R          (two passes: no cancellation)
    Z_norm[r] = (X[r] - mean) / sqrt(var + eps),   out[r] = gamma * Z_norm[r] + beta
    dbeta = sum_r dout[r],   dgamma = sum_r dout[r] * Z_norm[r]
    dX[r] = gamma / sqrt(var + eps) * (dout[r] - dbeta / R - Z_norm[r] * dgamma / R)     (train)
    dX[r] = gamma / sqrt(var + eps) * dout[r]                                            (test)

The train-mode line is the notes' ``1/(m*sqrt(var+eps)) * (m*dZ_norm - sum dZ_norm - Z_norm *
sum dZ_norm*Z_norm)`` with ``dZ_norm = gamma * dout`` taken out of the sums.

Kernels take C-contiguous 2-D row matrices and 1-D per-channel vectors, and write their outputs
in place. The tensors of the course are small (a few hundred KB), so one thread does each pass.
"""
from __future__ import annotations

import numpy as np

from dlkit.kernels import jit


@jit
def channel_mean_var(X, mean, var):
    """``mean[c]`` and ``var[c]`` (the 1/R variance) of each column of ``X`` (R, n_C)."""
    rows, n_C = X.shape
    total = np.zeros(n_C)
    for r in range(rows):
        for c in range(n_C):
            total[c] += X[r, c]
    centre = total / rows
    squares = np.zeros(n_C)
    for r in range(rows):
        for c in range(n_C):
            d = X[r, c] - centre[c]
            squares[c] += d * d
    for c in range(n_C):
        mean[c] = centre[c]
        var[c] = squares[c] / rows


@jit
def normalize(X, mean, var, gamma, beta, eps, Z_norm, out):
    """``Z_norm = (X - mean) / sqrt(var + eps)`` and ``out = gamma * Z_norm + beta``, per column.

    X, Z_norm, out : (R, n_C); mean, var, gamma, beta : (n_C,).
    """
    rows, n_C = X.shape
    inv_std = 1.0 / np.sqrt(var.astype(np.float64) + eps)
    for r in range(rows):
        for c in range(n_C):
            z = (X[r, c] - mean[c]) * inv_std[c]
            Z_norm[r, c] = z
            out[r, c] = gamma[c] * z + beta[c]


@jit
def backward(dout, Z_norm, var, gamma, eps, train, dX, dgamma, dbeta):
    """Write ``dX`` (R, n_C), ``dgamma`` and ``dbeta`` (n_C,) from ``dout`` (R, n_C).

    ``train``: the statistics were the batch's own (they depend on X); else fixed running ones.
    """
    rows, n_C = dout.shape
    sum_dout, sum_dout_z = np.zeros(n_C), np.zeros(n_C)
    for r in range(rows):
        for c in range(n_C):
            sum_dout[c] += dout[r, c]
            sum_dout_z[c] += dout[r, c] * Z_norm[r, c]
    scale = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    mean_dout = sum_dout / rows if train else np.zeros(n_C)
    mean_dout_z = sum_dout_z / rows if train else np.zeros(n_C)
    for r in range(rows):
        for c in range(n_C):
            dX[r, c] = scale[c] * (dout[r, c] - mean_dout[c] - Z_norm[r, c] * mean_dout_z[c])
    for c in range(n_C):
        dgamma[c] = sum_dout_z[c]
        dbeta[c] = sum_dout[c]


# ---------------------------------------------------------------- forward and backward passes

def spatial_forward(A, gamma, beta, mean, var, eps, train):
    """Fast spatial batch norm forward pass.

    A (m, n_H, n_W, n_C); gamma, beta (n_C,); ``train``: compute the batch's mean and variance
    (``mean``, ``var`` are then ignored), else normalize with ``mean``, ``var`` (n_C,).
    Returns ``out`` (shape of A), ``Z_norm`` (m*n_H*n_W, n_C), ``mean``, ``var`` (n_C,), in A's dtype.
    """
    n_C = A.shape[-1]
    X = np.ascontiguousarray(A).reshape(-1, n_C)
    if train:
        mean, var = np.empty(n_C, dtype=X.dtype), np.empty(n_C, dtype=X.dtype)
        channel_mean_var(X, mean, var)
    Z_norm, out = np.empty_like(X), np.empty_like(X)
    normalize(X, np.ascontiguousarray(mean, dtype=X.dtype), np.ascontiguousarray(var, dtype=X.dtype),
              np.ascontiguousarray(gamma, dtype=X.dtype), np.ascontiguousarray(beta, dtype=X.dtype), eps, Z_norm, out)
    return out.reshape(A.shape), Z_norm, mean, var


def spatial_backward(dout, Z_norm, var, gamma, eps, train):
    """Fast spatial batch norm backward pass.

    dout (m, n_H, n_W, n_C); Z_norm (m*n_H*n_W, n_C) from :func:`spatial_forward`; var, gamma (n_C,).
    Returns ``dA`` (shape of dout), ``dgamma``, ``dbeta`` (n_C,), in dout's dtype.
    """
    n_C = dout.shape[-1]
    D = np.ascontiguousarray(dout).reshape(-1, n_C)
    dX = np.empty_like(D)
    dgamma, dbeta = np.empty(n_C, dtype=D.dtype), np.empty(n_C, dtype=D.dtype)
    backward(D, np.ascontiguousarray(Z_norm, dtype=D.dtype), np.ascontiguousarray(var, dtype=D.dtype),
             np.ascontiguousarray(gamma, dtype=D.dtype), eps, train, dX, dgamma, dbeta)
    return dX.reshape(dout.shape), dgamma, dbeta


def warmup(dtype) -> None:
    """Compile (or load from the cache) every kernel of this module for ``dtype``."""
    A = np.random.default_rng(0).standard_normal((2, 3, 3, 4)).astype(dtype)
    gamma, beta = np.ones(4, dtype), np.zeros(4, dtype)
    out, Z_norm, mean, var = spatial_forward(A, gamma, beta, None, None, 1e-5, True)
    spatial_forward(A, gamma, beta, mean, var, 1e-5, False)
    for train in (True, False):
        spatial_backward(out, Z_norm, var, gamma, 1e-5, train)
