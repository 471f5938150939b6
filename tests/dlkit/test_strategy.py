"""Tests of dlkit.strategy: metric choice and error diagnoses."""
import pytest

from dlkit import strategy

pytestmark = pytest.mark.lesson11


def test_f1_is_the_harmonic_mean():
    """Is F1 the harmonic mean, and zero when precision and recall are both zero?"""
    assert strategy.f1_from_precision_recall(0.5, 1.0) == pytest.approx(2 / 3)
    assert strategy.f1_from_precision_recall(0.0, 0.0) == 0.0


def test_choose_classifier_respects_satisficing_constraints():
    """Does the best accuracy lose to a slower-than-allowed model, and min direction work?"""
    candidates = {"A": {"acc": 0.90, "ms": 80}, "B": {"acc": 0.92, "ms": 95}, "C": {"acc": 0.95, "ms": 1500}}
    assert strategy.choose_classifier(candidates, ("acc", "max"), {"ms": ("<=", 100)}) == "B"
    assert strategy.choose_classifier(candidates, ("acc", "max")) == "C"
    assert strategy.choose_classifier(candidates, ("ms", "min")) == "A"
    assert strategy.choose_classifier(candidates, ("acc", "max"), {"ms": ("<", 10)}) is None


def test_choose_classifier_rejects_bad_input():
    """Are an unknown direction, operator or missing metric reported by name?"""
    with pytest.raises(ValueError, match="max"):
        strategy.choose_classifier({"A": {"acc": 1}}, ("acc", "best"))
    with pytest.raises(ValueError, match="=>"):
        strategy.choose_classifier({"A": {"acc": 1, "ms": 1}}, ("acc", "max"), {"ms": ("=>", 3)})
    with pytest.raises(ValueError, match="'ms'"):
        strategy.choose_classifier({"A": {"acc": 1}}, ("acc", "max"), {"ms": ("<=", 3)})


@pytest.mark.parametrize(
    "errors, focus",
    [
        ((0.01, 0.08, 0.10), "avoidable_bias"),
        ((0.075, 0.08, 0.10), "variance"),
    ],
)
def test_bias_or_variance(errors, focus):
    """Does the larger of avoidable bias and variance decide the focus?"""
    gaps = strategy.diagnose_errors(*errors)
    assert gaps.focus == focus
    assert gaps.data_mismatch is None and gaps.dev_overfitting is None


def test_train_dev_set_separates_variance_from_mismatch():
    """With a train-dev set, are variance and data mismatch measured separately?"""
    gaps = strategy.diagnose_errors(0.0, 0.01, 0.10, train_dev_error=0.015, test_error=0.12)
    assert gaps.variance == pytest.approx(0.005)
    assert gaps.data_mismatch == pytest.approx(0.085)
    assert gaps.dev_overfitting == pytest.approx(0.02)
    assert gaps.focus == "data_mismatch"


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "ten"])
def test_error_rates_outside_zero_one_are_rejected(bad):
    """Is an error rate given in percent or not a number refused with its name?"""
    with pytest.raises(ValueError, match="train_error"):
        strategy.diagnose_errors(0.01, bad, 0.1)


def test_error_analysis_counts_and_ceilings():
    """Are overlapping categories counted once each and sorted by count?"""
    tally = strategy.error_analysis([{"dog", "blurry"}, {"dog"}, {"great cat"}, set(), {"dog"}], 0.10)
    assert list(tally) == ["dog", "blurry", "great cat"]
    assert tally["dog"].count == 3
    assert tally["dog"].fraction == pytest.approx(0.6)
    assert tally["dog"].ceiling == pytest.approx(0.06)
    with pytest.raises(ValueError, match="empty"):
        strategy.error_analysis([], 0.1)
