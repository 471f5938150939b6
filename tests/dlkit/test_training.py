"""Tests of dlkit.training: the mini-batch loop (costs, seeds, schedules, no mutation) and dense_forward_backward."""
import math

import numpy as np
import pytest

from dlkit import dense, initialization, losses, optimizers, schedules, training
from dlkit.data import load_moons, one_hot
from dlkit.gradcheck import numerical_gradient, rel_error

pytestmark = [pytest.mark.lesson09]


@pytest.fixture(scope="module")
def moons():
    return load_moons(m=300, seed=3)  # (2, 300), (1, 300)


def moons_run(moons, seed=0, num_epochs=60, optimizer=None, **kwargs):
    X, Y = moons
    start = initialization.initialize_he([2, 10, 5, 1], seed=1)
    optimizer = optimizers.Adam(0.01) if optimizer is None else optimizer
    return training.train(start, X, Y, training.dense_forward_backward(), optimizer, num_epochs=num_epochs,
                          seed=seed, progress=False, **kwargs)


class RecordingOptimizer(optimizers.GradientDescent):
    """Plain gradient descent that records the learning rate and the mini-batch of every step."""

    def __init__(self, learning_rate=0.1):
        super().__init__(learning_rate)
        self.rates = []

    def step(self, parameters, grads):
        self.rates.append(self.learning_rate)
        return super().step(parameters, grads)


def mean_label_cost(parameters, X_batch, Y_batch):
    """A forward_backward whose cost is the mean label of the batch and whose gradients are zero."""
    return float(np.mean(Y_batch)), {"d" + key: np.zeros_like(value) for key, value in parameters.items()}


# ---------------------------------------------------------------------------------------------- the loop

def test_costs_decrease_on_moons_with_adam(moons):
    """Does Adam on the moons bring the cost well down, with one cost per epoch?"""
    trained, costs = moons_run(moons, num_epochs=100)
    assert len(costs) == 100 and all(isinstance(c, float) for c in costs)
    assert costs[0] > 0.5 and costs[-1] < 0.2, (costs[0], costs[-1])
    assert np.mean(costs[-10:]) < np.mean(costs[10:20]) < np.mean(costs[:10])
    X, Y = moons
    accuracy = np.mean(dense.predict_binary(X, trained) == Y)
    assert accuracy > 0.9, accuracy


def test_same_seed_gives_the_same_run_and_another_seed_another(moons):
    """Are two runs with one seed identical, and does another seed shuffle differently?"""
    params_a, costs_a = moons_run(moons, seed=7, num_epochs=5)
    params_b, costs_b = moons_run(moons, seed=7, num_epochs=5)
    _, costs_c = moons_run(moons, seed=8, num_epochs=5)
    assert costs_a == costs_b
    for key in params_a:
        np.testing.assert_array_equal(params_a[key], params_b[key])
    assert costs_a != costs_c


def test_a_generator_seed_is_accepted_and_reproducible(moons):
    """Does a numpy Generator work as the seed, two equal generators giving equal runs?"""
    _, costs_a = moons_run(moons, seed=np.random.default_rng(5), num_epochs=3)
    _, costs_b = moons_run(moons, seed=np.random.default_rng(5), num_epochs=3)
    assert costs_a == costs_b


def test_input_parameters_are_not_mutated_even_by_an_in_place_forward_backward(moons):
    """Are the caller's dict and arrays left as they were, and are the returned arrays new ones?"""
    X, Y = moons
    start = initialization.initialize_he([2, 4, 1], seed=2)
    before = {key: value.copy() for key, value in start.items()}

    def scribbling_forward_backward(parameters, X_batch, Y_batch):
        parameters["W1"].fill(0.5)  # writes into the array it was given
        return training.dense_forward_backward()(parameters, X_batch, Y_batch)

    trained, _ = training.train(start, X, Y, scribbling_forward_backward, optimizers.Momentum(0.1), num_epochs=2,
                                progress=False)
    assert sorted(start) == sorted(before) == sorted(trained)
    for key in before:
        np.testing.assert_array_equal(start[key], before[key])
        assert trained[key] is not start[key]
        assert not np.array_equal(trained[key], before[key]), key


def test_each_epoch_steps_once_per_mini_batch_over_every_example():
    """Are there ceil(m / size) steps per epoch, with batches that partition the examples anew each epoch?"""
    m, size, epochs = 10, 4, 3
    X = np.arange(m, dtype=float).reshape(1, m)  # column i holds i
    Y = X.copy()
    seen = []

    def recording(parameters, X_batch, Y_batch):
        np.testing.assert_array_equal(X_batch, Y_batch)  # columns stay paired
        seen.append(X_batch[0].astype(int).tolist())
        return mean_label_cost(parameters, X_batch, Y_batch)

    training.train({"W1": np.zeros((1, 1))}, X, Y, recording, optimizers.GradientDescent(0.1), num_epochs=epochs,
                   mini_batch_size=size, seed=1, progress=False)
    assert [len(batch) for batch in seen] == [4, 4, 2] * epochs
    orders = [sum(seen[3 * e:3 * e + 3], []) for e in range(epochs)]
    assert all(sorted(order) == list(range(m)) for order in orders)
    assert len({tuple(order) for order in orders}) == epochs, "each epoch should shuffle differently"


def test_epoch_cost_is_the_mean_over_examples_weighted_by_batch_size():
    """With batches of 4, 4 and 2, is the epoch cost the mean over the 10 examples, not over the 3 batches?"""
    Y = np.array([[0.0, 0, 0, 0, 0, 0, 0, 0, 1, 1]])  # the mean label is 0.2 whatever the batches
    X = np.zeros((1, 10))
    _, costs = training.train({"W1": np.zeros((1, 1))}, X, Y, mean_label_cost, optimizers.GradientDescent(0.1),
                              num_epochs=4, mini_batch_size=4, progress=False)
    np.testing.assert_allclose(costs, [0.2] * 4, rtol=1e-12)


def test_record_every_keeps_the_costs_of_every_kth_epoch(moons):
    """With record_every = 4, are the costs those of epochs 0, 4, 8 of the same run, and the result unchanged?"""
    every, costs_every = moons_run(moons, num_epochs=10, record_every=4)
    full, costs = moons_run(moons, num_epochs=10)
    assert costs_every == costs[::4] and len(costs_every) == 3
    for key in full:
        np.testing.assert_array_equal(every[key], full[key])


def test_learning_rate_schedule_sets_the_rate_of_every_step_of_each_epoch(moons):
    """Does every step of epoch e use learning_rate_schedule(e), counting epochs from 0?"""
    X, Y = moons  # m = 300: 5 mini-batches of 64 and the rest
    optimizer = RecordingOptimizer()

    def schedule(epoch):
        return schedules.exponential_decay(0.1, epoch, base=0.5)

    moons_run(moons, optimizer=optimizer, num_epochs=3, learning_rate_schedule=schedule)
    per_epoch = math.ceil(X.shape[1] / 64)
    assert optimizer.rates == [schedule(e) for e in range(3) for _ in range(per_epoch)]
    assert optimizer.learning_rate == schedule(2)


def test_a_zero_learning_rate_from_the_schedule_leaves_the_parameters(moons):
    """With a schedule that always says 0, are the trained parameters the starting ones?"""
    trained, costs = moons_run(moons, optimizer=optimizers.GradientDescent(0.5), num_epochs=2,
                               learning_rate_schedule=lambda epoch: 0.0)
    start = initialization.initialize_he([2, 10, 5, 1], seed=1)
    for key in start:
        np.testing.assert_array_equal(trained[key], start[key])
    assert costs[0] == costs[1]


def test_progress_bar_shows_the_cost_and_can_be_turned_off(moons, capsys):
    """Does the bar print the cost on stderr, and does progress=False print nothing?"""
    X, Y = moons
    start = initialization.initialize_he([2, 3, 1], seed=0)
    training.train(start, X, Y, training.dense_forward_backward(), optimizers.Adam(0.01), num_epochs=3)
    shown = capsys.readouterr().err
    assert "epochs" in shown and "3/3" in shown and "cost=" in shown, shown
    training.train(start, X, Y, training.dense_forward_backward(), optimizers.Adam(0.01), num_epochs=3,
                   progress=False)
    assert capsys.readouterr() == ("", "")


def test_a_softmax_network_trains_on_one_hot_labels(moons):
    """Does a two-class softmax output with one-hot Y (2, m) train as well?"""
    X, Y = moons
    start = initialization.initialize_he([2, 8, 2], seed=4)
    forward_backward = training.dense_forward_backward("tanh", "softmax", lambd=0.01)
    trained, costs = training.train(start, X, one_hot(Y, 2), forward_backward, optimizers.Adam(0.02),
                                    num_epochs=60, progress=False)
    assert costs[-1] < 0.5 * costs[0], (costs[0], costs[-1])
    AL, _ = dense.L_model_forward(X, trained, "tanh", "softmax")
    assert np.mean(np.argmax(AL, axis=0) == Y[0]) > 0.85


@pytest.mark.parametrize("change, message", [
    ({"num_epochs": 0}, "num_epochs must be a positive integer"),
    ({"num_epochs": 2.5}, "num_epochs must be a positive integer"),
    ({"mini_batch_size": 0}, "mini_batch_size must be a positive integer"),
    ({"Y": np.zeros((1, 7))}, r"X has 300 examples \(shape \(2, 300\)\) but Y has 7"),
    ({"X": np.zeros(300)}, "X must have 2 dimensions"),
    ({"parameters": {}}, "parameters must be a non-empty dict"),
    ({"record_every": 0}, "record_every must be a positive integer"),
    ({"forward_backward": "relu"}, "forward_backward must be a function"),
    ({"optimizer": "adam"}, r"optimizer must have a step\(parameters, grads\) method"),
    ({"learning_rate_schedule": 0.1}, "learning_rate_schedule must be a function"),
    ({"learning_rate_schedule": lambda epoch: -1.0}, r"learning_rate_schedule\(0\) must be a finite number >= 0"),
    ({"forward_backward": lambda p, X, Y: (np.ones((1, 3)), {})}, "with a scalar cost, got a cost of shape"),
])
def test_bad_arguments_raise_clear_value_errors(moons, change, message):
    """Does each bad argument raise a ValueError that says what was expected?"""
    X, Y = moons
    arguments = {"parameters": initialization.initialize_he([2, 3, 1], seed=0), "X": X, "Y": Y,
                 "forward_backward": training.dense_forward_backward(), "optimizer": optimizers.Adam(0.01),
                 "num_epochs": 1, "progress": False, **change}
    with pytest.raises(ValueError, match=message):
        training.train(**arguments)


# ---------------------------------------------------------------------------------------------- dense_forward_backward

def _problem(output_activation, seed=0, m=6):
    """A 3-layer network (3 -> 4 -> 3 -> n_y) and a labelled mini-batch, float64."""
    rng = np.random.default_rng(seed)
    n_y = 1 if output_activation == "sigmoid" else 3
    parameters = initialization.initialize_xavier([3, 4, 3, n_y], seed=seed)
    parameters = {key: value + 0.1 * rng.standard_normal(value.shape) for key, value in parameters.items()}
    X = rng.standard_normal((3, m))
    Y = rng.integers(0, 2, (1, m)).astype(float) if n_y == 1 else one_hot(rng.integers(0, 3, m), 3)
    return parameters, X, Y


@pytest.mark.parametrize("hidden", ["tanh", "relu"])
@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_dense_forward_backward_gradients_equal_central_differences_of_its_cost(hidden, output, lambd):
    """Does every dW and db match central differences of the returned cost, L2 included?"""
    parameters, X, Y = _problem(output, seed=int(10 * lambd) + len(hidden))
    forward_backward = training.dense_forward_backward(hidden, output, lambd=lambd)
    _, grads = forward_backward(parameters, X, Y)
    assert sorted(grads) == sorted("d" + key for key in parameters)
    for key, value in parameters.items():
        numeric = numerical_gradient(lambda _: forward_backward(parameters, X, Y)[0], value)
        error = rel_error(grads["d" + key], numeric)
        assert error < 1e-7, (key, error)


@pytest.mark.parametrize("output, cross_entropy", [("sigmoid", losses.binary_cross_entropy),
                                                   ("softmax", losses.categorical_cross_entropy)])
def test_dense_forward_backward_cost_is_cross_entropy_plus_l2(output, cross_entropy):
    """Is the cost the cross-entropy of L_model_forward's output plus lambd/(2m) times the squared weights?"""
    parameters, X, Y = _problem(output, seed=3)
    AL, _ = dense.L_model_forward(X, parameters, "relu", output)
    plain = cross_entropy(AL, Y)
    squares = sum(np.sum(parameters[key] ** 2) for key in ("W1", "W2", "W3"))
    assert training.dense_forward_backward("relu", output)(parameters, X, Y)[0] == pytest.approx(plain, rel=1e-12)
    cost, _ = training.dense_forward_backward("relu", output, lambd=0.3)(parameters, X, Y)
    assert cost == pytest.approx(plain + 0.3 / (2 * X.shape[1]) * squares, rel=1e-12)


def test_dense_forward_backward_does_not_mutate_its_inputs():
    """Are parameters, X and Y unchanged after a call with L2?"""
    parameters, X, Y = _problem("softmax", seed=4)
    copies = ({k: v.copy() for k, v in parameters.items()}, X.copy(), Y.copy())
    training.dense_forward_backward("relu", "softmax", lambd=1.0)(parameters, X, Y)
    for key in parameters:
        np.testing.assert_array_equal(parameters[key], copies[0][key])
    np.testing.assert_array_equal(X, copies[1])
    np.testing.assert_array_equal(Y, copies[2])


@pytest.mark.parametrize("kwargs, message", [
    ({"output_activation": "relu"}, "output_activation must be one of 'sigmoid', 'softmax'"),
    ({"hidden_activation": "swish"}, "unknown activation 'swish'"),
    ({"lambd": -0.1}, "lambd must be a finite number >= 0"),
    ({"lambd": float("nan")}, "lambd must be a finite number >= 0"),
])
def test_dense_forward_backward_rejects_bad_settings(kwargs, message):
    """Are an unknown activation, an output without a cross-entropy, and a negative lambd refused up front?"""
    with pytest.raises(ValueError, match=message):
        training.dense_forward_backward(**kwargs)


def test_dense_forward_backward_rejects_labels_of_the_wrong_shape():
    """Do class labels (1, m) given to a softmax network raise a ValueError naming both shapes?"""
    parameters, X, _ = _problem("softmax")
    with pytest.raises(ValueError, match=r"Y has shape \(1, 6\) but AL has shape \(3, 6\)"):
        training.dense_forward_backward("relu", "softmax")(parameters, X, np.zeros((1, 6)))
