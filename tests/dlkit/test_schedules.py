"""Tests of dlkit.schedules: weighted averages, learning-rate decay and log-scale sampling."""
import numpy as np
import pytest

from dlkit import schedules

pytestmark = [pytest.mark.lesson09]


def test_weighted_average_matches_the_recursion_by_hand():
    """Does v_t = beta v_{t-1} + (1 - beta) x_t give the hand-computed values?"""
    got = schedules.exponentially_weighted_average([2.0, 4.0, 0.0], beta=0.9)
    np.testing.assert_allclose(got, [0.2, 0.58, 0.522])


def test_bias_correction_recovers_a_constant_sequence():
    """With bias correction, is the average of a constant sequence that constant from t = 1?"""
    values = np.full(20, 7.0)
    raw = schedules.exponentially_weighted_average(values, beta=0.98)
    corrected = schedules.exponentially_weighted_average(values, beta=0.98, bias_correction=True)
    np.testing.assert_allclose(corrected, values)
    assert raw[0] == pytest.approx(0.14)
    assert np.all(raw < values)


def test_weighted_average_works_along_the_first_axis_of_arrays():
    """Are (T, k) inputs averaged per column, each like its own 1-D sequence?"""
    values = np.random.default_rng(0).standard_normal((10, 3))
    got = schedules.exponentially_weighted_average(values, beta=0.5, bias_correction=True)
    for j in range(3):
        np.testing.assert_allclose(got[:, j], schedules.exponentially_weighted_average(values[:, j], 0.5, True))


def test_weighted_average_with_beta_zero_is_the_input():
    """Is beta = 0 the identity (no memory of the past)?"""
    values = np.array([3.0, -1.0, 5.0])
    np.testing.assert_allclose(schedules.exponentially_weighted_average(values, 0.0), values)


@pytest.mark.parametrize("beta", [-0.1, 1.0])
def test_weighted_average_rejects_beta_outside_zero_one(beta):
    """Is a beta outside [0, 1) rejected with a message naming beta?"""
    with pytest.raises(ValueError, match="beta"):
        schedules.exponentially_weighted_average([1.0, 2.0], beta)


def test_inverse_time_decay_matches_the_table_of_the_notes():
    """Does alpha0 = 0.2, decay_rate = 1 give 0.1, 0.067, 0.05, 0.04 for epochs 1 to 4?"""
    got = schedules.inverse_time_decay(0.2, np.arange(1, 5), decay_rate=1.0)
    np.testing.assert_allclose(got, [0.1, 0.2 / 3, 0.05, 0.04])
    assert schedules.inverse_time_decay(0.2, 0, decay_rate=1.0) == 0.2


def test_exponential_decay_multiplies_by_the_base_each_epoch():
    """Is each epoch's rate 0.95 times the previous one?"""
    rates = schedules.exponential_decay(0.5, np.arange(6))
    np.testing.assert_allclose(rates[1:] / rates[:-1], 0.95)
    assert rates[0] == 0.5


def test_staircase_decay_is_constant_within_each_interval():
    """Does the staircase stay flat for time_interval epochs and then follow 1/(1 + k * step)?"""
    epochs = np.arange(0, 3000, 250)
    got = schedules.staircase_decay(0.1, epochs, decay_rate=0.5, time_interval=1000)
    expected = 0.1 / (1 + 0.5 * (epochs // 1000))
    np.testing.assert_allclose(got, expected)
    assert isinstance(schedules.staircase_decay(0.1, 1500, decay_rate=0.5), float)


def test_sqrt_decay_counts_epochs_from_one():
    """Is sqrt_decay k / sqrt(epoch) * alpha0, and epoch 0 rejected?"""
    assert schedules.sqrt_decay(0.3, 9, k=2.0) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="epoch"):
        schedules.sqrt_decay(0.3, 0, k=1.0)


def test_decays_reject_negative_epochs_and_rates():
    """Are a negative epoch or decay rate rejected with ValueError?"""
    with pytest.raises(ValueError, match="epoch"):
        schedules.inverse_time_decay(0.1, -1, decay_rate=1.0)
    with pytest.raises(ValueError, match="decay_rate"):
        schedules.staircase_decay(0.1, 3, decay_rate=-1.0)


def test_log_uniform_samples_spread_evenly_over_decades():
    """Does each decade between 1e-4 and 1 hold about a quarter of the samples?"""
    samples = schedules.sample_log_uniform(1e-4, 1.0, size=4000, seed=0)
    assert samples.shape == (4000,)
    assert samples.min() >= 1e-4 and samples.max() <= 1.0
    counts = np.histogram(np.log10(samples), bins=[-4, -3, -2, -1, 0])[0]
    assert np.all(np.abs(counts / 4000 - 0.25) < 0.03)


def test_log_uniform_is_reproducible_by_seed():
    """Does the same seed give the same samples and another seed different ones?"""
    a = schedules.sample_log_uniform(1e-3, 1e-1, size=5, seed=3)
    np.testing.assert_array_equal(a, schedules.sample_log_uniform(1e-3, 1e-1, size=5, seed=3))
    assert not np.array_equal(a, schedules.sample_log_uniform(1e-3, 1e-1, size=5, seed=4))
    assert isinstance(schedules.sample_log_uniform(1e-3, 1e-1, seed=3), float)


@pytest.mark.parametrize("low, high", [(0.0, 1.0), (1.0, 0.1), (-1.0, 1.0)])
def test_log_uniform_rejects_bounds_without_a_log_scale(low, high):
    """Are non-positive or reversed bounds rejected?"""
    with pytest.raises(ValueError, match="low"):
        schedules.sample_log_uniform(low, high, size=3)
