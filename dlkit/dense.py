"""Dense (fully connected) layers and the L-layer network built from them, forward and backward.

Examples are in columns. For layer ``l`` with ``n[l]`` units::

    Z[l] = W[l] A[l-1] + b[l]        W[l] (n[l], n[l-1]), b[l] (n[l], 1), A[l-1] (n[l-1], m)
    A[l] = g[l](Z[l])

and back propagation, with ``dZ`` the derivative of each example's loss (no ``1/m``)::

    dW[l]   = (1/m) dZ[l] A[l-1]^T
    db[l]   = (1/m) sum of dZ[l] over the examples (axis 1, kept)
    dA[l-1] = W[l]^T dZ[l]

so ``dW`` and ``db`` are gradients of the mean cost ``J`` and ``dA`` is ``m`` times the gradient of ``J``.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from dlkit.activations import get_activation
from dlkit.losses import binary_cross_entropy_backward
from dlkit.validation import as_array, expect_same_shape

OUTPUT_ACTIVATIONS = ("sigmoid", "softmax")
"""Output activations ``L_model_backward`` knows the loss of (binary and categorical cross-entropy)."""


class LinearCache(NamedTuple):
    """What ``linear_backward`` needs: the layer's input and parameters."""

    A_prev: np.ndarray  # (n[l-1], m)
    W: np.ndarray  # (n[l], n[l-1])
    b: np.ndarray  # (n[l], 1)


class LinearActivationCache(NamedTuple):
    """What ``linear_activation_backward`` needs: the linear cache and the pre-activation."""

    linear_cache: LinearCache
    Z: np.ndarray  # (n[l], m)


def _float2d(name: str, value) -> np.ndarray:
    """``value`` as a 2-D float array, or ``ValueError`` naming its shape."""
    array = as_array(name, value)
    if array.ndim != 2:
        raise ValueError(f"{name} has shape {array.shape} but expected a 2-D array (rows, columns)")
    return array if np.issubdtype(array.dtype, np.floating) else array.astype(np.float64)


def _check_linear_shapes(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray) -> None:
    """Raise ``ValueError`` unless W is (n, n_prev), A_prev (n_prev, m) and b (n, 1)."""
    if W.shape[1] != A_prev.shape[0]:
        raise ValueError(f"W has shape {W.shape} but A_prev has shape {A_prev.shape}; "
                         f"W must be (n, {A_prev.shape[0]}) to multiply A_prev (n_prev, m)")
    if b.shape != (W.shape[0], 1):
        raise ValueError(f"b has shape {b.shape} but expected ({W.shape[0]}, 1) for W of shape {W.shape}")


def linear_forward(A_prev, W, b) -> tuple[np.ndarray, LinearCache]:
    """``Z = W A_prev + b``.

    Parameters
    ----------
    A_prev : array_like of shape (n[l-1], m)
        Activations of the previous layer (or the input X).
    W : array_like of shape (n[l], n[l-1])
    b : array_like of shape (n[l], 1)

    Returns
    -------
    Z : ndarray of shape (n[l], m)
    cache : LinearCache
        ``(A_prev, W, b)``.

    Examples
    --------
    >>> Z, _ = linear_forward(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, -1.0]]), np.array([[0.5]]))
    >>> Z
    array([[-1.5, -1.5]])
    """
    A_prev, W, b = _float2d("A_prev", A_prev), _float2d("W", W), as_array("b", b).astype(np.float64, copy=False)
    _check_linear_shapes(A_prev, W, b)
    Z = W @ A_prev + b  # (n[l], m); b broadcasts over the m columns
    return Z, LinearCache(A_prev, W, b)


def linear_backward(dZ, cache: LinearCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of a linear layer from ``dZ``.

    Parameters
    ----------
    dZ : array_like of shape (n[l], m)
        Derivative of each example's loss with respect to ``Z``.
    cache : LinearCache
        From ``linear_forward``.

    Returns
    -------
    dA_prev : ndarray of shape (n[l-1], m)
        ``W^T dZ``.
    dW : ndarray of shape (n[l], n[l-1])
        ``dZ A_prev^T / m``.
    db : ndarray of shape (n[l], 1)
        Mean of ``dZ`` over the examples.
    """
    A_prev, W, _ = cache
    dZ = _float2d("dZ", dZ)
    expected = (W.shape[0], A_prev.shape[1])
    if dZ.shape != expected:
        raise ValueError(f"dZ has shape {dZ.shape} but expected {expected}, the shape of Z = W A_prev + b")
    m = A_prev.shape[1]
    dW = dZ @ A_prev.T / m  # (n[l], n[l-1])
    db = np.sum(dZ, axis=1, keepdims=True) / m  # (n[l], 1)
    dA_prev = W.T @ dZ  # (n[l-1], m)
    return dA_prev, dW, db


def linear_activation_forward(A_prev, W, b, activation: str) -> tuple[np.ndarray, LinearActivationCache]:
    """``A = g(W A_prev + b)`` for the activation ``g`` named by ``activation``.

    Parameters
    ----------
    A_prev : array_like of shape (n[l-1], m)
    W : array_like of shape (n[l], n[l-1])
    b : array_like of shape (n[l], 1)
    activation : str
        A name known to ``dlkit.activations.get_activation`` ("relu", "sigmoid", "tanh", ...).

    Returns
    -------
    A : ndarray of shape (n[l], m)
    cache : LinearActivationCache
        ``(LinearCache(A_prev, W, b), Z)``.
    """
    forward, _ = get_activation(activation)
    Z, linear_cache = linear_forward(A_prev, W, b)
    return forward(Z), LinearActivationCache(linear_cache, Z)


def linear_activation_backward(dA, cache: LinearActivationCache,
                               activation: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``A = g(W A_prev + b)``: ``dZ = dA * g'(Z)``, then ``linear_backward``.

    Parameters
    ----------
    dA : array_like of shape (n[l], m)
        Derivative of each example's loss with respect to ``A``.
    cache : LinearActivationCache
        From ``linear_activation_forward``.
    activation : str
        The activation used in the forward pass.

    Returns
    -------
    dA_prev : ndarray of shape (n[l-1], m)
    dW : ndarray of shape (n[l], n[l-1])
    db : ndarray of shape (n[l], 1)
    """
    _, backward = get_activation(activation)
    return linear_backward(backward(dA, cache.Z), cache.linear_cache)


def _number_of_layers(parameters: Mapping[str, np.ndarray]) -> int:
    """``L`` for parameters ``W1, b1, ..., WL, bL``, or ``ValueError`` naming what is missing."""
    L = sum(1 for key in parameters if key.startswith("W") and key[1:].isdigit())
    expected = [name + str(l) for l in range(1, L + 1) for name in ("W", "b")]
    missing = [key for key in expected if key not in parameters]
    if L == 0 or missing:
        raise ValueError(f"parameters must hold W1, b1, ..., WL, bL; missing {missing or ['W1', 'b1']}, "
                         f"got {list(parameters)}")
    return L


def L_model_forward(X, parameters: Mapping[str, np.ndarray], hidden_activation: str = "relu",
                    output_activation: str = "sigmoid") -> tuple[np.ndarray, list[LinearActivationCache]]:
    """Forward pass of an ``L``-layer network: ``L-1`` hidden layers, then the output layer.

    Parameters
    ----------
    X : array_like of shape (n[0], m)
    parameters : dict of str to ndarray
        ``"W" + str(l)`` of shape (n[l], n[l-1]) and ``"b" + str(l)`` of shape (n[l], 1), l = 1 .. L.
    hidden_activation : str
        Activation of layers 1 .. L-1.
    output_activation : str
        Activation of layer L.

    Returns
    -------
    AL : ndarray of shape (n[L], m)
    caches : list of LinearActivationCache
        ``L`` caches; ``caches[l - 1]`` belongs to layer ``l``.

    Examples
    --------
    >>> params = {"W1": np.array([[1.0, -1.0]]), "b1": np.array([[0.0]]),
    ...           "W2": np.array([[2.0]]), "b2": np.array([[-1.0]])}
    >>> AL, caches = L_model_forward(np.array([[3.0, 1.0], [1.0, 3.0]]), params)
    >>> AL.round(6), len(caches)
    (array([[0.952574, 0.268941]]), 2)
    """
    L = _number_of_layers(parameters)
    A, caches = _float2d("X", X), []
    for l in range(1, L + 1):
        activation = output_activation if l == L else hidden_activation
        A, cache = linear_activation_forward(A, parameters["W" + str(l)], parameters["b" + str(l)], activation)
        caches.append(cache)
    return A, caches


def _output_dZ(AL: np.ndarray, Y: np.ndarray, cache: LinearActivationCache, output_activation: str) -> np.ndarray:
    """``dZ[L]`` for a cross-entropy loss: through the sigmoid from ``dAL``, or ``AL - Y`` for softmax."""
    if output_activation == "sigmoid":
        _, backward = get_activation("sigmoid")
        return backward(binary_cross_entropy_backward(AL, Y), cache.Z)
    return AL - Y  # softmax with categorical cross-entropy


def L_model_backward(AL, Y, caches: list[LinearActivationCache], hidden_activation: str = "relu",
                     output_activation: str = "sigmoid") -> dict[str, np.ndarray]:
    """Back propagation through an ``L``-layer network with a cross-entropy cost.

    A sigmoid output uses the binary cross-entropy derivative ``dAL = -(Y/AL - (1-Y)/(1-AL))``;
    a softmax output uses ``dZ[L] = AL - Y`` (categorical cross-entropy).

    Parameters
    ----------
    AL : array_like of shape (n[L], m)
        Output of ``L_model_forward``.
    Y : array_like of shape (n[L], m)
        Labels: 0/1 for a sigmoid output, one-hot for a softmax output.
    caches : list of LinearActivationCache
        From ``L_model_forward``.
    hidden_activation, output_activation : str
        As in the forward pass; ``output_activation`` is "sigmoid" or "softmax".

    Returns
    -------
    grads : dict of str to ndarray
        ``"dW" + str(l)`` (n[l], n[l-1]) and ``"db" + str(l)`` (n[l], 1), gradients of the mean cost,
        and ``"dA" + str(l-1)`` (n[l-1], m), the derivative of each example's loss with respect to the
        input of layer ``l``, for l = 1 .. L.
    """
    if output_activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"output_activation {output_activation!r} has no cross-entropy derivative here; "
                         f"expected one of {', '.join(map(repr, OUTPUT_ACTIVATIONS))}")
    if not caches:
        raise ValueError("caches is empty; pass the caches returned by L_model_forward")
    AL, Y = _float2d("AL", AL), _float2d("Y", Y)
    expect_same_shape("Y", Y, "AL", AL)
    expect_same_shape("AL", AL, "the output Z of the last cache", caches[-1].Z)
    L, grads = len(caches), {}
    dZ = _output_dZ(AL, Y, caches[-1], output_activation)
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_backward(dZ, caches[-1].linear_cache)
    for l in reversed(range(1, L)):
        dA_prev, dW, db = linear_activation_backward(grads["dA" + str(l)], caches[l - 1], hidden_activation)
        grads["dA" + str(l - 1)], grads["dW" + str(l)], grads["db" + str(l)] = dA_prev, dW, db
    return grads


def update_parameters(parameters: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray],
                      learning_rate: float) -> dict[str, np.ndarray]:
    """One step of gradient descent: ``W[l] - learning_rate dW[l]``, ``b[l] - learning_rate db[l]``.

    Parameters
    ----------
    parameters : dict of str to ndarray
        ``"W1"``, ``"b1"``, ... (not modified).
    grads : dict of str to ndarray
        ``"dW1"``, ``"db1"``, ... with the shapes of the parameters; other keys are ignored.
    learning_rate : float

    Returns
    -------
    parameters : dict of str to ndarray
        New arrays, same keys and shapes.

    Examples
    --------
    >>> update_parameters({"W1": np.array([[1.0]]), "b1": np.array([[0.0]])},
    ...                   {"dW1": np.array([[2.0]]), "db1": np.array([[-1.0]])}, 0.1)
    {'W1': array([[0.8]]), 'b1': array([[0.1]])}
    """
    updated = {}
    for key, value in parameters.items():
        if "d" + key not in grads:
            raise ValueError(f"grads has no 'd{key}' for parameter {key!r}; it has {list(grads)}")
        expect_same_shape("d" + key, grads["d" + key], key, value)
        updated[key] = value - learning_rate * np.asarray(grads["d" + key])
    return updated


def predict_binary(X, parameters: Mapping[str, np.ndarray], hidden_activation: str = "relu",
                   threshold: float = 0.5) -> np.ndarray:
    """0/1 predictions of a network with a single sigmoid output: ``AL > threshold``.

    Parameters
    ----------
    X : array_like of shape (n[0], m)
    parameters : dict of str to ndarray
        ``W1, b1, ..., WL, bL`` with ``n[L] = 1``.
    hidden_activation : str
    threshold : float

    Returns
    -------
    predictions : ndarray of shape (1, m), int
    """
    AL, _ = L_model_forward(X, parameters, hidden_activation, "sigmoid")
    if AL.shape[0] != 1:
        raise ValueError(f"the output layer has shape {AL.shape} but expected (1, m) for binary predictions")
    return (AL > threshold).astype(int)
