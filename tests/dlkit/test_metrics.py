"""Tests of dlkit.metrics: hand-counted cases, both label layouts, zero denominators, rejected inputs."""
import numpy as np
import pytest

from dlkit import metrics

pytestmark = pytest.mark.lesson11

# 10 examples: TP = 3, FP = 1, FN = 2, TN = 4
Y_TRUE = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
Y_PRED = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 0])


def test_binary_metrics_on_a_hand_counted_case():
    """With TP=3, FP=1, FN=2, TN=4, are accuracy 0.7, precision 3/4, recall 3/5 and F1 2/3?"""
    assert metrics.accuracy(Y_TRUE, Y_PRED) == pytest.approx(0.7)
    assert metrics.precision(Y_TRUE, Y_PRED) == pytest.approx(0.75)
    assert metrics.recall(Y_TRUE, Y_PRED) == pytest.approx(0.6)
    assert metrics.f1_score(Y_TRUE, Y_PRED) == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))


@pytest.mark.parametrize("metric", [metrics.accuracy, metrics.precision, metrics.recall, metrics.f1_score])
def test_row_and_flat_layouts_agree(metric):
    """Do labels of shape (1, m), as a network predicts them, give the same value as shape (m,)?"""
    assert metric(Y_TRUE.reshape(1, -1), Y_PRED.reshape(1, -1)) == metric(Y_TRUE, Y_PRED)
    assert metric(Y_TRUE.reshape(1, -1), Y_PRED) == metric(Y_TRUE, Y_PRED)


def test_float_and_bool_labels_are_accepted():
    """Are float 0./1. labels and boolean predictions read as integer labels?"""
    assert metrics.precision(Y_TRUE.astype(float), Y_PRED.astype(bool)) == pytest.approx(0.75)


def test_zero_denominators_give_zero():
    """Without predicted positives, positives or true positives, are precision, recall and F1 0.0?"""
    assert metrics.precision([1, 0, 1], [0, 0, 0]) == 0.0
    assert metrics.recall([0, 0, 0], [1, 0, 0]) == 0.0
    assert metrics.f1_score([0, 0], [0, 0]) == 0.0
    assert metrics.accuracy([], []) == 0.0


def test_other_labels_are_negative_in_binary_metrics():
    """Does label 2 count as negative for precision (only label 1 is positive)?"""
    assert metrics.precision([2, 1, 0], [1, 1, 2]) == pytest.approx(0.5)


def test_confusion_matrix_rows_are_true_columns_are_predicted():
    """Does entry [i, j] count true class i predicted as j, summing to m?"""
    y_true, y_pred = [0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2]
    matrix = metrics.confusion_matrix(y_true, y_pred)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert matrix.sum() == 6 and np.trace(matrix) == 4


def test_confusion_matrix_binary_case_holds_the_counts():
    """For binary labels, is the matrix [[TN, FP], [FN, TP]]?"""
    np.testing.assert_array_equal(metrics.confusion_matrix(Y_TRUE, Y_PRED), [[4, 1], [2, 3]])


def test_confusion_matrix_n_classes():
    """Does n_classes=4 add empty rows and columns, and is a label beyond it refused?"""
    assert metrics.confusion_matrix([0, 1], [1, 1], n_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="0 .. 1"):
        metrics.confusion_matrix([0, 2], [1, 1], n_classes=2)
    with pytest.raises(ValueError, match="labels"):
        metrics.confusion_matrix([0, -1], [1, 1])


@pytest.mark.parametrize("metric", [metrics.accuracy, metrics.precision, metrics.recall, metrics.f1_score,
                                    metrics.confusion_matrix])
def test_mismatched_lengths_are_refused(metric):
    """Are 3 true labels against 4 predictions refused with both lengths?"""
    with pytest.raises(ValueError, match="3 labels.*4"):
        metric([0, 1, 1], [0, 1, 1, 0])


def test_bad_layouts_and_values_are_refused():
    """Are labels of shape (2, 3) and fractional labels refused?"""
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        metrics.accuracy(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="integer"):
        metrics.accuracy([0.5, 1.0], [0, 1])


def test_inputs_are_not_mutated():
    """Are the label arrays unchanged, also when given as rows?"""
    y_true, y_pred = Y_TRUE.reshape(1, -1).copy(), Y_PRED.reshape(1, -1).astype(float)
    metrics.confusion_matrix(y_true, y_pred)
    metrics.f1_score(y_true, y_pred)
    np.testing.assert_array_equal(y_true, Y_TRUE.reshape(1, -1))
    np.testing.assert_array_equal(y_pred, Y_PRED.reshape(1, -1))
