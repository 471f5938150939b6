"""Tests of dlkit.depthwise: depthwise and separable convolutions against normal ones, gradient checks, costs."""
import numpy as np
import pytest

from dlkit import depthwise
from dlkit.conv import conv_forward
from dlkit.gradcheck import numerical_gradient_array, rel_error

pytestmark = [pytest.mark.lesson15]

HPARAMETERS = [{"stride": 1, "pad": 0}, {"stride": 2, "pad": 1}, {"stride": 1, "pad": "same"}, {"stride": 3, "pad": 2}]


def case(seed=0, m=2, n_H=5, n_W=6, n_C_prev=3, f=3):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, n_H, n_W, n_C_prev)), rng.standard_normal((f, f, n_C_prev)),
            rng.standard_normal((1, 1, 1, n_C_prev)))


def block_diagonal(W):
    """The normal conv filters (f, f, n_C, n_C) that do what the depthwise filter (f, f, n_C) does."""
    f, _, n_C = W.shape
    W_full = np.zeros((f, f, n_C, n_C))
    for c in range(n_C):
        W_full[:, :, c, c] = W[:, :, c]
    return W_full


@pytest.mark.parametrize("hparameters", HPARAMETERS)
def test_depthwise_equals_a_normal_conv_with_block_diagonal_filters(hparameters):
    """Is a depthwise conv the normal conv whose filter c sees only channel c?"""
    A_prev, W, b = case()
    Z, cache = depthwise.depthwise_conv_forward(A_prev, W, b, hparameters)
    expected, _ = conv_forward(A_prev, block_diagonal(W), b, hparameters)
    np.testing.assert_allclose(Z, expected, atol=1e-12)
    assert isinstance(cache, depthwise.DepthwiseCache)


@pytest.mark.parametrize("hparameters", HPARAMETERS)
def test_depthwise_backward_matches_central_differences(hparameters):
    """Are dA_prev, dW and db of the depthwise conv equal to central differences of sum(Z * dZ)?"""
    A_prev, W, b = case(1)
    Z, cache = depthwise.depthwise_conv_forward(A_prev, W, b, hparameters)
    dZ = np.random.default_rng(2).standard_normal(Z.shape)
    grads = depthwise.depthwise_conv_backward(dZ, cache)
    arrays = [A_prev, W, b]
    for k, grad in enumerate(grads):
        def forward(x, k=k):
            args = arrays[:k] + [x] + arrays[k + 1:]
            return depthwise.depthwise_conv_forward(*args, hparameters)[0]
        assert grad.shape == arrays[k].shape
        assert rel_error(grad, numerical_gradient_array(forward, arrays[k].copy(), dZ)) < 1e-7, k


def test_separable_backward_matches_central_differences():
    """Are the five gradients of the separable conv equal to central differences?"""
    A_prev, W_d, b_d = case(3)
    rng = np.random.default_rng(4)
    arrays = [A_prev, W_d, b_d, rng.standard_normal((1, 1, 3, 4)), rng.standard_normal((1, 1, 1, 4))]
    hparameters = {"stride": 2, "pad": "same"}
    Z, cache = depthwise.separable_conv_forward(*arrays, hparameters)
    assert Z.shape == (2, 3, 3, 4)
    dZ = rng.standard_normal(Z.shape)
    for k, grad in enumerate(depthwise.separable_conv_backward(dZ, cache)):
        def forward(x, k=k):
            return depthwise.separable_conv_forward(*arrays[:k], x, *arrays[k + 1:], hparameters)[0]
        assert rel_error(grad, numerical_gradient_array(forward, arrays[k].copy(), dZ)) < 1e-7, k


def test_separable_equals_depthwise_then_a_1x1_conv():
    """Is the separable conv the depthwise output passed through a 1x1 conv?"""
    A_prev, W_d, b_d = case(5)
    W_p, b_p = np.ones((1, 1, 3, 2)), np.array([1.0, -1.0]).reshape(1, 1, 1, 2)
    Z, _ = depthwise.separable_conv_forward(A_prev, W_d, b_d, W_p, b_p, {"stride": 1, "pad": 1})
    Z_d, _ = depthwise.depthwise_conv_forward(A_prev, W_d, b_d, {"stride": 1, "pad": 1})
    np.testing.assert_allclose(Z[..., 0], Z_d.sum(axis=-1) + 1.0)
    np.testing.assert_allclose(Z[..., 1], Z_d.sum(axis=-1) - 1.0)


def test_cost_ratio_is_one_over_n_C_plus_one_over_f_squared():
    """Is separable / normal multiplications = 1/n_C + 1/f**2 (e.g. 3x3 filters, 256 output channels)?"""
    ratio = depthwise.separable_multiplications(28, 28, 3, 192, 256) / depthwise.conv_multiplications(28, 28, 3, 192, 256)
    assert ratio == pytest.approx(1 / 256 + 1 / 9)


def test_shape_errors_name_the_shapes():
    """Are a wrong filter depth, a wrong bias and a non-1x1 pointwise filter ValueErrors naming shapes?"""
    A_prev, W, b = case()
    with pytest.raises(ValueError, match=r"\(f, f, 3\)"):
        depthwise.depthwise_conv_forward(A_prev, W[..., :2], b, {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="b has shape"):
        depthwise.depthwise_conv_forward(A_prev, W, b[..., :2], {"stride": 1, "pad": 0})
    with pytest.raises(ValueError, match="W_pointwise"):
        depthwise.separable_conv_forward(A_prev, W, b, np.ones((3, 3, 3, 2)), np.zeros((1, 1, 1, 2)),
                                         {"stride": 1, "pad": 0})


def test_depthwise_layer_counts_and_gradients():
    """Does DepthwiseConv2D hold (f*f + 1)*n_C parameters and give the functional gradients?"""
    layer = depthwise.DepthwiseConv2D(4, 3, stride=2, pad="same", seed=1)
    assert layer.count_parameters() == (9 + 1) * 4
    x = np.random.default_rng(6).standard_normal((2, 6, 6, 4))
    out = layer.forward(x)
    assert out.shape == (2, *layer.output_shape((6, 6, 4))) == (2, 3, 3, 4)
    dout = np.ones_like(out)
    layer.backward(dout)
    expected = depthwise.depthwise_conv_backward(dout, layer.cache)
    np.testing.assert_allclose(layer.grads["dW_dwconv"], expected[1])
