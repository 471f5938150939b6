"""Tests of dlkit.regularization: inverted dropout with a fixed mask, reproducible masks, the L2 gradient."""
import numpy as np
import pytest

from dlkit import losses, regularization
from dlkit.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

pytestmark = pytest.mark.lesson07


def test_dropout_forward_values():
    """Are dropped entries 0 and kept entries A / keep_prob, with D a 0/1 integer mask?"""
    A = np.arange(1.0, 13.0).reshape(3, 4)
    A_drop, cache = regularization.dropout_forward(A, keep_prob=0.75, seed=0)
    assert cache.D.shape == A.shape and set(np.unique(cache.D)) <= {0, 1}
    assert np.issubdtype(cache.D.dtype, np.integer) and cache.keep_prob == 0.75
    np.testing.assert_allclose(A_drop, np.where(cache.D == 1, A / 0.75, 0.0))


def test_dropout_mask_is_rand_below_keep_prob():
    """Is the mask exactly rng.random(A.shape) < keep_prob for the Generator the seed makes?"""
    _, cache = regularization.dropout_forward(np.ones((4, 6)), keep_prob=0.6, seed=9)
    np.testing.assert_array_equal(cache.D, np.random.default_rng(9).random((4, 6)) < 0.6)


def test_dropout_backward_matches_central_differences_for_a_fixed_mask():
    """With the mask held fixed, does dropout_backward equal central differences of sum(A * D / p * dA)?"""
    rng = np.random.default_rng(1)
    A, dA = rng.standard_normal((5, 8)), rng.standard_normal((5, 8))
    _, cache = regularization.dropout_forward(A, keep_prob=0.7, seed=2)

    def with_fixed_mask(a):
        return regularization.dropout_forward(a, keep_prob=0.7, seed=2)[0]  # same seed, same mask

    expected = numerical_gradient_array(with_fixed_mask, A, dA)
    assert rel_error(regularization.dropout_backward(dA, cache), expected) < 1e-7


def test_seeds_give_reproducible_masks():
    """Does one seed give one mask, and another seed a different one?"""
    A = np.ones((10, 10))
    first = regularization.dropout_forward(A, 0.5, seed=3)[1].D
    np.testing.assert_array_equal(first, regularization.dropout_forward(A, 0.5, seed=3)[1].D)
    assert not np.array_equal(first, regularization.dropout_forward(A, 0.5, seed=4)[1].D)


def test_keep_prob_one_is_the_identity():
    """Does keep_prob = 1 return A unchanged and pass gradients through unchanged?"""
    A = np.random.default_rng(5).standard_normal((3, 4))
    A_drop, cache = regularization.dropout_forward(A, keep_prob=1)
    np.testing.assert_array_equal(A_drop, A)
    np.testing.assert_array_equal(regularization.dropout_backward(A, cache), A)


def test_dropout_keeps_the_expected_value():
    """Is the mean of A_drop close to the mean of A (the point of dividing by keep_prob)?"""
    A_drop, cache = regularization.dropout_forward(np.ones((200, 200)), keep_prob=0.8, seed=6)
    assert abs(A_drop.mean() - 1.0) < 0.02
    assert abs(cache.D.mean() - 0.8) < 0.01


@pytest.mark.parametrize("keep_prob", [0, -0.1, 1.5, True])
def test_keep_prob_outside_zero_one_is_refused(keep_prob):
    """Is a keep_prob outside (0, 1] refused with a ValueError?"""
    with pytest.raises(ValueError, match="keep_prob"):
        regularization.dropout_forward(np.ones((2, 2)), keep_prob=keep_prob)


def test_dropout_backward_rejects_a_mismatched_dA():
    """Is a dA of another shape than the mask refused with both shapes?"""
    _, cache = regularization.dropout_forward(np.ones((2, 3)), 0.5)
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        regularization.dropout_backward(np.ones((3, 2)), cache)


def test_inputs_are_not_mutated():
    """Are A and dA unchanged by dropout forward and backward?"""
    A, dA = np.ones((3, 3)), np.full((3, 3), 2.0)
    A_drop, cache = regularization.dropout_forward(A, 0.5, seed=7)
    dA_prev = regularization.dropout_backward(dA, cache)
    np.testing.assert_array_equal(A, np.ones((3, 3)))
    np.testing.assert_array_equal(dA, np.full((3, 3), 2.0))
    assert not np.shares_memory(A_drop, A) and not np.shares_memory(dA_prev, dA)


def test_l2_gradient_matches_central_differences_of_the_l2_cost():
    """Is l2_gradient the numerical gradient of l2_regularized_cost with respect to W?"""
    W = np.random.default_rng(8).standard_normal((4, 3))
    expected = numerical_gradient(lambda w: losses.l2_regularized_cost(1.0, {"W1": w}, 0.3, 7), W)
    assert rel_error(regularization.l2_gradient(W, 0.3, 7), expected) < 1e-7


def test_l2_gradient_rejects_bad_arguments():
    """Are a negative lambd and m = 0 refused?"""
    with pytest.raises(ValueError, match="lambd"):
        regularization.l2_gradient(np.ones((2, 2)), -0.1, 3)
    with pytest.raises(ValueError, match="m must"):
        regularization.l2_gradient(np.ones((2, 2)), 0.1, 0)
