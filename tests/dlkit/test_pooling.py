"""Tests of dlkit.pooling: masks, distribution, reference loops, fast path, gradient checks."""
import numpy as np
import pytest

from dlkit import pooling
from dlkit.gradcheck import numerical_gradient_array, rel_error

pytestmark = pytest.mark.lesson12

# (m, n_H_prev, n_W_prev, n_C, f, stride): strides 1-3, overlapping and leftover windows,
# odd sizes, a batch of one, one channel, f = 1.
SHAPES = [
    (2, 4, 4, 3, 2, 2),
    (1, 5, 7, 1, 3, 2),
    (2, 6, 5, 2, 3, 1),
    (3, 7, 7, 2, 2, 3),
    (1, 3, 3, 4, 1, 1),
]
IDS = ["-".join(map(str, shape)) for shape in SHAPES]
MODES = ["max", "average"]


def make_input(shape, dtype=np.float64, seed=0):
    m, n_H_prev, n_W_prev, n_C, f, stride = shape
    A_prev = np.random.default_rng(seed).standard_normal((m, n_H_prev, n_W_prev, n_C)).astype(dtype)
    return A_prev, {"f": f, "stride": stride}


def test_create_mask_marks_the_maximum():
    """Does create_mask_from_window mark exactly the largest entry?"""
    mask = pooling.create_mask_from_window(np.array([[1.0, 3.0], [4.0, 2.0]]))
    np.testing.assert_array_equal(mask, [[False, False], [True, False]])


def test_create_mask_marks_every_tied_maximum():
    """When the maximum is tied, is every tied entry marked (the notes' x == max(x))?"""
    mask = pooling.create_mask_from_window(np.array([[5.0, 1.0], [5.0, 2.0]]))
    np.testing.assert_array_equal(mask, [[True, False], [True, False]])


def test_distribute_value_spreads_evenly():
    """Does distribute_value give dz / (n_H * n_W) at every entry of the window?"""
    a = pooling.distribute_value(3.0, (2, 3))
    assert a.shape == (2, 3)
    np.testing.assert_allclose(a, 0.5)
    assert a.sum() == pytest.approx(3.0)


def test_max_and_average_forward_values():
    """On a 4x4 ramp with 2x2 windows, are the maxima and means the expected numbers?"""
    A_prev = np.arange(16.0).reshape(1, 4, 4, 1)
    for implementation in ("fast", "reference"):
        A_max, _ = pooling.pool_forward(A_prev, {"f": 2, "stride": 2}, "max", implementation=implementation)
        A_avg, _ = pooling.pool_forward(A_prev, {"f": 2, "stride": 2}, "average", implementation=implementation)
        np.testing.assert_array_equal(A_max[0, :, :, 0], [[5, 7], [13, 15]])
        np.testing.assert_array_equal(A_avg[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_fast_equals_reference_float64(shape, mode):
    """Do the fast forward and backward passes equal the reference loops in float64?"""
    A_prev, hparameters = make_input(shape)
    A_fast, cache_fast = pooling.pool_forward(A_prev, hparameters, mode)
    A_ref, cache_ref = pooling.pool_forward_reference(A_prev, hparameters, mode)
    assert A_fast.shape == A_ref.shape and rel_error(A_fast, A_ref) < 1e-10
    dA = np.random.default_rng(1).standard_normal(A_fast.shape)
    dA_prev = pooling.pool_backward(dA, cache_fast, mode)
    assert dA_prev.shape == A_prev.shape
    assert rel_error(dA_prev, pooling.pool_backward_reference(dA, cache_ref, mode)) < 1e-10


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", SHAPES[:3], ids=IDS[:3])
def test_fast_equals_reference_float32(shape, mode):
    """In float32, do both passes stay float32 and agree with the reference?"""
    A_prev, hparameters = make_input(shape, np.float32)
    A, cache = pooling.pool_forward(A_prev, hparameters, mode)
    A_ref, cache_ref = pooling.pool_forward_reference(A_prev, hparameters, mode)
    assert A.dtype == np.float32 and rel_error(A, A_ref) < 1e-6
    dA = np.random.default_rng(2).standard_normal(A.shape).astype(np.float32)
    dA_prev = pooling.pool_backward(dA, cache, mode)
    assert dA_prev.dtype == np.float32
    assert rel_error(dA_prev, pooling.pool_backward_reference(dA, cache_ref, mode)) < 1e-6


def test_max_backward_gives_ties_the_gradient_in_both_implementations():
    """With tied maxima (zeros after a ReLU), do both implementations send dA to every tie?"""
    A_prev = np.zeros((1, 2, 2, 1))
    for implementation in ("fast", "reference"):
        A, cache = pooling.pool_forward(A_prev, {"f": 2, "stride": 2}, implementation=implementation)
        dA_prev = pooling.pool_backward(np.full(A.shape, 2.0), cache, implementation=implementation)
        np.testing.assert_array_equal(dA_prev, 2.0)


@pytest.mark.parametrize("implementation", ["fast", "reference"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", SHAPES[:4], ids=IDS[:4])
def test_backward_matches_central_differences(shape, mode, implementation):
    """Does pool_backward match central differences of sum(A * dA)?"""
    A_prev, hparameters = make_input(shape, seed=3)
    A, cache = pooling.pool_forward(A_prev, hparameters, mode, implementation=implementation)
    dA = np.random.default_rng(4).standard_normal(A.shape)
    dA_prev = pooling.pool_backward(dA, cache, mode, implementation=implementation)
    approx = numerical_gradient_array(lambda x: pooling.pool_forward(x, hparameters, mode)[0], A_prev, dA)
    assert rel_error(dA_prev, approx) < 1e-7


@pytest.mark.parametrize("implementation", ["fast", "reference"])
def test_inputs_not_mutated(implementation):
    """Are A_prev and dA left unchanged?"""
    A_prev, hparameters = make_input(SHAPES[2])
    copy = A_prev.copy()
    A, cache = pooling.pool_forward(A_prev, hparameters, implementation=implementation)
    dA = np.ones_like(A)
    pooling.pool_backward(dA, cache, implementation=implementation)
    np.testing.assert_array_equal(A_prev, copy)
    np.testing.assert_array_equal(dA, 1.0)


def test_notes_tuple_cache_accepted():
    """Does pool_backward accept the notes' plain (A_prev, hparameters) cache?"""
    A_prev, hparameters = make_input(SHAPES[0])
    A, cache = pooling.pool_forward(A_prev, hparameters)
    dA = np.ones_like(A)
    np.testing.assert_array_equal(pooling.pool_backward(dA, (A_prev, hparameters)), pooling.pool_backward(dA, cache))


@pytest.mark.parametrize("hparameters, message", [
    ({"f": 2, "stride": 2, "pad": 0}, "unknown: \\['pad'\\]"),
    ({"f": 2}, "missing: \\['stride'\\]"),
    ({"f": 0, "stride": 1}, "f"),
    ({"f": 2, "stride": 1.5}, "stride"),
])
def test_bad_hparameters_rejected(hparameters, message):
    """Are unknown, missing or invalid pooling hyperparameters refused?"""
    with pytest.raises(ValueError, match=message):
        pooling.pool_forward(np.zeros((1, 4, 4, 1)), hparameters)


def test_window_larger_than_input_rejected_with_formula():
    """Is a window larger than the input refused with the output-size formula?"""
    with pytest.raises(ValueError, match=r"floor\(\(3 \+ 2\*0 - 4\) / 1\) \+ 1"):
        pooling.pool_forward(np.zeros((1, 3, 3, 1)), {"f": 4, "stride": 1})


def test_unknown_mode_rejected():
    """Is a mode other than "max" or "average" refused?"""
    with pytest.raises(ValueError, match="mode"):
        pooling.pool_forward(np.zeros((1, 4, 4, 1)), {"f": 2, "stride": 2}, mode="min")


def test_backward_mode_must_match_forward():
    """Is a backward pass in another mode than its forward pass refused?"""
    A, cache = pooling.pool_forward(np.zeros((1, 4, 4, 1)), {"f": 2, "stride": 2}, mode="average")
    with pytest.raises(ValueError, match="mode='average'"):
        pooling.pool_backward(A, cache, mode="max")


def test_backward_checks_dA_shape():
    """Is a dA of the wrong shape refused with the expected shape?"""
    A, cache = pooling.pool_forward(np.zeros((2, 4, 4, 3)), {"f": 2, "stride": 2})
    with pytest.raises(ValueError, match=r"dA has shape \(2, 2, 1, 3\) but expected \(2, 2, 2, 3\)"):
        pooling.pool_backward(A[:, :, :1], cache)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[1], SHAPES[3]], ids=[IDS[0], IDS[1], IDS[3]])
def test_threaded_path_equals_reference(shape, mode, monkeypatch):
    """Split over two threads, do both passes still equal the reference (tiled and not)?"""
    from dlkit.kernels import pooling as pooling_kernels

    monkeypatch.setenv("DLKIT_NUM_THREADS", "2")
    monkeypatch.setattr(pooling_kernels, "MIN_SPLIT_WORK", 0)
    A_prev, hparameters = make_input((5,) + shape[1:], seed=9)
    A, cache = pooling.pool_forward(A_prev, hparameters, mode)
    A_ref, cache_ref = pooling.pool_forward_reference(A_prev, hparameters, mode)
    assert rel_error(A, A_ref) < 1e-10
    dA = np.random.default_rng(10).standard_normal(A.shape)
    assert rel_error(pooling.pool_backward(dA, cache, mode), pooling.pool_backward_reference(dA, cache_ref, mode)) < 1e-10


# 2x2 tiles (f = stride = 2, even sizes) have kernels of their own that record where each maximum is.
TILES_2X2 = [(1, 2, 2, 1), (3, 4, 6, 8), (2, 6, 4, 16), (2, 8, 8, 5)]  # n_C 8 and 16: both sweeps in float64


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", TILES_2X2, ids=["-".join(map(str, s)) for s in TILES_2X2])
def test_2x2_tiles_with_ties_equal_reference(shape, dtype):
    """On 2x2 tiles with many tied maxima (small integers), do both passes equal the reference?"""
    A_prev = np.random.default_rng(5).integers(-2, 3, shape).astype(dtype)
    hparameters = {"f": 2, "stride": 2}
    A, cache = pooling.pool_forward(A_prev, hparameters)
    A_ref, cache_ref = pooling.pool_forward_reference(A_prev, hparameters)
    np.testing.assert_array_equal(A, A_ref)
    assert A.dtype == dtype and cache.max_taps is not None
    dA = np.random.default_rng(6).standard_normal(A.shape).astype(dtype)
    dA_prev = pooling.pool_backward(dA, cache)
    assert dA_prev.dtype == dtype
    np.testing.assert_allclose(dA_prev, pooling.pool_backward_reference(dA, cache_ref), rtol=1e-6, atol=0)


def test_2x2_max_taps_mark_every_tied_entry():
    """Does max_taps set bit 2*di + dj for every entry of a window equal to its maximum?"""
    window = np.array([[3.0, 1.0], [3.0, 3.0]]).reshape(1, 2, 2, 1)
    _, cache = pooling.pool_forward(window, {"f": 2, "stride": 2})
    assert cache.max_taps[0, 0, 0, 0] == 0b1101


def test_2x2_tiles_backward_in_float64_after_a_float32_forward():
    """A float32 forward pass and a float64 dA: does the backward pass (float64) still match?"""
    A_prev, hparameters = make_input((2, 4, 6, 3, 2, 2), np.float32, seed=7)
    A, cache = pooling.pool_forward(A_prev, hparameters)
    dA = np.random.default_rng(8).standard_normal(A.shape)
    _, cache_ref = pooling.pool_forward_reference(A_prev, hparameters)
    dA_prev = pooling.pool_backward(dA, cache)
    assert dA_prev.dtype == np.float64
    assert rel_error(dA_prev, pooling.pool_backward_reference(dA, cache_ref)) < 1e-10


def test_2x2_tiles_leftover_row_takes_the_general_path():
    """An odd size (a row or column no window covers): is it still right (and left at zero)?"""
    A_prev, hparameters = make_input((2, 5, 7, 3, 2, 2), seed=11)
    A, cache = pooling.pool_forward(A_prev, hparameters)
    assert cache.max_taps is None
    A_ref, cache_ref = pooling.pool_forward_reference(A_prev, hparameters)
    dA = np.random.default_rng(12).standard_normal(A.shape)
    dA_prev = pooling.pool_backward(dA, cache)
    assert rel_error(A, A_ref) < 1e-10 and rel_error(dA_prev, pooling.pool_backward_reference(dA, cache_ref)) < 1e-10
    assert not dA_prev[:, 4].any() and not dA_prev[:, :, 6].any()


# Other windows (overlapping, gaps, leftovers) go through the separable kernels: max over a row
# of windows' input rows, then over each window's columns; the backward pass retraces both steps.
GENERAL = [(2, 9, 9, 8, 3, 2), (1, 7, 8, 1, 3, 1), (3, 8, 7, 3, 2, 3), (2, 9, 9, 16, 3, 3), (1, 6, 6, 5, 4, 2)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", GENERAL, ids=["-".join(map(str, s)) for s in GENERAL])
def test_general_windows_with_ties_equal_reference(shape, dtype):
    """Overlapping, spaced and tiled 3x3 windows with many ties: do both passes equal the reference?"""
    m, n_H_prev, n_W_prev, n_C, f, stride = shape
    A_prev = np.random.default_rng(13).integers(-2, 3, (m, n_H_prev, n_W_prev, n_C)).astype(dtype)
    hparameters = {"f": f, "stride": stride}
    A, cache = pooling.pool_forward(A_prev, hparameters)
    A_ref, cache_ref = pooling.pool_forward_reference(A_prev, hparameters)
    np.testing.assert_array_equal(A, A_ref)
    dA = np.random.default_rng(14).standard_normal(A.shape).astype(dtype)
    dA_prev = pooling.pool_backward(dA, cache)
    assert dA_prev.dtype == dtype
    tolerance = 1e-10 if dtype == np.float64 else 1e-6  # overlaps add up in another order
    assert rel_error(dA_prev, pooling.pool_backward_reference(dA, cache_ref)) < tolerance


def test_general_backward_gives_every_tie_of_a_window_the_gradient():
    """A 3x3 window of equal entries: does each get the gradient (added where windows overlap)?"""
    A_prev = np.ones((1, 5, 5, 1))
    A, cache = pooling.pool_forward(A_prev, {"f": 3, "stride": 2})
    dA_prev = pooling.pool_backward(np.ones(A.shape), cache)
    windows_per_entry = np.array([1, 1, 2, 1, 1])  # how many windows cover each row / column
    np.testing.assert_array_equal(dA_prev[0, :, :, 0], np.outer(windows_per_entry, windows_per_entry))
