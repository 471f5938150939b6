"""Tests of dlkit.optimizers: mini-batches, one hand-checked step of each optimizer, objects vs. functions."""
import numpy as np
import pytest

from dlkit import dense, optimizers as opt

pytestmark = [pytest.mark.lesson09]

LR = 0.1


@pytest.fixture
def params():
    """One weight row and one bias, with gradients chosen for easy arithmetic."""
    return {"W1": np.array([[1.0, -2.0]]), "b1": np.array([[0.5]])}


@pytest.fixture
def grads():
    return {"dW1": np.array([[0.5, -1.0]]), "db1": np.array([[2.0]])}


def _random_problem(seed, keys=("W1", "b1", "gamma1", "beta1")):
    rng = np.random.default_rng(seed)
    shapes = {"W1": (3, 2), "b1": (3, 1), "gamma1": (3, 1), "beta1": (3, 1), "W2": (1, 3), "b2": (1, 1)}
    parameters = {k: rng.standard_normal(shapes[k]) for k in keys}
    grad_list = [{"d" + k: rng.standard_normal(shapes[k]) for k in keys} for _ in range(3)]
    return parameters, grad_list


def _assert_dicts_close(got, expected, **kwargs):
    assert sorted(got) == sorted(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], err_msg=key, **kwargs)


# ---------------------------------------------------------------------------------------------- mini-batches

def _labelled_data(m, n_x=3):
    """X whose column i holds i, 1000 + i, ...; Y whose column i holds i: pairing is visible."""
    index = np.arange(m, dtype=float)
    return np.vstack([index + 1000 * r for r in range(n_x)]), index.reshape(1, m)


def test_mini_batch_sizes_with_a_smaller_last_batch():
    """Does m = 148, size 64 give batches of 64, 64 and 20 columns?"""
    X, Y = _labelled_data(148)
    batches = opt.random_mini_batches(X, Y, mini_batch_size=64, seed=0)
    assert [(x.shape, y.shape) for x, y in batches] == [((3, 64), (1, 64)), ((3, 64), (1, 64)), ((3, 20), (1, 20))]


def test_mini_batches_are_a_permutation_with_columns_paired():
    """Together, are the batches a shuffle of all columns, with each X column next to its own Y?"""
    X, Y = _labelled_data(50)
    batches = opt.random_mini_batches(X, Y, mini_batch_size=8, seed=1)
    all_X = np.hstack([x for x, _ in batches])
    all_Y = np.hstack([y for _, y in batches])
    np.testing.assert_array_equal(np.sort(all_Y.ravel()), np.arange(50))
    assert not np.array_equal(all_Y.ravel(), np.arange(50)), "the columns should be shuffled"
    np.testing.assert_array_equal(all_X[0], all_Y[0])
    np.testing.assert_array_equal(all_X[2], all_Y[0] + 2000)


def test_mini_batches_are_reproducible_by_seed():
    """Does the same seed give the same batches and a different seed another order?"""
    X, Y = _labelled_data(30)
    first = opt.random_mini_batches(X, Y, 10, seed=4)
    again = opt.random_mini_batches(X, Y, 10, seed=4)
    other = opt.random_mini_batches(X, Y, 10, seed=5)
    for (x1, y1), (x2, y2) in zip(first, again):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(first[0][1], other[0][1])


def test_one_batch_when_the_size_exceeds_m_and_inputs_unchanged():
    """With mini_batch_size > m, is there one batch of all m examples, and X, Y left untouched?"""
    X, Y = _labelled_data(5)
    X_before, Y_before = X.copy(), Y.copy()
    batches = opt.random_mini_batches(X, Y, mini_batch_size=64)
    assert len(batches) == 1 and batches[0][0].shape == (3, 5)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(Y, Y_before)


def test_mini_batches_reject_mismatched_examples_and_bad_sizes():
    """Is a Y with another number of columns, or a size of 0, a ValueError naming the problem?"""
    X, Y = _labelled_data(6)
    with pytest.raises(ValueError, match=r"X has 6 examples .* but Y has 5"):
        opt.random_mini_batches(X, Y[:, :5])
    with pytest.raises(ValueError, match="mini_batch_size"):
        opt.random_mini_batches(X, Y, mini_batch_size=0)


# ---------------------------------------------------------------------------------------------- one step each

def test_initial_states_are_zeros_keyed_by_gradient_names(params):
    """Are the velocity and the Adam moments zeros named dW1, db1 and shaped like W1, b1?"""
    v = opt.initialize_velocity(params)
    v_adam, s_adam = opt.initialize_adam(params)
    for state in (v, v_adam, s_adam, opt.initialize_adagrad(params), opt.initialize_rmsprop(params)):
        assert sorted(state) == ["dW1", "db1"]
        assert state["dW1"].shape == (1, 2) and state["db1"].shape == (1, 1)
        assert all(np.all(value == 0) for value in state.values())


def test_momentum_step_by_hand(params, grads):
    """From v = [0.2, 0], does beta = 0.9 give v = [0.23, -0.1] and W = [0.977, -1.99]?"""
    v = {"dW1": np.array([[0.2, 0.0]]), "db1": np.array([[0.0]])}
    new, new_v = opt.update_parameters_with_momentum(params, grads, v, beta=0.9, learning_rate=LR)
    np.testing.assert_allclose(new_v["dW1"], [[0.23, -0.1]])
    np.testing.assert_allclose(new["W1"], [[0.977, -1.99]])
    np.testing.assert_allclose(new["b1"], [[0.5 - LR * 0.2]])


def test_momentum_with_beta_zero_is_gradient_descent():
    """With beta = 0, does momentum give exactly dense.update_parameters' step?"""
    parameters, grad_list = _random_problem(0, keys=("W1", "b1", "W2", "b2"))
    v = opt.initialize_velocity(parameters)
    for g in grad_list:
        expected = dense.update_parameters(parameters, g, LR)
        parameters, v = opt.update_parameters_with_momentum(parameters, g, v, beta=0.0, learning_rate=LR)
        _assert_dicts_close(parameters, expected, rtol=1e-15)


def test_nesterov_step_by_hand(params, grads):
    """From v = [0.2, 0], is the look-ahead step beta * v_new + (1 - beta) * dW = [0.257, -0.19]?"""
    v = {"dW1": np.array([[0.2, 0.0]]), "db1": np.array([[0.0]])}
    new, new_v = opt.update_parameters_with_nesterov(params, grads, v, beta=0.9, learning_rate=LR)
    np.testing.assert_allclose(new_v["dW1"], [[0.23, -0.1]])
    np.testing.assert_allclose(new["W1"], [[1 - LR * 0.257, -2 + LR * 0.19]])


def test_nesterov_with_beta_zero_is_gradient_descent(params, grads):
    """With beta = 0, is Nesterov plain gradient descent?"""
    new, _ = opt.update_parameters_with_nesterov(params, grads, opt.initialize_velocity(params), 0.0, LR)
    _assert_dicts_close(new, dense.update_parameters(params, grads, LR), rtol=1e-15)


def test_nesterov_is_momentum_evaluated_at_the_look_ahead_point():
    """On a quadratic, do Nesterov's iterates equal classic look-ahead momentum's shifted by -lr*beta*v?"""
    A = np.diag([1.0, 10.0])

    def gradient(w):
        return A @ w  # cost 0.5 w^T A w

    beta, lr = 0.9, 0.05
    w, v = np.array([[1.0], [1.0]]), np.zeros((2, 1))  # classic form: gradient taken at w - lr*beta*v
    ahead = {"W": w.copy()}
    v_ahead = opt.initialize_velocity(ahead)
    for _ in range(5):
        v = beta * v + (1 - beta) * gradient(w - lr * beta * v)
        w = w - lr * v
        ahead, v_ahead = opt.update_parameters_with_nesterov(ahead, {"dW": gradient(ahead["W"])}, v_ahead, beta, lr)
        np.testing.assert_allclose(ahead["W"], w - lr * beta * v, rtol=1e-12)


def test_adagrad_step_by_hand(params, grads):
    """From s = 0, is the step learning_rate * sign(dW) (s = dW**2), then smaller on the second step?"""
    s = opt.initialize_adagrad(params)
    new, s = opt.update_parameters_with_adagrad(params, grads, s, LR)
    np.testing.assert_allclose(s["dW1"], [[0.25, 1.0]])
    np.testing.assert_allclose(new["W1"], [[0.9, -1.9]])
    newer, s = opt.update_parameters_with_adagrad(new, grads, s, LR)
    np.testing.assert_allclose(newer["W1"] - new["W1"], [[-LR / np.sqrt(2), LR / np.sqrt(2)]])


def test_rmsprop_step_by_hand(params, grads):
    """With beta = 0.9 from s = 0, is s = 0.1 dW**2 and W = [1 - 0.05/sqrt(0.025), -2 + 0.1/sqrt(0.1)]?"""
    new, s = opt.update_parameters_with_rmsprop(params, grads, opt.initialize_rmsprop(params), beta=0.9,
                                                learning_rate=LR)
    np.testing.assert_allclose(s["dW1"], [[0.025, 0.1]])
    np.testing.assert_allclose(new["W1"], [[0.683772234, -1.683772234]], rtol=1e-7)


def test_adam_bias_correction_at_t1_gives_the_raw_gradient_direction(params, grads):
    """At t = 1, are v_corrected = dW and s_corrected = dW**2, so each entry moves by learning_rate * sign(dW)?"""
    v, s = opt.initialize_adam(params)
    new, v, s, v_corr, s_corr = opt.update_parameters_with_adam(params, grads, v, s, t=1, learning_rate=LR)
    _assert_dicts_close(v_corr, grads)
    _assert_dicts_close(s_corr, {k: g ** 2 for k, g in grads.items()})
    np.testing.assert_allclose(v["dW1"], 0.1 * grads["dW1"])
    np.testing.assert_allclose(s["dW1"], 0.001 * grads["dW1"] ** 2)
    np.testing.assert_allclose(new["W1"], [[0.9, -1.9]], rtol=1e-7)
    np.testing.assert_allclose(new["b1"], [[0.4]], rtol=1e-7)


def test_adam_second_step_by_hand(params, grads):
    """With dW = 0.5 then 1.0 on one entry, is t = 2's step 0.1 * (0.145/0.19) / sqrt(0.00124975/0.001999)?"""
    v, s = opt.initialize_adam(params)
    p, v, s, _, _ = opt.update_parameters_with_adam(params, grads, v, s, t=1, learning_rate=LR)
    second = {"dW1": np.array([[1.0, 1.0]]), "db1": np.array([[2.0]])}
    p2, v, s, v_corr, s_corr = opt.update_parameters_with_adam(p, second, v, s, t=2, learning_rate=LR)
    np.testing.assert_allclose(v_corr["dW1"][0, 0], 0.145 / 0.19)
    np.testing.assert_allclose(s_corr["dW1"][0, 0], 0.00124975 / 0.001999)
    step = LR * (0.145 / 0.19) / (np.sqrt(0.00124975 / 0.001999) + 1e-8)
    np.testing.assert_allclose(p2["W1"][0, 0], p["W1"][0, 0] - step)


@pytest.mark.parametrize("t", [0, -1, 1.5])
def test_adam_rejects_a_step_count_below_one(params, grads, t):
    """Is t = 0 (or not a whole number) rejected, since 1 - beta**0 = 0?"""
    v, s = opt.initialize_adam(params)
    with pytest.raises(ValueError, match="t counts Adam steps from 1"):
        opt.update_parameters_with_adam(params, grads, v, s, t=t)


def test_updates_do_not_mutate_their_arguments(params, grads):
    """Are parameters, grads and states unchanged after every update function?"""
    frozen = {k: v.copy() for k, v in {**params, **grads}.items()}
    v = {"dW1": np.ones((1, 2)), "db1": np.ones((1, 1))}
    s = {"dW1": np.ones((1, 2)), "db1": np.ones((1, 1))}
    opt.update_parameters_with_momentum(params, grads, v, 0.9, LR)
    opt.update_parameters_with_nesterov(params, grads, v, 0.9, LR)
    opt.update_parameters_with_adagrad(params, grads, s, LR)
    opt.update_parameters_with_rmsprop(params, grads, s)
    opt.update_parameters_with_adam(params, grads, v, s, t=3)
    _assert_dicts_close({**params, **grads}, frozen, rtol=0)
    assert all(np.all(x == 1.0) for x in (*v.values(), *s.values()))


def test_missing_or_misshaped_gradients_are_named(params, grads):
    """Does a missing db1, or a dW1 of the wrong shape, raise ValueError naming it?"""
    v = opt.initialize_velocity(params)
    with pytest.raises(ValueError, match="no entry 'db1'"):
        opt.update_parameters_with_momentum(params, {"dW1": grads["dW1"]}, v, 0.9, LR)
    with pytest.raises(ValueError, match=r"grads\['dW1'\] has shape \(2, 1\)"):
        opt.update_parameters_with_adagrad(params, {**grads, "dW1": grads["dW1"].T}, v, LR)
    with pytest.raises(ValueError, match="beta must be in"):
        opt.update_parameters_with_momentum(params, grads, v, 1.0, LR)


# ---------------------------------------------------------------------------------------------- objects

FUNCTIONAL = {
    "gd": lambda: _functional_gd,
    "momentum": lambda: _functional(opt.initialize_velocity,
                                    lambda p, g, v, t: opt.update_parameters_with_momentum(p, g, v, 0.8, LR)),
    "nesterov": lambda: _functional(opt.initialize_velocity,
                                    lambda p, g, v, t: opt.update_parameters_with_nesterov(p, g, v, 0.8, LR)),
    "adagrad": lambda: _functional(opt.initialize_adagrad,
                                   lambda p, g, s, t: opt.update_parameters_with_adagrad(p, g, s, LR)),
    "rmsprop": lambda: _functional(opt.initialize_rmsprop,
                                   lambda p, g, s, t: opt.update_parameters_with_rmsprop(p, g, s, 0.99, LR)),
    "adam": lambda: _functional(opt.initialize_adam, _adam_step),
}
HYPER = {"gd": {}, "momentum": {"beta": 0.8}, "nesterov": {"beta": 0.8}, "adagrad": {},
         "rmsprop": {"beta": 0.99}, "adam": {}}


def _functional_gd(parameters, grad_list):
    for g in grad_list:
        parameters = dense.update_parameters(parameters, g, LR)
    return parameters


def _adam_step(p, g, state, t):
    p, v, s, _, _ = opt.update_parameters_with_adam(p, g, *state, t, learning_rate=LR)
    return p, (v, s)


def _functional(initialize, update):
    def run(parameters, grad_list):
        state = initialize(parameters)
        for t, g in enumerate(grad_list, start=1):
            parameters, state = update(parameters, g, state, t)
        return parameters
    return run


@pytest.mark.parametrize("name", list(opt.OPTIMIZERS))
def test_objects_equal_the_functions_on_any_parameter_keys(name):
    """Over three steps on W1, b1, gamma1, beta1, does each object give what its function gives?"""
    parameters, grad_list = _random_problem(1)
    optimizer = opt.make_optimizer(name, learning_rate=LR, **HYPER[name])
    got = parameters
    for g in grad_list:
        got = optimizer.step(got, g)
    _assert_dicts_close(got, FUNCTIONAL[name]()(parameters, grad_list), rtol=1e-14)


def test_each_object_keeps_its_own_state():
    """Do two Adam objects stepping different problems not share moments or step counts?"""
    p1, g1 = _random_problem(2)
    p2, g2 = _random_problem(3)
    a, b = opt.Adam(learning_rate=LR), opt.Adam(learning_rate=LR)
    for g in g1:
        p1 = a.step(p1, g)
    first_of_b = b.step(p2, g2[0])
    assert a.t == 3 and b.t == 1
    fresh = opt.Adam(learning_rate=LR).step(p2, g2[0])
    _assert_dicts_close(first_of_b, fresh, rtol=0)


def test_learning_rate_attribute_is_used_by_the_next_step(params, grads):
    """After optimizer.learning_rate is changed, does the next step use the new rate?"""
    optimizer = opt.Momentum(learning_rate=1.0, beta=0.0)
    optimizer.learning_rate = LR
    _assert_dicts_close(optimizer.step(params, grads), dense.update_parameters(params, grads, LR))


def test_make_optimizer_rejects_unknown_names_and_hyperparameters():
    """Are an unknown optimizer name and an unknown hyperparameter ValueErrors listing what is allowed?"""
    with pytest.raises(ValueError, match="unknown optimizer 'sgdx'; expected one of: gd, momentum"):
        opt.make_optimizer("sgdx")
    with pytest.raises(ValueError, match="unknown hyperparameter 'beta' for adam.*beta1, beta2"):
        opt.make_optimizer("adam", beta=0.9)
    assert isinstance(opt.make_optimizer("RMSprop", beta=0.9), opt.RMSprop)
    assert repr(opt.make_optimizer("adam")) == "Adam(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-08)"
