"""Tests of dlkit.losses: cross-entropy values, stability, derivatives against central differences, L2 cost."""
import numpy as np
import pytest

from dlkit import losses
from dlkit.activations import softmax
from dlkit.gradcheck import numerical_gradient, rel_error

pytestmark = [pytest.mark.lesson04, pytest.mark.lesson07, pytest.mark.lesson10]


def _one_hot(labels, K):
    """(K, m) one-hot columns for integer labels of shape (m,)."""
    return np.eye(K)[:, labels]


def test_binary_cross_entropy_value():
    """Is the cost of AL = [0.8, 0.1, 0.6], Y = [1, 0, 0] equal to the hand-computed mean?"""
    AL, Y = np.array([[0.8, 0.1, 0.6]]), np.array([[1, 0, 0]])
    expected = -(np.log(0.8) + np.log(0.9) + np.log(0.4)) / 3
    assert losses.binary_cross_entropy(AL, Y) == pytest.approx(expected, rel=1e-14)
    assert isinstance(losses.binary_cross_entropy(AL, Y), float)


def test_binary_cross_entropy_is_finite_when_saturated():
    """Does a confident wrong prediction (AL exactly 0 or 1) give a large finite cost without warnings?"""
    with np.errstate(divide="raise", invalid="raise"):
        cost = losses.binary_cross_entropy(np.array([[1.0, 0.0]]), np.array([[0, 1]]))
        dAL = losses.binary_cross_entropy_backward(np.array([[1.0, 0.0]]), np.array([[0, 1]]))
    assert np.isfinite(cost) and cost > 30
    assert np.all(np.isfinite(dAL))


def test_binary_cross_entropy_backward_is_m_times_the_gradient():
    """Is dAL equal to m times the central-difference gradient of the mean cost?"""
    rng = np.random.default_rng(0)
    AL, Y = rng.uniform(0.05, 0.95, (1, 6)), (rng.random((1, 6)) < 0.5).astype(float)
    expected = 6 * numerical_gradient(lambda a: losses.binary_cross_entropy(a, Y), AL)
    assert rel_error(losses.binary_cross_entropy_backward(AL, Y), expected) < 1e-7


def test_categorical_cross_entropy_value():
    """Is the cost the mean of -log of the probability given to the true class?"""
    AL = np.array([[0.7, 0.2], [0.2, 0.5], [0.1, 0.3]])
    Y = _one_hot([0, 2], 3)
    assert losses.categorical_cross_entropy(AL, Y) == pytest.approx(-(np.log(0.7) + np.log(0.3)) / 2, rel=1e-14)


def test_softmax_cross_entropy_agrees_with_softmax_then_cross_entropy():
    """Does softmax_cross_entropy(Z, Y) give the cost of categorical_cross_entropy(softmax(Z), Y)?"""
    rng = np.random.default_rng(1)
    Z, Y = rng.standard_normal((4, 7)), _one_hot(rng.integers(0, 4, 7), 4)
    cost, _ = losses.softmax_cross_entropy(Z, Y)
    assert cost == pytest.approx(losses.categorical_cross_entropy(softmax(Z), Y), rel=1e-12)


def test_softmax_cross_entropy_gradient_matches_central_differences():
    """Is dZ the central-difference gradient of the returned cost ((softmax(Z) - Y) / m)?"""
    rng = np.random.default_rng(2)
    Z, Y = rng.standard_normal((5, 4)), _one_hot(rng.integers(0, 5, 4), 5)
    _, dZ = losses.softmax_cross_entropy(Z, Y)
    expected = numerical_gradient(lambda z: losses.softmax_cross_entropy(z, Y)[0], Z)
    assert rel_error(dZ, expected) < 1e-7
    np.testing.assert_allclose(dZ, (softmax(Z) - Y) / 4, rtol=1e-12)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    """Do logits of +-1000 give the exact cost (log-sum-exp) with no overflow?"""
    Z, Y = np.array([[1000.0, -1000.0], [0.0, 0.0]]), _one_hot([1, 1], 2)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        cost, dZ = losses.softmax_cross_entropy(Z, Y)
    assert cost == pytest.approx((1000.0 + np.log1p(np.exp(-1000.0))) / 2)
    assert np.all(np.isfinite(dZ))


def test_l2_regularized_cost_value():
    """Is lambd/(2m) times the sum of squared W entries added, with biases left out?"""
    parameters = {"W1": np.array([[1.0, -2.0]]), "b1": np.array([[100.0]]), "W2": np.array([[3.0]]),
                  "b2": np.array([[100.0]])}
    assert losses.l2_regularized_cost(0.5, parameters, lambd=0.1, m=5) == pytest.approx(0.5 + 0.1 / 10 * 14)


def test_l2_regularized_cost_gradient_is_lambd_over_m_times_W():
    """Is the gradient of the L2 term with respect to W equal to lambd/m * W?"""
    W = np.random.default_rng(3).standard_normal((3, 2))
    expected = numerical_gradient(lambda w: losses.l2_regularized_cost(0.0, {"W1": w}, 0.7, 4), W)
    assert rel_error(0.7 / 4 * W, expected) < 1e-7


def test_l2_regularized_cost_rejects_bad_arguments():
    """Are a negative lambd, a non-positive m and parameters without weights refused?"""
    with pytest.raises(ValueError, match="lambd"):
        losses.l2_regularized_cost(0.0, {"W1": np.ones((1, 1))}, -1.0, 3)
    with pytest.raises(ValueError, match="m must"):
        losses.l2_regularized_cost(0.0, {"W1": np.ones((1, 1))}, 1.0, 0)
    with pytest.raises(ValueError, match="W1"):
        losses.l2_regularized_cost(0.0, {"b1": np.ones((1, 1))}, 1.0, 3)


@pytest.mark.parametrize("function", [losses.binary_cross_entropy, losses.binary_cross_entropy_backward,
                                      losses.categorical_cross_entropy, losses.softmax_cross_entropy])
def test_mismatched_shapes_are_refused(function):
    """Is a Y of shape (3, 1) against AL (1, 3) refused with both shapes in the message?"""
    with pytest.raises(ValueError, match=r"\(3, 1\).*\(1, 3\)"):
        function(np.full((1, 3), 0.5), np.zeros((3, 1)))


def test_rank_one_inputs_are_refused():
    """Is a rank-1 AL of shape (m,) refused, naming the expected (n_y, m)?"""
    with pytest.raises(ValueError, match=r"\(3,\).*\(n_y, m\)"):
        losses.binary_cross_entropy(np.full(3, 0.5), np.zeros(3))


def test_inputs_are_not_mutated():
    """Are AL, Z and Y unchanged by every loss (clipping works on copies)?"""
    AL, Y = np.array([[0.0, 1.0, 0.3]]), np.array([[1.0, 0.0, 1.0]])
    Z = np.array([[3.0, -1.0, 0.0]])
    before = (AL.copy(), Y.copy(), Z.copy())
    losses.binary_cross_entropy(AL, Y)
    losses.binary_cross_entropy_backward(AL, Y)
    losses.categorical_cross_entropy(AL, Y)
    losses.softmax_cross_entropy(Z, Y)
    for got, expected in zip((AL, Y, Z), before):
        np.testing.assert_array_equal(got, expected)
