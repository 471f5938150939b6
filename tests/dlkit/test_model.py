"""Tests of dlkit.model: Sequential's gradients against central differences of its loss, training, counts, summary."""
import numpy as np
import pytest

from dlkit import layers, model, residual
from dlkit.data import load_digits
from dlkit.gradcheck import numerical_gradient, rel_error
from dlkit.optimizers import Adam, GradientDescent


def model_gradient_errors(network, X, Y):
    """Relative errors of ``backward`` (dX and every parameter) against central differences of ``loss(X, Y)``.

    A conv bias followed by batch norm has a zero gradient in training mode: for such a bias the
    largest absolute value of either gradient is reported instead.
    """
    network.loss(X, Y)
    dX = network.backward()
    grads = network.gradients()
    before_bn = biases_before_batchnorm(network)

    def cost(_):
        return network.loss(X, Y)

    errors = {"X": rel_error(dX, numerical_gradient(cost, X))}
    for key, value in network.parameters().items():  # the layers' own arrays, perturbed in place
        numeric = numerical_gradient(cost, value)
        if key in before_bn:
            errors[key] = max(np.max(np.abs(grads["d" + key])), np.max(np.abs(numeric)))
        else:
            errors[key] = rel_error(grads["d" + key], numeric)
    return errors


def biases_before_batchnorm(network):
    """Names of the biases that a batch norm follows (conv or dense then batch norm, or inside a block)."""
    names = {f"b_{a.name}" for a, b in zip(network.layers, network.layers[1:])
             if isinstance(a, (layers.Conv2D, layers.Dense)) and isinstance(b, (layers.BatchNorm1D, layers.BatchNorm2D))}
    for layer in network.layers:
        if isinstance(layer, (residual.IdentityBlock, residual.ConvolutionalBlock)):
            names |= {f"{b}_{layer.name}" for b in ("b1", "b2", "b3", "b_shortcut")} & set(layer.params)
    return names


def tiny_cnn(seed=0):
    return model.Sequential([layers.Conv2D(1, 2, 3, pad="same", seed=seed), layers.BatchNorm2D(2), layers.ReLU(),
                             layers.MaxPool2D(2), layers.Flatten(), layers.Dense(8, 3, seed=seed + 1)])


@pytest.fixture(scope="module")
def digits():
    train_x, train_y, test_x, test_y, _ = load_digits()
    return train_x[..., None], train_y, test_x[..., None], test_y  # (m, 8, 8, 1) images


@pytest.mark.lesson13
def test_sequential_gradients_equal_central_differences_of_its_loss():
    """For conv-BN-ReLU-pool-flatten-dense-softmax, do dX and every parameter gradient match the loss's central differences?"""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((4, 4, 4, 1)), rng.integers(0, 3, 4)
    errors = model_gradient_errors(tiny_cnn(), X, Y)
    assert set(errors) == {"X", "W_conv1", "b_conv1", "gamma_bn1", "beta_bn1", "W_dense1", "b_dense1"}
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.lesson13
def test_dense_only_sequential_on_columns():
    """Does Sequential also work on columns (n_x, m), with BatchNorm1D, and give right gradients?"""
    rng = np.random.default_rng(1)
    network = model.Sequential([layers.Dense(4, 5, seed=1), layers.BatchNorm1D(5), layers.ReLU(), layers.Dense(5, 3, seed=2)])
    X, Y = rng.standard_normal((4, 6)), np.eye(3)[:, rng.integers(0, 3, 6)]
    errors = model_gradient_errors(network, X, Y)
    assert max(errors.values()) < 1e-7, errors
    assert network.predict(X).shape == (6,)


@pytest.mark.lesson14
def test_small_resnet_gradients_equal_central_differences_of_its_loss():
    """Through stem, convolutional and identity blocks, global pooling and dense, are all gradients right?"""
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((3, 4, 4, 1)), rng.integers(0, 3, 3)
    network = model.small_resnet(input_shape=(4, 4, 1), n_classes=3, width=4, stages=2, identity_blocks=1, seed=3)
    # random gamma and beta: with beta = 0, relu(gamma z) = gamma relu(z) and a one-channel step's gamma
    # would have a zero gradient through the next batch norm
    network.set_parameters({key: 0.5 * rng.standard_normal(value.shape) + (key.startswith("gamma"))
                            for key, value in network.parameters().items()})
    errors = model_gradient_errors(network, X, Y)
    assert len(errors) == 1 + sum(len(layer.params) for layer in network.layers)
    assert max(errors.values()) < 1e-7, {key: value for key, value in errors.items() if value >= 1e-7}


@pytest.mark.lesson13
def test_small_cnn_overfits_a_tiny_batch(digits):
    """Does small_cnn drive the loss on 32 digits down by more than 90% in 40 Adam steps?"""
    X, y = digits[0][:32], digits[1][:32]
    network, optimizer = model.small_cnn(seed=0), Adam(learning_rate=0.01)
    costs = []
    for _ in range(40):
        costs.append(network.loss(X, y))
        network.backward()
        network.set_parameters(optimizer.step(network.parameters(), network.gradients()))
    assert costs[-1] < 0.1 * costs[0], costs[::10]
    assert np.mean(network.predict(X) == y) == 1.0


@pytest.mark.lesson14
def test_small_resnet_overfits_a_tiny_batch(digits):
    """Does small_resnet drive the loss on 32 digits down by more than 90% in 40 Adam steps?"""
    X, y = digits[0][:32], digits[1][:32]
    network, optimizer = model.small_resnet(width=8, stages=2, seed=0), Adam(learning_rate=0.01)
    costs = []
    for _ in range(40):
        costs.append(network.loss(X, y))
        network.backward()
        network.set_parameters(optimizer.step(network.parameters(), network.gradients()))
    assert costs[-1] < 0.1 * costs[0], costs[::10]


@pytest.mark.lesson13
def test_fit_records_history_and_is_reproducible(digits):
    """Does fit return per-epoch losses, accuracies and times, the same for the same seed?"""
    X, y, X_val, y_val = digits[0][:96], digits[1][:96], digits[2][:50], digits[3][:50]
    runs = []
    for _ in range(2):
        network = model.small_cnn(filters=(4,), seed=0)
        runs.append(network.fit(X, y, Adam(0.01), epochs=2, batch_size=32, seed=5, progress=False,
                                validation_data=(X_val, y_val)))
    history = runs[0]
    assert [len(history[key]) for key in ("loss", "accuracy", "epoch_time", "val_accuracy")] == [2, 2, 2, 2]
    assert len(history["batch_loss"]) == 2 * 3
    assert history["loss"][1] < history["loss"][0]
    assert runs[1]["batch_loss"] == history["batch_loss"]
    assert all(0.0 <= a <= 1.0 for a in history["val_accuracy"])


@pytest.mark.lesson13
def test_fit_rejects_mismatched_examples(digits):
    """Does fit say how many examples X and Y have when they differ?"""
    with pytest.raises(ValueError, match="X has 10 examples"):
        model.small_cnn().fit(digits[0][:10], digits[1][:9], Adam(), progress=False)


@pytest.mark.lesson13
def test_predict_uses_test_mode_and_leaves_running_statistics(digits):
    """Does predict give one class per example without touching batch norm's running statistics?"""
    network = model.small_cnn()
    bn = network.layers[1]
    running = bn.running
    predictions = network.predict(digits[0][:300], batch_size=128)
    assert predictions.shape == (300,) and predictions.dtype.kind == "i"
    assert bn.running is running


@pytest.mark.lesson13
def test_parameters_round_trip_through_an_optimizer():
    """Are parameters() and gradients() keyed "W_conv1"/"dW_conv1", and does an optimizer step reach the layers?"""
    network = tiny_cnn()
    network.loss(np.ones((2, 4, 4, 1)), np.array([0, 2]))
    network.backward()
    params, grads = network.parameters(), network.gradients()
    assert set(grads) == {"d" + key for key in params}
    network.set_parameters(GradientDescent(learning_rate=0.5).step(params, grads))
    np.testing.assert_allclose(network.layers[-1].params["W_dense1"], params["W_dense1"] - 0.5 * grads["dW_dense1"])


@pytest.mark.lesson13
def test_layers_are_numbered_by_kind_and_names_must_be_unique():
    """Are default names numbered per kind (conv1, conv2, bn1) and repeated names rejected?"""
    network = model.Sequential([layers.Conv2D(1, 2, 3), layers.BatchNorm2D(2), layers.Conv2D(2, 2, 1),
                                layers.Flatten(), layers.Dense(2, 2, name="out")])
    assert [layer.name for layer in network.layers] == ["conv1", "bn1", "conv2", "flatten1", "out"]
    with pytest.raises(ValueError, match="repeated"):
        model.Sequential([layers.Dense(2, 2, name="a"), layers.Dense(2, 2, name="a")])


@pytest.mark.lesson13
def test_small_cnn_parameter_count_and_summary(capsys):
    """Is small_cnn's count the hand count, and does summary print shapes in both layouts and the total?"""
    network = model.small_cnn()
    # conv 1->16 (3*3*1 + 1)*16, bn 2*16, conv 16->32 (3*3*16 + 1)*32, bn 2*32, dense (2*2*32 + 1)*10
    assert network.count_parameters() == 160 + 32 + 4640 + 64 + 1290 == 6186
    network.summary((8, 8, 1))
    printed = capsys.readouterr().out
    for text in ("(m, 8, 8, 16)", "(m, 2, 2, 32)", "(128, m)", "(10, m)", "4,640", "total parameters: 6,186"):
        assert text in printed


@pytest.mark.lesson14
def test_small_resnet_shapes_and_parameter_count():
    """Does small_resnet halve the size at each later stage, pool globally and count its blocks' parameters?"""
    network = model.small_resnet(width=16, stages=3, identity_blocks=1)
    shapes = network.output_shapes((8, 8, 1))
    assert shapes[3] == (8, 8, 16) and shapes[5] == (4, 4, 32) and shapes[7] == (2, 2, 64)
    assert shapes[-3:] == [(1, 1, 64), (64,), (10,)]
    assert network.count_parameters() == sum(layer.count_parameters() for layer in network.layers)
    # stem conv (9 + 1)*16 + bn 32, final dense 65*10
    assert network.layers[0].count_parameters() + network.layers[1].count_parameters() == 192
    assert network.layers[-1].count_parameters() == 650
