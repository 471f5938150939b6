"""Numerical gradient checking: central differences, relative errors and parameter-vector round trips.

Central differences approximate a derivative with an error of order ``h**2``::

    df/dx[i] ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)

Every backward pass in dlkit is tested against these approximations in float64.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from dlkit.validation import as_array, expect_same_shape

_TINY = 1e-300


def _writable_float(name: str, x) -> np.ndarray:
    """Return ``x`` itself if it is a float ndarray that can be perturbed in place, else raise."""
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name} must be a float ndarray (float64 for checks), got {type(x).__name__} "
                         f"of dtype {getattr(x, 'dtype', None)}")
    if not x.flags.writeable:
        raise ValueError(f"{name} must be writeable: it is perturbed in place and restored")
    return x


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of a scalar function at ``x``.

    Each entry of ``x`` is moved by ``+h`` and ``-h`` in place (so ``f`` may read ``x`` through a
    closure) and restored to its exact original value before the next entry.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``, a scalar function of ``x``.
    x : ndarray of any shape, float
        The point; unchanged on return (also when ``f`` raises).
    h : float
        The step.

    Returns
    -------
    grad : ndarray of the shape of ``x``, float64
        ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)``.

    Examples
    --------
    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> np.round(numerical_gradient(lambda v: np.sum(v ** 2), x), 6)
    array([[2., 4.],
           [6., 8.]])
    """
    x = _writable_float("x", x)
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        try:
            x[index] = original + h
            f_plus = float(f(x))
            x[index] = original - h
            f_minus = float(f(x))
        finally:
            x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray,
                             h: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of ``sum(f(x) * dout)`` for an array-valued ``f``.

    This is what a backward pass computes when ``dout`` is the upstream gradient.

    Parameters
    ----------
    f : callable
        ``f(x) -> ndarray`` of the shape of ``dout``.
    x : ndarray of any shape, float
        The point; unchanged on return.
    dout : ndarray of the shape of ``f(x)``
        The upstream gradient.
    h : float
        The step.

    Returns
    -------
    grad : ndarray of the shape of ``x``, float64

    Examples
    --------
    >>> x = np.array([1.0, -2.0])
    >>> np.round(numerical_gradient_array(lambda v: 3 * v, x, np.array([1.0, 10.0])), 6)
    array([ 3., 30.])
    """
    dout = as_array("dout", dout)

    def weighted_sum(v: np.ndarray) -> float:
        out = np.asarray(f(v))
        expect_same_shape("f(x)", out, "dout", dout)
        return float(np.sum(out * dout))

    return numerical_gradient(weighted_sum, x, h)


def rel_error(a, b) -> float:
    """Largest absolute difference, relative to the largest ``|a| + |b|``.

    ``max|a - b| / max(max(|a| + |b|), tiny)``: 0 for equal arrays, about 1 for unrelated ones, and
    not inflated by entries that are near zero in both.

    Parameters
    ----------
    a, b : array_like of the same shape

    Returns
    -------
    error : float

    Examples
    --------
    >>> rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    0.0
    >>> rel_error(np.array([1.0, 0.0]), np.array([3.0, 0.0]))
    0.5
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    expect_same_shape("a", a, "b", b)
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(a) + np.abs(b))), _TINY)
    return float(np.max(np.abs(a - b))) / scale


def _difference(grad: np.ndarray, gradapprox: np.ndarray) -> float:
    """``||grad - gradapprox|| / (||grad|| + ||gradapprox||)``, 0.0 when both are zero."""
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    if denominator == 0:
        return 0.0
    return float(np.linalg.norm(grad - gradapprox) / denominator)


def gradient_check(J: Callable[[float], float], dJ: Callable[[float], float], theta: float,
                   epsilon: float = 1e-7) -> float:
    """Compare the derivative ``dJ(theta)`` of a one-variable function with central differences.

    Parameters
    ----------
    J : callable
        ``J(theta) -> float``.
    dJ : callable
        ``dJ(theta) -> float``, the derivative to check.
    theta : float
        Where to check.
    epsilon : float
        The step.

    Returns
    -------
    difference : float
        ``|grad - gradapprox| / (|grad| + |gradapprox|)`` (0.0 when both are 0); below about 1e-7
        means the derivative is right.

    Examples
    --------
    >>> gradient_check(lambda t: 3 * t, lambda t: 3.0, 4.0) < 1e-7
    True
    >>> round(gradient_check(lambda t: 3 * t, lambda t: 6.0, 4.0), 6)
    0.333333
    """
    theta = float(theta)
    gradapprox = (float(J(theta + epsilon)) - float(J(theta - epsilon))) / (2 * epsilon)
    grad = float(dJ(theta))
    return _difference(np.array(grad), np.array(gradapprox))


def _parameter_keys(parameters: Mapping[str, np.ndarray], keys: Sequence[str] | None) -> list[str]:
    """The keys to flatten, in order; every one must be in ``parameters``."""
    keys = list(parameters) if keys is None else list(keys)
    missing = [key for key in keys if key not in parameters]
    if missing:
        raise ValueError(f"keys {missing} are not in the dictionary, which has {list(parameters)}")
    return keys


def dictionary_to_vector(parameters: Mapping[str, np.ndarray],
                         keys: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Flatten the arrays of a dictionary, key after key, into one column vector ``theta``.

    Parameters
    ----------
    parameters : dict of str to ndarray
        E.g. ``{"W1": (n1, n0), "b1": (n1, 1), ...}``.
    keys : sequence of str, optional
        Which keys, in which order; default: all, in the dictionary's order.

    Returns
    -------
    theta : ndarray of shape (n, 1), float64
        ``n`` is the total number of entries; each array is flattened in C order.
    keys : list of str
        The keys in the order they were stacked.

    Examples
    --------
    >>> theta, keys = dictionary_to_vector({"W1": np.array([[1.0, 2.0]]), "b1": np.array([[3.0]])})
    >>> theta.T, keys
    (array([[1., 2., 3.]]), ['W1', 'b1'])
    """
    keys = _parameter_keys(parameters, keys)
    pieces = [np.asarray(parameters[key], dtype=np.float64).reshape(-1, 1) for key in keys]  # (size, 1) each
    theta = np.concatenate(pieces, axis=0) if pieces else np.zeros((0, 1))  # (n, 1)
    return theta, keys


def vector_to_dictionary(theta: np.ndarray, like: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Cut a column vector back into arrays with the keys, order and shapes of ``like``.

    Parameters
    ----------
    theta : ndarray of shape (n, 1) or (n,)
        ``n`` must equal the total size of the arrays in ``like``.
    like : dict of str to ndarray
        The template, e.g. the parameters ``theta`` was made from.

    Returns
    -------
    parameters : dict of str to ndarray
        New arrays (copies), ``parameters[key].shape == like[key].shape``.

    Examples
    --------
    >>> vector_to_dictionary(np.array([[1.0], [2.0], [3.0]]), {"W1": np.zeros((1, 2)), "b1": np.zeros((1, 1))})
    {'W1': array([[1., 2.]]), 'b1': array([[3.]])}
    """
    theta = as_array("theta", theta)
    total = sum(int(np.size(value)) for value in like.values())
    if theta.ndim not in (1, 2) or (theta.ndim == 2 and theta.shape[1] != 1) or theta.size != total:
        raise ValueError(f"theta has shape {theta.shape} but expected ({total}, 1) to fill "
                         f"{ {key: np.shape(value) for key, value in like.items()} }")
    flat = theta.reshape(-1)  # (n,)
    parameters, start = {}, 0
    for key, value in like.items():
        size = int(np.size(value))
        parameters[key] = flat[start:start + size].reshape(np.shape(value)).copy()
        start += size
    return parameters


def gradients_to_vector(gradients: Mapping[str, np.ndarray], keys: Sequence[str]) -> np.ndarray:
    """Stack the gradients of parameters ``keys`` (``"W1"`` reads ``gradients["dW1"]``) into a column.

    Parameters
    ----------
    gradients : dict of str to ndarray
        E.g. ``{"dW1": (n1, n0), "db1": (n1, 1), "dA0": ..., ...}``; extra keys are ignored.
    keys : sequence of str
        Parameter names, in the order used for ``theta``.

    Returns
    -------
    grad : ndarray of shape (n, 1), float64

    Examples
    --------
    >>> gradients_to_vector({"dW1": np.array([[1.0, 2.0]]), "db1": np.array([[3.0]])}, ["W1", "b1"]).T
    array([[1., 2., 3.]])
    """
    theta, _ = dictionary_to_vector(gradients, ["d" + key for key in keys])
    return theta


def gradient_check_n(parameters: Mapping[str, np.ndarray], gradients: Mapping[str, np.ndarray],
                     cost_fn: Callable[[dict[str, np.ndarray]], float], epsilon: float = 1e-7,
                     print_msg: bool = False) -> float:
    """Check the gradients of a cost with respect to all parameters against central differences.

    Parameters
    ----------
    parameters : dict of str to ndarray
        ``{"W1": (n1, n0), "b1": (n1, 1), ...}``; not modified.
    gradients : dict of str to ndarray
        The gradients to check, ``{"dW1": ..., "db1": ..., ...}`` with the shapes of the parameters.
    cost_fn : callable
        ``cost_fn(parameters) -> float``, the cost for a dictionary like ``parameters``.
    epsilon : float
        The step.
    print_msg : bool
        Print whether the check passed and, if not, the entry that differs most.

    Returns
    -------
    difference : float
        ``||grad - gradapprox||_2 / (||grad||_2 + ||gradapprox||_2)`` (0.0 when both are 0):
        about 1e-7 is right, 1e-5 is doubtful, 1e-3 or more is a bug.

    Examples
    --------
    >>> params = {"W1": np.array([[1.0, -2.0]]), "b1": np.array([[0.5]])}
    >>> cost = lambda p: float(np.sum(p["W1"] ** 2) + 3 * p["b1"][0, 0])
    >>> gradient_check_n(params, {"dW1": np.array([[2.0, -4.0]]), "db1": np.array([[3.0]])}, cost) < 1e-7
    True
    """
    keys = _parameter_keys(parameters, None)
    for key in keys:
        if "d" + key not in gradients:
            raise ValueError(f"gradients has no 'd{key}' (for parameter {key!r}); it has {list(gradients)}")
        expect_same_shape("d" + key, gradients["d" + key], key, parameters[key])
    theta, _ = dictionary_to_vector(parameters, keys)  # (n, 1)
    grad = gradients_to_vector(gradients, keys)  # (n, 1)
    gradapprox = np.zeros_like(theta)
    for i in range(theta.shape[0]):
        gradapprox[i, 0] = _central_difference(cost_fn, theta, i, parameters, epsilon)
    difference = _difference(grad, gradapprox)
    if print_msg:
        _report(difference, grad, gradapprox, parameters)
    return difference


def _central_difference(cost_fn, theta: np.ndarray, i: int, like, epsilon: float) -> float:
    """``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)`` with ``J`` reading dictionaries."""
    theta_plus, theta_minus = theta.copy(), theta.copy()
    theta_plus[i, 0] += epsilon
    theta_minus[i, 0] -= epsilon
    j_plus = float(cost_fn(vector_to_dictionary(theta_plus, like)))
    j_minus = float(cost_fn(vector_to_dictionary(theta_minus, like)))
    return (j_plus - j_minus) / (2 * epsilon)


def _report(difference: float, grad: np.ndarray, gradapprox: np.ndarray, like) -> None:
    """Print the verdict of a gradient check and, on failure, the worst entry by parameter and index."""
    if difference < 2e-7:
        print(f"Backward propagation looks right: difference = {difference:.3e}")
        return
    worst = int(np.argmax(np.abs(grad - gradapprox)))
    offset = worst
    for key, value in like.items():
        if offset < np.size(value):
            index = tuple(int(i) for i in np.unravel_index(offset, np.shape(value)))
            break
        offset -= int(np.size(value))
    print(f"There is a mistake in backward propagation: difference = {difference:.3e}; worst entry "
          f"d{key}{index}: got {grad.flat[worst]:.6e}, central differences give {gradapprox.flat[worst]:.6e}")
