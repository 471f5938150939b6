"""Classification metrics from true and predicted labels: accuracy, precision, recall, F1, confusion matrix.

Labels are integers given as shape ``(m,)`` or ``(1, m)`` (a row, as dense networks output them).
The binary metrics treat label 1 as the positive class and every other label as negative. When a
ratio has a zero denominator (no predicted positives for precision, no true positives to find for
recall, both zero for F1) it is defined as 0.0.
"""
from __future__ import annotations

import numpy as np


def _labels(name: str, value) -> np.ndarray:
    """Labels as a 1-D integer array from shape (m,) or (1, m), or ``ValueError``."""
    array = np.asarray(value)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array.reshape(-1)  # (1, m) -> (m,)
    if array.ndim != 1:
        raise ValueError(f"{name} has shape {array.shape} but expected (m,) or (1, m)")
    if array.dtype == bool:
        return array.astype(int)
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.mod(array, 1) == 0):
        raise ValueError(f"{name} must hold integer labels, got {array.dtype} values such as {array[:3]}")
    return array.astype(int)


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Both label arrays, flattened, of one length."""
    y_true, y_pred = _labels("y_true", y_true), _labels("y_pred", y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.shape[0]} labels but y_pred has {y_pred.shape[0]}; they must match")
    return y_true, y_pred


def _ratio(numerator: int, denominator: int) -> float:
    """``numerator / denominator``, or 0.0 when the denominator is 0."""
    return float(numerator / denominator) if denominator else 0.0


def accuracy(y_true, y_pred) -> float:
    """Fraction of labels predicted exactly (0.0 for no labels).

    Parameters
    ----------
    y_true, y_pred : array_like of shape (m,) or (1, m), integer labels

    Returns
    -------
    accuracy : float in [0, 1]

    Examples
    --------
    >>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
    0.75
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return _ratio(int(np.sum(y_true == y_pred)), y_true.size)


def _binary_counts(y_true, y_pred) -> tuple[int, int, int]:
    """True positives, false positives and false negatives, with label 1 as positive."""
    y_true, y_pred = _pair(y_true, y_pred)
    true_pos, pred_pos = y_true == 1, y_pred == 1
    return int(np.sum(true_pos & pred_pos)), int(np.sum(~true_pos & pred_pos)), int(np.sum(true_pos & ~pred_pos))


def precision(y_true, y_pred) -> float:
    """Of the examples predicted positive (label 1), the fraction that are: ``TP / (TP + FP)``.

    Parameters
    ----------
    y_true, y_pred : array_like of shape (m,) or (1, m), integer labels

    Returns
    -------
    precision : float in [0, 1]; 0.0 when nothing is predicted positive

    Examples
    --------
    >>> precision([1, 0, 1, 1], [1, 1, 0, 1])
    0.6666666666666666
    """
    tp, fp, _ = _binary_counts(y_true, y_pred)
    return _ratio(tp, tp + fp)


def recall(y_true, y_pred) -> float:
    """Of the positive examples (label 1), the fraction predicted positive: ``TP / (TP + FN)``.

    Parameters
    ----------
    y_true, y_pred : array_like of shape (m,) or (1, m), integer labels

    Returns
    -------
    recall : float in [0, 1]; 0.0 when there are no positive examples

    Examples
    --------
    >>> recall([1, 0, 1, 1], [1, 1, 0, 0])
    0.3333333333333333
    """
    tp, _, fn = _binary_counts(y_true, y_pred)
    return _ratio(tp, tp + fn)


def f1_score(y_true, y_pred) -> float:
    """Harmonic mean of precision and recall, ``2 P R / (P + R) = 2 TP / (2 TP + FP + FN)``.

    Parameters
    ----------
    y_true, y_pred : array_like of shape (m,) or (1, m), integer labels

    Returns
    -------
    f1 : float in [0, 1]; 0.0 when there are no true positives

    Examples
    --------
    >>> f1_score([1, 0, 1, 1], [1, 1, 0, 1])
    0.6666666666666666
    """
    tp, fp, fn = _binary_counts(y_true, y_pred)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts of (true label, predicted label) pairs.

    Parameters
    ----------
    y_true, y_pred : array_like of shape (m,) or (1, m), labels in 0 .. K-1
    n_classes : int, optional
        ``K``; by default one more than the largest label seen.

    Returns
    -------
    matrix : ndarray of shape (K, K), int
        ``matrix[i, j]`` is the number of examples of true class ``i`` predicted as class ``j``
        (rows are true classes, columns predicted ones).

    Examples
    --------
    >>> confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2])
    array([[1, 0, 0],
           [0, 1, 1],
           [0, 0, 1]])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    largest = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)))
    K = largest + 1 if n_classes is None else int(n_classes)
    if min(y_true.min(initial=0), y_pred.min(initial=0)) < 0 or largest >= K:
        raise ValueError(f"labels must lie in 0 .. {K - 1} for {K} classes, got labels from "
                         f"{min(y_true.min(initial=0), y_pred.min(initial=0))} to {largest}")
    matrix = np.zeros((K, K), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix
