"""Cost functions of dense networks: binary and categorical cross-entropy, softmax cross-entropy, L2 cost.

Examples are in columns: ``AL`` and ``Y`` have shape ``(n_y, m)`` and a cost is a mean over the ``m``
columns. Derivative conventions follow the back-propagation equations of the notes:
``binary_cross_entropy_backward`` gives the derivative of each example's loss (no ``1/m``; the dense
``linear_backward`` applies it), while ``softmax_cross_entropy`` returns the gradient of its own
(mean) cost, ``1/m`` included.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dlkit.validation import as_array, expect_same_shape

EPSILON = 1e-15
"""Probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` so that ``log`` stays finite."""


def _predictions_and_labels(AL, Y) -> tuple[np.ndarray, np.ndarray]:
    """``AL`` and ``Y`` as float arrays of one 2-D shape ``(n_y, m)``, or ``ValueError``."""
    AL, Y = as_array("AL", AL), as_array("Y", Y)
    if AL.ndim != 2:
        raise ValueError(f"AL has shape {AL.shape} but expected (n_y, m), examples in columns")
    expect_same_shape("Y", Y, "AL", AL)
    return AL.astype(np.float64, copy=False), Y.astype(np.float64, copy=False)


def binary_cross_entropy(AL, Y) -> float:
    """``J = -(1/m) sum(Y log(AL) + (1 - Y) log(1 - AL))``.

    Parameters
    ----------
    AL : array_like of shape (1, m)
        Predicted probabilities (sigmoid outputs); clipped to ``[EPSILON, 1 - EPSILON]``.
    Y : array_like of shape (1, m)
        True labels, 0 or 1.

    Returns
    -------
    cost : float

    Examples
    --------
    >>> round(binary_cross_entropy(np.array([[0.8, 0.1]]), np.array([[1, 0]])), 6)
    0.164252
    """
    AL, Y = _predictions_and_labels(AL, Y)
    P = np.clip(AL, EPSILON, 1 - EPSILON)
    return float(-np.sum(Y * np.log(P) + (1 - Y) * np.log(1 - P)) / AL.shape[1])


def binary_cross_entropy_backward(AL, Y) -> np.ndarray:
    """Derivative of each example's loss: ``dAL = -(Y / AL - (1 - Y) / (1 - AL))``.

    This is ``m`` times the gradient of ``binary_cross_entropy``; ``dlkit.dense.linear_backward``
    divides by ``m`` when it forms ``dW`` and ``db``.

    Parameters
    ----------
    AL : array_like of shape (1, m)
        Predicted probabilities; clipped to ``[EPSILON, 1 - EPSILON]`` so that saturated outputs
        give large finite values instead of ``inf``.
    Y : array_like of shape (1, m)
        True labels, 0 or 1.

    Returns
    -------
    dAL : ndarray of shape (1, m)

    Examples
    --------
    >>> binary_cross_entropy_backward(np.array([[0.8, 0.5]]), np.array([[1, 0]]))
    array([[-1.25,  2.  ]])
    """
    AL, Y = _predictions_and_labels(AL, Y)
    P = np.clip(AL, EPSILON, 1 - EPSILON)
    return -(Y / P - (1 - Y) / (1 - P))


def categorical_cross_entropy(AL, Y) -> float:
    """``J = -(1/m) sum over classes and examples of Y log(AL)``.

    Parameters
    ----------
    AL : array_like of shape (K, m)
        Predicted class probabilities (softmax outputs, each column sums to 1); clipped below at ``EPSILON``.
    Y : array_like of shape (K, m)
        One-hot true labels.

    Returns
    -------
    cost : float

    Examples
    --------
    >>> round(categorical_cross_entropy(np.array([[0.5, 0.2], [0.5, 0.8]]), np.array([[1, 0], [0, 1]])), 6)
    0.458145
    """
    AL, Y = _predictions_and_labels(AL, Y)
    return float(-np.sum(Y * np.log(np.maximum(AL, EPSILON))) / AL.shape[1])


def softmax_cross_entropy(Z, Y) -> tuple[float, np.ndarray]:
    """Categorical cross-entropy of ``softmax(Z)`` and its gradient, computed from the logits.

    ``log softmax(Z) = Z - logsumexp(Z)`` (shifted by the column maximum) stays finite for any
    ``Z``; the gradient is ``dZ = (softmax(Z) - Y) / m``.

    Parameters
    ----------
    Z : array_like of shape (K, m)
        Logits, classes in rows.
    Y : array_like of shape (K, m)
        One-hot true labels (or any columns of probabilities summing to 1).

    Returns
    -------
    cost : float
        ``-(1/m) sum(Y * log softmax(Z))``.
    dZ : ndarray of shape (K, m)
        The gradient of ``cost`` with respect to ``Z`` (``1/m`` included; pass ``m * dZ`` to
        ``dlkit.dense.linear_backward``, which divides by ``m`` itself).

    Examples
    --------
    >>> cost, dZ = softmax_cross_entropy(np.array([[0.0], [np.log(3.0)]]), np.array([[0], [1]]))
    >>> round(cost, 6), dZ.round(6)
    (0.287682, array([[ 0.25],
           [-0.25]]))
    """
    Z, Y = _predictions_and_labels(Z, Y)
    shifted = Z - np.max(Z, axis=0, keepdims=True)  # (K, m), largest entry of each column is 0
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))  # (K, m)
    m = Z.shape[1]
    return float(-np.sum(Y * log_probs) / m), (np.exp(log_probs) - Y) / m


def l2_regularized_cost(cross_entropy_cost: float, parameters: Mapping[str, np.ndarray], lambd: float,
                        m: int) -> float:
    """``J_regularized = J + (lambd / (2 m)) * sum over l of ||W[l]||_F^2``.

    Parameters
    ----------
    cross_entropy_cost : float
        The unregularized cost ``J``.
    parameters : dict of str to ndarray
        ``"W1"`` of shape (n[1], n[0]), ``"b1"``, ...; every key ``"W" + digits`` counts, biases do not.
    lambd : float
        The regularization strength, at least 0.
    m : int
        The number of examples, at least 1.

    Returns
    -------
    cost : float

    Examples
    --------
    >>> l2_regularized_cost(1.0, {"W1": np.array([[1.0, 2.0]]), "b1": np.array([[5.0]])}, lambd=0.4, m=2)
    1.5
    """
    if lambd < 0:
        raise ValueError(f"lambd must be at least 0, got {lambd}")
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m must be a positive integer (the number of examples), got {m!r}")
    weights = [key for key in parameters if key.startswith("W") and key[1:].isdigit()]
    if not weights:
        raise ValueError(f"parameters has no weight matrices 'W1', 'W2', ...; it has {list(parameters)}")
    squares = sum(float(np.sum(np.square(as_array(key, parameters[key])))) for key in weights)
    return float(cross_entropy_cost) + lambd / (2 * m) * squares
