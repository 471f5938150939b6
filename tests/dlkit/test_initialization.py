"""Tests of dlkit.initialization: shapes, scales, zero biases, reproducible seeds, rejected inputs."""
import numpy as np
import pytest

from dlkit import initialization

pytestmark = [pytest.mark.lesson04, pytest.mark.lesson06]


def test_shapes_and_key_order():
    """Are W[l] (n[l], n[l-1]) and b[l] (n[l], 1), keyed W1, b1, W2, b2, ... in that order?"""
    parameters = initialization.initialize_parameters([5, 4, 3, 1])
    assert list(parameters) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert [parameters[key].shape for key in parameters] == [(4, 5), (4, 1), (3, 4), (3, 1), (1, 3), (1, 1)]


@pytest.mark.parametrize("method", initialization.METHODS)
def test_biases_are_zero(method):
    """Are all biases zero whatever the method?"""
    parameters = initialization.initialize_parameters([3, 4, 2], method=method)
    assert all(np.all(parameters[key] == 0) for key in ("b1", "b2"))


def test_zeros_gives_zero_weights():
    """Does initialize_zeros give weights that are all zero?"""
    parameters = initialization.initialize_zeros([3, 4, 2])
    assert not np.any(parameters["W1"]) and not np.any(parameters["W2"])


@pytest.mark.parametrize("method, expected_std", [
    ("random", lambda n_prev: 0.5), ("he", lambda n_prev: np.sqrt(2 / n_prev)),
    ("xavier", lambda n_prev: np.sqrt(1 / n_prev)),
])
def test_weight_scales(method, expected_std):
    """Is the standard deviation of W[l] the method's factor (within sampling error on 40,000 draws)?"""
    parameters = initialization.initialize_parameters([400, 100, 50], method=method, scale=0.5, seed=3)
    for l, n_prev in ((1, 400), (2, 100)):
        W = parameters["W" + str(l)]
        assert abs(W.std() / expected_std(n_prev) - 1) < 0.05
        assert abs(W.mean()) < 0.05 * expected_std(n_prev)


def test_named_forms_share_the_implementation():
    """Do initialize_he/xavier/random/zeros return exactly what initialize_parameters returns?"""
    dims, seed = [6, 5, 2], 7
    pairs = [
        (initialization.initialize_he(dims, seed=seed), initialization.initialize_parameters(dims, "he", seed)),
        (initialization.initialize_xavier(dims, seed=seed), initialization.initialize_parameters(dims, "xavier", seed)),
        (initialization.initialize_random(dims, seed=seed, scale=10.0),
         initialization.initialize_parameters(dims, "random", seed, scale=10.0)),
        (initialization.initialize_zeros(dims), initialization.initialize_parameters(dims, "zeros")),
    ]
    for got, expected in pairs:
        assert list(got) == list(expected)
        for key in got:
            np.testing.assert_array_equal(got[key], expected[key])


def test_seeds_are_reproducible_and_distinct():
    """Does the same seed give the same weights, and a different seed different ones?"""
    first = initialization.initialize_he([4, 3, 1], seed=11)
    again = initialization.initialize_he([4, 3, 1], seed=11)
    other = initialization.initialize_he([4, 3, 1], seed=12)
    np.testing.assert_array_equal(first["W1"], again["W1"])
    assert not np.allclose(first["W1"], other["W1"])


def test_accepts_a_generator_and_leaves_global_state_alone():
    """Does a Generator work as seed, and is NumPy's global random state untouched?"""
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    parameters = initialization.initialize_xavier([3, 2], seed=np.random.default_rng(5))
    np.testing.assert_array_equal(parameters["W1"], np.random.default_rng(5).standard_normal((2, 3)) * np.sqrt(1 / 3))
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("layer_dims", [[3], [], [3, 0, 1], [3, 2.5], [3, -1]])
def test_rejects_bad_layer_dims(layer_dims):
    """Are fewer than two sizes, zero, negative and fractional sizes refused?"""
    with pytest.raises(ValueError, match="layer_dims"):
        initialization.initialize_parameters(layer_dims)


def test_rejects_unknown_method():
    """Does an unknown method raise a ValueError listing the valid ones?"""
    with pytest.raises(ValueError, match="'he'.*'xavier'"):
        initialization.initialize_parameters([3, 2], method="glorot")
