"""Tests of dlkit.residual: identity and convolutional blocks, forward shapes, gradient checks, layer objects."""
import numpy as np
import pytest

from dlkit import residual
from dlkit.gradcheck import numerical_gradient, rel_error

pytestmark = [pytest.mark.lesson14]

BIASES_BEFORE_BN = ("b1", "b2", "b3", "b_shortcut")


def random_parameters(parameters, seed):
    """The same keys and shapes with standard normal values (gamma away from 1, beta away from 0)."""
    rng = np.random.default_rng(seed)
    return {key: rng.standard_normal(value.shape) for key, value in parameters.items()}


def block_gradient_errors(forward, backward, X, parameters, mode="train", running=None, seed=1, **kwargs):
    """Relative errors of a block's backward against central differences of ``sum(A * dA)``.

    Biases followed by batch norm have a zero gradient in train mode: for them the largest
    absolute value of either gradient is reported instead of a relative error.
    """
    A, cache, _ = forward(X, parameters, mode=mode, running=running, **kwargs)
    dA = np.random.default_rng(seed).standard_normal(A.shape)
    dX, grads = backward(dA, cache)
    assert set(grads) == {"d" + key for key in parameters}

    def cost(_):
        return np.sum(forward(X, parameters, mode=mode, running=running, **kwargs)[0] * dA)

    errors = {"X": rel_error(dX, numerical_gradient(cost, X))}
    for key, value in parameters.items():  # perturbed in place, read by forward through the dict
        numeric = numerical_gradient(cost, value)
        if mode == "train" and key in BIASES_BEFORE_BN:
            errors[key] = max(np.max(np.abs(grads["d" + key])), np.max(np.abs(numeric)))
        else:
            errors[key] = rel_error(grads["d" + key], numeric)
    return errors


@pytest.fixture
def identity_case():
    X = np.random.default_rng(0).standard_normal((2, 4, 4, 3))
    return X, random_parameters(residual.initialize_identity_block(3, 3, (2, 2, 3)), seed=2)


@pytest.fixture
def convolutional_case():
    X = np.random.default_rng(0).standard_normal((2, 5, 5, 2))
    return X, random_parameters(residual.initialize_convolutional_block(2, 3, (2, 3, 4)), seed=3)


def test_identity_block_backward_matches_central_differences_in_train_mode(identity_case):
    """In train mode, are dX and all twelve parameter gradients of the identity block right?"""
    X, parameters = identity_case
    errors = block_gradient_errors(residual.identity_block_forward, residual.identity_block_backward, X, parameters)
    assert max(errors.values()) < 1e-7, errors


def test_identity_block_backward_matches_central_differences_in_test_mode(identity_case):
    """In test mode (running statistics fixed), are all gradients right, the biases' included?"""
    X, parameters = identity_case
    _, _, running = residual.identity_block_forward(X * 2 + 1, parameters)
    errors = block_gradient_errors(residual.identity_block_forward, residual.identity_block_backward, X, parameters,
                                   mode="test", running=running)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("s", [1, 2])
def test_convolutional_block_backward_matches_central_differences(convolutional_case, s):
    """Are dX and all sixteen parameter gradients of the convolutional block right, for strides 1 and 2?"""
    X, parameters = convolutional_case
    errors = block_gradient_errors(residual.convolutional_block_forward, residual.convolutional_block_backward,
                                   X, parameters, s=s)
    assert max(errors.values()) < 1e-7, errors


def test_identity_block_with_a_silent_main_path_is_relu_of_the_input(identity_case):
    """With gamma3 = beta3 = 0 the main path adds nothing: is the output relu(X)?"""
    X, parameters = identity_case
    parameters = {**parameters, "gamma3": np.zeros((1, 1, 1, 3)), "beta3": np.zeros((1, 1, 1, 3))}
    A, _, _ = residual.identity_block_forward(X, parameters)
    np.testing.assert_allclose(A, np.maximum(X, 0))


def test_identity_block_forward_composes_conv_bn_and_relu(identity_case):
    """Is the identity block relu(BN3(conv3(relu(BN2(conv2(relu(BN1(conv1(X))))))) + X)?"""
    X, p = identity_case
    A1 = np.maximum(residual.conv_bn_forward(X, p["W1"], p["b1"], p["gamma1"], p["beta1"], {"stride": 1, "pad": 0})[0], 0)
    A2 = np.maximum(residual.conv_bn_forward(A1, p["W2"], p["b2"], p["gamma2"], p["beta2"], {"stride": 1, "pad": 1})[0], 0)
    Z3 = residual.conv_bn_forward(A2, p["W3"], p["b3"], p["gamma3"], p["beta3"], {"stride": 1, "pad": 0})[0]
    np.testing.assert_allclose(residual.identity_block_forward(X, p)[0], np.maximum(Z3 + X, 0))


def test_convolutional_block_shapes_and_running_statistics(convolutional_case):
    """Does a stride-2 block map (2, 5, 5, 2) to (2, 3, 3, 4) and return the four running statistics?"""
    X, parameters = convolutional_case
    A, cache, running = residual.convolutional_block_forward(X, parameters, s=2)
    assert A.shape == (2, 3, 3, 4)
    assert isinstance(cache, residual.ConvolutionalBlockCache)
    assert sorted(running) == ["bn1", "bn2", "bn3", "bn_shortcut"]
    assert running["bn_shortcut"].mean.shape == (4, 1)


def test_test_mode_treats_each_example_on_its_own(identity_case):
    """In test mode, is one example's output the same alone as inside its batch?"""
    X, parameters = identity_case
    _, _, running = residual.identity_block_forward(X, parameters)
    batch, _, after = residual.identity_block_forward(X, parameters, mode="test", running=running)
    alone, _, _ = residual.identity_block_forward(X[1:], parameters, mode="test", running=running)
    np.testing.assert_allclose(alone[0], batch[1])
    for key in running:  # test mode returns the running statistics unchanged
        np.testing.assert_array_equal(after[key].mean, running[key].mean)
        np.testing.assert_array_equal(after[key].var, running[key].var)


def test_test_mode_needs_running_statistics(identity_case):
    """Does test mode without running statistics raise a ValueError?"""
    X, parameters = identity_case
    with pytest.raises(ValueError, match="running"):
        residual.identity_block_forward(X, parameters, mode="test")


def test_identity_block_rejects_a_channel_mismatch():
    """Is F3 != n_C_prev an error that names the shapes, at initialization and in the forward pass?"""
    with pytest.raises(ValueError, match="F3 must equal n_C_prev=3"):
        residual.initialize_identity_block(3, 3, (2, 2, 4))
    parameters = residual.initialize_convolutional_block(3, 3, (2, 2, 4))
    with pytest.raises(ValueError, match=r"W3 has shape \(1, 1, 2, 4\) but X has 3 channels"):
        residual.identity_block_forward(np.zeros((1, 4, 4, 3)), parameters)


def test_missing_parameters_are_named(identity_case):
    """Does a parameters dict without gamma2 raise a ValueError naming it?"""
    X, parameters = identity_case
    del parameters["gamma2"]
    with pytest.raises(ValueError, match="gamma2"):
        residual.identity_block_forward(X, parameters)


def test_inputs_are_not_mutated(convolutional_case):
    """Do forward and backward leave X, the parameters and dA unchanged?"""
    X, parameters = convolutional_case
    kept = (X.copy(), {key: value.copy() for key, value in parameters.items()})
    A, cache, _ = residual.convolutional_block_forward(X, parameters)
    dA = np.ones_like(A)
    residual.convolutional_block_backward(dA, cache)
    np.testing.assert_array_equal(X, kept[0])
    for key, value in parameters.items():
        np.testing.assert_array_equal(value, kept[1][key])
    np.testing.assert_array_equal(dA, 1.0)


def test_block_layers_count_parameters_by_hand():
    """Are the parameter counts of the block layers the sums of their weights and per-channel vectors?"""
    # identity: W1 8*4, W2 3*3*4*4, W3 4*8, and b, gamma, beta of 4 + 4 + 8 channels
    assert residual.IdentityBlock(8, 3, (4, 4, 8)).count_parameters() == 32 + 144 + 32 + 3 * 16 == 256
    # convolutional: W1 3*4, W2 144, W3 32, W_shortcut 3*8, and b, gamma, beta of 4 + 4 + 8 + 8 channels
    assert residual.ConvolutionalBlock(3, 3, (4, 4, 8)).count_parameters() == 12 + 144 + 32 + 24 + 3 * 24 == 284


def test_block_layers_run_the_functional_blocks(convolutional_case):
    """Do the layer objects give the functional outputs and gradients, under names ending with the layer's name?"""
    X, _ = convolutional_case
    layer = residual.ConvolutionalBlock(2, 3, (2, 3, 4), s=2, seed=4, name="res9")
    parameters = residual.initialize_convolutional_block(2, 3, (2, 3, 4), seed=4)
    A, cache, running = residual.convolutional_block_forward(X, parameters, s=2)
    np.testing.assert_allclose(layer.forward(X), A)
    dA = np.random.default_rng(5).standard_normal(A.shape)
    dX, grads = residual.convolutional_block_backward(dA, cache)
    np.testing.assert_allclose(layer.backward(dA), dX)
    np.testing.assert_allclose(layer.grads["dW_shortcut_res9"], grads["dW_shortcut"])
    assert set(layer.params) == {key + "_res9" for key in parameters}
    np.testing.assert_allclose(layer.running["bn2"].var, running["bn2"].var)
    assert layer.output_shape((5, 5, 2)) == (3, 3, 4)


def test_identity_layer_uses_running_statistics_when_not_training(identity_case):
    """Does IdentityBlock(training=False) keep its running statistics and match the functional test mode?"""
    X, _ = identity_case
    layer = residual.IdentityBlock(3, 3, (2, 2, 3), seed=6)
    layer.forward(X + 1.0)
    running = layer.running
    out = layer.forward(X, training=False)
    assert layer.running is running
    expected, _, _ = residual.identity_block_forward(X, layer._params, mode="test", running=running)
    np.testing.assert_allclose(out, expected)
