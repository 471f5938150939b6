"""Schedules: exponentially weighted averages, learning-rate decay and log-scale hyperparameter sampling.

Epochs are counted as the caller counts them; :func:`dlkit.training.train` passes the epoch index
starting at 0, so every decay below starts at ``learning_rate0`` there (except :func:`sqrt_decay`,
which divides by the square root of the epoch number and so counts from 1, as the notes do).
Every decay accepts an int or an array of epochs (handy to plot a schedule).
"""
from __future__ import annotations

import numpy as np

from dlkit.validation import as_array, as_generator


def exponentially_weighted_average(values, beta: float, bias_correction: bool = False) -> np.ndarray:
    """Exponentially weighted average of a sequence, optionally bias-corrected.

    ::

        v_0 = 0,    v_t = beta * v_{t-1} + (1 - beta) * x_t,    corrected: v_t / (1 - beta ** t)

    ``v_t`` averages roughly the last ``1 / (1 - beta)`` values. Without the correction the first
    values are pulled toward 0.

    Parameters
    ----------
    values : array_like of shape (T,) or (T, ...)
        ``x_1, ..., x_T`` along the first axis.
    beta : float
        Weight of the past, in [0, 1).
    bias_correction : bool
        Divide ``v_t`` by ``1 - beta ** t``.

    Returns
    -------
    averages : ndarray of the shape of ``values``, float
        ``v_1, ..., v_T``.

    >>> exponentially_weighted_average([1.0, 1.0, 1.0], beta=0.5)
    array([0.5  , 0.75 , 0.875])
    >>> exponentially_weighted_average([1.0, 1.0, 1.0], beta=0.5, bias_correction=True)
    array([1., 1., 1.])
    """
    values = as_array("values", values)
    if values.ndim == 0:
        raise ValueError(f"values must be a sequence of shape (T,) or (T, ...), got a scalar {values!r}")
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}")
    averages = np.empty(values.shape, dtype=float)
    v = np.zeros(values.shape[1:])
    for t, x in enumerate(values, start=1):
        v = beta * v + (1 - beta) * x
        averages[t - 1] = v / (1 - beta ** t) if bias_correction else v
    return averages


def _scalar_or_array(value):
    """Return a Python float for 0-d results, else the array."""
    return float(value) if np.ndim(value) == 0 else value


def _check_epoch(epoch, smallest: int = 0) -> np.ndarray:
    epoch = np.asarray(epoch)
    if np.any(epoch < smallest):
        raise ValueError(f"epoch must be >= {smallest}, got {epoch!r}")
    return epoch


def inverse_time_decay(learning_rate0: float, epoch, decay_rate: float):
    """``alpha = alpha0 / (1 + decay_rate * epoch)``.

    Parameters
    ----------
    learning_rate0 : float
        ``alpha0``, the rate at epoch 0.
    epoch : int or ndarray of ints
    decay_rate : float, >= 0

    Returns
    -------
    learning_rate : float, or ndarray of the shape of ``epoch``

    >>> [inverse_time_decay(0.2, e, decay_rate=1.0) for e in (1, 2, 3)]
    [0.1, 0.06666666666666667, 0.05]
    """
    if decay_rate < 0:
        raise ValueError(f"decay_rate must be >= 0, got {decay_rate!r}")
    return _scalar_or_array(learning_rate0 / (1 + decay_rate * _check_epoch(epoch)))


def exponential_decay(learning_rate0: float, epoch, base: float = 0.95):
    """``alpha = base ** epoch * alpha0`` (the notes' 0.95 per epoch; ``base = exp(-k)`` gives ``alpha0 e^{-k t}``).

    >>> exponential_decay(1.0, 2)
    0.9025
    """
    if not 0.0 < base <= 1.0:
        raise ValueError(f"base must be in (0, 1], got {base!r}")
    return _scalar_or_array(learning_rate0 * base ** _check_epoch(epoch))


def staircase_decay(learning_rate0: float, epoch, decay_rate: float, time_interval: int = 1000):
    """Inverse-time decay in steps: ``alpha = alpha0 / (1 + decay_rate * floor(epoch / time_interval))``.

    The rate stays constant for ``time_interval`` epochs, then drops.

    >>> [staircase_decay(0.1, e, decay_rate=1.0, time_interval=10) for e in (0, 9, 10, 25)]
    [0.1, 0.1, 0.05, 0.03333333333333333]
    """
    if decay_rate < 0:
        raise ValueError(f"decay_rate must be >= 0, got {decay_rate!r}")
    if time_interval < 1:
        raise ValueError(f"time_interval must be a positive number of epochs, got {time_interval!r}")
    return _scalar_or_array(learning_rate0 / (1 + decay_rate * np.floor_divide(_check_epoch(epoch), time_interval)))


def sqrt_decay(learning_rate0: float, epoch, k: float):
    """``alpha = k / sqrt(epoch) * alpha0``, epochs counted from 1.

    >>> sqrt_decay(0.1, 4, k=1.0)
    0.05
    """
    return _scalar_or_array(learning_rate0 * k / np.sqrt(_check_epoch(epoch, smallest=1)))


def sample_log_uniform(low: float, high: float, size=None, seed=0):
    """Draw values spread evenly on a log scale between ``low`` and ``high``.

    ``r`` is uniform in ``[log10(low), log10(high)]`` and the value is ``10 ** r``, so each decade
    (0.0001 to 0.001, 0.001 to 0.01, ...) gets the same share of samples. For a momentum ``beta``
    near 1, sample ``1 - beta`` instead: ``1 - sample_log_uniform(1e-3, 1e-1, size, seed)``.

    Parameters
    ----------
    low, high : float
        Positive bounds, ``low < high``.
    size : int or tuple of ints, optional
        Shape of the output; ``None`` returns one float.
    seed : int or numpy.random.Generator

    Returns
    -------
    samples : float or ndarray of shape ``size``

    >>> samples = sample_log_uniform(1e-4, 1.0, size=1000, seed=0)
    >>> bool(samples.min() >= 1e-4 and samples.max() <= 1.0), int(np.sum(samples < 1e-3)) in range(200, 300)
    (True, True)
    """
    if not 0 < low < high:
        raise ValueError(f"need 0 < low < high for a log scale, got low={low!r}, high={high!r}")
    r = as_generator(seed).uniform(np.log10(low), np.log10(high), size=size)
    return _scalar_or_array(10.0 ** r)
