"""Tests of dlkit.depthwise: depthwise and separable convolutions, fast vs reference, gradient checks."""
import numpy as np
import pytest

from dlkit import conv, depthwise
from dlkit.gradcheck import numerical_gradient_array, rel_error

pytestmark = pytest.mark.lesson12

# (m, n_H_prev, n_W_prev, n_C, f, stride, pad)
SHAPES = [(2, 5, 6, 3, 3, 1, 1), (1, 7, 7, 1, 3, 2, 0), (2, 6, 5, 4, 2, 3, 2), (2, 5, 5, 2, 5, 1, "same")]
IDS = ["-".join(map(str, shape)) for shape in SHAPES]


def make_inputs(shape, dtype=np.float64, seed=0):
    m, n_H_prev, n_W_prev, n_C, f, stride, pad = shape
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, n_H_prev, n_W_prev, n_C)).astype(dtype), rng.standard_normal((f, f, n_C)).astype(dtype),
            rng.standard_normal((1, 1, 1, n_C)).astype(dtype), {"stride": stride, "pad": pad})


def test_depthwise_is_a_conv_with_diagonal_filters():
    """Does a depthwise convolution equal a full convolution whose filters never mix channels?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[0])
    full = np.zeros(W.shape[:2] + (3, 3))
    for c in range(3):
        full[:, :, c, c] = W[:, :, c]
    Z, _ = depthwise.depthwise_conv_forward(A_prev, W, b, hparameters)
    assert rel_error(Z, conv.conv_forward(A_prev, full, b, hparameters)[0]) < 1e-12


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_fast_equals_reference_float64(shape):
    """Do the fast depthwise passes equal the reference loops in float64?"""
    A_prev, W, b, hparameters = make_inputs(shape)
    Z, cache = depthwise.depthwise_conv_forward(A_prev, W, b, hparameters)
    Z_ref, cache_ref = depthwise.depthwise_conv_forward_reference(A_prev, W, b, hparameters)
    assert rel_error(Z, Z_ref) < 1e-10
    dZ = np.random.default_rng(1).standard_normal(Z.shape)
    for got, expected in zip(depthwise.depthwise_conv_backward(dZ, cache),
                             depthwise.depthwise_conv_backward_reference(dZ, cache_ref)):
        assert got.shape == expected.shape and rel_error(got, expected) < 1e-10


def test_float32_stays_float32():
    """Does float32 in give float32 out, close to the reference?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[2], np.float32)
    Z, cache = depthwise.depthwise_conv_forward(A_prev, W, b, hparameters)
    assert Z.dtype == np.float32
    assert rel_error(Z, depthwise.depthwise_conv_forward_reference(A_prev, W, b, hparameters)[0]) < 1e-5
    assert all(g.dtype == np.float32 for g in depthwise.depthwise_conv_backward(np.ones_like(Z), cache))


@pytest.mark.parametrize("implementation", ["fast", "reference"])
@pytest.mark.parametrize("shape", SHAPES[:3], ids=IDS[:3])
def test_depthwise_backward_matches_central_differences(shape, implementation):
    """Does depthwise_conv_backward match central differences for A_prev, W and b?"""
    A_prev, W, b, hparameters = make_inputs(shape, seed=2)
    forward = depthwise.depthwise_conv_forward
    Z, cache = forward(A_prev, W, b, hparameters, implementation=implementation)
    dZ = np.random.default_rng(3).standard_normal(Z.shape)
    grads = depthwise.depthwise_conv_backward(dZ, cache, implementation=implementation)
    numeric = [numerical_gradient_array(lambda x: forward(x, W, b, hparameters)[0], A_prev, dZ),
               numerical_gradient_array(lambda x: forward(A_prev, x, b, hparameters)[0], W, dZ),
               numerical_gradient_array(lambda x: forward(A_prev, W, x, hparameters)[0], b, dZ)]
    for analytic, approx in zip(grads, numeric):
        assert rel_error(analytic, approx) < 1e-7


@pytest.mark.parametrize("implementation", ["fast", "reference"])
def test_separable_backward_matches_central_differences(implementation):
    """Does separable_conv_backward match central differences for all five inputs?"""
    A_prev, W_d, b_d, hparameters = make_inputs(SHAPES[0], seed=4)
    rng = np.random.default_rng(5)
    W_p, b_p = rng.standard_normal((1, 1, 3, 4)), rng.standard_normal((1, 1, 1, 4))
    args = [A_prev, W_d, b_d, W_p, b_p]

    def forward_with(index):
        return lambda x: depthwise.separable_conv_forward(*(x if k == index else a for k, a in enumerate(args)),
                                                          hparameters, implementation)[0]

    Z, cache = depthwise.separable_conv_forward(*args, hparameters, implementation)
    assert Z.shape == (2, 5, 6, 4)
    dZ = rng.standard_normal(Z.shape)
    grads = depthwise.separable_conv_backward(dZ, cache, implementation)
    for index, analytic in enumerate(grads):
        assert rel_error(analytic, numerical_gradient_array(forward_with(index), args[index], dZ)) < 1e-7


def test_filter_per_channel_required():
    """Is a filter bank with the wrong number of channels refused, naming the expected shape?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[0])
    with pytest.raises(ValueError, match=r"expected \(f, f, 3\)"):
        depthwise.depthwise_conv_forward(A_prev, W[:, :, :2], b, hparameters)
