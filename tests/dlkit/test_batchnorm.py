"""Tests of dlkit.batchnorm: train/test forward passes and gradient-checked backward passes."""
import numpy as np
import pytest

from dlkit import batchnorm
from dlkit.gradcheck import numerical_gradient, rel_error

pytestmark = [pytest.mark.lesson10]


@pytest.fixture
def layer():
    rng = np.random.default_rng(0)
    Z = 3.0 * rng.standard_normal((4, 7)) + rng.standard_normal((4, 1)) * 5
    gamma = rng.standard_normal((4, 1))
    beta = rng.standard_normal((4, 1))
    return Z, gamma, beta


def _gradient_errors(Z, gamma, beta, mode, running=None):
    """Relative errors of batchnorm_backward against central differences of sum(out * dout)."""
    out, cache, _ = batchnorm.batchnorm_forward(Z, gamma, beta, running, mode)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    analytic = batchnorm.batchnorm_backward(dout, cache)
    arrays = [Z.copy(), gamma.copy(), beta.copy()]

    def cost(_):
        return np.sum(batchnorm.batchnorm_forward(*arrays, running, mode)[0] * dout)

    numeric = [numerical_gradient(cost, x) for x in arrays]
    return [rel_error(a, n) for a, n in zip(analytic, numeric)]


def test_train_mode_gives_zero_mean_unit_variance_then_scales_and_shifts(layer):
    """In train mode, is each row of Z_norm zero-mean and unit-variance, and out = gamma Z_norm + beta?"""
    Z, gamma, beta = layer
    out, cache, _ = batchnorm.batchnorm_forward(Z, gamma, beta)
    assert out.shape == Z.shape
    np.testing.assert_allclose(cache.Z_norm.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(cache.Z_norm.var(axis=1), 1.0, rtol=1e-4)
    np.testing.assert_allclose(out, gamma * cache.Z_norm + beta)


def test_gamma_and_beta_can_undo_the_normalization(layer):
    """With gamma = sqrt(var + eps) and beta = mu, is out equal to Z (the notes' identity case)?"""
    Z, _, _ = layer
    eps = 1e-5
    gamma = np.sqrt(Z.var(axis=1, keepdims=True) + eps)
    out, _, _ = batchnorm.batchnorm_forward(Z, gamma, Z.mean(axis=1, keepdims=True), eps=eps)
    np.testing.assert_allclose(out, Z)


def test_train_mode_updates_the_running_averages(layer):
    """Are the running mean and variance momentum-weighted averages of the batch statistics?"""
    Z, gamma, beta = layer
    start = batchnorm.RunningStats(np.full((4, 1), 2.0), np.full((4, 1), 3.0))
    _, _, running = batchnorm.batchnorm_forward(Z, gamma, beta, start, momentum=0.8)
    np.testing.assert_allclose(running.mean, 0.8 * 2.0 + 0.2 * Z.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(running.var, 0.8 * 3.0 + 0.2 * Z.var(axis=1, keepdims=True))
    assert np.all(start.mean == 2.0), "the running statistics passed in must not be mutated"


def test_running_averages_start_at_zero_mean_unit_variance(layer):
    """With running=None, does train mode start from mean 0 and variance 1?"""
    Z, gamma, beta = layer
    _, _, running = batchnorm.batchnorm_forward(Z, gamma, beta, momentum=0.9)
    np.testing.assert_allclose(running.mean, 0.1 * Z.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(running.var, 0.9 + 0.1 * Z.var(axis=1, keepdims=True))


def test_test_mode_uses_the_running_statistics_and_leaves_them(layer):
    """Does test mode normalize one example with the running statistics and return them unchanged?"""
    Z, gamma, beta = layer
    running = batchnorm.RunningStats(Z.mean(axis=1, keepdims=True), Z.var(axis=1, keepdims=True))
    out, _, same = batchnorm.batchnorm_forward(Z[:, :1], gamma, beta, running, mode="test")
    expected = gamma * (Z[:, :1] - running.mean) / np.sqrt(running.var + 1e-5) + beta
    np.testing.assert_allclose(out, expected)
    assert same is running or all(np.array_equal(a, b) for a, b in zip(same, running))


def test_many_training_batches_make_test_mode_match_the_data(layer):
    """After many train-mode batches from one distribution, does test mode normalize it to ~N(0, 1)?"""
    rng = np.random.default_rng(5)
    gamma, beta, running = np.ones((2, 1)), np.zeros((2, 1)), None
    for _ in range(200):
        batch = rng.normal([[3.0], [-2.0]], [[2.0], [0.5]], size=(2, 64))
        _, _, running = batchnorm.batchnorm_forward(batch, gamma, beta, running)
    data = rng.normal([[3.0], [-2.0]], [[2.0], [0.5]], size=(2, 5000))
    out, _, _ = batchnorm.batchnorm_forward(data, gamma, beta, running, mode="test")
    np.testing.assert_allclose(out.mean(axis=1), 0.0, atol=0.1)
    np.testing.assert_allclose(out.std(axis=1), 1.0, atol=0.1)


def test_train_mode_backward_matches_central_differences(layer):
    """Do dZ, dgamma and dbeta match central differences in train mode (batch statistics depend on Z)?"""
    errors = _gradient_errors(*layer, mode="train")
    assert max(errors) < 1e-7, errors


def test_test_mode_backward_matches_central_differences(layer):
    """Do dZ, dgamma and dbeta match central differences in test mode (fixed statistics)?"""
    Z, gamma, beta = layer
    running = batchnorm.RunningStats(np.full((4, 1), 0.5), np.full((4, 1), 4.0))
    errors = _gradient_errors(Z, gamma, beta, "test", running)
    assert max(errors) < 1e-7, errors


def test_backward_shapes_follow_the_parameters(layer):
    """Are the gradients shaped like Z, gamma and beta, in that order?"""
    Z, gamma, beta = layer
    out, cache, _ = batchnorm.batchnorm_forward(Z, gamma, beta)
    dZ, dgamma, dbeta = batchnorm.batchnorm_backward(np.ones_like(out), cache)
    assert (dZ.shape, dgamma.shape, dbeta.shape) == (Z.shape, gamma.shape, beta.shape)
    np.testing.assert_allclose(dZ, 0.0, atol=1e-12)  # a constant upstream gradient is normalized away


def test_inputs_are_not_mutated(layer):
    """Are Z, gamma, beta and dout unchanged by a forward and backward pass?"""
    Z, gamma, beta = layer
    copies = [a.copy() for a in layer]
    out, cache, _ = batchnorm.batchnorm_forward(Z, gamma, beta)
    dout = np.ones_like(out)
    batchnorm.batchnorm_backward(dout, cache)
    for before, after in zip(copies, layer):
        np.testing.assert_array_equal(before, after)
    assert np.all(dout == 1.0)


def test_unknown_mode_and_missing_running_stats_are_rejected(layer):
    """Is an unknown mode, or test mode without running statistics, a ValueError that says so?"""
    Z, gamma, beta = layer
    with pytest.raises(ValueError, match="mode must be one of"):
        batchnorm.batchnorm_forward(Z, gamma, beta, mode="eval")
    with pytest.raises(ValueError, match="running"):
        batchnorm.batchnorm_forward(Z, gamma, beta, mode="test")


def test_wrong_shapes_name_expected_and_received(layer):
    """Does a gamma of shape (4,) or a mismatched running mean name both shapes?"""
    Z, gamma, beta = layer
    with pytest.raises(ValueError, match=r"gamma has shape \(4,\) but expected \(4, 1\)"):
        batchnorm.batchnorm_forward(Z, gamma.ravel(), beta)
    bad = batchnorm.RunningStats(np.zeros((3, 1)), np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"running.mean has shape \(3, 1\)"):
        batchnorm.batchnorm_forward(Z, gamma, beta, bad, mode="test")


@pytest.mark.lesson13
def test_spatial_batchnorm_normalizes_each_channel_over_examples_and_positions():
    """Is every channel of the NHWC output zero-mean and unit-variance over (m, n_H, n_W)?"""
    A = np.random.default_rng(2).standard_normal((3, 4, 5, 2)) * [1.0, 10.0] + [0.0, 5.0]
    out, _, running = batchnorm.spatial_batchnorm_forward(A, np.ones((1, 1, 1, 2)), np.zeros((1, 1, 1, 2)))
    assert out.shape == A.shape and running.mean.shape == (2, 1)
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 1, 2)), 1.0, rtol=1e-4)


@pytest.mark.lesson13
@pytest.mark.parametrize("implementation", ["fast", "reference"])
@pytest.mark.parametrize("mode", ["train", "test"])
def test_spatial_batchnorm_backward_matches_central_differences(mode, implementation):
    """Do dA, dgamma and dbeta of spatial batch norm match central differences?"""
    rng = np.random.default_rng(3)
    A, gamma, beta = rng.standard_normal((2, 3, 3, 2)), rng.standard_normal((1, 1, 1, 2)), rng.standard_normal((1, 1, 1, 2))
    running = batchnorm.RunningStats(np.full((2, 1), 0.1), np.full((2, 1), 2.0))
    out, cache, _ = batchnorm.spatial_batchnorm_forward(A, gamma, beta, running, mode, implementation=implementation)
    dout = rng.standard_normal(out.shape)
    analytic = batchnorm.spatial_batchnorm_backward(dout, cache, implementation=implementation)
    arrays = [A.copy(), gamma.copy(), beta.copy()]

    def cost(_):
        return np.sum(batchnorm.spatial_batchnorm_forward(*arrays, running, mode, implementation=implementation)[0] * dout)

    for name, a, x in zip(("dA", "dgamma", "dbeta"), analytic, arrays):
        assert a.shape == x.shape
        assert rel_error(a, numerical_gradient(cost, x)) < 1e-7, name


SPATIAL_SHAPES = [(4, 5, 3, 6), (1, 1, 1, 3), (3, 2, 7, 1), (64, 8, 8, 16)]


@pytest.mark.lesson13
@pytest.mark.parametrize("shape", SPATIAL_SHAPES, ids=["-".join(map(str, s)) for s in SPATIAL_SHAPES])
@pytest.mark.parametrize("mode", ["train", "test"])
def test_spatial_batchnorm_fast_equals_reference_float64(shape, mode):
    """Do the Numba kernels give the reference's output, cache, running statistics and gradients
    (float64, relative error < 1e-10), for a batch of one, one channel, one position?"""
    rng = np.random.default_rng(5)
    A = rng.standard_normal(shape) * 3.0 + 1.5
    gamma, beta = rng.standard_normal((1, 1, 1, shape[3])), rng.standard_normal((1, 1, 1, shape[3]))
    running = batchnorm.RunningStats(rng.standard_normal((shape[3], 1)), rng.uniform(0.5, 2.0, (shape[3], 1)))
    fast = batchnorm.spatial_batchnorm_forward(A, gamma, beta, running, mode)
    ref = batchnorm.spatial_batchnorm_forward(A, gamma, beta, running, mode, implementation="reference")
    assert rel_error(fast[0], ref[0]) < 1e-10
    assert fast[1].Z_norm.shape == ref[1].Z_norm.shape == (shape[3], np.prod(shape[:3]))
    for got, expected in zip(fast[1][:4], ref[1][:4]):
        assert rel_error(got, expected) < 1e-10
    for got, expected in zip(fast[2], ref[2]):
        assert rel_error(got, expected) < 1e-10
    dout = rng.standard_normal(shape)
    for got, expected in zip(batchnorm.spatial_batchnorm_backward(dout, fast[1]),
                             batchnorm.spatial_batchnorm_backward(dout, ref[1], implementation="reference")):
        assert got.shape == expected.shape
        assert rel_error(got, expected) < 1e-10
    # caches cross over: each backward accepts the other implementation's cache
    assert rel_error(batchnorm.spatial_batchnorm_backward(dout, ref[1])[0],
                     batchnorm.spatial_batchnorm_backward(dout, fast[1], implementation="reference")[0]) < 1e-10


@pytest.mark.lesson13
def test_spatial_batchnorm_fast_keeps_float32():
    """float32 in, float32 out (forward and backward), close to the float64 reference?"""
    rng = np.random.default_rng(6)
    A = rng.standard_normal((8, 4, 4, 5)).astype(np.float32)
    gamma, beta = np.ones((1, 1, 1, 5), np.float32), np.zeros((1, 1, 1, 5), np.float32)
    out, cache, _ = batchnorm.spatial_batchnorm_forward(A, gamma, beta)
    dA, dgamma, dbeta = batchnorm.spatial_batchnorm_backward(np.ones_like(out), cache)
    assert out.dtype == dA.dtype == dgamma.dtype == dbeta.dtype == np.float32
    ref, _, _ = batchnorm.spatial_batchnorm_forward(A.astype(np.float64), gamma, beta, implementation="reference")
    np.testing.assert_allclose(out, ref, atol=1e-5)


@pytest.mark.lesson13
def test_spatial_batchnorm_backward_rejects_dout_of_another_shape():
    """A dout that does not match the forward pass: does the error give both shapes?"""
    A = np.random.default_rng(7).standard_normal((2, 3, 3, 4))
    _, cache, _ = batchnorm.spatial_batchnorm_forward(A, np.ones((1, 1, 1, 4)), np.zeros((1, 1, 1, 4)))
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 2, 4\).*expected \(m, n_H, n_W, 4\) with m\*n_H\*n_W = 18"):
        batchnorm.spatial_batchnorm_backward(np.ones((2, 3, 2, 4)), cache)
