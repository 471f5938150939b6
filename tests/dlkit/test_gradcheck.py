"""Tests of dlkit.gradcheck: central differences, relative errors and parameter-vector round trips."""
import numpy as np
import pytest

from dlkit import gradcheck

pytestmark = pytest.mark.lesson08


def _cubic_cost(parameters):
    """A cost with known gradients: sum(W1**3) + 2 * sum(W1) * sum(b1) + sum(W2 * b2)."""
    W1, b1, W2, b2 = (parameters[key] for key in ("W1", "b1", "W2", "b2"))
    return float(np.sum(W1 ** 3) + 2 * np.sum(W1) * np.sum(b1) + np.sum(W2 * b2.T))


def _cubic_gradients(parameters):
    """The exact gradients of ``_cubic_cost``."""
    W1, b1, W2, b2 = (parameters[key] for key in ("W1", "b1", "W2", "b2"))
    return {"dW1": 3 * W1 ** 2 + 2 * np.sum(b1), "db1": np.full_like(b1, 2 * np.sum(W1)),
            "dW2": np.broadcast_to(b2.T, W2.shape).copy(), "db2": W2.T.copy()}


@pytest.fixture
def parameters():
    rng = np.random.default_rng(0)
    return {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal((3, 1)),
            "W2": rng.standard_normal((1, 3)), "b2": rng.standard_normal((3, 1))}


def test_numerical_gradient_matches_an_analytic_gradient():
    """Does numerical_gradient match the gradient of sum(sin(x) * x) on a 3-D array?"""
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    got = gradcheck.numerical_gradient(lambda v: np.sum(np.sin(v) * v), x)
    assert got.shape == x.shape
    assert gradcheck.rel_error(got, np.cos(x) * x + np.sin(x)) < 1e-9


def test_numerical_gradient_restores_x_even_when_f_raises():
    """Is x bit-for-bit unchanged after numerical_gradient, also after an exception inside f?"""
    x = np.random.default_rng(2).standard_normal((3, 3))
    before = x.copy()
    gradcheck.numerical_gradient(lambda v: np.sum(v ** 2), x)
    np.testing.assert_array_equal(x, before)

    def explode(v):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        gradcheck.numerical_gradient(explode, x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_sees_x_through_a_closure():
    """Does a function that reads x from a closure (not its argument) still get the perturbations?"""
    x = np.array([1.0, 2.0, 3.0])
    got = gradcheck.numerical_gradient(lambda _: np.sum(x ** 2), x)
    np.testing.assert_allclose(got, 2 * x, rtol=1e-8)


def test_numerical_gradient_rejects_integer_arrays():
    """Is an integer x, which cannot hold x + h, refused with a ValueError?"""
    with pytest.raises(ValueError, match="float"):
        gradcheck.numerical_gradient(np.sum, np.arange(3))


def test_numerical_gradient_array_is_the_gradient_of_the_weighted_sum():
    """Does numerical_gradient_array give W^T dout for f(x) = W x?"""
    rng = np.random.default_rng(3)
    W, x, dout = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    got = gradcheck.numerical_gradient_array(lambda v: W @ v, x, dout)
    assert gradcheck.rel_error(got, W.T @ dout) < 1e-9


def test_numerical_gradient_array_rejects_a_dout_of_the_wrong_shape():
    """Is a dout whose shape differs from f(x) reported with both shapes?"""
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        gradcheck.numerical_gradient_array(lambda v: 2 * v, np.zeros(3), np.zeros(2))


def test_rel_error_values():
    """Is rel_error 0 for equal arrays, scale-free, and 0 for two zero arrays?"""
    a = np.array([[1.0, -2.0], [3.0, 0.0]])
    assert gradcheck.rel_error(a, a.copy()) == 0.0
    assert gradcheck.rel_error(a, a * (1 + 1e-8)) == pytest.approx(gradcheck.rel_error(1e6 * a, 1e6 * a * (1 + 1e-8)))
    assert gradcheck.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gradcheck.rel_error(np.array([1.0]), np.array([-1.0])) == 1.0


def test_rel_error_rejects_mismatched_shapes():
    """Are arrays of different shapes refused with both shapes named?"""
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        gradcheck.rel_error(np.zeros((2, 3)), np.zeros((3, 2)))


def test_gradient_check_passes_a_right_derivative_and_fails_a_wrong_one():
    """Does the 1-D gradient_check accept d(t^3)=3t^2 and reject 2t^2?"""
    assert gradcheck.gradient_check(lambda t: t ** 3, lambda t: 3 * t ** 2, 1.7) < 1e-7
    assert gradcheck.gradient_check(lambda t: t ** 3, lambda t: 2 * t ** 2, 1.7) == pytest.approx(0.2, abs=1e-6)
    assert gradcheck.gradient_check(lambda t: 5.0, lambda t: 0.0, 1.0) == 0.0


def test_dictionary_vector_round_trip(parameters):
    """Does vector_to_dictionary(dictionary_to_vector(p)) give p back, same keys, order and shapes?"""
    theta, keys = gradcheck.dictionary_to_vector(parameters)
    assert theta.shape == (sum(v.size for v in parameters.values()), 1)
    assert keys == ["W1", "b1", "W2", "b2"]
    back = gradcheck.vector_to_dictionary(theta, parameters)
    assert list(back) == keys
    for key in keys:
        np.testing.assert_array_equal(back[key], parameters[key])
    np.testing.assert_array_equal(theta[:6, 0], parameters["W1"].reshape(-1))


def test_dictionary_to_vector_follows_the_given_keys(parameters):
    """Does dictionary_to_vector stack only the keys asked for, in that order, and refuse unknown ones?"""
    theta, keys = gradcheck.dictionary_to_vector(parameters, ["b2", "W1"])
    assert keys == ["b2", "W1"]
    np.testing.assert_array_equal(theta[:3, 0], parameters["b2"][:, 0])
    with pytest.raises(ValueError, match="W9"):
        gradcheck.dictionary_to_vector(parameters, ["W9"])


def test_vector_to_dictionary_rejects_a_vector_of_the_wrong_size(parameters):
    """Is a theta with one entry too many refused with its shape and the expected one?"""
    with pytest.raises(ValueError, match=r"\(16, 1\).*\(15, 1\)"):
        gradcheck.vector_to_dictionary(np.zeros((16, 1)), parameters)


def test_gradients_to_vector_reads_the_d_keys(parameters):
    """Does gradients_to_vector read "dW1" for "W1" and ignore extra keys such as "dA0"?"""
    grads = {"d" + key: value + 1 for key, value in parameters.items()}
    grads["dA0"] = np.ones((2, 5))
    theta, keys = gradcheck.dictionary_to_vector(parameters)
    np.testing.assert_array_equal(gradcheck.gradients_to_vector(grads, keys), theta + 1)


def test_gradient_check_n_passes_correct_gradients(parameters, capsys):
    """Does gradient_check_n pass exact gradients and say so, without touching the parameters?"""
    before = {key: value.copy() for key, value in parameters.items()}
    difference = gradcheck.gradient_check_n(parameters, _cubic_gradients(parameters), _cubic_cost,
                                            print_msg=True)
    assert difference < 1e-7
    assert "looks right" in capsys.readouterr().out
    for key in before:
        np.testing.assert_array_equal(parameters[key], before[key])


def test_gradient_check_n_finds_a_planted_bug(parameters, capsys):
    """Does gradient_check_n flag dW2 scaled by 2 and name the worst entry of dW2?"""
    gradients = _cubic_gradients(parameters)
    gradients["dW2"] = 2 * gradients["dW2"]
    difference = gradcheck.gradient_check_n(parameters, gradients, _cubic_cost, print_msg=True)
    assert difference > 1e-3
    assert "mistake" in capsys.readouterr().out


def test_gradient_check_n_names_the_worst_entry(parameters, capsys):
    """When one entry of db1 is wrong, does the message point at db1 and that index?"""
    gradients = _cubic_gradients(parameters)
    gradients["db1"][2, 0] += 100.0
    gradcheck.gradient_check_n(parameters, gradients, _cubic_cost, print_msg=True)
    assert "db1(2, 0)" in capsys.readouterr().out


def test_gradient_check_n_rejects_missing_or_misshaped_gradients(parameters):
    """Are a missing "db2" and a transposed "dW1" refused with a ValueError that names them?"""
    gradients = _cubic_gradients(parameters)
    del gradients["db2"]
    with pytest.raises(ValueError, match="db2"):
        gradcheck.gradient_check_n(parameters, gradients, _cubic_cost)
    gradients = _cubic_gradients(parameters)
    gradients["dW1"] = gradients["dW1"].T
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        gradcheck.gradient_check_n(parameters, gradients, _cubic_cost)
