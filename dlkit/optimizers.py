"""Optimizers: mini-batches, momentum, Nesterov, Adagrad, RMSprop and Adam, as functions and as objects.

Every update works on any parameters dict: the dense keys ``"W1"``, ``"b1"``, ... as well as keys
such as ``"gamma1"`` or ``"beta1"`` of batch norm. The gradient of ``parameters[key]`` is
``grads["d" + key]``, and so is the optimizer state: ``v["dW1"]`` is the velocity of ``W1``.
Each function returns new dicts and never mutates its arguments.

Notation (notes, optimization): ``alpha`` is the learning rate, ``beta`` the decay of an
exponentially weighted average, ``t`` the number of steps taken so far (Adam's bias correction).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

from dlkit import dense
from dlkit.validation import as_array, as_generator, expect_same_shape

Params = dict[str, np.ndarray]


# ----------------------------------------------------------------------------------------------
# Mini-batches
# ----------------------------------------------------------------------------------------------

def random_mini_batches(X, Y, mini_batch_size: int = 64, seed=0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffle the examples (columns) of ``X`` and ``Y`` together and cut them into mini-batches.

    Parameters
    ----------
    X : ndarray of shape (n_x, m)
        Inputs, one example per column.
    Y : ndarray of shape (n_y, m)
        Labels, column ``i`` belongs to column ``i`` of ``X``.
    mini_batch_size : int
        Number of examples per mini-batch; the last one holds the ``m % mini_batch_size`` left over.
    seed : int or numpy.random.Generator
        Source of the shuffle; the same seed gives the same mini-batches.

    Returns
    -------
    mini_batches : list of (X_batch, Y_batch)
        ``ceil(m / mini_batch_size)`` pairs; ``X_batch`` of shape (n_x, size), ``Y_batch`` of
        shape (n_y, size).

    >>> X = np.arange(10.0).reshape(2, 5); Y = np.arange(5.0).reshape(1, 5)
    >>> [x.shape for x, _ in random_mini_batches(X, Y, mini_batch_size=2)]
    [(2, 2), (2, 2), (2, 1)]
    """
    X, Y = as_array("X", X, ndim=2), as_array("Y", Y, ndim=2)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X has {X.shape[1]} examples (shape {X.shape}) but Y has {Y.shape[1]} (shape {Y.shape})")
    if int(mini_batch_size) != mini_batch_size or mini_batch_size < 1:
        raise ValueError(f"mini_batch_size must be a positive integer, got {mini_batch_size!r}")
    m = X.shape[1]
    permutation = as_generator(seed).permutation(m)
    shuffled_X, shuffled_Y = X[:, permutation], Y[:, permutation]  # (n_x, m), (n_y, m)
    starts = range(0, m, int(mini_batch_size))
    return [(shuffled_X[:, k:k + mini_batch_size], shuffled_Y[:, k:k + mini_batch_size]) for k in starts]


# ----------------------------------------------------------------------------------------------
# Shared checks
# ----------------------------------------------------------------------------------------------

def _check_like(parameters: Params, other: Params, name: str) -> None:
    """Raise ``ValueError`` unless ``other`` holds ``"d" + key`` shaped like each parameter."""
    for key, value in parameters.items():
        if "d" + key not in other:
            raise ValueError(f"{name} has no entry 'd{key}' for parameter '{key}'; it has {sorted(other)}")
        expect_same_shape(f"{name}['d{key}']", other["d" + key], f"parameters['{key}']", value)


def _zeros_like(parameters: Params) -> Params:
    """Return ``{"d" + key: zeros like parameters[key]}``."""
    return {"d" + key: np.zeros_like(as_array(key, value), dtype=float) for key, value in parameters.items()}


def _check_beta(name: str, beta: float) -> None:
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {beta!r}")


# ----------------------------------------------------------------------------------------------
# Momentum
# ----------------------------------------------------------------------------------------------

def initialize_velocity(parameters: Params) -> Params:
    """Return the zero velocity ``v`` with ``v["d" + key]`` shaped like ``parameters[key]``.

    >>> v = initialize_velocity({"W1": np.ones((2, 3)), "b1": np.ones((2, 1))})
    >>> sorted(v), v["dW1"].shape
    (['dW1', 'db1'], (2, 3))
    """
    return _zeros_like(parameters)


def update_parameters_with_momentum(parameters: Params, grads: Params, v: Params, beta: float,
                                    learning_rate: float) -> tuple[Params, Params]:
    """One step of gradient descent with momentum.

    For every parameter ``W`` with gradient ``dW``::

        v_dW = beta * v_dW + (1 - beta) * dW
        W    = W - learning_rate * v_dW

    With ``beta = 0`` this is plain gradient descent.

    Parameters
    ----------
    parameters : dict of ndarray
        ``parameters[key]`` of any shape, e.g. ``"W1"`` (n[1], n[0]) and ``"b1"`` (n[1], 1).
    grads : dict of ndarray
        ``grads["d" + key]`` shaped like ``parameters[key]``.
    v : dict of ndarray
        The velocity, ``v["d" + key]`` shaped like ``parameters[key]``.
    beta : float
        Momentum, in [0, 1).
    learning_rate : float
        ``alpha``.

    Returns
    -------
    parameters : dict of ndarray
        The updated parameters, same keys and shapes.
    v : dict of ndarray
        The updated velocity.
    """
    _check_like(parameters, grads, "grads")
    _check_like(parameters, v, "v")
    _check_beta("beta", beta)
    new_v = {"d" + k: beta * v["d" + k] + (1 - beta) * grads["d" + k] for k in parameters}
    new_parameters = {k: w - learning_rate * new_v["d" + k] for k, w in parameters.items()}
    return new_parameters, new_v


def update_parameters_with_nesterov(parameters: Params, grads: Params, v: Params, beta: float,
                                    learning_rate: float) -> tuple[Params, Params]:
    """One step of Nesterov momentum, written for parameters kept at the look-ahead point.

    Nesterov evaluates the gradient not where the parameters are but where momentum is about to
    carry them: at the look-ahead point ``W_ahead = W - learning_rate * beta * v_dW``. Convention
    here: ``parameters`` *are* the look-ahead point, so ``grads`` (computed at ``parameters`` as
    usual) are the look-ahead gradients and no second forward pass is needed. With the velocity
    an exponentially weighted average as in :func:`update_parameters_with_momentum`, moving the
    look-ahead point by one step gives::

        v_dW = beta * v_dW + (1 - beta) * dW
        W    = W - learning_rate * (beta * v_dW + (1 - beta) * dW)

    i.e. the step uses the new velocity pushed once more by ``beta``, plus the fresh gradient.
    With ``beta = 0`` this is plain gradient descent. Arguments and returns as in
    :func:`update_parameters_with_momentum`.
    """
    _check_like(parameters, grads, "grads")
    _check_like(parameters, v, "v")
    _check_beta("beta", beta)
    new_v = {"d" + k: beta * v["d" + k] + (1 - beta) * grads["d" + k] for k in parameters}
    step = {k: beta * new_v["d" + k] + (1 - beta) * grads["d" + k] for k in parameters}
    new_parameters = {k: w - learning_rate * step[k] for k, w in parameters.items()}
    return new_parameters, new_v


# ----------------------------------------------------------------------------------------------
# Adaptive learning rates: Adagrad, RMSprop, Adam
# ----------------------------------------------------------------------------------------------

def initialize_adagrad(parameters: Params) -> Params:
    """Return the zero sum of squared gradients ``s["d" + key]`` shaped like ``parameters[key]``."""
    return _zeros_like(parameters)


def update_parameters_with_adagrad(parameters: Params, grads: Params, s: Params, learning_rate: float,
                                   epsilon: float = 1e-8) -> tuple[Params, Params]:
    """One step of Adagrad: each entry's step shrinks with the squared gradients it has seen.

    ::

        s_dW = s_dW + dW ** 2
        W    = W - learning_rate * dW / (sqrt(s_dW) + epsilon)

    Parameters
    ----------
    parameters, grads : dict of ndarray
        As in :func:`update_parameters_with_momentum`.
    s : dict of ndarray
        Running sum of squared gradients, ``s["d" + key]`` shaped like ``parameters[key]``.
    learning_rate : float
    epsilon : float
        Keeps the division finite where ``s`` is zero.

    Returns
    -------
    parameters, s : dict of ndarray
    """
    _check_like(parameters, grads, "grads")
    _check_like(parameters, s, "s")
    new_s = {"d" + k: s["d" + k] + grads["d" + k] ** 2 for k in parameters}
    new_parameters = {k: w - learning_rate * grads["d" + k] / (np.sqrt(new_s["d" + k]) + epsilon)
                      for k, w in parameters.items()}
    return new_parameters, new_s


def initialize_rmsprop(parameters: Params) -> Params:
    """Return the zero average of squared gradients ``s["d" + key]`` shaped like ``parameters[key]``."""
    return _zeros_like(parameters)


def update_parameters_with_rmsprop(parameters: Params, grads: Params, s: Params, beta: float = 0.999,
                                   learning_rate: float = 0.01, epsilon: float = 1e-8) -> tuple[Params, Params]:
    """One step of RMSprop: divide by the root of a moving average of squared gradients.

    ::

        s_dW = beta * s_dW + (1 - beta) * dW ** 2
        W    = W - learning_rate * dW / (sqrt(s_dW) + epsilon)

    Parameters
    ----------
    parameters, grads : dict of ndarray
        As in :func:`update_parameters_with_momentum`.
    s : dict of ndarray
        Moving average of squared gradients, ``s["d" + key]`` shaped like ``parameters[key]``.
    beta : float
        Decay of the average, in [0, 1).
    learning_rate, epsilon : float

    Returns
    -------
    parameters, s : dict of ndarray
    """
    _check_like(parameters, grads, "grads")
    _check_like(parameters, s, "s")
    _check_beta("beta", beta)
    new_s = {"d" + k: beta * s["d" + k] + (1 - beta) * grads["d" + k] ** 2 for k in parameters}
    new_parameters = {k: w - learning_rate * grads["d" + k] / (np.sqrt(new_s["d" + k]) + epsilon)
                      for k, w in parameters.items()}
    return new_parameters, new_s


def initialize_adam(parameters: Params) -> tuple[Params, Params]:
    """Return Adam's zero first and second moments ``(v, s)``, each keyed ``"d" + key``."""
    return _zeros_like(parameters), _zeros_like(parameters)


def update_parameters_with_adam(parameters: Params, grads: Params, v: Params, s: Params, t: int,
                                learning_rate: float = 0.01, beta1: float = 0.9, beta2: float = 0.999,
                                epsilon: float = 1e-8) -> tuple[Params, Params, Params, Params, Params]:
    """One step of Adam: momentum and RMSprop together, both bias-corrected.

    ::

        v_dW = beta1 * v_dW + (1 - beta1) * dW          v_corrected = v_dW / (1 - beta1 ** t)
        s_dW = beta2 * s_dW + (1 - beta2) * dW ** 2     s_corrected = s_dW / (1 - beta2 ** t)
        W    = W - learning_rate * v_corrected / (sqrt(s_corrected) + epsilon)

    Parameters
    ----------
    parameters, grads : dict of ndarray
        As in :func:`update_parameters_with_momentum`.
    v, s : dict of ndarray
        First and second moments, keyed ``"d" + key``, shaped like the parameters.
    t : int
        The number of this step, counting from 1 (the bias correction divides by ``1 - beta ** t``).
    learning_rate, beta1, beta2, epsilon : float

    Returns
    -------
    parameters, v, s, v_corrected, s_corrected : dict of ndarray
        The updated parameters and moments, and the bias-corrected moments used for the step.
    """
    _check_like(parameters, grads, "grads")
    _check_like(parameters, v, "v")
    _check_like(parameters, s, "s")
    _check_beta("beta1", beta1)
    _check_beta("beta2", beta2)
    if int(t) != t or t < 1:
        raise ValueError(f"t counts Adam steps from 1, got {t!r}")
    new_v = {"d" + k: beta1 * v["d" + k] + (1 - beta1) * grads["d" + k] for k in parameters}
    new_s = {"d" + k: beta2 * s["d" + k] + (1 - beta2) * grads["d" + k] ** 2 for k in parameters}
    v_corrected = {key: value / (1 - beta1 ** t) for key, value in new_v.items()}
    s_corrected = {key: value / (1 - beta2 ** t) for key, value in new_s.items()}
    new_parameters = {k: w - learning_rate * v_corrected["d" + k] / (np.sqrt(s_corrected["d" + k]) + epsilon)
                      for k, w in parameters.items()}
    return new_parameters, new_v, new_s, v_corrected, s_corrected


# ----------------------------------------------------------------------------------------------
# Optimizer objects for the training loop: hyperparameters plus state, one ``step`` each
# ----------------------------------------------------------------------------------------------

class GradientDescent:
    """Plain gradient descent, ``W = W - learning_rate * dW``.

    Every optimizer object has a public ``learning_rate`` (a schedule may change it between
    steps) and ``step(parameters, grads) -> parameters``, which returns new arrays and keeps the
    optimizer's own state (velocity, moments, step count) inside the object.

    >>> opt = GradientDescent(learning_rate=0.5)
    >>> opt.step({"W1": np.array([[1.0]])}, {"dW1": np.array([[2.0]])})["W1"]
    array([[0.]])
    """

    def __init__(self, learning_rate: float = 0.01):
        self.learning_rate = learning_rate

    def step(self, parameters: Params, grads: Params) -> Params:
        _check_like(parameters, grads, "grads")
        return dense.update_parameters(parameters, grads, self.learning_rate)

    def __repr__(self) -> str:
        hyper = ", ".join(f"{name}={getattr(self, name)!r}" for name in _hyperparameter_names(type(self)))
        return f"{type(self).__name__}({hyper})"


class Momentum(GradientDescent):
    """Gradient descent with momentum (:func:`update_parameters_with_momentum`)."""

    _update = staticmethod(update_parameters_with_momentum)  # Nesterov swaps in its own update

    def __init__(self, learning_rate: float = 0.01, beta: float = 0.9):
        _check_beta("beta", beta)
        self.learning_rate, self.beta = learning_rate, beta
        self._v: Params | None = None

    def step(self, parameters: Params, grads: Params) -> Params:
        v = initialize_velocity(parameters) if self._v is None else self._v
        parameters, self._v = self._update(parameters, grads, v, self.beta, self.learning_rate)
        return parameters


class Nesterov(Momentum):
    """Nesterov momentum, parameters kept at the look-ahead point (:func:`update_parameters_with_nesterov`)."""

    _update = staticmethod(update_parameters_with_nesterov)


class Adagrad(GradientDescent):
    """Adagrad (:func:`update_parameters_with_adagrad`)."""

    def __init__(self, learning_rate: float = 0.01, epsilon: float = 1e-8):
        self.learning_rate, self.epsilon = learning_rate, epsilon
        self._s: Params | None = None

    def step(self, parameters: Params, grads: Params) -> Params:
        s = initialize_adagrad(parameters) if self._s is None else self._s
        parameters, self._s = update_parameters_with_adagrad(parameters, grads, s, self.learning_rate, self.epsilon)
        return parameters


class RMSprop(GradientDescent):
    """RMSprop (:func:`update_parameters_with_rmsprop`)."""

    def __init__(self, learning_rate: float = 0.01, beta: float = 0.999, epsilon: float = 1e-8):
        _check_beta("beta", beta)
        self.learning_rate, self.beta, self.epsilon = learning_rate, beta, epsilon
        self._s: Params | None = None

    def step(self, parameters: Params, grads: Params) -> Params:
        s = initialize_rmsprop(parameters) if self._s is None else self._s
        parameters, self._s = update_parameters_with_rmsprop(parameters, grads, s, self.beta,
                                                             self.learning_rate, self.epsilon)
        return parameters


class Adam(GradientDescent):
    """Adam (:func:`update_parameters_with_adam`); counts its own steps ``t`` from 1."""

    def __init__(self, learning_rate: float = 0.01, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8):
        _check_beta("beta1", beta1)
        _check_beta("beta2", beta2)
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self._moments: tuple[Params, Params] | None = None
        self.t = 0

    def step(self, parameters: Params, grads: Params) -> Params:
        v, s = initialize_adam(parameters) if self._moments is None else self._moments
        self.t += 1
        parameters, v, s, _, _ = update_parameters_with_adam(parameters, grads, v, s, self.t, self.learning_rate,
                                                             self.beta1, self.beta2, self.epsilon)
        self._moments = (v, s)
        return parameters


OPTIMIZERS: dict[str, Callable[..., GradientDescent]] = {
    "gd": GradientDescent,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}
"""The names :func:`make_optimizer` accepts, each with its class."""


def make_optimizer(name: str, **hyperparameters) -> GradientDescent:
    """Build an optimizer object by name, e.g. ``make_optimizer("adam", learning_rate=0.001)``.

    Parameters
    ----------
    name : str
        One of ``"gd"``, ``"momentum"``, ``"nesterov"``, ``"adagrad"``, ``"rmsprop"``, ``"adam"``
        (case-insensitive).
    **hyperparameters
        Keyword arguments of that optimizer's class; unknown ones raise ``ValueError``.

    >>> make_optimizer("momentum", learning_rate=0.1, beta=0.8)
    Momentum(learning_rate=0.1, beta=0.8)
    >>> make_optimizer("adam", lr=0.1)
    Traceback (most recent call last):
    ...
    ValueError: unknown hyperparameter 'lr' for adam; expected some of: beta1, beta2, epsilon, learning_rate
    """
    key = name.lower() if isinstance(name, str) else None
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; expected one of: {', '.join(OPTIMIZERS)}")
    allowed = sorted(_hyperparameter_names(OPTIMIZERS[key]))
    unknown = sorted(set(hyperparameters) - set(allowed))
    if unknown:
        raise ValueError(f"unknown hyperparameter {unknown[0]!r} for {key}; expected some of: {', '.join(allowed)}")
    return OPTIMIZERS[key](**hyperparameters)


def _hyperparameter_names(cls: type) -> list[str]:
    """The keyword arguments of ``cls.__init__``, in the order of its signature."""
    return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]
