"""Tests of dlkit.layers: every layer's backward against central differences, shapes, names and counts."""
import numpy as np
import pytest

from dlkit import layers
from dlkit.data import flatten_images
from dlkit.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

pytestmark = [pytest.mark.lesson13]


def layer_gradient_errors(layer, x, training=True, seed=1):
    """Relative errors of ``layer.backward`` against central differences of ``sum(forward(x) * dout)``.

    Returns ``{"x": error, "W": error, ...}`` (short parameter names), after checking the analytic
    input gradient has the input's shape.
    """
    out = layer.forward(x, training)
    dout = np.random.default_rng(seed).standard_normal(out.shape)
    dx = layer.backward(dout)
    assert dx.shape == x.shape
    analytic = {key: layer._grads[key] for key in layer._params}

    def cost(_):
        return np.sum(layer.forward(x, training) * dout)

    errors = {"x": rel_error(dx, numerical_gradient(cost, x))}
    for key, value in layer._params.items():  # perturbed in place, read by forward
        errors[key] = rel_error(analytic[key], numerical_gradient(cost, value))
    return errors


def images(shape=(2, 5, 5, 3), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("stride, pad", [(1, "same"), (2, 1), (1, 0)])
def test_conv2d_backward_matches_central_differences(stride, pad):
    """Are Conv2D's gradients of x, W and b equal to central differences (float64)?"""
    layer = layers.Conv2D(3, 4, 3, stride=stride, pad=pad, seed=2)
    layer.set_params({**layer.params, "b_conv": np.random.default_rng(3).standard_normal((1, 1, 1, 4))})
    errors = layer_gradient_errors(layer, images())
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("cls", [layers.MaxPool2D, layers.AvgPool2D])
def test_pooling_backward_matches_central_differences(cls):
    """Do the pooling layers' input gradients equal central differences (overlapping windows too)?"""
    for f, stride in ((2, 2), (3, 1)):
        errors = layer_gradient_errors(cls(f, stride), images((2, 6, 6, 2)))
        assert errors["x"] < 1e-7, (f, stride, errors)


def test_pooling_stride_defaults_to_the_window():
    """Does MaxPool2D(2) use stride 2 and halve the height and width?"""
    pool = layers.MaxPool2D(2)
    assert pool.hparameters == {"f": 2, "stride": 2}
    assert pool.forward(images((1, 6, 6, 2))).shape == (1, 3, 3, 2)
    assert pool.output_shape((6, 6, 2)) == (3, 3, 2)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm2d_backward_matches_central_differences(training):
    """Are BatchNorm2D's gradients of x, gamma and beta right in train and in test mode?"""
    layer = layers.BatchNorm2D(3)
    rng = np.random.default_rng(4)
    layer.set_params({"gamma_bn": rng.standard_normal((1, 1, 1, 3)), "beta_bn": rng.standard_normal((1, 1, 1, 3))})
    layer.forward(images() * 2 + 1, training=True)  # running statistics away from (0, 1)
    errors = layer_gradient_errors(layer, images(), training=training)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm1d_backward_matches_central_differences(training):
    """Are BatchNorm1D's gradients right on columns (n, m), in both modes?"""
    layer = layers.BatchNorm1D(4)
    layer.set_params({"gamma_bn": np.arange(1.0, 5.0).reshape(4, 1), "beta_bn": np.ones((4, 1))})
    layer.forward(np.random.default_rng(5).standard_normal((4, 6)) * 3, training=True)
    errors = layer_gradient_errors(layer, np.random.default_rng(6).standard_normal((4, 6)), training=training)
    assert max(errors.values()) < 1e-7, errors


def test_batchnorm2d_running_statistics_change_only_in_training():
    """Does training=True update the running mean and training=False leave it alone?"""
    layer = layers.BatchNorm2D(3, momentum=0.5)
    x = images() + 4.0
    layer.forward(x, training=True)
    np.testing.assert_allclose(layer.running.mean.ravel(), 0.5 * x.mean(axis=(0, 1, 2)))
    before = layer.running
    out = layer.forward(x, training=False)
    assert layer.running is before
    expected = (x - before.mean.ravel()) / np.sqrt(before.var.ravel() + layer.eps)
    np.testing.assert_allclose(out, expected)


@pytest.mark.parametrize("shape", [(2, 3, 3, 2), (5, 4)])
def test_relu_backward_matches_central_differences_in_both_layouts(shape):
    """Is ReLU's gradient right on images and on columns?"""
    x = np.random.default_rng(7).standard_normal(shape)
    assert layer_gradient_errors(layers.ReLU(), x)["x"] < 1e-7


def test_flatten_bridges_images_and_columns():
    """Is Flatten's output (n_H*n_W*n_C, m) with column i = image i read row by row, and backward its inverse?"""
    x = images((3, 2, 4, 5))
    flat = layers.Flatten()
    out = flat.forward(x)
    assert out.shape == (40, 3)
    np.testing.assert_array_equal(out, flatten_images(x))
    np.testing.assert_array_equal(out[(1 * 4 + 2) * 5 + 3, 1], x[1, 1, 2, 3])
    np.testing.assert_array_equal(flat.backward(out), x)
    assert flat.output_shape((2, 4, 5)) == (40,)


def test_flatten_backward_rejects_a_wrong_shape():
    """Does Flatten.backward name the expected (n, m) shape when dout does not fit?"""
    flat = layers.Flatten()
    flat.forward(images((3, 2, 2, 1)))
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        flat.backward(np.zeros((3, 4)))


def test_dense_backward_matches_central_differences():
    """Are Dense's gradients of x, W and b (dout = gradient of the cost, no 1/m) equal to central differences?"""
    layer = layers.Dense(5, 3, seed=8)
    layer.set_params({**layer.params, "b_dense": np.random.default_rng(9).standard_normal((3, 1))})
    errors = layer_gradient_errors(layer, np.random.default_rng(10).standard_normal((5, 4)))
    assert max(errors.values()) < 1e-7, errors


def test_softmax_cross_entropy_backward_is_the_gradient_of_its_cost():
    """Is backward() the gradient of the mean cost, and do labels and one-hot columns give the same cost?"""
    rng = np.random.default_rng(11)
    Z, labels = rng.standard_normal((4, 6)), rng.integers(0, 4, 6)
    loss = layers.SoftmaxCrossEntropy()
    cost = loss.forward(Z, labels)
    dZ = loss.backward()
    assert loss.forward(Z, np.eye(4)[:, labels]) == pytest.approx(cost)
    assert loss.forward(Z, labels.reshape(1, -1)) == pytest.approx(cost)
    numeric = numerical_gradient(lambda z: layers.SoftmaxCrossEntropy().forward(z, labels), Z.copy())
    assert rel_error(dZ, numeric) < 1e-7


def test_parameter_counts_match_hand_counts():
    """Are the parameter counts (f*f*n_C_prev + 1)*n_C, (n_in + 1)*n_out and 2*n_C?"""
    assert layers.Conv2D(3, 8, 5).count_parameters() == (5 * 5 * 3 + 1) * 8 == 608
    assert layers.Dense(128, 10).count_parameters() == 129 * 10
    assert layers.BatchNorm2D(16).count_parameters() == 32
    assert layers.BatchNorm1D(7).count_parameters() == 14
    assert sum(layer.count_parameters() for layer in (layers.ReLU(), layers.Flatten(), layers.MaxPool2D(2))) == 0


def test_params_and_grads_carry_the_layer_name():
    """Are parameters named "W_<name>" and gradients "dW_<name>", with the shapes of the notes?"""
    conv = layers.Conv2D(2, 4, 3, pad="same", name="conv7")
    assert {key: value.shape for key, value in conv.params.items()} == {"W_conv7": (3, 3, 2, 4), "b_conv7": (1, 1, 1, 4)}
    assert conv.grads == {}
    conv.forward(images((1, 4, 4, 2)))
    conv.backward(np.ones((1, 4, 4, 4)))
    assert set(conv.grads) == {"dW_conv7", "db_conv7"}
    assert set(layers.BatchNorm2D(4, name="bn3").params) == {"gamma_bn3", "beta_bn3"}


def test_set_params_checks_names_and_shapes():
    """Does set_params take new arrays and reject a missing name or a wrong shape?"""
    dense = layers.Dense(3, 2)
    new_W = np.ones((2, 3))
    dense.set_params({"W_dense": new_W, "b_dense": np.zeros((2, 1)), "other": 1})
    assert dense.params["W_dense"] is new_W
    with pytest.raises(ValueError, match="b_dense"):
        dense.set_params({"W_dense": new_W})
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        dense.set_params({"W_dense": new_W.T, "b_dense": np.zeros((2, 1))})


def test_conv2d_output_shape_follows_the_formula():
    """Is Conv2D's output floor((n + 2p - f)/s) + 1, and does pad="same" keep the size at stride 1?"""
    cases = [((7, 9, 3), 3, 2, 1, (4, 5, 6)), ((8, 8, 3), 3, 1, "same", (8, 8, 6)), ((8, 8, 3), 5, 1, 0, (4, 4, 6))]
    for input_shape, f, stride, pad, expected in cases:
        conv = layers.Conv2D(3, 6, f, stride=stride, pad=pad)
        assert conv.output_shape(input_shape) == expected
        assert conv.forward(np.zeros((2, *input_shape))).shape == (2, *expected)
    with pytest.raises(ValueError, match=r"\(n_H, n_W, 3\)"):
        layers.Conv2D(3, 6, 3).output_shape((8, 8, 4))


def test_same_seed_same_weights_and_he_scale():
    """Do equal seeds give equal filters, and is their spread about sqrt(2 / (f*f*n_C_prev))?"""
    a, b = layers.Conv2D(16, 64, 3, seed=5), layers.Conv2D(16, 64, 3, seed=5)
    np.testing.assert_array_equal(a.params["W_conv"], b.params["W_conv"])
    assert np.std(a.params["W_conv"]) == pytest.approx(np.sqrt(2 / 144), rel=0.05)
    assert not np.array_equal(a.params["W_conv"], layers.Conv2D(16, 64, 3, seed=6).params["W_conv"])


def test_backward_before_forward_is_an_error():
    """Does calling backward first raise a RuntimeError naming the layer?"""
    with pytest.raises(RuntimeError, match="conv"):
        layers.Conv2D(1, 1, 1).backward(np.zeros((1, 1, 1, 1)))


def test_forward_does_not_mutate_its_input():
    """Do the layers leave x as it was?"""
    x = images()
    kept = x.copy()
    for layer in (layers.Conv2D(3, 2, 3, pad=1), layers.BatchNorm2D(3), layers.ReLU(), layers.MaxPool2D(2)):
        layer.forward(x)
        layer.backward(np.ones(layer.forward(x).shape))
    np.testing.assert_array_equal(x, kept)


def test_conv2d_reference_implementation_agrees_with_fast():
    """Does Conv2D(implementation="reference") give the same output and gradients as the fast path?"""
    x, dout = images(), np.random.default_rng(12).standard_normal((2, 5, 5, 2))
    fast, slow = layers.Conv2D(3, 2, 3, pad=1, seed=1), layers.Conv2D(3, 2, 3, pad=1, seed=1, implementation="reference")
    np.testing.assert_allclose(fast.forward(x), slow.forward(x))
    np.testing.assert_allclose(fast.backward(dout), slow.backward(dout))
    np.testing.assert_allclose(fast.grads["dW_conv"], slow.grads["dW_conv"])


def test_dense_matches_numerical_gradient_array_of_linear_map():
    """Is Dense.backward's dx equal to W^T dout (the chain rule, no factor of m)?"""
    layer = layers.Dense(3, 2, seed=0)
    x, dout = np.random.default_rng(1).standard_normal((3, 5)), np.random.default_rng(2).standard_normal((2, 5))
    layer.forward(x)
    expected = numerical_gradient_array(lambda v: layer.params["W_dense"] @ v + layer.params["b_dense"], x.copy(), dout)
    np.testing.assert_allclose(layer.backward(dout), expected, rtol=1e-7)
