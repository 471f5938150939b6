"""Weight initialization for dense networks: zeros, small random, He and Xavier, from an explicit seed.

For layers ``l = 1 .. L`` with sizes ``layer_dims = [n[0], n[1], ..., n[L]]``::

    W[l] ~ normal(0, 1) * factor[l]   of shape (n[l], n[l-1])
    b[l] = 0                          of shape (n[l], 1)

with ``factor[l]`` equal to 0 (zeros), ``scale`` (random), ``sqrt(2 / n[l-1])`` (He, for ReLU)
or ``sqrt(1 / n[l-1])`` (Xavier, for tanh).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlkit.validation import as_generator

METHODS = ("zeros", "random", "he", "xavier")


def _check_layer_dims(layer_dims: Sequence[int]) -> list[int]:
    """``layer_dims`` as a list of at least two positive ints, or ``ValueError``."""
    dims = list(layer_dims)
    if len(dims) < 2 or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in dims):
        raise ValueError(f"layer_dims must list at least two positive integers [n[0], ..., n[L]], got {layer_dims!r}")
    return [int(n) for n in dims]


def _factor(method: str, n_prev: int, scale: float) -> float:
    """The standard deviation of ``W[l]`` for a layer whose input has ``n_prev`` units."""
    return {"zeros": 0.0, "random": scale, "he": np.sqrt(2 / n_prev), "xavier": np.sqrt(1 / n_prev)}[method]


def initialize_parameters(layer_dims: Sequence[int], method: str = "he", seed=0,
                          scale: float = 0.01) -> dict[str, np.ndarray]:
    """Parameters of an ``L``-layer dense network.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n[0], n[1], ..., n[L]]``: input size, then the size of each layer.
    method : {"zeros", "random", "he", "xavier"}
        How to scale the standard normal draws (see the module docstring).
    seed : int or numpy.random.Generator
        Source of randomness; the same seed gives the same parameters.
    scale : float
        Standard deviation of the weights for ``method="random"`` (ignored otherwise).

    Returns
    -------
    parameters : dict of str to ndarray
        ``"W" + str(l)`` of shape (n[l], n[l-1]) and ``"b" + str(l)`` of shape (n[l], 1), for l = 1 .. L,
        in the order W1, b1, W2, b2, ...

    Examples
    --------
    >>> p = initialize_parameters([3, 2, 1], method="zeros")
    >>> {key: value.shape for key, value in p.items()}
    {'W1': (2, 3), 'b1': (2, 1), 'W2': (1, 2), 'b2': (1, 1)}
    >>> bool(np.allclose(initialize_parameters([3, 2], seed=1)["W1"], initialize_parameters([3, 2], seed=1)["W1"]))
    True
    """
    dims = _check_layer_dims(layer_dims)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(map(repr, METHODS))}")
    rng = as_generator(seed)
    parameters = {}
    for l in range(1, len(dims)):
        draws = rng.standard_normal((dims[l], dims[l - 1]))  # (n[l], n[l-1])
        parameters["W" + str(l)] = draws * _factor(method, dims[l - 1], scale)
        parameters["b" + str(l)] = np.zeros((dims[l], 1))  # (n[l], 1)
    return parameters


def initialize_zeros(layer_dims: Sequence[int]) -> dict[str, np.ndarray]:
    """All weights and biases zero (every unit of a layer then learns the same thing).

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n[0], ..., n[L]]``.

    Returns
    -------
    parameters : dict of str to ndarray
        ``W[l]`` of shape (n[l], n[l-1]), ``b[l]`` of shape (n[l], 1).
    """
    return initialize_parameters(layer_dims, method="zeros")


def initialize_random(layer_dims: Sequence[int], seed=0, scale: float = 0.01) -> dict[str, np.ndarray]:
    """Weights ``normal * scale``, biases zero.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n[0], ..., n[L]]``.
    seed : int or numpy.random.Generator
    scale : float
        Standard deviation of the weights (large values such as 10 make activations explode).

    Returns
    -------
    parameters : dict of str to ndarray
        ``W[l]`` of shape (n[l], n[l-1]), ``b[l]`` of shape (n[l], 1).
    """
    return initialize_parameters(layer_dims, method="random", seed=seed, scale=scale)


def initialize_he(layer_dims: Sequence[int], seed=0) -> dict[str, np.ndarray]:
    """He initialization, weights ``normal * sqrt(2 / n[l-1])``, for ReLU layers; biases zero.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n[0], ..., n[L]]``.
    seed : int or numpy.random.Generator

    Returns
    -------
    parameters : dict of str to ndarray
        ``W[l]`` of shape (n[l], n[l-1]), ``b[l]`` of shape (n[l], 1).
    """
    return initialize_parameters(layer_dims, method="he", seed=seed)


def initialize_xavier(layer_dims: Sequence[int], seed=0) -> dict[str, np.ndarray]:
    """Xavier initialization, weights ``normal * sqrt(1 / n[l-1])``, for tanh layers; biases zero.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n[0], ..., n[L]]``.
    seed : int or numpy.random.Generator

    Returns
    -------
    parameters : dict of str to ndarray
        ``W[l]`` of shape (n[l], n[l-1]), ``b[l]`` of shape (n[l], 1).
    """
    return initialize_parameters(layer_dims, method="xavier", seed=seed)
