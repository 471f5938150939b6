"""Tests of dlkit.dense: linear and activation layers, the L-layer network, gradient descent steps.

Convention under test: ``dZ`` and ``dA`` are derivatives of each example's loss (the sum over
examples), while ``dW`` and ``db`` are gradients of the mean cost, so they are compared with
central differences divided by ``m``.
"""
import numpy as np
import pytest

from dlkit import dense, losses
from dlkit.gradcheck import gradient_check_n, numerical_gradient, numerical_gradient_array, rel_error
from dlkit.initialization import initialize_parameters

pytestmark = pytest.mark.lesson04


def _layer(seed=0, n_prev=4, n=3, m=5):
    """A random float64 layer: A_prev (n_prev, m), W (n, n_prev), b (n, 1), and an upstream gradient (n, m)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n_prev, m)), rng.standard_normal((n, n_prev)), rng.standard_normal((n, 1)),
            rng.standard_normal((n, m)))


def _network(seed=0, layer_dims=(4, 5, 3, 1), m=6, classes=False):
    """Random parameters, inputs X (n[0], m) and labels Y (0/1, or one-hot when ``classes``)."""
    rng = np.random.default_rng(seed)
    parameters = initialize_parameters(list(layer_dims), method="xavier", seed=rng)
    parameters = {key: value + 0.1 * rng.standard_normal(value.shape) for key, value in parameters.items()}
    X = rng.standard_normal((layer_dims[0], m))
    if classes:
        Y = np.eye(layer_dims[-1])[:, rng.integers(0, layer_dims[-1], m)]  # (K, m) one-hot
    else:
        Y = (rng.random((1, m)) < 0.5).astype(float)  # (1, m)
    return parameters, X, Y


def _away_from_relu_kinks(X, parameters, hidden_activation):
    """Skip the check if some hidden pre-activation is so close to 0 that central differences cross the kink."""
    _, caches = dense.L_model_forward(X, parameters, hidden_activation)
    if hidden_activation == "relu" and min(np.min(np.abs(c.Z)) for c in caches[:-1]) < 1e-4:
        pytest.skip("a ReLU input lies within 1e-4 of its kink")


def test_linear_forward_values():
    """Does linear_forward give W A_prev + b on a hand-computed case, and cache its inputs?"""
    A_prev = np.array([[1.0, 2.0], [3.0, 4.0]])
    W, b = np.array([[1.0, 0.0], [2.0, -1.0]]), np.array([[1.0], [0.0]])
    Z, cache = dense.linear_forward(A_prev, W, b)
    np.testing.assert_array_equal(Z, [[2.0, 3.0], [-1.0, 0.0]])
    assert isinstance(cache, dense.LinearCache)
    np.testing.assert_array_equal(cache.W, W)


def test_linear_backward_matches_central_differences():
    """Do dA_prev, m dW and m db equal central differences of sum(Z * dZ)?"""
    A_prev, W, b, dZ = _layer()
    m = A_prev.shape[1]
    _, cache = dense.linear_forward(A_prev, W, b)
    dA_prev, dW, db = dense.linear_backward(dZ, cache)
    assert rel_error(dA_prev, numerical_gradient_array(lambda a: dense.linear_forward(a, W, b)[0], A_prev, dZ)) < 1e-7
    assert rel_error(dW, numerical_gradient_array(lambda w: dense.linear_forward(A_prev, w, b)[0], W, dZ) / m) < 1e-7
    assert rel_error(db, numerical_gradient_array(lambda c: dense.linear_forward(A_prev, W, c)[0], b, dZ) / m) < 1e-7
    assert (dA_prev.shape, dW.shape, db.shape) == ((4, 5), (3, 4), (3, 1))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax"])
def test_linear_activation_backward_matches_central_differences(activation):
    """Does linear_activation_backward match central differences of sum(g(W A_prev + b) * dA)?"""
    A_prev, W, b, dA = _layer(seed=1)
    m = A_prev.shape[1]
    _, cache = dense.linear_activation_forward(A_prev, W, b, activation)
    dA_prev, dW, db = dense.linear_activation_backward(dA, cache, activation)

    def forward(a, w, c):
        return dense.linear_activation_forward(a, w, c, activation)[0]

    assert rel_error(dA_prev, numerical_gradient_array(lambda a: forward(a, W, b), A_prev, dA)) < 1e-7
    assert rel_error(dW, numerical_gradient_array(lambda w: forward(A_prev, w, b), W, dA) / m) < 1e-7
    assert rel_error(db, numerical_gradient_array(lambda c: forward(A_prev, W, c), b, dA) / m) < 1e-7


def test_linear_activation_forward_values():
    """Is relu(W A_prev + b) computed and Z kept in the cache?"""
    A, cache = dense.linear_activation_forward(np.array([[1.0, -1.0]]), np.array([[2.0], [-1.0]]),
                                               np.array([[0.0], [0.5]]), "relu")
    np.testing.assert_array_equal(A, [[2.0, 0.0], [0.0, 1.5]])
    np.testing.assert_array_equal(cache.Z, [[2.0, -2.0], [-0.5, 1.5]])


@pytest.mark.parametrize("hidden_activation", ["relu", "tanh"])
def test_L_model_backward_sigmoid_output_matches_central_differences(hidden_activation):
    """With a sigmoid output and binary cross-entropy, do dW, db and dA0 match the numerical gradients?"""
    parameters, X, Y = _network(seed=2)
    _away_from_relu_kinks(X, parameters, hidden_activation)
    m = X.shape[1]

    def cost(params, inputs=X):
        return losses.binary_cross_entropy(dense.L_model_forward(inputs, params, hidden_activation)[0], Y)

    AL, caches = dense.L_model_forward(X, parameters, hidden_activation)
    grads = dense.L_model_backward(AL, Y, caches, hidden_activation)
    assert sorted(grads) == sorted(["dA0", "dA1", "dA2", "dW1", "dW2", "dW3", "db1", "db2", "db3"])
    for key, value in parameters.items():
        copy = {k: v.copy() for k, v in parameters.items()}
        expected = numerical_gradient(lambda _: cost(copy), copy[key])
        assert rel_error(grads["d" + key], expected) < 1e-7, key
    assert rel_error(grads["dA0"], m * numerical_gradient(lambda x: cost(parameters, x), X.copy())) < 1e-7


def test_L_model_backward_softmax_output_matches_central_differences():
    """With a softmax output and categorical cross-entropy, do dW, db and dA0 match the numerical gradients?"""
    parameters, X, Y = _network(seed=3, layer_dims=(3, 4, 4), m=5, classes=True)
    m = X.shape[1]

    def cost(params, inputs=X):
        AL, _ = dense.L_model_forward(inputs, params, "tanh", "softmax")
        return losses.categorical_cross_entropy(AL, Y)

    AL, caches = dense.L_model_forward(X, parameters, "tanh", "softmax")
    grads = dense.L_model_backward(AL, Y, caches, "tanh", "softmax")
    for key in parameters:
        copy = {k: v.copy() for k, v in parameters.items()}
        assert rel_error(grads["d" + key], numerical_gradient(lambda _: cost(copy), copy[key])) < 1e-7, key
    assert rel_error(grads["dA0"], m * numerical_gradient(lambda x: cost(parameters, x), X.copy())) < 1e-7


def test_gradient_check_n_on_the_network():
    """Does gradient_check_n pass L_model_backward's gradients and flag them when dW2 is doubled?"""
    parameters, X, Y = _network(seed=4, layer_dims=(3, 4, 1), m=4)

    def cost(params):
        return losses.binary_cross_entropy(dense.L_model_forward(X, params, "tanh")[0], Y)

    AL, caches = dense.L_model_forward(X, parameters, "tanh")
    grads = dense.L_model_backward(AL, Y, caches, "tanh")
    assert gradient_check_n(parameters, grads, cost) < 1e-7
    assert gradient_check_n(parameters, {**grads, "dW2": 2 * grads["dW2"]}, cost) > 1e-2


def test_L_model_forward_shapes_and_caches():
    """Does a [5, 4, 3, 2] network give AL (2, m) and three caches holding each layer's input?"""
    parameters = initialize_parameters([5, 4, 3, 2], seed=0)
    X = np.random.default_rng(0).standard_normal((5, 7))
    AL, caches = dense.L_model_forward(X, parameters, output_activation="softmax")
    assert AL.shape == (2, 7) and len(caches) == 3
    np.testing.assert_allclose(AL.sum(axis=0), np.ones(7))
    np.testing.assert_array_equal(caches[0].linear_cache.A_prev, X)
    assert [c.Z.shape for c in caches] == [(4, 7), (3, 7), (2, 7)]


def test_no_input_is_mutated():
    """Are X, Y, the parameters and the grads unchanged by forward, backward and update_parameters?"""
    parameters, X, Y = _network(seed=5)
    before = {key: value.copy() for key, value in parameters.items()}
    X_before, Y_before = X.copy(), Y.copy()
    AL, caches = dense.L_model_forward(X, parameters)
    grads = dense.L_model_backward(AL, Y, caches)
    grads_before = {key: value.copy() for key, value in grads.items()}
    updated = dense.update_parameters(parameters, grads, 0.1)
    for key in before:
        np.testing.assert_array_equal(parameters[key], before[key])
        assert not np.shares_memory(updated[key], parameters[key])
    for key in grads:
        np.testing.assert_array_equal(grads[key], grads_before[key])
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(Y, Y_before)


def test_update_parameters_values():
    """Is each parameter moved by -learning_rate times its gradient, with extra grads ignored?"""
    parameters = {"W1": np.array([[1.0, 2.0]]), "b1": np.array([[3.0]])}
    grads = {"dW1": np.array([[10.0, -10.0]]), "db1": np.array([[1.0]]), "dA0": np.ones((2, 3))}
    updated = dense.update_parameters(parameters, grads, 0.01)
    np.testing.assert_allclose(updated["W1"], [[0.9, 2.1]])
    np.testing.assert_allclose(updated["b1"], [[2.99]])


def test_predict_binary():
    """Does predict_binary threshold the sigmoid output at 0.5 into a (1, m) array of 0 and 1?"""
    parameters = {"W1": np.array([[1.0, 0.0]]), "b1": np.array([[0.0]])}
    predictions = dense.predict_binary(np.array([[2.0, -2.0, 0.5], [9.0, 9.0, 9.0]]), parameters)
    np.testing.assert_array_equal(predictions, [[1, 0, 1]])


def test_linear_forward_rejects_bad_shapes():
    """Are a W that does not fit A_prev and a b of the wrong shape refused with both shapes named?"""
    A_prev, W, b, _ = _layer()
    with pytest.raises(ValueError, match=r"W has shape \(3, 5\).*A_prev has shape \(4, 5\)"):
        dense.linear_forward(A_prev, np.zeros((3, 5)), b)
    with pytest.raises(ValueError, match=r"b has shape \(3,\).*\(3, 1\)"):
        dense.linear_forward(A_prev, W, np.zeros(3))
    with pytest.raises(ValueError, match=r"A_prev has shape \(4,\)"):
        dense.linear_forward(np.zeros(4), W, b)


def test_linear_backward_rejects_a_dZ_of_the_wrong_shape():
    """Is a transposed dZ refused with its shape and Z's shape?"""
    A_prev, W, b, dZ = _layer()
    _, cache = dense.linear_forward(A_prev, W, b)
    with pytest.raises(ValueError, match=r"dZ has shape \(5, 3\).*\(3, 5\)"):
        dense.linear_backward(dZ.T, cache)


def test_L_model_backward_rejects_bad_inputs():
    """Are a Y of the wrong shape, an unknown output activation and missing parameters refused?"""
    parameters, X, Y = _network(seed=6)
    AL, caches = dense.L_model_forward(X, parameters)
    with pytest.raises(ValueError, match=r"Y has shape \(6, 1\).*AL has shape \(1, 6\)"):
        dense.L_model_backward(AL, Y.T, caches)
    with pytest.raises(ValueError, match="'sigmoid', 'softmax'"):
        dense.L_model_backward(AL, Y, caches, output_activation="tanh")
    with pytest.raises(ValueError, match="b2"):
        dense.L_model_forward(X, {k: v for k, v in parameters.items() if k != "b2"})


def test_update_parameters_rejects_mismatched_gradients():
    """Is a gradient with the wrong shape refused with both shapes, and a missing one by name?"""
    parameters = {"W1": np.zeros((2, 3)), "b1": np.zeros((2, 1))}
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        dense.update_parameters(parameters, {"dW1": np.zeros((3, 2)), "db1": np.zeros((2, 1))}, 0.1)
    with pytest.raises(ValueError, match="db1"):
        dense.update_parameters(parameters, {"dW1": np.zeros((2, 3))}, 0.1)
