"""Regularization of dense networks: inverted dropout (forward and backward) and the L2 weight gradient.

Inverted dropout keeps each unit with probability ``keep_prob`` and divides the kept ones by
``keep_prob``, so the expected value of every activation is unchanged and nothing is rescaled at
test time (where dropout is simply not applied)::

    D = (rand(A.shape) < keep_prob)        mask of 0/1
    A_drop = A * D / keep_prob
    dA_prev = dA * D / keep_prob           the same mask, the same scaling
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlkit.validation import as_array, as_generator, expect_same_shape


class DropoutCache(NamedTuple):
    """What ``dropout_backward`` needs: the mask and the keep probability."""

    D: np.ndarray  # shape of A, ints 0 (dropped) and 1 (kept)
    keep_prob: float


def _check_keep_prob(keep_prob: float) -> float:
    """``keep_prob`` as a float in (0, 1], or ``ValueError``."""
    if isinstance(keep_prob, bool) or not isinstance(keep_prob, (int, float, np.number)) or not 0 < keep_prob <= 1:
        raise ValueError(f"keep_prob must be a probability in (0, 1], got {keep_prob!r}")
    return float(keep_prob)


def dropout_forward(A, keep_prob: float, seed=0) -> tuple[np.ndarray, DropoutCache]:
    """Inverted dropout: ``A * D / keep_prob`` with a fresh random mask ``D``.

    Parameters
    ----------
    A : array_like of shape (n[l], m), or any shape
        Activations of a layer.
    keep_prob : float in (0, 1]
        Probability of keeping each unit; 1 keeps all (the output equals ``A``).
    seed : int or numpy.random.Generator
        Source of the mask; the same seed gives the same mask.

    Returns
    -------
    A_drop : ndarray of the shape of ``A``
    cache : DropoutCache
        ``(D, keep_prob)`` with ``D`` of the shape of ``A``.

    Examples
    --------
    >>> A_drop, cache = dropout_forward(np.ones((2, 3)), keep_prob=1.0)
    >>> A_drop
    array([[1., 1., 1.],
           [1., 1., 1.]])
    """
    A = as_array("A", A).astype(np.float64, copy=False)
    keep_prob = _check_keep_prob(keep_prob)
    D = (as_generator(seed).random(A.shape) < keep_prob).astype(int)  # shape of A, 0 or 1
    return A * D / keep_prob, DropoutCache(D, keep_prob)


def dropout_backward(dA, cache: DropoutCache) -> np.ndarray:
    """Gradient through inverted dropout: ``dA * D / keep_prob``.

    Parameters
    ----------
    dA : array_like of the shape of the mask ``D``
        Gradient with respect to the dropped-out activations.
    cache : DropoutCache
        From ``dropout_forward``.

    Returns
    -------
    dA_prev : ndarray of the shape of ``dA``
        Gradient with respect to the activations before dropout.

    Examples
    --------
    >>> dropout_backward(np.array([[1.0, 2.0]]), DropoutCache(np.array([[1, 0]]), 0.5))
    array([[2., 0.]])
    """
    dA = as_array("dA", dA)
    expect_same_shape("dA", dA, "the dropout mask D", cache.D)
    return dA * cache.D / cache.keep_prob


def l2_gradient(W, lambd: float, m: int) -> np.ndarray:
    """The gradient of the L2 cost ``lambd/(2m) ||W||_F^2`` with respect to ``W``: ``lambd/m * W``.

    Add it to ``dW`` from back propagation (``dW + l2_gradient(W, lambd, m)``).

    Parameters
    ----------
    W : array_like of shape (n[l], n[l-1])
    lambd : float
        The regularization strength, at least 0.
    m : int
        The number of examples, at least 1.

    Returns
    -------
    dW_l2 : ndarray of the shape of ``W``

    Examples
    --------
    >>> l2_gradient(np.array([[1.0, -2.0]]), lambd=0.5, m=5)
    array([[ 0.1, -0.2]])
    """
    if lambd < 0:
        raise ValueError(f"lambd must be at least 0, got {lambd}")
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m must be a positive integer (the number of examples), got {m!r}")
    return lambd / m * as_array("W", W)
