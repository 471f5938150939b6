"""Tests of dlkit.conv_transpose: output sizes, fast vs reference, gradient checks, validation."""
import numpy as np
import pytest

from dlkit import conv, conv_transpose
from dlkit.gradcheck import numerical_gradient_array, rel_error

pytestmark = pytest.mark.lesson12

# (m, n_H_prev, n_W_prev, n_C_prev, n_C, f, stride, pad)
SHAPES = [
    (2, 3, 4, 3, 2, 2, 2, 0),  # U-Net's 2x up-convolution
    (1, 4, 4, 2, 3, 3, 2, 1),
    (2, 3, 3, 1, 2, 3, 1, "same"),
    (2, 2, 3, 2, 2, 4, 3, 1),
    (1, 3, 3, 2, 2, 1, 1, 0),
]
IDS = ["-".join(map(str, shape)) for shape in SHAPES]


def make_inputs(shape, dtype=np.float64, seed=0):
    m, n_H_prev, n_W_prev, n_C_prev, n_C, f, stride, pad = shape
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, n_H_prev, n_W_prev, n_C_prev)).astype(dtype),
            rng.standard_normal((f, f, n_C_prev, n_C)).astype(dtype),
            rng.standard_normal((1, 1, 1, n_C)).astype(dtype), {"stride": stride, "pad": pad})


def test_two_by_two_stride_two_doubles_the_size():
    """Does f = s = 2, p = 0 paint each pixel's filter on its own 2x2 block of a 2x larger output?"""
    A_prev = np.arange(4.0).reshape(1, 2, 2, 1)
    Z, _ = conv_transpose.conv_transpose_forward(A_prev, np.ones((2, 2, 1, 1)), np.zeros((1, 1, 1, 1)),
                                                 {"stride": 2, "pad": 0})
    np.testing.assert_array_equal(Z[0, :, :, 0], np.kron(A_prev[0, :, :, 0], np.ones((2, 2))))


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_fast_equals_reference_float64(shape):
    """Do the fast forward and backward passes equal the reference loops in float64?"""
    A_prev, W, b, hparameters = make_inputs(shape)
    Z, cache = conv_transpose.conv_transpose_forward(A_prev, W, b, hparameters)
    Z_ref, cache_ref = conv_transpose.conv_transpose_forward_reference(A_prev, W, b, hparameters)
    assert Z.shape == Z_ref.shape and rel_error(Z, Z_ref) < 1e-10
    dZ = np.random.default_rng(1).standard_normal(Z.shape)
    for got, expected in zip(conv_transpose.conv_transpose_backward(dZ, cache),
                             conv_transpose.conv_transpose_backward_reference(dZ, cache_ref)):
        assert got.shape == expected.shape and rel_error(got, expected) < 1e-10


def test_float32_stays_float32():
    """Does a float32 transposed convolution return float32 close to the reference?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[1], np.float32)
    Z, cache = conv_transpose.conv_transpose_forward(A_prev, W, b, hparameters)
    Z_ref, _ = conv_transpose.conv_transpose_forward_reference(A_prev, W, b, hparameters)
    assert Z.dtype == np.float32 and rel_error(Z, Z_ref) < 1e-5
    assert all(g.dtype == np.float32 for g in conv_transpose.conv_transpose_backward(np.ones_like(Z), cache))


@pytest.mark.parametrize("implementation", ["fast", "reference"])
@pytest.mark.parametrize("shape", SHAPES[:4], ids=IDS[:4])
def test_backward_matches_central_differences(shape, implementation):
    """Does conv_transpose_backward match central differences for A_prev, W and b?"""
    A_prev, W, b, hparameters = make_inputs(shape, seed=2)
    forward = conv_transpose.conv_transpose_forward
    Z, cache = forward(A_prev, W, b, hparameters, implementation=implementation)
    dZ = np.random.default_rng(3).standard_normal(Z.shape)
    grads = conv_transpose.conv_transpose_backward(dZ, cache, implementation=implementation)
    numeric = [numerical_gradient_array(lambda x: forward(x, W, b, hparameters)[0], A_prev, dZ),
               numerical_gradient_array(lambda x: forward(A_prev, x, b, hparameters)[0], W, dZ),
               numerical_gradient_array(lambda x: forward(A_prev, W, x, hparameters)[0], b, dZ)]
    for analytic, approx in zip(grads, numeric):
        assert rel_error(analytic, approx) < 1e-7


def test_is_the_adjoint_of_convolution():
    """Is <conv(x), y> = <x, conv_transpose(y)> with the same filters (zero biases)?"""
    rng = np.random.default_rng(4)
    x, W = rng.standard_normal((2, 7, 7, 3)), rng.standard_normal((3, 3, 3, 4))
    hparameters = {"stride": 2, "pad": 1}
    Z, _ = conv.conv_forward(x, W, np.zeros((1, 1, 1, 4)), hparameters)
    y = rng.standard_normal(Z.shape)
    back, _ = conv_transpose.conv_transpose_forward(y, W.transpose(0, 1, 3, 2), np.zeros((1, 1, 1, 3)), hparameters)
    assert back.shape == x.shape
    assert np.sum(Z * y) == pytest.approx(np.sum(x * back), rel=1e-10)


def test_channel_mismatch_and_bad_padding_rejected():
    """Are W with the wrong input channels and a padding that leaves no output refused?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[0])
    with pytest.raises(ValueError, match="A_prev has 3 channels"):
        conv_transpose.conv_transpose_forward(A_prev, W[:, :, :2], b, hparameters)
    with pytest.raises(ValueError, match=r"\(n_H_prev - 1\)\*stride - 2\*pad \+ f"):
        conv_transpose.conv_transpose_forward(A_prev[:, :1, :1], W, b, {"stride": 1, "pad": 2})
    with pytest.raises(ValueError, match="unknown"):
        conv_transpose.conv_transpose_forward(A_prev, W, b, {"stride": 2, "pad": 0, "output_padding": 1})
