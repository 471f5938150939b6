"""Batch normalization: normalize each unit over the mini-batch, then scale by gamma and shift by beta.

For a dense layer with pre-activations ``Z`` of shape (n, m) (examples in columns)::

    mu      = 1/m * sum_i Z[:, i]                      (n, 1)
    var     = 1/m * sum_i (Z[:, i] - mu) ** 2          (n, 1)
    Z_norm  = (Z - mu) / sqrt(var + eps)               (n, m)
    out     = gamma * Z_norm + beta                    (n, m)

At test time there may be a single example, so the mean and variance come from exponentially
weighted averages of the training batches' statistics (:class:`RunningStats`)::

    running_mean = momentum * running_mean + (1 - momentum) * mu
    running_var  = momentum * running_var  + (1 - momentum) * var

The conv version (:func:`spatial_batchnorm_forward`) normalizes each channel of an NHWC tensor over
the examples and all positions.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlkit.kernels import batchnorm as kernels
from dlkit.kernels import check_implementation, float_dtype
from dlkit.validation import as_array, expect_shape

MODES = ("train", "test")


class RunningStats(NamedTuple):
    """Exponentially weighted averages of the batch statistics, used in test mode.

    mean, var : ndarray of shape (n, 1)
    """

    mean: np.ndarray
    var: np.ndarray

    @classmethod
    def initial(cls, n: int) -> "RunningStats":
        """The starting point ``mean = 0``, ``var = 1`` for ``n`` units, each of shape (n, 1)."""
        return cls(np.zeros((n, 1)), np.ones((n, 1)))


class BatchNormCache(NamedTuple):
    """What :func:`batchnorm_backward` needs.

    Z_norm : ndarray of shape (n, m)
        The normalized input.
    mean, var : ndarray of shape (n, 1)
        The statistics that normalized it: the batch's in train mode, the running ones in test mode.
    gamma : ndarray of shape (n, 1)
    eps : float
    mode : str
        ``"train"`` or ``"test"``: in train mode ``mean`` and ``var`` depend on ``Z`` too.
    """

    Z_norm: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    gamma: np.ndarray
    eps: float
    mode: str


def _check_inputs(Z, gamma, beta, running, mode):
    Z = as_array("Z", Z, ndim=2)
    n = Z.shape[0]
    gamma, beta = as_array("gamma", gamma), as_array("beta", beta)
    expect_shape("gamma", gamma, (n, 1))
    expect_shape("beta", beta, (n, 1))
    return Z, gamma, beta, _check_running(running, mode, n)


def _check_running(running, mode, n):
    """Validate ``mode`` and the running statistics of ``n`` units; return them as RunningStats or None."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if running is None and mode == "test":
        raise ValueError("test mode needs the running statistics collected in train mode (running=None)")
    if running is not None:
        running = RunningStats(as_array("running.mean", running[0]), as_array("running.var", running[1]))
        expect_shape("running.mean", running.mean, (n, 1))
        expect_shape("running.var", running.var, (n, 1))
    return running


def batchnorm_forward(Z, gamma, beta, running: RunningStats | None = None, mode: str = "train",
                      momentum: float = 0.9, eps: float = 1e-5):
    """Batch norm of a dense layer's pre-activations.

    Parameters
    ----------
    Z : ndarray of shape (n, m)
        Pre-activations of ``n`` units for ``m`` examples.
    gamma, beta : ndarray of shape (n, 1)
        Learned scale and shift.
    running : RunningStats or None
        Running mean and variance, each (n, 1). Required in test mode; in train mode ``None``
        starts from :meth:`RunningStats.initial` (mean 0, variance 1).
    mode : {"train", "test"}
        Train mode normalizes with the batch's statistics and updates ``running``; test mode
        normalizes with ``running`` and returns it unchanged.
    momentum : float
        Weight of the past in the running averages.
    eps : float
        Added to the variance before the square root.

    Returns
    -------
    out : ndarray of shape (n, m)
        ``gamma * Z_norm + beta``.
    cache : BatchNormCache
    running : RunningStats
        The updated (train) or unchanged (test) running statistics, each (n, 1).

    >>> Z = np.array([[1.0, 3.0], [0.0, 10.0]])
    >>> out, _, running = batchnorm_forward(Z, np.ones((2, 1)), np.zeros((2, 1)), eps=0.0)
    >>> out
    array([[-1.,  1.],
           [-1.,  1.]])
    >>> running.mean.ravel()
    array([0.2, 0.5])
    """
    Z, gamma, beta, running = _check_inputs(Z, gamma, beta, running, mode)
    if mode == "train":
        mean = Z.mean(axis=1, keepdims=True)  # (n, 1)
        var = Z.var(axis=1, keepdims=True)  # (n, 1), the 1/m variance of the notes
        previous = RunningStats.initial(Z.shape[0]) if running is None else running
        running = RunningStats(momentum * previous.mean + (1 - momentum) * mean,
                               momentum * previous.var + (1 - momentum) * var)
    else:
        mean, var = running
    Z_norm = (Z - mean) / np.sqrt(var + eps)  # (n, m)
    out = gamma * Z_norm + beta  # (n, m)
    return out, BatchNormCache(Z_norm, mean, var, gamma, eps, mode), running


def batchnorm_backward(dout, cache: BatchNormCache):
    """Gradients of batch norm.

    With ``dZ_norm = dout * gamma`` and ``m`` examples, in train mode (where ``mu`` and ``var``
    are functions of ``Z``)::

        dZ = 1 / (m * sqrt(var + eps)) * (m * dZ_norm - sum_i dZ_norm - Z_norm * sum_i dZ_norm * Z_norm)

    and in test mode (fixed statistics) ``dZ = dZ_norm / sqrt(var + eps)``.

    Parameters
    ----------
    dout : ndarray of shape (n, m)
        Gradient of the cost with respect to ``out``.
    cache : BatchNormCache
        From :func:`batchnorm_forward`.

    Returns
    -------
    dZ : ndarray of shape (n, m)
    dgamma : ndarray of shape (n, 1)
        ``sum_i dout * Z_norm``.
    dbeta : ndarray of shape (n, 1)
        ``sum_i dout``.
    """
    Z_norm, _, var, gamma, eps, mode = cache
    dout = as_array("dout", dout)
    expect_shape("dout", dout, Z_norm.shape)
    dbeta = dout.sum(axis=1, keepdims=True)  # (n, 1)
    dgamma = (dout * Z_norm).sum(axis=1, keepdims=True)  # (n, 1)
    dZ_norm = dout * gamma  # (n, m)
    inv_std = 1.0 / np.sqrt(var + eps)  # (n, 1)
    if mode == "test":
        return dZ_norm * inv_std, dgamma, dbeta
    m = dout.shape[1]
    dZ = inv_std / m * (m * dZ_norm - dZ_norm.sum(axis=1, keepdims=True)
                        - Z_norm * (dZ_norm * Z_norm).sum(axis=1, keepdims=True))
    return dZ, dgamma, dbeta


# ----------------------------------------------------------------------------------------------
# Spatial batch norm for conv layers (channels last)
# ----------------------------------------------------------------------------------------------

def _channels_to_rows(A: np.ndarray) -> np.ndarray:
    """(m, n_H, n_W, n_C) -> (n_C, m*n_H*n_W): one row per channel, one column per position."""
    return A.reshape(-1, A.shape[-1]).T


def _rows_to_channels(Z: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(n_C, m*n_H*n_W) -> (m, n_H, n_W, n_C), the inverse of :func:`_channels_to_rows`."""
    return Z.T.reshape(shape)


def spatial_batchnorm_forward(A, gamma, beta, running: RunningStats | None = None, mode: str = "train",
                              momentum: float = 0.9, eps: float = 1e-5, implementation: str = "fast"):
    """Batch norm for conv layers: each channel normalized over examples and positions.

    Parameters
    ----------
    A : ndarray of shape (m, n_H, n_W, n_C)
    gamma, beta : ndarray of shape (1, 1, 1, n_C)
        Shaped like a conv bias.
    running : RunningStats or None
        ``mean`` and ``var`` each of shape (n_C, 1).
    mode, momentum, eps
        As in :func:`batchnorm_forward`.
    implementation : {"fast", "reference"}
        The Numba kernels of :mod:`dlkit.kernels.batchnorm`, or :func:`batchnorm_forward` on the
        (n_C, m*n_H*n_W) view of ``A``. Both give the same results and caches.

    Returns
    -------
    out : ndarray of shape (m, n_H, n_W, n_C)
        float32 when ``A``, ``gamma`` and ``beta`` are all float32, float64 otherwise.
    cache : BatchNormCache
        With ``Z_norm`` of shape (n_C, m*n_H*n_W).
    running : RunningStats
        Each (n_C, 1).
    """
    A = as_array("A", A, ndim=4)
    n_C = A.shape[-1]
    expect_shape("gamma", gamma, (1, 1, 1, n_C))
    expect_shape("beta", beta, (1, 1, 1, n_C))
    if check_implementation(implementation) == "reference":
        Z = _channels_to_rows(A)  # (n_C, m*n_H*n_W)
        out, cache, running = batchnorm_forward(Z, np.reshape(gamma, (n_C, 1)), np.reshape(beta, (n_C, 1)),
                                                running, mode, momentum, eps)
        return _rows_to_channels(out, A.shape), cache, running
    running = _check_running(running, mode, n_C)
    dtype = float_dtype(A, gamma, beta)
    gamma, beta = np.reshape(gamma, n_C).astype(dtype), np.reshape(beta, n_C).astype(dtype)
    if mode == "train":
        out, Z_norm, mean, var = kernels.spatial_forward(A.astype(dtype, copy=False), gamma, beta, None, None, eps, True)
        mean, var = mean.reshape(n_C, 1), var.reshape(n_C, 1)
        previous = RunningStats.initial(n_C) if running is None else running
        running = RunningStats(momentum * previous.mean + (1 - momentum) * mean,
                               momentum * previous.var + (1 - momentum) * var)
    else:
        mean, var = running
        out, Z_norm, _, _ = kernels.spatial_forward(A.astype(dtype, copy=False), gamma, beta, mean.ravel(),
                                                    var.ravel(), eps, False)
    return out, BatchNormCache(Z_norm.T, mean, var, gamma.reshape(n_C, 1), eps, mode), running


def spatial_batchnorm_backward(dout, cache: BatchNormCache, implementation: str = "fast"):
    """Gradients of :func:`spatial_batchnorm_forward`.

    Parameters
    ----------
    dout : ndarray of shape (m, n_H, n_W, n_C)
    cache : BatchNormCache
        From :func:`spatial_batchnorm_forward` (either implementation).
    implementation : {"fast", "reference"}

    Returns
    -------
    dA : ndarray of shape (m, n_H, n_W, n_C)
    dgamma, dbeta : ndarray of shape (1, 1, 1, n_C)
    """
    dout = as_array("dout", dout, ndim=4)
    n_C = dout.shape[-1]
    if check_implementation(implementation) == "reference":
        dZ, dgamma, dbeta = batchnorm_backward(_channels_to_rows(dout), cache)  # (n_C, m*n_H*n_W), (n_C, 1)
        return _rows_to_channels(dZ, dout.shape), dgamma.reshape(1, 1, 1, n_C), dbeta.reshape(1, 1, 1, n_C)
    Z_norm, _, var, gamma, eps, mode = cache
    if _channels_to_rows(dout).shape != Z_norm.shape:
        raise ValueError(f"dout has shape {dout.shape} but the forward pass normalized {Z_norm.shape[1]} positions "
                         f"of {Z_norm.shape[0]} channels: expected (m, n_H, n_W, {Z_norm.shape[0]}) with "
                         f"m*n_H*n_W = {Z_norm.shape[1]}")
    dtype = float_dtype(dout, Z_norm, gamma)
    dA, dgamma, dbeta = kernels.spatial_backward(dout.astype(dtype, copy=False), Z_norm.T, np.ravel(var),
                                                 np.ravel(gamma), eps, mode == "train")
    return dA, dgamma.reshape(1, 1, 1, n_C), dbeta.reshape(1, 1, 1, n_C)
