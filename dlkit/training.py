"""The training loop for dense networks kept as parameter dicts: mini-batches, an optimizer, a cost history.

:func:`train` runs epochs of mini-batch optimization for any ``forward_backward(parameters,
X_batch, Y_batch) -> (cost, grads)``; :func:`dense_forward_backward` builds that function for an
``L``-layer network of :mod:`dlkit.dense` with a cross-entropy cost and optional L2::

    parameters = initialization.initialize_he([2, 10, 5, 1], seed=1)
    parameters, costs = train(parameters, X, Y, dense_forward_backward(), optimizers.Adam(0.01),
                              num_epochs=300)

Networks built from layer objects train with :meth:`dlkit.model.Sequential.fit` instead.
Examples are in columns: ``X`` (n_x, m), ``Y`` (n_y, m).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
from tqdm.auto import tqdm

from dlkit import dense, losses
from dlkit.activations import get_activation
from dlkit.optimizers import random_mini_batches
from dlkit.regularization import l2_gradient
from dlkit.validation import as_array, as_generator

Params = dict[str, np.ndarray]
ForwardBackward = Callable[[Params, np.ndarray, np.ndarray], tuple[float, Params]]


# ----------------------------------------------------------------------------------------------
# The loop
# ----------------------------------------------------------------------------------------------

def train(parameters: Mapping[str, np.ndarray], X, Y, forward_backward: ForwardBackward, optimizer, *,
          num_epochs: int, mini_batch_size: int = 64, seed=0, progress: bool = True, record_every: int = 1,
          learning_rate_schedule: Callable[[int], float] | None = None) -> tuple[Params, list[float]]:
    """Mini-batch optimization: each epoch shuffles the examples, then steps once per mini-batch.

    Epoch ``e`` (counting from 0) sets ``optimizer.learning_rate = learning_rate_schedule(e)`` if a
    schedule is given, cuts ``X`` and ``Y`` with :func:`dlkit.optimizers.random_mini_batches`
    (with the ``e``-th of ``num_epochs`` seeds drawn from ``seed``), and for each mini-batch calls
    ``cost, grads = forward_backward(parameters, X_batch, Y_batch)`` then
    ``parameters = optimizer.step(parameters, grads)``.

    Parameters
    ----------
    parameters : dict of str to ndarray
        The starting point, e.g. ``"W1"`` (n[1], n[0]), ``"b1"`` (n[1], 1), ...; not modified.
    X : array_like of shape (n_x, m)
        Inputs, one example per column.
    Y : array_like of shape (n_y, m)
        Labels, column ``i`` belonging to column ``i`` of ``X``.
    forward_backward : callable
        ``forward_backward(parameters, X_batch, Y_batch) -> (cost, grads)``: the mean cost on the
        mini-batch and ``grads["d" + key]`` shaped like ``parameters[key]``
        (e.g. from :func:`dense_forward_backward`).
    optimizer : dlkit.optimizers.GradientDescent
        Any object with ``step(parameters, grads) -> parameters`` (and a ``learning_rate``
        attribute when a schedule is given). Its state (moments, step count) carries on from
        earlier use: pass a new one to start afresh.
    num_epochs : int
        Passes over the data, at least 1.
    mini_batch_size : int
        Examples per step; the last mini-batch of an epoch holds the remainder.
    seed : int or numpy.random.Generator
        Fixes every epoch's shuffle: the same seed gives the same run.
    progress : bool
        Show a progress bar over the epochs with the latest cost (tqdm; works in notebooks too).
    record_every : int
        Keep the cost of epochs 0, ``record_every``, 2 ``record_every``, ... (plot them with
        ``plotting.plot_costs(costs, every=record_every)``); the bar still shows every epoch's.
    learning_rate_schedule : callable, optional
        ``learning_rate_schedule(epoch) -> learning rate`` for epoch 0, 1, ...; e.g.
        ``lambda epoch: schedules.exponential_decay(0.1, epoch)``.

    Returns
    -------
    parameters : dict of str to ndarray
        The trained parameters (new arrays, same keys and shapes).
    costs : list of float
        One per recorded epoch (all of them by default): the mean of the mini-batch costs weighted
        by their sizes, i.e. the mean cost over the epoch's examples (each computed before its step).

    Examples
    --------
    >>> from dlkit import optimizers
    >>> X = np.array([[0.0, 1.0, 2.0, 3.0]]); Y = np.array([[0, 0, 1, 1]])
    >>> start = {"W1": np.zeros((1, 1)), "b1": np.zeros((1, 1))}
    >>> trained, costs = train(start, X, Y, dense_forward_backward(), optimizers.Adam(0.1),
    ...                        num_epochs=50, mini_batch_size=2, progress=False)
    >>> len(costs), costs[-1] < 0.3 < costs[0]
    (50, True)
    """
    parameters, X, Y = _check_train_arguments(parameters, X, Y, forward_backward, optimizer, num_epochs,
                                              mini_batch_size, record_every, learning_rate_schedule)
    epoch_seeds = as_generator(seed).integers(0, 2**32, size=num_epochs)  # one shuffle seed per epoch
    costs: list[float] = []
    bar = tqdm(range(num_epochs), desc="epochs", disable=not progress)
    for epoch in bar:
        if learning_rate_schedule is not None:
            optimizer.learning_rate = _scheduled_rate(learning_rate_schedule, epoch)
        batches = random_mini_batches(X, Y, mini_batch_size, seed=int(epoch_seeds[epoch]))
        parameters, cost = _run_epoch(parameters, batches, forward_backward, optimizer)
        if epoch % record_every == 0:
            costs.append(cost)
        bar.set_postfix(cost=f"{cost:.4g}", refresh=False)  # shown at the bar's next redraw
    return parameters, costs


def _run_epoch(parameters: Params, batches, forward_backward: ForwardBackward, optimizer) -> tuple[Params, float]:
    """One step per mini-batch; returns the new parameters and the size-weighted mean cost."""
    total, m = 0.0, 0
    for X_batch, Y_batch in batches:
        cost, grads = forward_backward(parameters, X_batch, Y_batch)
        cost = _as_cost(cost)
        parameters = optimizer.step(parameters, grads)
        size = X_batch.shape[1]
        total, m = total + cost * size, m + size
    return parameters, total / m


def _as_cost(cost) -> float:
    """The mini-batch cost as a float: a number or a (1, 1) array, or ``ValueError``."""
    if np.size(cost) != 1:
        raise ValueError(f"forward_backward must return (cost, grads) with a scalar cost, got a cost of "
                         f"shape {np.shape(cost)}")
    return float(np.asarray(cost).reshape(()))


def _scheduled_rate(schedule: Callable[[int], float], epoch: int) -> float:
    """``schedule(epoch)`` as a float, or ``ValueError`` if it is not a finite non-negative number."""
    rate = schedule(epoch)
    value = float(np.asarray(rate).reshape(())) if np.size(rate) == 1 else math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"learning_rate_schedule({epoch}) must be a finite number >= 0, got {rate!r}")
    return value


def _check_train_arguments(parameters, X, Y, forward_backward, optimizer, num_epochs, mini_batch_size,
                           record_every, learning_rate_schedule) -> tuple[Params, np.ndarray, np.ndarray]:
    """Validated copies ``(parameters, X, Y)``, or ``ValueError`` saying what was expected."""
    if not isinstance(parameters, Mapping) or not parameters:
        raise ValueError(f"parameters must be a non-empty dict of arrays, got {type(parameters).__name__}")
    for name, value in (("num_epochs", num_epochs), ("mini_batch_size", mini_batch_size),
                        ("record_every", record_every)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not callable(forward_backward):
        raise ValueError(f"forward_backward must be a function (parameters, X_batch, Y_batch) -> (cost, grads), "
                         f"got {type(forward_backward).__name__}")
    if not callable(getattr(optimizer, "step", None)):
        raise ValueError(f"optimizer must have a step(parameters, grads) method (e.g. dlkit.optimizers.Adam), "
                         f"got {type(optimizer).__name__}")
    if learning_rate_schedule is not None and (not callable(learning_rate_schedule)
                                               or not hasattr(optimizer, "learning_rate")):
        raise ValueError("learning_rate_schedule must be a function epoch -> learning rate, for an optimizer "
                         f"with a learning_rate attribute; got {type(learning_rate_schedule).__name__} and "
                         f"{type(optimizer).__name__}")
    X, Y = as_array("X", X, ndim=2), as_array("Y", Y, ndim=2)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"X has {X.shape[1]} examples (shape {X.shape}) but Y has {Y.shape[1]} (shape {Y.shape})")
    return {key: np.array(as_array(key, value)) for key, value in parameters.items()}, X, Y


# ----------------------------------------------------------------------------------------------
# Forward and backward of a dense network with a cross-entropy cost
# ----------------------------------------------------------------------------------------------

def dense_forward_backward(hidden_activation: str = "relu", output_activation: str = "sigmoid",
                           lambd: float = 0.0) -> ForwardBackward:
    """A ``forward_backward`` for :func:`train`: an ``L``-layer dense network and its cross-entropy cost.

    The network is :func:`dlkit.dense.L_model_forward` with parameters ``W1, b1, ..., WL, bL``;
    the cost is the binary cross-entropy for a ``"sigmoid"`` output (``Y`` of 0/1, shape (1, m))
    or the categorical cross-entropy for a ``"softmax"`` output (one-hot ``Y``, shape (K, m)),
    plus ``lambd / (2 m) * sum_l ||W[l]||_F^2`` when ``lambd > 0`` (``m`` the mini-batch size).

    Parameters
    ----------
    hidden_activation : str
        Activation of layers 1 .. L-1 (see :func:`dlkit.activations.get_activation`).
    output_activation : str
        ``"sigmoid"`` or ``"softmax"``.
    lambd : float
        L2 regularization strength, at least 0.

    Returns
    -------
    forward_backward : callable
        ``forward_backward(parameters, X, Y) -> (cost, grads)`` with ``X`` (n[0], m), ``Y`` (n[L], m),
        ``cost`` a float and ``grads`` holding ``"dW" + str(l)`` (n[l], n[l-1]) and ``"db" + str(l)``
        (n[l], 1), the gradients of ``cost``.

    Examples
    --------
    >>> fb = dense_forward_backward()
    >>> cost, grads = fb({"W1": np.zeros((1, 2)), "b1": np.zeros((1, 1))}, np.ones((2, 3)), np.ones((1, 3)))
    >>> round(cost, 6), sorted(grads), grads["db1"]
    (0.693147, ['dW1', 'db1'], array([[-0.5]]))
    """
    get_activation(hidden_activation)  # ValueError naming the known activations
    if output_activation not in dense.OUTPUT_ACTIVATIONS:
        raise ValueError(f"output_activation must be one of {', '.join(map(repr, dense.OUTPUT_ACTIVATIONS))} "
                         f"(the outputs with a cross-entropy cost), got {output_activation!r}")
    if not (isinstance(lambd, (int, float, np.number)) and math.isfinite(lambd) and lambd >= 0):
        raise ValueError(f"lambd must be a finite number >= 0, got {lambd!r}")
    cross_entropy = losses.binary_cross_entropy if output_activation == "sigmoid" else losses.categorical_cross_entropy

    def forward_backward(parameters: Mapping[str, np.ndarray], X, Y) -> tuple[float, Params]:
        AL, caches = dense.L_model_forward(X, parameters, hidden_activation, output_activation)  # (n[L], m)
        cost = cross_entropy(AL, Y)
        all_grads = dense.L_model_backward(AL, Y, caches, hidden_activation, output_activation)
        grads = {key: value for key, value in all_grads.items() if not key.startswith("dA")}  # dW1, db1, ...
        if lambd > 0:
            m = AL.shape[1]
            cost = losses.l2_regularized_cost(cost, parameters, lambd, m)
            for l in range(1, len(caches) + 1):
                grads[f"dW{l}"] = grads[f"dW{l}"] + l2_gradient(parameters[f"W{l}"], lambd, m)
        return cost, grads

    forward_backward.__qualname__ = (f"dense_forward_backward(hidden_activation={hidden_activation!r}, "
                                     f"output_activation={output_activation!r}, lambd={lambd!r})")
    return forward_backward
