"""Known mistakes: from a wrong result and the expected one, guess what the student most likely did.

``hint_for(got, expected, context)`` tries the hints of ``HINTS`` in order and returns the first
sentence that applies, or ``None``. Each hint is a small function that recognises one mistake from
the two arrays (and, for some, from facts in ``context`` such as the number of examples ``m``).

>>> import numpy as np
>>> expected = np.array([[0.2, 0.7, 0.4]])
>>> hint_for(expected * 3, expected, {"m": 3})
'the result is m = 3 times too large: did you divide by m?'
>>> hint_for(expected.T, expected)
'it is the transpose of the expected array: remove (or add) a .T, or swap the factors of the matrix product.'
>>> hint_for(expected, expected) is None
True

Context keys that hints use (all optional; a test author gives those it knows, a hint without its
facts stays silent):

- ``m``: the number of examples (a missing 1/m; a variance divided by m - 1: then ``m`` is the
  number of values each statistic is taken over, e.g. ``N * n_H * n_W`` for a spatial batch norm);
- ``keep_prob``: the keep probability of dropout;
- ``beta``, ``beta1``, ``beta2`` and ``t``: the rates of exponentially weighted averages and Adam,
  and the step (counted from 1) of a bias correction ``1 - beta**t``;
- ``pad``: the padding of a convolution;
- ``inputs_have_nan``: True when some inputs hold NaN (e.g. missing labels), so a NaN in the result
  comes from them rather than from log of 0 or an overflow (``checks.compare_to_reference`` sets it);
- ``factor_two``: True when the formula holds a factor 2 or 1/2 that may be lost or doubled (e.g.
  the L2 cost lambd / (2 m) * sum W**2): it lets the factor-two hint speak about a single number;
  a string instead says where the 2 comes from (e.g. ``"the derivative of x**2 is 2 * x"``);
- ``momentum``, ``previous``, ``batch``: a running average ``momentum * previous + (1 - momentum) *
  batch`` (batch norm's running mean and variance). A swap of the two weights can only be told from
  ``got`` and ``expected`` with ``momentum`` and one of ``previous`` (the value before the update)
  or ``batch`` (the batch statistic). Each may be an array, or a tuple or dict of arrays (e.g. the
  ``RunningStats(mean, var)`` passed in): the arrays of the checked result's shape are tried.
- ``wrong_formulas``: mistakes a test author foresees for one exercise, as ``(what, advice, value)``
  triples: ``value`` is what the wrong formula gives on this case. A result equal to ``value`` gets
  "this is <what>: <advice>". Tried first: the author's knowledge of the exercise beats a guess.

>>> z = np.array([-1.0, 0.0, 2.0])
>>> s = 1 / (1 + np.exp(-z))
>>> hint_for(z * (1 - z), s * (1 - s), {"wrong_formulas": [("z * (1 - z)", "use s = sigmoid(z): s * (1 - s)", z * (1 - z))]})
'this is z * (1 - z): use s = sigmoid(z): s * (1 - s).'

>>> running = (np.array([1.0, 2.0]), np.array([0.5, 0.5]))  # (mean, var) before the update
>>> hint_for(0.1 * running[0] + 0.9 * np.array([3.0, 0.0]), 0.9 * running[0] + 0.1 * np.array([3.0, 0.0]),
...          {"momentum": 0.9, "previous": running})
'the running average has its weights swapped: the update is momentum * running + (1 - momentum) * batch (the old value weighted by momentum = 0.9), not momentum * batch + (1 - momentum) * running.'
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property

import numpy as np

# Two arrays count as "the same" for a hint when they agree to this relative precision: loose
# enough for float32 round-off, tight enough that a wrong guess does not match by accident.
_RTOL = 1e-4
_ATOL = 1e-6
# Expected values all below this in magnitude are zero up to round-off (e.g. a - b for a == b).
_NEAR_ZERO = 1e-8


class Evidence:
    """A wrong result and the expected one as float64 arrays, with what a hint may need to know.

    Parameters
    ----------
    got, expected : ndarray
        The student's result and the expected result (any shapes).
    context : Mapping
        Facts about the call, e.g. ``{"m": 64, "keep_prob": 0.8}``.
    reveal : bool
        Whether a hint may show numbers derived from the expected values.
    """

    def __init__(self, got: np.ndarray, expected: np.ndarray, context: Mapping, reveal: bool):
        self.got = got
        self.expected = expected
        self.context = context
        self.reveal = reveal
        self.same_shape = got.shape == expected.shape
        finite = np.abs(expected[np.isfinite(expected)])
        self.scale = float(finite.max()) if finite.size and finite.max() > 0 else 1.0

    def close(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Return True when ``a`` and ``b`` have the same shape and agree to hint precision."""
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=_RTOL, atol=_ATOL * self.scale))

    @cached_property
    def factor(self) -> float | None:
        """The constant ``c`` with ``got == c * expected``, or None when there is none."""
        if not self.same_shape or not np.all(np.isfinite(self.got)):
            return None
        denominator = float(np.sum(self.expected * self.expected))
        if denominator == 0.0 or not np.isfinite(denominator):
            return None
        c = float(np.sum(self.got * self.expected)) / denominator
        return c if self.close(self.got, c * self.expected) else None

    def matches(self, candidate: np.ndarray) -> bool:
        """Return True when ``got`` agrees with ``candidate``, a wrong result told apart from ``expected``.

        A candidate within hint precision of the expected result proves nothing (e.g. ``1 - beta**t``
        against ``1 - beta**(t + 1)`` at large ``t``), so it never matches.
        """
        return self.close(self.got, candidate) and not self.close(candidate, self.expected)

    def factor_is(self, target: float) -> bool:
        """Return True when ``got`` is ``target`` times ``expected``."""
        return self.factor is not None and abs(self.factor - target) <= 1e-3 * abs(target)


# ---------------------------------------------------------------------------------------------
# Facts from the context: each helper returns nothing usable when its keys are missing or odd.

def _real(value) -> bool:
    """True for a Python or NumPy number that is not a bool."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _bias_corrections(context: Mapping) -> list[tuple[str, float, float]]:
    """The ``(key, beta, t)`` of each rate in ``context`` (beta, beta1, beta2) when a step ``t`` is given."""
    t = context.get("t")
    if not _real(t):
        return []
    return [(key, float(context[key]), t) for key in ("beta", "beta1", "beta2")
            if _real(context.get(key)) and 0 < context[key] < 1]


def _arrays_like(value, shape: tuple) -> list[np.ndarray]:
    """The float arrays of ``shape`` in a context value: the value itself, or the items of a tuple or dict."""
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, (tuple, list)) else [value]
    arrays = [_as_float_array(item) for item in items]
    return [a for a in arrays if a is not None and a.shape == shape and np.all(np.isfinite(a))]


def _momentum(context: Mapping) -> float | None:
    """The ``momentum`` of a running average, when one in (0, 1) is given."""
    momentum = context.get("momentum")
    return float(momentum) if _real(momentum) and 0 < momentum < 1 else None


def _previous_values(e: Evidence, momentum: float) -> list[np.ndarray]:
    """The running values before the update: ``previous`` itself, or implied by ``batch`` and ``expected``.

    The expected update is ``momentum * previous + (1 - momentum) * batch``.
    """
    shape = e.expected.shape
    given = _arrays_like(e.context.get("previous", ()), shape)
    implied = [(e.expected - (1 - momentum) * batch) / momentum for batch in _arrays_like(e.context.get("batch", ()), shape)]
    return given + implied


# ---------------------------------------------------------------------------------------------
# A mistake the test author named for this exercise.

def foreseen_formula(e: Evidence) -> str | None:
    """``got`` is what one of the context's ``wrong_formulas`` gives: say which, and the advice."""
    formulas = e.context.get("wrong_formulas", ())
    if not isinstance(formulas, (list, tuple)):
        return None
    for entry in formulas:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 3):
            continue
        what, advice, value = entry
        candidate = _as_float_array(value)
        if candidate is not None and e.matches(candidate):
            return f"this is {what}: {advice.rstrip('.')}."
    return None


# ---------------------------------------------------------------------------------------------
# Hints on non-finite values: nothing else can be read from a result that holds NaN or inf.

def bias_correction_by_zero(e: Evidence) -> str | None:
    """NaN or inf at ``t = 1``: a bias correction ``1 - beta**(t - 1)``, which is 0 at the first step."""
    if not e.same_shape or not _bias_corrections(e.context) or e.context["t"] != 1:
        return None
    if np.any(~np.isfinite(e.got) & np.isfinite(e.expected)):
        return ("NaN or inf at t = 1: is the bias correction 1 - beta**(t - 1)? It is 0 at the first step: "
                "divide by 1 - beta**t (t counts the updates from 1).")
    return None


def non_finite(e: Evidence) -> str | None:
    """NaN or inf where the expected result is finite: log of 0, 0/0, an overflowing exp, or NaN inputs not masked."""
    if not e.same_shape:
        return None
    finite_expected = np.isfinite(e.expected)
    if np.any(np.isnan(e.got) & finite_expected) and e.context.get("inputs_have_nan"):
        return ("NaN appears where a number is expected, and some inputs are NaN (missing values): mask them out "
                "(e.g. with ~np.isnan(Y)) before summing, so they do not reach the result.")
    if np.any(np.isnan(e.got) & finite_expected):
        return ("NaN appears where a number is expected: log of 0, 0/0, or inf/inf after exp overflowed? Clip the "
                "argument of log (e.g. np.clip(A, eps, 1 - eps)), add a small epsilon, or subtract the maximum before exp.")
    if np.any(np.isinf(e.got) & finite_expected):
        return "inf appears where a number is expected: an overflow in exp of a large number, or a division by 0?"
    return None


# ---------------------------------------------------------------------------------------------
# Shape hints: they compare two tuples and cost nothing, so they come first.

def not_reduced(e: Evidence) -> str | None:
    """An array where a single number is expected: the sum or mean over the examples was left out."""
    if e.expected.size == 1 and e.got.size > 1:
        return "there is one value per entry instead of a single number: did you forget to sum (or average) over the examples?"
    return None


def over_reduced(e: Evidence) -> str | None:
    """A single number where an array is expected: np.sum or np.mean ran without ``axis=``."""
    if e.got.size == 1 and e.expected.size > 1:
        return (f"a single number came back where an array of shape {e.expected.shape} is expected: "
                f"did np.sum or np.mean run without axis=...?")
    return None


def keepdims_missing(e: Evidence) -> str | None:
    """Same sizes but an axis of length 1 is missing or extra: ``(n,)`` vs ``(n, 1)``."""
    squeeze = lambda shape: tuple(d for d in shape if d != 1)  # noqa: E731
    if e.same_shape or squeeze(e.got.shape) != squeeze(e.expected.shape):
        return None
    got, expected = e.got.shape, e.expected.shape
    if len(got) < len(expected):
        return f"{got} vs {expected}: an axis of length 1 is missing: use keepdims=True in np.sum/np.mean, or .reshape{expected}."
    if len(got) > len(expected):
        return f"{got} vs {expected}: there is an extra axis of length 1: drop keepdims=True, or use np.squeeze / .reshape{expected}."
    return None


def transposed(e: Evidence) -> str | None:
    """The transpose of the expected matrix: a ``.T`` missing or extra, or the factors swapped."""
    if e.got.ndim < 2 or e.same_shape or e.got.shape != e.expected.shape[::-1]:
        return None
    if e.close(e.got.T, e.expected):
        return "it is the transpose of the expected array: remove (or add) a .T, or swap the factors of the matrix product."
    if 1 in e.got.shape:  # (1, n) for (n, 1): a product in the wrong order, or a sum over the wrong axis
        axis = e.expected.shape.index(1)
        return (f"its shape is the transpose of the expected one: check the axis of a sum or mean (here axis={axis}, "
                f"keepdims=True), the order of the factors in a matrix product, and any .T.")
    return ("its shape is the transpose of the expected one: check the order of the factors in a matrix product "
            "(e.g. W @ A, not A @ W), the shape given to reshape, and any .T.")


def wrong_axis(e: Evidence) -> str | None:
    """Shape ``(1, m)`` where ``(n, 1)`` is expected: a sum or mean over the other axis.

    With ``n = 1`` the expected shape is ``(1, 1)`` and a sum over axis 0 leaves ``(1, m)``, the
    same shape as no sum at all: both are named, before the generic "forgot to sum" hint.
    """
    got, expected = e.got.shape, e.expected.shape
    if e.same_shape or len(got) != len(expected) or len(got) < 2:
        return None
    should = [axis for axis, (g, x) in enumerate(zip(got, expected)) if x == 1 and g > 1]
    reduced = [axis for axis, (g, x) in enumerate(zip(got, expected)) if g == 1 and x > 1]
    others_match = all(g == x for axis, (g, x) in enumerate(zip(got, expected)) if axis not in should)
    show = lambda axes: str(axes[0]) if len(axes) == 1 else str(tuple(axes))  # noqa: E731
    if should and not reduced and others_match and 1 in got:  # e.g. (1, m) for (1, 1)
        ones = [axis for axis, g in enumerate(got) if g == 1]
        return (f"got shape {got} but expected {expected}: the sum or mean over axis {show(should)} is missing: "
                f"was it taken over axis {show(ones)} instead (or left out)? Use axis={show(should)}, keepdims=True.")
    if not reduced or not should:
        return None
    return (f"got shape {got} but expected {expected}: it looks like a sum or mean over axis {show(reduced)} "
            f"instead of axis {show(should)}: use axis={show(should)}, keepdims=True.")


def broadcast_accident(e: Evidence) -> str | None:
    """A bigger array than expected, e.g. ``(m, m)`` for ``(1, m)``: two shapes broadcast together.

    Only when each axis that grew took a length the expected array already has (``(m, m)`` from
    ``(1, m)`` and ``(m, 1)``): ``(3, 4)`` for ``(1, 4)`` is some other mistake (a loop that stops
    one layer early, say), not broadcasting.
    """
    got, expected = e.got.shape, e.expected.shape
    if e.got.size <= e.expected.size or len(got) < len(expected) or e.expected.size <= 1:
        return None
    padded = (1,) * (len(got) - len(expected)) + expected
    if not all(g == x or x == 1 for g, x in zip(got, padded)):
        return None
    grown = [g for g, x in zip(got, padded) if g != x]
    if not all(g in expected for g in grown):
        return None
    if len(expected) == 1:
        return (f"got shape {got} instead of {expected}: a rank-1 array of shape {expected} was combined with a "
                f"column or row array and broadcast into a bigger one. Keep both operands the same shape (e.g. .reshape(1, -1)).")
    return (f"got shape {got} instead of {expected}: two arrays of different shapes (e.g. {expected} and its transpose, "
            f"or a rank-1 array) were broadcast against each other. Make both operands the same shape before the operation.")


def padding_not_applied(e: Evidence) -> str | None:
    """Height and width off by the same amount (2 * pad): padding not applied, or not removed."""
    got, expected = e.got.shape, e.expected.shape
    if e.same_shape or len(got) != len(expected) or len(got) not in (3, 4):
        return None
    spatial = (1, 2) if len(got) == 4 else (0, 1)
    others_equal = all(got[a] == expected[a] for a in range(len(got)) if a not in spatial)
    dh, dw = (expected[a] - got[a] for a in spatial)
    pad = e.context.get("pad")
    if not others_equal or dh != dw or dh == 0 or (pad is not None and abs(dh) > 2 * pad):
        return None
    if dh > 0:
        return (f"the height and width are {dh} smaller than expected: was the padding applied "
                f"(pad on both sides adds 2 * pad), and is n_H = (n_H_prev + 2 * pad - f) // stride + 1?")
    return (f"the height and width are {-dh} larger than expected: is the padding still there? "
            f"Slice it off, e.g. dA_prev_pad[pad:-pad, pad:-pad, :].")


# ---------------------------------------------------------------------------------------------
# Value hints, for results of the right shape: each is one or two passes over the data.

def all_zeros(e: Evidence) -> str | None:
    """Exactly zero everywhere: a term left out of a difference that then cancels, or an array returned unfilled.

    Not when the expected values are themselves zero up to round-off (below ``_NEAR_ZERO``), e.g. a
    difference of two equal terms computed in another order: then zero is nearly right.
    """
    if e.same_shape and not np.any(e.got) and np.max(np.abs(e.expected), initial=0.0) > _NEAR_ZERO:
        return ("all entries are zero: is a term missing (e.g. a difference whose two sides are the same), or did you "
                "return the initial value (e.g. the np.zeros you started from) without filling it in?")
    return None


def transposed_square(e: Evidence) -> str | None:
    """A square matrix that equals the transpose of the expected one (same shape, so no shape hint)."""
    if e.same_shape and e.got.ndim == 2 and e.got.shape[0] == e.got.shape[1] > 1 and e.close(e.got, e.expected.T):
        return "it is the transpose of the expected matrix: remove (or add) a .T, or swap the factors of the matrix product."
    return None


def inverted_mask(e: Evidence) -> str | None:
    """A 0/1 mask with every value flipped: a comparison the wrong way round (``>`` for ``<``)."""
    if not e.same_shape or e.expected.size < 2 or not np.all((e.expected == 0) | (e.expected == 1)):
        return None
    if np.array_equal(e.got, 1.0 - e.expected):
        hint = "every 0/1 value is flipped: is a comparison the wrong way round (> for <, or >= for <=)?"
        if e.context.get("keep_prob") is not None:  # only a dropout exercise gives keep_prob
            hint += " A dropout mask keeps a unit where rng.random(shape) < keep_prob, i.e. with probability keep_prob."
        return hint
    return None


def one_minus(e: Evidence) -> str | None:
    """``1 - expected``: sigmoid(-z) instead of sigmoid(z), or Y and 1 - Y swapped.

    Only for probability-like values (all in [0, 1]): elsewhere ``1 - x`` is no known mistake.
    """
    probabilities = bool(np.all((e.expected >= 0) & (e.expected <= 1)))
    if e.same_shape and probabilities and e.close(e.got, 1.0 - e.expected):
        return ("the result looks like 1 - expected: check the sign of the exponent (sigmoid(z) = 1 / (1 + exp(-z))), "
                "or whether Y and 1 - Y are swapped.")
    return None


def divided_by_m(e: Evidence) -> str | None:
    """``m`` times too large (the 1/m of the mean forgotten) or too small (divided twice)."""
    m = e.context.get("m")
    if not m or m == 1:
        return None
    if e.factor_is(m):
        return f"the result is m = {m} times too large: did you divide by m?"
    if e.factor_is(1.0 / m):
        return (f"the result is m = {m} times too small: did you take the mean instead of the sum, or divide by m "
                f"twice (or where no division belongs)?")
    return None


def dropout_not_rescaled(e: Evidence) -> str | None:
    """Inverted dropout without the division by ``keep_prob`` (or with it twice)."""
    keep_prob = e.context.get("keep_prob")
    if not keep_prob or keep_prob == 1:
        return None
    if e.factor_is(keep_prob):
        return (f"the result is keep_prob = {keep_prob} times the expected one: "
                f"inverted dropout divides by keep_prob after applying the mask.")
    if e.factor_is(1.0 / keep_prob):
        return f"the result is 1 / keep_prob = {1.0 / keep_prob:.4g} times the expected one: is it divided by keep_prob twice?"
    return None


def missing_bias_correction(e: Evidence) -> str | None:
    """An exponentially weighted average without the division by ``1 - beta**t``."""
    for key, beta, t in _bias_corrections(e.context):
        correction = 1.0 - beta**t
        if e.factor_is(correction):
            return f"the bias correction is missing: divide by (1 - {key}**t)."
        if e.factor_is(correction**2):
            return f"the bias correction multiplies by (1 - {key}**t): it should divide by it."
    return None


def bias_correction_step_off(e: Evidence) -> str | None:
    """A division by ``1 - beta**(t + 1)`` or ``1 - beta**(t - 1)`` where ``1 - beta**t`` belongs.

    At ``t = 1`` with ``beta2 = 0.999`` the result is about half the expected one, which the generic
    factor-two hint would misread, so this one comes first.
    """
    for key, beta, t in _bias_corrections(e.context):
        for step, shown in ((t + 1, "t + 1"), (t - 1, "t - 1")):
            wrong = 1.0 - beta**step
            if wrong != 0.0 and e.matches(e.expected * (1.0 - beta**t) / wrong):
                return (f"the bias correction divides by 1 - {key}**({shown}) instead of 1 - {key}**t: "
                        f"the step count is off by one (t counts the updates from 1; here t = {t:g}).")
    return None


def momentum_swapped(e: Evidence) -> str | None:
    """A running average ``momentum * batch + (1 - momentum) * previous``: the two weights swapped.

    Needs ``momentum`` and the value before the update (``previous``) or the batch statistic
    (``batch``) in the context: from ``got`` and ``expected`` alone a swap cannot be told apart.
    """
    momentum = _momentum(e.context)
    if momentum is None or momentum == 0.5 or not e.same_shape:  # at 0.5 a swap changes nothing
        return None
    for previous in _previous_values(e, momentum):
        batch = (e.expected - momentum * previous) / (1 - momentum)
        if e.matches((1 - momentum) * previous + momentum * batch):
            return (f"the running average has its weights swapped: the update is momentum * running + (1 - momentum) * batch "
                    f"(the old value weighted by momentum = {momentum:g}), not momentum * batch + (1 - momentum) * running.")
    return None


def _statistics(e: Evidence) -> list[Evidence]:
    """The results themselves and, for a running average whose previous value is known, the batch statistics."""
    found = [e]
    momentum = _momentum(e.context)
    if momentum is None or not e.same_shape:
        return found
    for previous in _previous_values(e, momentum):
        got, expected = ((value - momentum * previous) / (1 - momentum) for value in (e.got, e.expected))
        found.append(Evidence(got, expected, e.context, e.reveal))
    return found


def _normalized_with(e: Evidence, c: float, m: int) -> bool:
    """True when ``got`` is ``c`` times ``expected`` about the means taken over ``m`` entries.

    ``gamma * c * Z_norm + beta`` against ``gamma * Z_norm + beta``: the means over the examples
    (any axes of total size ``m``, the other axis being the features) are equal, and the deviations
    from them are ``c`` times the expected ones. With ``beta = 0`` both means are 0.
    """
    axes = [tuple(range(e.got.ndim))] + [tuple(a for a in range(e.got.ndim) if a != f) for f in range(e.got.ndim)]
    for over in dict.fromkeys(axes):
        if not over or int(np.prod([e.got.shape[a] for a in over])) != m:
            continue
        got_mean, expected_mean = e.got.mean(axis=over, keepdims=True), e.expected.mean(axis=over, keepdims=True)
        centred = Evidence(e.got - got_mean, e.expected - expected_mean, e.context, e.reveal)
        if e.close(got_mean, expected_mean) and centred.matches(c * centred.expected):
            return True
    return False


def variance_by_m_minus_one(e: Evidence) -> str | None:
    """A variance divided by ``m - 1`` instead of ``m`` (``ddof=1``): seen on the variance, or on the values it normalizes.

    The variance (or a running average of it, given ``momentum`` and ``previous``) is ``m / (m - 1)``
    times too large, a standard deviation ``sqrt(m / (m - 1))``, and normalized values
    ``sqrt((m - 1) / m)`` times too small about their means.
    """
    m = e.context.get("m")
    if not _real(m) or m < 2 or not e.same_shape:
        return None
    ratio = m / (m - 1)
    spreads = [s for s in _statistics(e) if np.all(s.expected >= 0) and np.any(s.expected > 0)]  # variances, stds
    if any(s.matches(ratio * s.expected) or s.matches(np.sqrt(ratio) * s.expected) for s in spreads):
        return (f"the variance looks divided by m - 1 = {m - 1:g} instead of m = {m:g} (np.var or np.std with ddof=1?): "
                f"use the 1/m variance, np.var(..., ddof=0) (the default) or np.mean((Z - mu) ** 2, ...).")
    if _normalized_with(e, np.sqrt(1 / ratio), int(m)):
        return (f"the values look normalized with a variance divided by m - 1 = {m - 1:g} instead of m = {m:g} "
                f"(np.var or np.std with ddof=1?): use the 1/m variance, np.var(..., ddof=0) (the default).")
    return None


def sign_flipped(e: Evidence) -> str | None:
    """``-expected``: a minus sign lost in the cost, in ``dZ = A - Y`` or in the update."""
    if e.factor_is(-1.0):
        return "the sign is flipped: check the minus sign of the cost, dZ = A - Y (not Y - A), and W - learning_rate * dW."
    return None


def factor_two(e: Evidence) -> str | None:
    """Twice or half the expected values: a term counted twice, or a factor 2 or 1/2 mishandled.

    On a single number a ratio of 2 is often a coincidence (e.g. 0.2 / (1 + 1 * 1) = 0.1 against
    0.2), so there the hint speaks only when ``context["factor_two"]`` says the formula holds a 2.
    """
    reason = e.context.get("factor_two")
    if np.count_nonzero(e.expected) < 2 and not reason:
        return None
    where = f" ({reason})" if isinstance(reason, str) else ""
    if e.factor_is(2.0):
        return f"the result is twice too large: is a term counted twice, or a factor 1/2 missing{where}?"
    if e.factor_is(0.5):
        return f"the result is half the expected one: is a factor 2 missing or counted twice, or one of two terms lost{where}?"
    return None


def constant_factor(e: Evidence) -> str | None:
    """Any other constant multiple: a learning rate, a hyperparameter or a normalisation is off.

    Only for arrays with two or more non-zero entries: any two single numbers are multiples.
    """
    c = e.factor
    if np.count_nonzero(e.expected) < 2 or c is None or abs(c) < 1e-12 or abs(c - 1.0) < 1e-3:
        return None
    how = f"{c:.4g} times the expected values" if e.reveal else "a constant multiple of the expected values"
    return f"the result is {how}: a constant factor is off (a learning rate, a 1/m, a hyperparameter?)."


def normalized_wrong_axis(e: Evidence) -> str | None:
    """Rows normalised where columns should be (softmax, normalize_rows): the other axis."""
    if not e.same_shape or e.got.ndim != 2 or min(e.got.shape) < 2:
        return None
    for axis in (0, 1):
        other = 1 - axis
        for measure, what in ((np.sum, "sum to 1"), (np.linalg.norm, "have norm 1")):
            ones = lambda a, ax: bool(np.allclose(measure(a, axis=ax), 1.0, rtol=_RTOL))  # noqa: E731
            if ones(e.expected, axis) and ones(e.got, other) and not ones(e.got, axis):
                return (f"the result is normalized along axis {other} instead of axis {axis} "
                        f"(the entries should {what} along axis {axis}): use axis={axis}, keepdims=True.")
    return None


def shifted_by_one(e: Evidence) -> str | None:
    """The values of the right shape but one position off along an axis: an index off by one."""
    if not e.same_shape:
        return None
    for axis, size in enumerate(e.got.shape):
        if size < 3:
            continue
        head = [slice(None)] * e.got.ndim
        tail = [slice(None)] * e.got.ndim
        head[axis], tail[axis] = slice(None, -1), slice(1, None)
        head, tail = tuple(head), tuple(tail)
        if np.ptp(e.expected[head], axis=axis).max(initial=0.0) == 0.0:
            continue  # constant along this axis: a shift would match by accident
        if e.close(e.got[tail], e.expected[head]) or e.close(e.got[head], e.expected[tail]):
            return (f"the values are shifted by one position along axis {axis}: check an index that is off by one "
                    f"(range(1, n) vs range(n), t vs t - 1, a slice start or end).")
    return None


# The hints in the order they are tried: cheapest and most specific first, the test author's own
# foreseen formulas before everything. A sum over the wrong
# axis (which with one row looks like no sum at all) before the generic missing sum. A specific factor (m,
# keep_prob, 1 - beta**t, -1, 2) must come before the generic constant factor; a bias correction
# with the step off by one before the factor two it resembles. A division by zero at t = 1 is named
# before the generic NaN/inf hint.
HINTS: list[Callable[[Evidence], str | None]] = [
    foreseen_formula,
    bias_correction_by_zero,
    non_finite,
    transposed,
    wrong_axis,
    not_reduced,
    over_reduced,
    keepdims_missing,
    broadcast_accident,
    padding_not_applied,
    all_zeros,
    transposed_square,
    inverted_mask,
    one_minus,
    divided_by_m,
    dropout_not_rescaled,
    missing_bias_correction,
    bias_correction_step_off,
    momentum_swapped,
    variance_by_m_minus_one,
    sign_flipped,
    factor_two,
    constant_factor,
    normalized_wrong_axis,
    shifted_by_one,
]


def _as_float_array(value) -> np.ndarray | None:
    """``value`` as a float64 ndarray, or None when it is not numeric."""
    try:
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            return None
        return array.astype(np.float64)
    except (TypeError, ValueError):
        return None


def hint_for(got, expected, context: Mapping | None = None, *, reveal: bool = True) -> str | None:
    """Return a sentence naming the known mistake that turns ``expected`` into ``got``, or None.

    Parameters
    ----------
    got, expected : array_like
        The student's (wrong) result and the expected one, of any shapes.
    context : Mapping, optional
        Facts about the call that some hints need: ``m``, ``keep_prob``, ``beta``, ``beta1``,
        ``beta2``, ``t``, ``pad``, ``momentum``, ``previous``, ``batch``, ``wrong_formulas`` (see
        the module docstring).
    reveal : bool, default True
        When False, no hint shows a number derived from the expected values.

    Returns
    -------
    str or None
        The first hint of ``HINTS`` that applies; None for a correct result or an unknown mistake.

    Examples
    --------
    >>> hint_for(np.zeros((2, 3)), np.ones((2, 3)))
    'all entries are zero: is a term missing (e.g. a difference whose two sides are the same), or did you return the initial value (e.g. the np.zeros you started from) without filling it in?'
    >>> hint_for(np.ones(4), np.ones((4, 1)))
    '(4,) vs (4, 1): an axis of length 1 is missing: use keepdims=True in np.sum/np.mean, or .reshape(4, 1).'
    """
    got_array, expected_array = _as_float_array(got), _as_float_array(expected)
    if got_array is None or expected_array is None:
        return None
    evidence = Evidence(got_array, expected_array, context or {}, reveal)
    with np.errstate(all="ignore"):
        if evidence.same_shape and evidence.close(got_array, expected_array):
            return None
        for hint in HINTS:
            text = hint(evidence)
            if text:
                return text
    return None
