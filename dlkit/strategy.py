"""ML strategy: the numbers behind choosing a metric, diagnosing errors and planning the next step.

Error rates are fractions in [0, 1] (0.05 means 5 %). The functions here carry no model: they turn
the figures a project already has (human, train, train-dev, dev and test errors; per-class counts;
a tally of misclassified dev examples) into the decisions the notes teach.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

_COMPARISONS = {
    "<=": lambda value, limit: value <= limit,
    "<": lambda value, limit: value < limit,
    ">=": lambda value, limit: value >= limit,
    ">": lambda value, limit: value > limit,
}


def _error_rate(name: str, value) -> float:
    """Return ``value`` as a float error rate, or raise ``ValueError`` naming ``name``."""
    try:
        rate = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}") from exc
    if not 0.0 <= rate <= 1.0 or math.isnan(rate):
        raise ValueError(f"{name} must be an error rate between 0 and 1 (0.05 means 5 %), got {value!r}")
    return rate


def f1_from_precision_recall(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall, ``2 P R / (P + R)``; 0.0 when both are 0.

    >>> round(f1_from_precision_recall(0.95, 0.90), 4)
    0.9243
    """
    p, r = _error_rate("precision", precision), _error_rate("recall", recall)
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def choose_classifier(
    candidates: Mapping[str, Mapping[str, float]],
    optimizing: tuple[str, str],
    satisficing: Mapping[str, tuple[str, float]] | None = None,
) -> str | None:
    """Pick the candidate that is best on one optimizing metric among those meeting every satisficing one.

    Parameters
    ----------
    candidates : mapping of str to mapping of str to float
        ``{"A": {"accuracy": 0.90, "runtime_ms": 80}, ...}``: each candidate's metrics.
    optimizing : tuple of (str, str)
        The metric to optimize and ``"max"`` or ``"min"``, e.g. ``("accuracy", "max")``.
    satisficing : mapping of str to tuple of (str, float), optional
        Constraints that only have to be met, e.g. ``{"runtime_ms": ("<=", 100)}``.

    Returns
    -------
    str or None
        The chosen candidate's name (ties go to the first in order), or None when none qualifies.

    >>> choose_classifier({"A": {"acc": .90, "ms": 80}, "B": {"acc": .92, "ms": 95}, "C": {"acc": .95, "ms": 1500}},
    ...                   ("acc", "max"), {"ms": ("<=", 100)})
    'B'
    """
    metric, direction = optimizing
    if direction not in ("max", "min"):
        raise ValueError(f'optimizing direction must be "max" or "min", got {direction!r}')
    constraints = dict(satisficing or {})
    for name, (op, _) in constraints.items():
        if op not in _COMPARISONS:
            raise ValueError(f"satisficing constraint on {name!r} has operator {op!r}; use one of {sorted(_COMPARISONS)}")
    best_name, best_value = None, None
    for name, metrics in candidates.items():
        missing = [key for key in [metric, *constraints] if key not in metrics]
        if missing:
            raise ValueError(f"candidate {name!r} has no value for {missing}")
        if not all(_COMPARISONS[op](metrics[key], limit) for key, (op, limit) in constraints.items()):
            continue
        value = metrics[metric] if direction == "max" else -metrics[metric]
        if best_value is None or value > best_value:
            best_name, best_value = name, value
    return best_name


class ErrorGaps(NamedTuple):
    """The gaps between successive error levels, each a fraction (None when not measured)."""

    avoidable_bias: float
    variance: float
    data_mismatch: float | None
    dev_overfitting: float | None
    focus: str


def diagnose_errors(
    human_error: float,
    train_error: float,
    dev_error: float,
    train_dev_error: float | None = None,
    test_error: float | None = None,
) -> ErrorGaps:
    """Split the dev error into avoidable bias, variance, data mismatch and dev-set overfitting.

    Human-level error stands in for Bayes error. Without a train-dev set, variance is
    ``dev - train``; with one, variance is ``train_dev - train`` and data mismatch is
    ``dev - train_dev``. Overfitting to the dev set is ``test - dev``.

    Returns
    -------
    ErrorGaps
        The gaps and ``focus``: the name of the largest one (``"avoidable_bias"``, ``"variance"``,
        ``"data_mismatch"`` or ``"dev_overfitting"``), the first of those in that order on a tie.

    >>> diagnose_errors(0.01, 0.08, 0.10).focus
    'avoidable_bias'
    >>> diagnose_errors(0.01, 0.015, 0.10, train_dev_error=0.02).focus
    'data_mismatch'
    """
    human = _error_rate("human_error", human_error)
    train = _error_rate("train_error", train_error)
    dev = _error_rate("dev_error", dev_error)
    avoidable_bias = train - human
    if train_dev_error is None:
        variance, mismatch = dev - train, None
    else:
        train_dev = _error_rate("train_dev_error", train_dev_error)
        variance, mismatch = train_dev - train, dev - train_dev
    overfitting = None if test_error is None else _error_rate("test_error", test_error) - dev
    gaps = {"avoidable_bias": avoidable_bias, "variance": variance, "data_mismatch": mismatch, "dev_overfitting": overfitting}
    focus = max((name for name, gap in gaps.items() if gap is not None), key=lambda name: gaps[name])
    return ErrorGaps(avoidable_bias, variance, mismatch, overfitting, focus)


class CategoryTally(NamedTuple):
    """One row of an error analysis: how many misclassified examples show a category."""

    count: int
    fraction: float
    ceiling: float


def error_analysis(tags: Sequence[Iterable[str]], dev_error: float) -> dict[str, CategoryTally]:
    """Tally the categories of misclassified dev examples and the most each fix could gain.

    Parameters
    ----------
    tags : sequence of iterables of str
        One entry per misclassified example examined, holding the categories that apply to it
        (an example may have several, or none).
    dev_error : float
        The overall dev error rate.

    Returns
    -------
    dict of str to CategoryTally
        For each category, sorted by decreasing count: the count, the fraction of the examined
        errors it covers, and the ceiling ``dev_error * fraction``: how much the dev error would
        fall if every error of that category were fixed.

    >>> error_analysis([{"dog"}, {"blurry"}, {"dog", "blurry"}, set()], 0.10)["dog"]
    CategoryTally(count=2, fraction=0.5, ceiling=0.05)
    """
    dev = _error_rate("dev_error", dev_error)
    examined = [set(example) for example in tags]
    if not examined:
        raise ValueError("tags is empty: examine at least one misclassified example")
    counts: dict[str, int] = {}
    for example in examined:
        for category in example:
            counts[category] = counts.get(category, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return {c: CategoryTally(n, n / len(examined), dev * n / len(examined)) for c, n in ordered}
