"""Tests of dlkit.transposed_conv: output sizes, the adjoint of convolution, gradient checks, the layer."""
import numpy as np
import pytest

from dlkit import transposed_conv as tc
from dlkit.conv import conv_backward, conv_forward
from dlkit.gradcheck import numerical_gradient_array, rel_error

pytestmark = [pytest.mark.lesson16]

CASES = [(2, 2, 0), (3, 2, 1), (3, 1, 1), (4, 3, 0), (3, 2, 0)]  # (f, stride, pad)


def case(seed=0, m=2, n_H_prev=3, n_W_prev=4, n_C_prev=2, n_C=3, f=3):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, n_H_prev, n_W_prev, n_C_prev)), rng.standard_normal((f, f, n_C_prev, n_C)),
            rng.standard_normal((1, 1, 1, n_C)))


@pytest.mark.parametrize("f, stride, pad", CASES)
def test_output_size_follows_the_formula(f, stride, pad):
    """Is the output (n_prev - 1)*s + f - 2p high and wide, and does a conv with the same f, s, p map it back?"""
    A_prev, W, b = case(f=f)
    Z, _ = tc.conv_transpose_forward(A_prev, W, b, {"stride": stride, "pad": pad})
    assert Z.shape == (2, (3 - 1) * stride + f - 2 * pad, (4 - 1) * stride + f - 2 * pad, 3)
    back, _ = conv_forward(Z, W.transpose(0, 1, 3, 2), np.zeros((1, 1, 1, 2)), {"stride": stride, "pad": pad})
    assert back.shape == A_prev.shape


@pytest.mark.parametrize("f, stride, pad", CASES)
def test_transposed_conv_is_the_input_gradient_of_a_conv(f, stride, pad):
    """Is conv_transpose_forward(A, W) the dA_prev of the conv with the same f, s, p and channel-swapped W?"""
    A_prev, W, _ = case(1, f=f)
    hparameters = {"stride": stride, "pad": pad}
    Z, _ = tc.conv_transpose_forward(A_prev, W, np.zeros((1, 1, 1, 3)), hparameters)
    _, conv_cache = conv_forward(np.zeros(Z.shape), W.transpose(0, 1, 3, 2), np.zeros((1, 1, 1, 2)), hparameters)
    dA_prev, _, _ = conv_backward(A_prev, conv_cache)  # A_prev plays the conv's dZ
    np.testing.assert_allclose(Z, dA_prev, atol=1e-12)


@pytest.mark.parametrize("f, stride, pad", CASES)
def test_backward_matches_central_differences(f, stride, pad):
    """Are dA_prev, dW and db equal to central differences of sum(Z * dZ)?"""
    arrays = list(case(2, f=f))
    hparameters = {"stride": stride, "pad": pad}
    Z, cache = tc.conv_transpose_forward(*arrays, hparameters)
    dZ = np.random.default_rng(3).standard_normal(Z.shape)
    for k, grad in enumerate(tc.conv_transpose_backward(dZ, cache)):
        def forward(x, k=k):
            return tc.conv_transpose_forward(*arrays[:k], x, *arrays[k + 1:], hparameters)[0]
        assert grad.shape == arrays[k].shape
        assert rel_error(grad, numerical_gradient_array(forward, arrays[k].copy(), dZ)) < 1e-7, (k, f, stride, pad)


def test_each_pixel_paints_a_scaled_filter():
    """With one nonzero input pixel, is the output the filter times that pixel, placed at (h*s, w*s)?"""
    A_prev = np.zeros((1, 2, 2, 1))
    A_prev[0, 1, 0, 0] = 3.0
    W = np.arange(9.0).reshape(3, 3, 1, 1)
    Z, _ = tc.conv_transpose_forward(A_prev, W, np.zeros((1, 1, 1, 1)), {"stride": 2, "pad": 0})
    expected = np.zeros((5, 5))
    expected[2:5, 0:3] = 3.0 * W[:, :, 0, 0]
    np.testing.assert_array_equal(Z[0, :, :, 0], expected)


def test_errors_name_shapes_and_the_formula():
    """Are a channel mismatch, an unknown hyperparameter and an empty output ValueErrors that say why?"""
    A_prev, W, b = case()
    with pytest.raises(ValueError, match=r"\(f, f, 2, n_C\)"):
        tc.conv_transpose_forward(A_prev, W[:, :, :1], b, {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="unknown"):
        tc.conv_transpose_forward(A_prev, W, b, {"stride": 1, "pad": 0, "dilation": 1})
    with pytest.raises(ValueError, match=r"n_H = \(n_H_prev - 1\)"):
        tc.conv_transpose_forward(A_prev[:, :1, :1], W, b, {"stride": 1, "pad": 2})


def test_layer_doubles_the_size_and_counts_parameters():
    """Does ConvTranspose2D(f=2, stride=2) double n_H and n_W, hold (f*f*n_C_prev + 1)*n_C numbers, and keep grads?"""
    layer = tc.ConvTranspose2D(4, 2, 2, stride=2, seed=0)
    assert layer.count_parameters() == (2 * 2 * 4 + 1) * 2
    x = np.random.default_rng(4).standard_normal((3, 4, 4, 4))
    out = layer.forward(x)
    assert out.shape == (3, *layer.output_shape((4, 4, 4))) == (3, 8, 8, 2)
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == x.shape and set(layer.grads) == {"dW_convT", "db_convT"}
    np.testing.assert_allclose(layer.grads["db_convT"].ravel(), [3 * 64, 3 * 64])
