"""Tests of dlkit.activations: forward values, backward passes against central differences, lookup by name."""
import numpy as np
import pytest

from dlkit import activations
from dlkit.gradcheck import numerical_gradient_array, rel_error

pytestmark = [pytest.mark.lesson01, pytest.mark.lesson03]

NAMES = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"]


def _away_from_kinks(shape, seed):
    """Random float64 values at least 0.1 away from 0, where relu and leaky_relu bend."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal(shape)
    return Z + 0.1 * np.sign(Z)


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_central_differences(name):
    """Does each activation's backward equal the numerical gradient of sum(g(Z) * dA)?"""
    forward, backward = activations.get_activation(name)
    Z = _away_from_kinks((4, 5), seed=0)
    dA = np.random.default_rng(1).standard_normal(Z.shape)
    expected = numerical_gradient_array(forward, Z, dA)
    assert rel_error(backward(dA, Z), expected) < 1e-7


def test_leaky_relu_backward_uses_alpha():
    """Does leaky_relu_backward with alpha=0.2 match central differences of leaky_relu with alpha=0.2?"""
    Z = _away_from_kinks((3, 3), seed=2)
    dA = np.random.default_rng(3).standard_normal(Z.shape)
    expected = numerical_gradient_array(lambda v: activations.leaky_relu(v, alpha=0.2), Z, dA)
    assert rel_error(activations.leaky_relu_backward(dA, Z, alpha=0.2), expected) < 1e-7


def test_softmax_backward_along_rows():
    """Does softmax_backward with axis=1 match central differences of softmax with axis=1?"""
    Z = np.random.default_rng(4).standard_normal((3, 6))
    dA = np.random.default_rng(5).standard_normal(Z.shape)
    expected = numerical_gradient_array(lambda v: activations.softmax(v, axis=1), Z, dA)
    assert rel_error(activations.softmax_backward(dA, Z, axis=1), expected) < 1e-7


def test_sigmoid_values():
    """Are sigmoid(0) = 0.5, sigmoid(1) = 1/(1+e^-1), and the tails exactly 0 and 1 without warnings?"""
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        A = activations.sigmoid(np.array([[0.0, 1.0, -800.0, 800.0]]))
    np.testing.assert_allclose(A, [[0.5, 1 / (1 + np.exp(-1)), 0.0, 1.0]], rtol=1e-15, atol=0)
    assert activations.sigmoid(0) == 0.5


def test_sigmoid_derivative_values():
    """Is sigmoid_derivative s(1-s): 0.25 at 0 and symmetric?"""
    got = activations.sigmoid_derivative(np.array([0.0, 2.0, -2.0]))
    s = 1 / (1 + np.exp(-2.0))
    np.testing.assert_allclose(got, [0.25, s * (1 - s), s * (1 - s)], rtol=1e-14)


def test_tanh_relu_leaky_relu_values():
    """Do tanh, relu and leaky_relu give the hand-computed values on [-2, 0, 3]?"""
    Z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(activations.tanh(Z), [np.tanh(-2.0), 0.0, np.tanh(3.0)])
    np.testing.assert_array_equal(activations.relu(Z), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(activations.leaky_relu(Z), [-0.02, 0.0, 3.0])


def test_relu_backward_at_zero_is_zero():
    """Is the ReLU slope at exactly Z = 0 taken as 0?"""
    np.testing.assert_array_equal(activations.relu_backward(np.ones(3), np.array([-1.0, 0.0, 1.0])), [0, 0, 1])


def test_softmax_values_are_stable_and_sum_to_one():
    """Are softmax columns [1, 2, 3]/sum of exps, finite for huge inputs, each summing to 1?"""
    Z = np.array([[1.0, 1001.0], [2.0, 1002.0], [3.0, 1003.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        A = activations.softmax(Z)
    expected = np.exp([1.0, 2.0, 3.0]) / np.sum(np.exp([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(A[:, 0], expected, rtol=1e-14)
    np.testing.assert_allclose(A[:, 1], expected, rtol=1e-12)
    np.testing.assert_allclose(A.sum(axis=0), [1.0, 1.0])


def test_softmax_along_rows():
    """Does axis=1 normalize each row, as for a (m, K) layout?"""
    A = activations.softmax(np.array([[0.0, 0.0], [0.0, np.log(3.0)]]), axis=1)
    np.testing.assert_allclose(A, [[0.5, 0.5], [0.25, 0.75]])


@pytest.mark.parametrize("name", NAMES)
def test_no_input_is_mutated(name):
    """Are Z and dA unchanged after a forward and a backward pass?"""
    forward, backward = activations.get_activation(name)
    Z, dA = _away_from_kinks((3, 4), seed=6), np.ones((3, 4))
    Z_before, dA_before = Z.copy(), dA.copy()
    A = forward(Z)
    dZ = backward(dA, Z)
    np.testing.assert_array_equal(Z, Z_before)
    np.testing.assert_array_equal(dA, dA_before)
    assert not np.shares_memory(A, Z) and not np.shares_memory(dZ, dA)


@pytest.mark.parametrize("name", NAMES)
def test_backward_rejects_mismatched_shapes(name):
    """Is a dA whose shape differs from Z's refused with both shapes in the message?"""
    _, backward = activations.get_activation(name)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(4, 3\)"):
        backward(np.zeros((3, 4)), np.zeros((4, 3)))


def test_softmax_rejects_a_bad_axis_and_a_scalar():
    """Are an out-of-range axis and a 0-d input refused with a ValueError?"""
    with pytest.raises(ValueError, match="axis 2"):
        activations.softmax(np.zeros((3, 4)), axis=2)
    with pytest.raises(ValueError, match="scalar"):
        activations.softmax(1.0)


def test_get_activation_rejects_unknown_names_and_lists_valid_ones():
    """Does an unknown name raise a ValueError that lists every valid name?"""
    with pytest.raises(ValueError) as info:
        activations.get_activation("gelu")
    assert "gelu" in str(info.value)
    assert all(repr(name) in str(info.value) for name in NAMES)


def test_integer_inputs_become_float():
    """Does relu of an integer list return floats, so later gradients are not truncated?"""
    A = activations.relu([[-1, 2]])
    assert A.dtype == np.float64
    np.testing.assert_array_equal(A, [[0.0, 2.0]])
