"""Tests of autograde.checks: correct answers pass, and each failure message says what is wrong."""
import threading
import traceback
from typing import NamedTuple

import numpy as np
import pytest

from autograde import checks
from autograde.errors import ReferenceUsedError, StudentError
from dlkit import batchnorm, gradcheck, losses

RNG = np.random.default_rng(3)


def failure(fn, *args, **kwargs) -> str:
    """The message of the AssertionError that ``fn(*args, **kwargs)`` raises."""
    with pytest.raises(AssertionError) as info:
        fn(*args, **kwargs)
    return str(info.value)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# --------------------------------------------------------------------------------------------
# assert_close: correct answers pass


def test_float32_result_of_correct_code_passes():
    """Does a correct answer computed in float32 pass against a float64 reference?"""
    z = RNG.standard_normal((1000, 1)) * 3
    checks.assert_close(sigmoid(z.astype(np.float32)), sigmoid(z), name="sigmoid(z)")
    x = RNG.standard_normal((50, 1000))
    checks.assert_close(x.astype(np.float32).sum(axis=1), x.sum(axis=1), name="sums")


def test_round_off_from_another_order_of_operations_passes():
    """Does a correct answer pass when round-off differs, even where values cancel to nearly 0?"""
    x = RNG.standard_normal((20, 300)) * 1e3
    loop = np.array([[sum(float(v) for v in row)] for row in x])
    checks.assert_close(loop, x.sum(axis=1, keepdims=True), name="sums")
    centred = x - x.mean(axis=1, keepdims=True)
    checks.assert_close(centred.mean(axis=1), (x - x.sum(axis=1, keepdims=True) / 300).mean(axis=1), name="means")


@pytest.mark.parametrize("got", [0.25, np.float64(0.25), np.float32(0.25), np.array(0.25), np.array([[0.25]]), np.array([0.25])])
def test_number_forms_accepted_for_a_scalar(got):
    """Is a number accepted as a Python float, a NumPy scalar, a 0-d array or a matching size-1 array?"""
    checks.assert_close(got, 0.25, name="cost")
    checks.assert_close(0.25, np.array(got).reshape(()), name="cost")


def test_containers_compare_recursively_and_tuples_equal_lists():
    """Do nested tuples/lists/dicts pass when their values match, with list and tuple interchangeable?"""
    expected = ({"dW1": np.ones((2, 3)), "db1": np.zeros((2, 1))}, 0.5)
    checks.assert_close([{"db1": np.zeros((2, 1)), "dW1": np.ones((2, 3))}, 0.5], expected, name="output")


def test_integer_array_for_float_values_passes_when_equal():
    """Are 0/1 predictions of an integer dtype accepted where float 0./1. are expected?"""
    checks.assert_close(np.array([[1, 0, 1]]), np.array([[1.0, 0.0, 1.0]]), name="predictions")


def test_nan_where_nan_is_expected_passes():
    """Does a NaN in the same place as the expected NaN count as equal?"""
    checks.assert_close(np.array([1.0, np.nan]), np.array([1.0, np.nan]), name="x")


def test_list_of_numbers_accepts_an_array():
    """Is an array accepted where a list of numbers (e.g. recorded costs) is expected?"""
    checks.assert_close(np.array([0.7, 0.6]), [0.7, 0.6], name="costs")


# --------------------------------------------------------------------------------------------
# assert_close: each stage's message


def test_sigmoid_sign_message():
    """Does a sign error in sigmoid report the first wrong index, expected vs got, errors, count and hint?"""
    z = np.array([[0.0], [1.0], [2.0]])
    message = failure(checks.assert_close, 1 / (1 + np.exp(z)), sigmoid(z), name="sigmoid(z)")
    assert message.startswith("sigmoid(z) differs at index (1, 0): expected 0.7311, got 0.2689")
    assert "2 of 3 entries wrong" in message
    assert "max abs error 0.7616" in message and "max rel error 0.8647" in message
    assert "Hint: the result looks like 1 - expected: check the sign of the exponent" in message


def test_shape_message_names_nested_path_and_transpose():
    """Does a transposed gradient inside a dict report its path, both shapes and the transpose hint?"""
    dw = RNG.standard_normal((2, 1))
    message = failure(checks.assert_close, ({"dw": dw.T, "db": 0.1}, 0.3), ({"dw": dw, "db": 0.1}, 0.3), name="output")
    assert message.startswith('output[0]["dw"] has shape (1, 2) but expected (2, 1).')
    assert "Hint: it is the transpose of the expected array" in message


def test_strict_scalar_message():
    """With strict_scalars, is a (1, 1) cost rejected with advice to use np.squeeze or float?"""
    message = failure(checks.assert_close, np.array([[0.69]]), 0.69, name="compute_cost", strict_scalars=True)
    assert message == "compute_cost is an ndarray of shape (1, 1) but expected a number: use np.squeeze or float(...)."


def test_wrong_size_one_array_mentions_value():
    """Is a (1, 1) cost with a wrong value reported by its value, not rejected for its shape?"""
    message = failure(checks.assert_close, np.array([[3.45]]), 0.69, name="cost", context={"m": 5})
    assert "cost is 3.45 but expected 0.69" in message and "did you divide by m?" in message


def test_array_where_number_expected():
    """Is a per-example loss array where a number is expected named with its shape and a hint to reduce?"""
    message = failure(checks.assert_close, np.full((1, 4), 0.5), 0.5, name="cost")
    assert message.startswith("cost is an ndarray of shape (1, 4) but expected a number.")
    assert "forget to sum (or average)" in message


def test_none_message_suggests_return():
    """Is a None result (a forgotten return) reported as such?"""
    assert failure(checks.assert_close, None, np.ones(2), name="A") == "A is None: did you forget a return statement?"


def test_list_where_array_expected():
    """Is a Python list where an array is expected reported with the conversion to use?"""
    message = failure(checks.assert_close, [1.0, 2.0], np.array([1.0, 2.0]), name="v")
    assert message == "v is a list of 2 items but expected an ndarray of shape (2,): convert it with np.array(...)."


def test_tuple_length_message():
    """Does a function that returns too few outputs get told how many it returned and how many are expected?"""
    message = failure(checks.assert_close, (np.ones(2),), (np.ones(2), 1.0), name="output")
    assert message == "output has 1 item but expected 2."


def test_namedtuple_cache_path_uses_field_names():
    """Is an entry of a NamedTuple cache named by its field (cache.W), not by its position?"""
    class LinearCache(NamedTuple):
        A_prev: np.ndarray
        W: np.ndarray

    expected = LinearCache(np.ones((2, 3)), np.ones((1, 2)))
    message = failure(checks.assert_close, (np.ones((2, 3)), np.ones((2, 1))), expected, name="cache")
    assert message.startswith("cache.W has shape (2, 1) but expected (1, 2).")
    assert "1 item but expected 2 (A_prev, W)" in failure(checks.assert_close, (np.ones((2, 3)),), expected, name="cache")


def test_dict_missing_and_extra_keys_are_named():
    """Are missing and unexpected dict keys named, with a hint when only the letter case differs?"""
    message = failure(checks.assert_close, {"dw": 1.0, "extra": 2.0}, {"dW": 1.0, "db": 2.0}, name="grads")
    assert "is missing the keys 'dW', 'db'" in message and "has the unexpected keys 'dw', 'extra'" in message
    assert "keys are case-sensitive: 'dw' is not 'dW'" in message
    checks.assert_close({"dW": 1.0, "dA0": 2.0}, {"dW": 1.0}, name="grads", allow_extra_keys=True)


def test_nan_and_inf_are_named_with_index():
    """Is a NaN (or inf) in the result named with its first index, count and the log/overflow hint?"""
    got = np.array([[0.1, np.nan, np.nan]])
    message = failure(checks.assert_close, got, np.array([[0.1, 0.2, 0.3]]), name="A")
    assert message.startswith("A contains NaN at index (0, 1) (2 of 3 entries) where a number is expected.")
    assert "log of 0" in message
    message = failure(checks.assert_close, np.array([np.inf, 1.0]), np.array([1.0, 1.0]), name="e")
    assert message.startswith("e contains inf at index 0") and "overflow" in message
    assert failure(checks.assert_close, np.nan, 0.5, name="cost").startswith("cost is NaN but a number is expected. Hint: NaN")


def test_small_differences_are_called_small():
    """When every difference is tiny but beyond tolerance, does the message say so and what to look for?"""
    expected = np.linspace(1.0, 2.0, 5)
    message = failure(checks.assert_close, expected + 1e-5, expected, name="A")
    assert "small but beyond the tolerance (rtol=1e-06" in message and "epsilon" in message


def test_digits_enough_to_tell_numbers_apart():
    """Are expected and got printed with enough digits that they never look equal?"""
    message = failure(checks.assert_close, np.array([1.00001]), np.array([1.0]), name="x")
    assert "expected 1, got 1.00001" in message


def test_integer_truncation_is_named():
    """Are floats truncated into an integer array explained by the integer dtype?"""
    expected = np.array([0.5, 1.5, 2.7])
    message = failure(checks.assert_close, np.zeros(3, dtype=int) + expected.astype(int), expected, name="v")
    assert "has integer dtype int64 but floats are expected: were the values truncated" in message


def test_bool_and_string_results():
    """Are a bool where a number is expected and a wrong string reported in plain words?"""
    assert failure(checks.assert_close, True, 1.0, name="ok") == "ok is a bool (True) but expected a number."
    assert failure(checks.assert_close, "relu", "tanh", name="f") == "f is wrong: expected 'tanh', got 'relu'."
    assert failure(checks.assert_close, 1, "tanh", name="f") == "f is an int but expected a str."


def test_wrong_dtype_kind():
    """Is an array of strings where numbers are expected reported by its dtype?"""
    message = failure(checks.assert_close, np.array(["a", "b"]), np.array([1.0, 2.0]), name="v")
    assert message == "v has dtype <U1 but expected numbers (dtype float64)."


# --------------------------------------------------------------------------------------------
# redaction


def test_redacted_messages_hide_expected_values_but_keep_the_rest():
    """Under redacted(), do messages keep the index, the shapes and the hint but show no expected value?"""
    z = np.array([[0.0], [1.0], [2.0]])
    with checks.redacted():
        message = failure(checks.assert_close, 1 / (1 + np.exp(z)), sigmoid(z), name="sigmoid(z)")
        scalar = failure(checks.assert_close, 3.4657, 0.6931, name="cost", context={"m": 5})
        shape = failure(checks.assert_close, np.ones((1, 2)), np.ones((2, 1)), name="dw")
        text = failure(checks.assert_close, "relu", "tanh", name="f")
    assert "index (1, 0)" in message and "0.7311" not in message and "0.8808" not in message
    assert "max abs error" not in message and "Hint: the result looks like 1 - expected" in message
    assert "0.6931" not in scalar and "did you divide by m?" in scalar
    assert "has shape (1, 2) but expected (2, 1)" in shape
    assert "tanh" not in text


def test_redaction_is_reentrant_and_restored():
    """Do nested redacted() blocks restore the outer state, and does an exception inside still restore it?"""
    assert not checks.is_redacted()
    with checks.redacted():
        with checks.redacted():
            assert checks.is_redacted()
        assert checks.is_redacted()
    assert not checks.is_redacted()
    with pytest.raises(AssertionError), checks.redacted():
        checks.assert_close(1.0, 2.0, name="x")
    assert not checks.is_redacted()


def test_redaction_does_not_leak_into_other_threads():
    """Does one thread's redacted() leave messages in another thread unredacted?"""
    inside, release, seen = threading.Event(), threading.Event(), []

    def redacting():
        with checks.redacted():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=redacting)
    thread.start()
    inside.wait(5)
    seen.append(checks.is_redacted())
    seen.append(failure(checks.assert_close, 1.0, 2.0, name="x"))
    release.set()
    thread.join()
    assert seen[0] is False and seen[1].startswith("x is 1 but expected 2 (abs error 1, rel error 0.5).")


def test_hint_for_follows_redaction():
    """Does checks.hint_for hide a derived factor under redacted() and show it otherwise?"""
    got, expected = np.array([3.7, 7.4]), np.array([1.0, 2.0])
    assert "3.7 times" in checks.hint_for(got, expected)
    with checks.redacted():
        assert "3.7" not in checks.hint_for(got, expected)


# --------------------------------------------------------------------------------------------
# assert_equal


def test_assert_equal_exact_values():
    """Does assert_equal accept equal ints (also NumPy ints), strings and arrays, and reject near misses?"""
    checks.assert_equal((2, np.int64(4), 1), (2, 4, 1), name="layer_sizes(X, Y)")
    checks.assert_equal({"stride": 1, "mode": "max"}, {"stride": 1, "mode": "max"}, name="hp")
    checks.assert_equal(np.array([1, 0, 1]), np.array([1, 0, 1]), name="mask")
    message = failure(checks.assert_equal, np.array([1.0, 1e-12]), np.array([1.0, 0.0]), name="v")
    assert message.startswith("v differs at index 1: expected 0, got 1e-12 (1 of 2 entries wrong")


def test_assert_equal_int_vs_float():
    """Is a float where an int is expected rejected even when its value is whole?"""
    message = failure(checks.assert_equal, (2, 4.0, 1), (2, 4, 1), name="layer_sizes(X, Y)")
    assert message == "layer_sizes(X, Y)[1] is a float (4.0) but expected an integer: use int(...) or integer division //."


def test_assert_equal_bools():
    """Are True/False compared exactly, with np.bool_ accepted and a number rejected?"""
    checks.assert_equal(np.bool_(True), True, name="b")
    assert failure(checks.assert_equal, False, True, name="b") == "b is wrong: expected True, got False."
    assert failure(checks.assert_equal, 1, True, name="b") == "b is an int but expected a bool (True or False)."


# --------------------------------------------------------------------------------------------
# compare_to_reference


def propagate(w, b, X, Y):
    m = X.shape[1]
    A = sigmoid(w.T @ X + b)
    cost = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    return {"dw": X @ (A - Y).T / m, "db": np.sum(A - Y) / m}, cost


def propagate_cases(count, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((4, 1)), float(rng.standard_normal()), rng.standard_normal((4, 30)),
             (rng.random((1, 30)) > 0.5).astype(float)) for _ in range(count)]


def test_correct_function_passes_fixed_and_random_cases():
    """Does a correct (differently written) propagate pass ten random cases and a fixed one?"""
    def student(w, b, X, Y):
        m = X.shape[1]
        A = 1 / (1 + np.exp(-(np.dot(w.T, X) + b)))
        cost = -(np.dot(Y, np.log(A).T) + np.dot(1 - Y, np.log(1 - A).T)) / m
        return {"db": np.sum(A - Y) / m, "dw": np.dot(X, (A - Y).T) / m}, np.squeeze(cost)

    fixed = (np.array([[1.0], [2.0]]), 2.0, np.array([[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]]), np.array([[1.0, 0.0, 1.0]]))
    checks.compare_to_reference(student, propagate, [fixed] + propagate_cases(10), output_names=("grads", "cost"))


def test_wrong_function_message_names_case_and_output():
    """Does a failure name the function, its arguments' shapes, the case number and the output path?"""
    def propagate_student(w, b, X, Y):
        grads, cost = propagate(w, b, X, Y)
        return {"dw": grads["dw"].T, "db": grads["db"]}, cost

    message = failure(checks.compare_to_reference, propagate_student, propagate, propagate_cases(3),
                      output_names=("grads", "cost"))
    assert message.startswith("propagate_student(w, b, X, Y) for w of shape (4, 1), b = ")
    assert "X of shape (4, 30), Y of shape (1, 30) (case 1 of 3): " in message
    assert 'grads["dw"] has shape (1, 4) but expected (4, 1). Hint: it is the transpose' in message


def test_unnamed_outputs_use_output_index_and_context_per_case():
    """Without output_names, are outputs called output[i]; is a per-case context used by the hints?"""
    def student(w, b, X, Y):
        grads, cost = propagate(w, b, X, Y)
        return grads, cost * X.shape[1]

    message = failure(checks.compare_to_reference, student, propagate, propagate_cases(2),
                      context=lambda w, b, X, Y: {"m": X.shape[1]})
    assert "output[1] is " in message and "Hint: the result is m = 30 times too large: did you divide by m?" in message


class Running(NamedTuple):
    mean: np.ndarray
    var: np.ndarray


def running_update(Z, running, momentum=0.9):
    """The running statistics of batch norm after one batch Z (n, m)."""
    return Running(momentum * running.mean + (1 - momentum) * Z.mean(axis=1, keepdims=True),
                   momentum * running.var + (1 - momentum) * Z.var(axis=1, keepdims=True))


def test_running_statistics_hints_from_a_per_case_context():
    """Do a swapped momentum and a variance over m - 1 get their hints when the context gives momentum and previous?"""
    def swapped(Z, running, momentum=0.9):
        return Running((1 - momentum) * running.mean + momentum * Z.mean(axis=1, keepdims=True),
                       (1 - momentum) * running.var + momentum * Z.var(axis=1, keepdims=True))

    def unbiased(Z, running, momentum=0.9):
        return Running(running_update(Z, running, momentum).mean,
                       momentum * running.var + (1 - momentum) * Z.var(axis=1, ddof=1, keepdims=True))

    cases = [(RNG.normal(1.0, 2.0, size=(3, 8)), Running(np.zeros((3, 1)), np.ones((3, 1))))]
    context = lambda Z, running, momentum=0.9: {"m": Z.shape[1], "momentum": momentum, "previous": running}  # noqa: E731
    checks.compare_to_reference(running_update, running_update, cases, output_names="running", context=context)
    message = failure(checks.compare_to_reference, swapped, running_update, cases, output_names="running", context=context)
    assert message.split(": ", 1)[1].startswith("running.mean differs") and "weights swapped" in message
    message = failure(checks.compare_to_reference, unbiased, running_update, cases, output_names="running", context=context)
    assert "running.var differs" in message and "divided by m - 1 = 7 instead of m = 8" in message


def momentum_update(parameters, grads, v, beta, learning_rate):
    """One step of gradient descent with momentum: (parameters, v)."""
    v = {key: beta * v[key] + (1 - beta) * grads[key] for key in v}
    return {key: value - learning_rate * v["d" + key] for key, value in parameters.items()}, v


def momentum_without_one_minus_beta(parameters, grads, v, beta, learning_rate):
    v = {key: beta * v[key] + grads[key] for key in v}
    return {key: value - learning_rate * v["d" + key] for key, value in parameters.items()}, v


MOMENTUM_CASE = ({"W1": RNG.standard_normal((2, 3)), "b1": RNG.standard_normal((2, 1))},
                 {"dW1": RNG.standard_normal((2, 3)), "db1": RNG.standard_normal((2, 1))},
                 {"dW1": RNG.standard_normal((2, 3)), "db1": RNG.standard_normal((2, 1))}, 0.9, 0.1)


def test_output_order_reports_the_state_before_what_it_spoils():
    """With output_order, is a wrong velocity reported before the parameters it spoils, by name or by position?"""
    def check(**kwargs):
        return failure(checks.compare_to_reference, momentum_without_one_minus_beta, momentum_update, [MOMENTUM_CASE],
                       name="update_parameters_with_momentum", **kwargs)

    assert ': parameters["W1"] differs' in check(output_names=("parameters", "v"))
    assert ': v["dW1"] differs' in check(output_names=("parameters", "v"), output_order=("v", "parameters"))
    assert ': v["dW1"] differs' in check(output_names=("parameters", "v"), output_order=("v",))
    assert ': output[1]["dW1"] differs' in check(output_order=(1,))
    checks.compare_to_reference(momentum_update, momentum_update, [MOMENTUM_CASE], output_names=("parameters", "v"),
                                output_order=("v",))


def test_output_order_of_dict_keys_and_namedtuple_fields():
    """Does output_order also order the keys of a dict output and the fields of a NamedTuple output?"""
    def both_wrong(w, b, X, Y):
        grads, cost = propagate(w, b, X, Y)
        return {"dw": grads["dw"] * 2, "db": grads["db"] * 2}

    def grads_only(w, b, X, Y):
        return propagate(w, b, X, Y)[0]

    message = failure(checks.compare_to_reference, both_wrong, grads_only, propagate_cases(1), output_names="grads",
                      output_order=("db",))
    assert ': grads["db"] is ' in message

    def var_wrong(Z, running, momentum=0.9):
        right = running_update(Z, running, momentum)
        return Running(right.mean + 1, right.var + 1)

    case = (RNG.normal(size=(3, 4)), Running(np.zeros((3, 1)), np.ones((3, 1))))
    message = failure(checks.compare_to_reference, var_wrong, running_update, [case], output_names="running",
                      output_order=("var",))
    assert ": running.var differs" in message


def test_output_order_naming_no_output_is_an_error():
    """Is an output_order naming an output that does not exist refused, even when the answer is right?"""
    with pytest.raises(ValueError, match="'velocity', which is not one of the parts"):
        checks.compare_to_reference(momentum_update, momentum_update, [MOMENTUM_CASE], output_names=("parameters", "v"),
                                    output_order=("velocity",))
    with pytest.raises(ValueError, match="needs a tuple or dict result"):
        checks.compare_to_reference(sigmoid, sigmoid, [(np.zeros(2),)], output_order=(0,))


def test_single_output_called_the_output():
    """Is a single array output called 'the output' in the message?"""
    message = failure(checks.compare_to_reference, lambda z: z, sigmoid, [(np.zeros((2, 2)),)], name="sigmoid")
    assert message.startswith("sigmoid(z) for z of shape (2, 2): the output differs at index (0, 0)")


def test_kwargs_cases():
    """Are cases given as {"args": ..., "kwargs": ...} passed through and described by name?"""
    def reference(x, scale=1.0):
        return x * scale

    def student(x, scale=1.0):
        return x + scale

    checks.compare_to_reference(reference, reference, [{"args": (np.ones(3),), "kwargs": {"scale": 2.0}}])
    message = failure(checks.compare_to_reference, student, reference, [{"args": (np.ones(3),), "kwargs": {"scale": 2.0}}])
    assert message.startswith("student(x, scale) for x of shape (3,), scale = 2: the output differs")


def test_student_parameter_names_are_used():
    """Are the arguments called by the student's own parameter names, and the reference's for a proxy?"""
    def reference(Z):
        return sigmoid(Z)

    message = failure(checks.compare_to_reference, lambda z: z, reference, [(np.zeros(2),)], name="sigmoid")
    assert message.startswith("sigmoid(z) for z of shape (2,)")
    message = failure(checks.compare_to_reference, RemoteFunction("sigmoid", lambda z: z), reference, [(np.zeros(2),)])
    assert message.startswith("sigmoid(Z) for Z of shape (2,)")


def test_input_mutation_is_reported_even_when_output_is_right():
    """Is a student function that modifies its input in place reported, naming the input and where?"""
    def normalize_rows(x):
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x

    def reference(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    cases = [(RNG.standard_normal((3, 4)),)]
    before = cases[0][0].copy()
    message = failure(checks.compare_to_reference, normalize_rows, reference, cases)
    assert "normalize_rows changed its input x (first at x[0, 0]): a function must not modify its arguments" in message
    assert np.array_equal(cases[0][0], before)  # the test's own data is untouched


def test_reference_gets_its_own_copy():
    """Does the reference receive fresh inputs, unaffected by anything the student function does?"""
    seen = []

    def reference(x):
        seen.append(x.copy())
        return x.sum()

    def student(x):
        x[:] = 0
        return 0.0

    with pytest.raises(AssertionError):
        checks.compare_to_reference(student, reference, [(np.ones(3),), (np.ones(3),)])
    assert all(np.array_equal(x, np.ones(3)) for x in seen)


def test_student_exception_propagates_with_its_traceback_and_a_note():
    """Does the student's own exception come through unchanged, traceback and all, with a note naming the case?"""
    def linear_forward(A, W, b):
        return A @ W + b  # wrong order: raises

    def reference(A, W, b):
        return W @ A + b

    case = (np.ones((3, 4)), np.ones((2, 3)), np.ones((2, 1)))
    with pytest.raises(ValueError) as info:
        checks.compare_to_reference(linear_forward, reference, [case])
    text = "".join(traceback.format_exception(info.value))
    assert "in linear_forward" in text and "return A @ W + b" in text
    assert "linear_forward(A, W, b) for A of shape (3, 4), W of shape (2, 3), b of shape (2, 1)" in info.value.__notes__[-1]


def test_stub_gets_friendly_note():
    """Does a stub's NotImplementedError get a note saying the exercise is not implemented yet?"""
    def sigmoid_stub(z):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError) as info:
        checks.compare_to_reference(sigmoid_stub, sigmoid, [(np.zeros(2),)])
    assert "sigmoid_stub is not implemented yet" in info.value.__notes__[0]
    assert "in sigmoid_stub" in "".join(traceback.format_exception(info.value))


class RemoteFunction:
    """A stand-in for the grader's proxy: a callable object without a Python signature."""

    def __init__(self, name, fn=None, error=None):
        self.__name__ = name
        self.fn, self.error = fn, error

    def __call__(self, *args, **kwargs):
        if self.error:
            raise self.error
        return self.fn(*args, **kwargs)


def test_proxy_callables_work_and_student_error_keeps_student_traceback():
    """Do proxies work, and does a StudentError keep the student's traceback text and get the stub note?"""
    checks.compare_to_reference(RemoteFunction("sigmoid", sigmoid), sigmoid, [(np.zeros(2),)])
    student_tb = 'Traceback (most recent call last):\n  File "<cell>", line 2, in sigmoid\nNotImplementedError\n'
    proxy = RemoteFunction("sigmoid", error=StudentError("NotImplementedError", "", student_tb))
    with pytest.raises(StudentError) as info:
        checks.compare_to_reference(proxy, sigmoid, [(np.zeros(2),)])
    text = "".join(traceback.format_exception(info.value))
    assert 'line 2, in sigmoid' in text and "sigmoid is not implemented yet" in text
    assert info.value.type_name == "NotImplementedError"


def test_reference_used_error_passes_through():
    """Does a ReferenceUsedError from the grading kernel reach the test cell as itself, with the case noted?"""
    proxy = RemoteFunction("sigmoid", error=ReferenceUsedError("sigmoid called dlkit.activations.sigmoid: write it yourself"))
    with pytest.raises(ReferenceUsedError) as info:
        checks.compare_to_reference(proxy, sigmoid, [(np.zeros(2),)])
    assert "sigmoid(z) for z of shape (2,)" in info.value.__notes__[-1]


def test_redacted_case_description_hides_float_inputs():
    """Under redaction, are float inputs of a hidden case described without their values?"""
    with checks.redacted():
        message = failure(checks.compare_to_reference, lambda x, lr: x, lambda x, lr: x - lr, [(np.ones(2), 0.0123)], name="update")
    assert "lr (a number)" in message and "0.0123" not in message


def initialize(layers_dims, seed=0):
    """Random W[l] of shape (n[l], n[l-1]) and zero b[l] for each layer."""
    rng = np.random.default_rng(seed)
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters[f"W{l}"] = rng.standard_normal((layers_dims[l], layers_dims[l - 1]))
        parameters[f"b{l}"] = np.zeros((layers_dims[l], 1))
    return parameters


def initialize_transposed(layers_dims, seed=0):
    return {key: value.T if key.startswith("W") else value for key, value in initialize(layers_dims, seed).items()}


def test_short_lists_of_numbers_are_described_by_value():
    """Is a short list of layer sizes shown by value, a long one by its length, and a float tuple hidden under redaction?"""
    message = failure(checks.compare_to_reference, initialize_transposed, initialize, [([4, 3, 1], 2)])
    assert message.startswith("initialize_transposed(layers_dims, seed) for layers_dims = [4, 3, 1], seed = 2: ")
    assert "transpose" in message
    message = failure(checks.compare_to_reference, initialize_transposed, initialize, [([np.int64(5)] + [2] * 11,)])
    assert message.startswith("initialize_transposed(layers_dims) for layers_dims = a list of 12 items: ")
    scaled = lambda x, betas: x * betas[0]  # noqa: E731
    message = failure(checks.compare_to_reference, lambda x, betas: x, scaled, [(np.ones(2), (0.9, 0.999))], name="f")
    assert message.startswith("f(x, betas) for x of shape (2,), betas = (0.9, 0.999): ")
    with checks.redacted():
        message = failure(checks.compare_to_reference, lambda x, betas: x, scaled, [(np.ones(2), (0.9, 0.999))], name="f")
        assert "betas = a tuple of 2 items" in message and "0.999" not in message
        message = failure(checks.compare_to_reference, initialize_transposed, initialize, [((4, 3, 1),)])
        assert "layers_dims = (4, 3, 1)" in message


def test_empty_cases_are_an_error():
    """Is an empty case list refused, so that a test cannot silently check nothing?"""
    with pytest.raises(ValueError, match="at least one case"):
        checks.compare_to_reference(sigmoid, sigmoid, [])


def test_many_cases_of_thousand_entries_are_compared():
    """Are all of ten 1000-entry cases compared (a wrong last case is found)?"""
    cases = [(RNG.standard_normal((1000,)),) for _ in range(10)]
    calls = []

    def student(z):
        calls.append(1)
        return sigmoid(z) if len(calls) < 10 else sigmoid(z) + 1e-3

    message = failure(checks.compare_to_reference, student, sigmoid, cases)
    assert "(case 10 of 10)" in message and "1000 of 1000 entries wrong" in message


# --------------------------------------------------------------------------------------------
# check_backward


def linear_forward(A_prev, W, b):
    return W @ A_prev + b, (A_prev, W, b)


def linear_backward(dZ, cache):
    A_prev, W, _ = cache
    m = A_prev.shape[1]
    return W.T @ dZ, dZ @ A_prev.T, np.sum(dZ, axis=1, keepdims=True)


LINEAR_ARGS = (RNG.standard_normal((3, 4)), RNG.standard_normal((2, 3)), RNG.standard_normal((2, 1)))


def test_correct_backward_passes():
    """Does a correct linear backward pass, in float64 and with float32 inputs?"""
    checks.check_backward(linear_backward, linear_forward, LINEAR_ARGS, wrt=("A_prev", "W", "b"))
    float32_args = tuple(a.astype(np.float32) for a in LINEAR_ARGS)
    checks.check_backward(linear_backward, linear_forward, float32_args, wrt=("A_prev", "W", "b"))


def test_wrong_gradient_named_with_relative_error():
    """Is a wrong dW reported by name with its relative error, first wrong entry and a hint?"""
    def backward(dZ, cache):
        dA_prev, dW, db = linear_backward(dZ, cache)
        return dA_prev, dW / cache[0].shape[1], db

    message = failure(checks.check_backward, backward, linear_forward, LINEAR_ARGS, wrt=("A_prev", "W", "b"),
                      context={"m": 4})
    assert message.startswith("backward for linear_forward(A_prev, W, b) for A_prev of shape (3, 4)")
    assert ": dW has relative error 0.6 against central differences (limit 1e-05); first wrong entry at index (0, 0): expected " in message
    assert "(6 of 6 entries wrong). Hint: the result is m = 4 times too small" in message
    with checks.redacted():
        hidden = failure(checks.check_backward, backward, linear_forward, LINEAR_ARGS, wrt=("A_prev", "W", "b"))
    assert "dW has relative error 0.6" in hidden and "first wrong entry at index (0, 0): got " in hidden
    assert "expected -" not in hidden and "expected 0" not in hidden and "expected 1" not in hidden


def test_scale_follows_the_mean_over_examples_convention():
    """With scale={"dW": 1/m, "db": 1/m}, does a notes-style backward (dW = dZ A^T / m) pass, and the plain one fail?"""
    def mean_backward(dZ, cache):
        dA_prev, dW, db = linear_backward(dZ, cache)
        m = cache[0].shape[1]
        return dA_prev, dW / m, db / m

    scale = {"dW": 1 / 4, "db": 1 / 4}
    checks.check_backward(mean_backward, linear_forward, LINEAR_ARGS, wrt=("A_prev", "W", "b"), scale=scale)
    message = failure(checks.check_backward, linear_backward, linear_forward, LINEAR_ARGS, wrt=("A_prev", "W", "b"),
                      scale=scale, context={"m": 4})
    assert "dW has relative error" in message and "m = 4 times too large" in message


def test_wrong_gradient_shape():
    """Is a transposed db reported as a shape problem of db?"""
    def backward(dZ, cache):
        dA_prev, dW, db = linear_backward(dZ, cache)
        return dA_prev, dW, db.T

    message = failure(checks.check_backward, backward, linear_forward, LINEAR_ARGS, wrt=("A_prev", "W", "b"))
    assert message.endswith(": db has shape (1, 2) but expected (2, 1). Hint: it is the transpose of the expected array: remove (or add) a .T, or swap the factors of the matrix product.")


def test_backward_returning_wrong_count_or_dict():
    """Is a backward returning too few gradients told how many; is a dict of gradients read by label?"""
    message = failure(checks.check_backward, lambda dZ, cache: linear_backward(dZ, cache)[:2], linear_forward,
                      LINEAR_ARGS, wrt=("A_prev", "W", "b"))
    assert "returned a tuple of 2 items but expected 3 gradients (dA_prev, dW, db)" in message

    def dict_backward(dZ, cache):
        return dict(zip(("dA_prev", "dW", "db"), linear_backward(dZ, cache)))

    checks.check_backward(dict_backward, linear_forward, LINEAR_ARGS, wrt=("W", "b", "A_prev"))


def test_backward_that_modifies_dout_is_reported():
    """Is a backward that changes its upstream gradient in place (relu's classic mistake) reported?"""
    def relu_forward(Z):
        return np.maximum(Z, 0), Z

    def relu_backward(dA, Z):
        dA[Z <= 0] = 0
        return dA

    z = np.array([[0.5, -1.0, 2.0], [-0.3, 0.7, 1.1]])
    message = failure(checks.check_backward, relu_backward, relu_forward, (z,), wrt=("Z",))
    assert "relu_backward changed its input dout (first at dout[0, 1])" in message


def test_forward_with_wrong_shape_is_reported_first():
    """Is a forward whose output has the wrong shape reported before any gradient is checked?"""
    def forward(A_prev, W, b):
        return (W @ A_prev + b).T, (A_prev, W, b)

    message = failure(checks.check_backward, linear_backward, forward, LINEAR_ARGS, wrt=("A_prev", "W", "b"),
                      reference_forward=linear_forward)
    assert "forward returns an output of shape (4, 2) but expected (2, 4): fix forward before its backward." in message


def test_gradients_of_parameters_in_a_dict():
    """Can gradients with respect to entries of a parameters dict be checked by path, with extra backward args?"""
    def forward(x, parameters, mode):
        out = parameters["W"] @ x * (2.0 if mode == "double" else 1.0)
        return out, (x, parameters, mode)

    def backward(dout, cache, mode):
        x, parameters, _ = cache
        factor = 2.0 if mode == "double" else 1.0
        return {"dx": parameters["W"].T @ dout * factor, "dW": dout @ x.T * factor}

    args = (RNG.standard_normal((3, 2)), {"W": RNG.standard_normal((2, 3))}, "double")
    checks.check_backward(backward, forward, args, wrt={"dx": "x", "dW": ("parameters", "W")}, backward_args=("double",))


BATCHNORM_ARGS = (RNG.normal(1.0, 2.0, size=(3, 5)), RNG.normal(1.0, 0.5, size=(3, 1)), RNG.normal(size=(3, 1)))


def test_cache_index_picks_the_cache_of_a_forward_returning_more():
    """With cache_index=1, is batch norm's (out, cache, running) checked, and a train-mode dZ without the mean terms caught?"""
    def backward_as_in_test_mode(dout, cache):
        dZ, dgamma, dbeta = batchnorm.batchnorm_backward(dout, cache)
        return dout * cache.gamma / np.sqrt(cache.var + cache.eps), dgamma, dbeta

    wrt = ("Z", "gamma", "beta")
    checks.check_backward(batchnorm.batchnorm_backward, batchnorm.batchnorm_forward, BATCHNORM_ARGS, wrt=wrt, cache_index=1)
    message = failure(checks.check_backward, backward_as_in_test_mode, batchnorm.batchnorm_forward, BATCHNORM_ARGS,
                      wrt=wrt, cache_index=1)
    assert ": dZ has relative error" in message
    with pytest.raises(ValueError):  # by default the last output, the running statistics, goes to the backward
        checks.check_backward(batchnorm.batchnorm_backward, batchnorm.batchnorm_forward, BATCHNORM_ARGS, wrt=wrt)


def test_cache_index_outside_the_outputs_is_reported():
    """Is a forward returning fewer outputs than cache_index needs told what form is expected?"""
    message = failure(checks.check_backward, linear_backward, linear_forward, LINEAR_ARGS, wrt=("A_prev",), cache_index=2)
    assert message.endswith("linear_forward returned a tuple of 2 items but expected a tuple (out, ...) with the cache at position 2.")


def test_seed_makes_the_check_repeatable():
    """Does the same seed give the same message (the random dout is seeded)?"""
    def backward(dZ, cache):
        dA_prev, dW, db = linear_backward(dZ, cache)
        return dA_prev, dW + 0.1, db

    first = failure(checks.check_backward, backward, linear_forward, LINEAR_ARGS, wrt=("A_prev", "W", "b"), seed=5)
    second = failure(checks.check_backward, backward, linear_forward, LINEAR_ARGS, wrt=("A_prev", "W", "b"), seed=5)
    assert first == second and "dW has relative error" in first


def test_backward_student_exception_propagates():
    """Does an exception raised in the student's backward propagate with its traceback and a note?"""
    def broken_backward(dZ, cache):
        return cache[1] @ dZ  # shapes do not align

    with pytest.raises(ValueError) as info:
        checks.check_backward(broken_backward, linear_forward, LINEAR_ARGS, wrt=("A_prev",))
    assert "in broken_backward" in "".join(traceback.format_exception(info.value))
    assert "broken_backward for linear_forward(A_prev, W, b)" in info.value.__notes__[-1]


# --------------------------------------------------------------------------------------------
# check_loss_gradient


SOFTMAX_Z = RNG.normal(0.0, 2.0, size=(4, 5))  # (K, m)
SOFTMAX_Y = np.eye(4)[:, RNG.integers(0, 4, size=5)]  # (K, m) one-hot


def softmax_cross_entropy(Z, Y):
    """A correct student version, written differently from dlkit's."""
    e = np.exp(Z - Z.max(axis=0))
    A = e / e.sum(axis=0)
    m = Z.shape[1]
    return -np.sum(Y * np.log(A)) / m, (A - Y) / m


def test_correct_loss_gradient_passes():
    """Does a correct softmax_cross_entropy pass against dlkit's, and against its own cost by default?"""
    checks.check_loss_gradient(softmax_cross_entropy, (SOFTMAX_Z, SOFTMAX_Y), wrt="Z",
                               reference_loss=losses.softmax_cross_entropy)
    checks.check_loss_gradient(softmax_cross_entropy, (SOFTMAX_Z.astype(np.float32), SOFTMAX_Y), wrt=("Z",))


def test_loss_gradient_without_the_mean_is_named():
    """Is a dZ without its 1/m reported against central differences, with the m hint?"""
    def student(Z, Y):
        cost, dZ = softmax_cross_entropy(Z, Y)
        return cost, dZ * Z.shape[1]

    message = failure(checks.check_loss_gradient, student, (SOFTMAX_Z, SOFTMAX_Y), wrt="Z",
                      reference_loss=losses.softmax_cross_entropy, context={"m": 5})
    assert message.startswith("student(Z, Y) for Z of shape (4, 5), Y of shape (4, 5): dZ has relative error ")
    assert "against central differences (limit 1e-05)" in message and "m = 5 times too large" in message


def test_loss_gradient_with_flipped_sign_is_named():
    """Is dZ = Y - A (the sign flipped) caught and named?"""
    def student(Z, Y):
        cost, dZ = softmax_cross_entropy(Z, Y)
        return cost, -dZ

    message = failure(checks.check_loss_gradient, student, (SOFTMAX_Z, SOFTMAX_Y), wrt="Z",
                      reference_loss=losses.softmax_cross_entropy)
    assert "dZ has relative error 1 against central differences" in message and "sign is flipped" in message


def test_wrong_cost_is_reported_before_the_gradient():
    """Is a cost summed instead of averaged reported as the cost, even with a right dZ?"""
    def student(Z, Y):
        cost, dZ = softmax_cross_entropy(Z, Y)
        return cost * Z.shape[1], dZ

    message = failure(checks.check_loss_gradient, student, (SOFTMAX_Z, SOFTMAX_Y), wrt="Z",
                      reference_loss=losses.softmax_cross_entropy, context={"m": 5})
    assert ": the cost is " in message and "did you divide by m?" in message


def test_cost_as_a_one_by_one_array():
    """Is a (1, 1) cost accepted from the student and from the reference, and refused with strict_scalars?"""
    def as_matrix(Z, Y):
        cost, dZ = softmax_cross_entropy(Z, Y)
        return np.array([[cost]]), dZ

    checks.check_loss_gradient(as_matrix, (SOFTMAX_Z, SOFTMAX_Y), wrt="Z")
    checks.check_loss_gradient(softmax_cross_entropy, (SOFTMAX_Z, SOFTMAX_Y), wrt="Z", reference_loss=as_matrix)
    message = failure(checks.check_loss_gradient, as_matrix, (SOFTMAX_Z, SOFTMAX_Y), wrt="Z",
                      reference_loss=losses.softmax_cross_entropy, strict_scalars=True)
    assert message.endswith("the cost is an ndarray of shape (1, 1) but expected a number: use np.squeeze or float(...).")


def test_loss_result_of_the_wrong_form():
    """Is a loss returning only its cost, or too few gradients, told the tuple it should return?"""
    message = failure(checks.check_loss_gradient, lambda Z, Y: softmax_cross_entropy(Z, Y)[0], (SOFTMAX_Z, SOFTMAX_Y),
                      wrt="Z", reference_loss=losses.softmax_cross_entropy, name="softmax_cross_entropy")
    assert message.endswith("softmax_cross_entropy returned a float64 but expected a tuple (cost, dZ).")
    message = failure(checks.check_loss_gradient, softmax_cross_entropy, (SOFTMAX_Z, SOFTMAX_Y), wrt=("Z", "Y"))
    assert message.endswith("returned a tuple of 2 items but expected a tuple (cost, dZ, dY).")


def test_loss_modifying_its_input_is_reported():
    """Is a loss that shifts Z in place (Z -= max) reported, though its values are right?"""
    def shifting(Z, Y):
        Z -= Z.max(axis=0, keepdims=True)
        return softmax_cross_entropy(Z, Y)

    message = failure(checks.check_loss_gradient, shifting, (SOFTMAX_Z, SOFTMAX_Y), wrt="Z",
                      reference_loss=losses.softmax_cross_entropy)
    assert "shifting changed its input Z" in message


def test_loss_gradients_in_a_dict():
    """Are gradients returned as (cost, grads) with a dict read by label, and a missing key named?"""
    def logistic(w, b, X, Y):
        A = sigmoid(w.T @ X + b)
        m = X.shape[1]
        cost = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
        return cost, {"dw": X @ (A - Y).T / m, "db": np.sum(A - Y) / m}

    w, b, X, Y = propagate_cases(1)[0]
    checks.check_loss_gradient(logistic, (w, b, X, Y), wrt={"dw": "w", "db": "b"})
    message = failure(checks.check_loss_gradient, lambda w, b, X, Y: (logistic(w, b, X, Y)[0], {"dw": 0}),
                      (w, b, X, Y), wrt={"dw": "w", "db": "b"}, reference_loss=logistic, name="propagate")
    assert message.endswith("propagate returned a dict that is missing the key 'db'.")


# --------------------------------------------------------------------------------------------
# assert_less and note=


def logistic_difference(db_divided_by_m=True):
    """The gradient-check difference of logistic regression's gradients, with or without a bug in db."""
    w, b, X, Y = propagate_cases(1, seed=4)[0]
    grads, _ = propagate(w, b, X, Y)
    if not db_divided_by_m:
        grads["db"] = grads["db"] * X.shape[1]
    parameters = {"w": w, "b": np.array([[b]])}
    gradients = {"dw": grads["dw"], "db": np.array([[grads["db"]]])}
    return gradcheck.gradient_check_n(parameters, gradients, lambda p: propagate(p["w"], float(p["b"][0, 0]), X, Y)[1])


def test_assert_less_passes_a_right_gradient_check_and_fails_a_wrong_one():
    """Is a right gradient's difference accepted below 1e-7, and a wrong one reported with its value and the advice?"""
    checks.assert_less(logistic_difference(), 1e-7, name="the difference")
    checks.assert_less(np.array([[1e-9]]), 1e-7, name="the difference")
    message = failure(checks.assert_less, logistic_difference(db_divided_by_m=False), 1e-7, name="the difference",
                      advice="Compare grad and gradapprox entry by entry.")
    assert message.startswith("the difference is 0.") and message.endswith(
        ", but it should be below 1e-07. Compare grad and gradapprox entry by entry.")


def test_assert_less_on_edge_values():
    """Are NaN, a value equal to the limit, a value just above it, and things that are not numbers refused clearly?"""
    assert failure(checks.assert_less, float("nan"), 1e-7, name="d") == "d is NaN, but it should be a number below 1e-07."
    assert failure(checks.assert_less, 1e-7, 1e-7, name="d") == "d is 1e-07, but it should be below 1e-07."
    assert failure(checks.assert_less, 1.00001e-7, 1e-7, name="d") == "d is 1.00001e-07, but it should be below 1e-07."
    assert failure(checks.assert_less, None, 1e-7, name="d") == "d is None: did you forget a return statement?"
    assert failure(checks.assert_less, np.ones(3), 1e-7, name="d") == "d is an ndarray of shape (3,) but expected a number."
    assert failure(checks.assert_less, True, 1.0, name="d") == "d is a bool (True) but expected a number."


NOTE = "Recipe: v = beta * v + (1 - beta) * dW, then W = W - learning_rate * v."


def test_note_is_appended_to_every_check_failure():
    """Does note= add its sentence after the message of assert_close, assert_equal and compare_to_reference?"""
    message = failure(checks.assert_close, np.ones(2) * 2, np.ones(2), name="v", note=NOTE)
    assert message.startswith("v differs at index 0") and message.endswith("factor 1/2 missing? " + NOTE)
    assert failure(checks.assert_equal, "relu", "tanh", name="f", note=NOTE) == "f is wrong: expected 'tanh', got 'relu'. " + NOTE
    message = failure(checks.compare_to_reference, lambda z: z, sigmoid, [(np.zeros(2),)], name="sigmoid", note=NOTE)
    assert message.startswith("sigmoid(z) for z of shape (2,): the output differs") and message.endswith("? " + NOTE)
    checks.assert_close(np.ones(2), np.ones(2), name="v", note=NOTE)


def test_note_is_appended_to_gradient_check_failures():
    """Does note= follow a failure of check_backward (also a wrong form) and of check_loss_gradient?"""
    def backward(dZ, cache):
        dA_prev, dW, db = linear_backward(dZ, cache)
        return dA_prev, dW * 2, db

    message = failure(checks.check_backward, backward, linear_forward, LINEAR_ARGS, wrt=("A_prev", "W", "b"), note=NOTE)
    assert "dW has relative error" in message and message.endswith(" " + NOTE)
    message = failure(checks.check_backward, lambda dZ, cache: None, linear_forward, LINEAR_ARGS, wrt=("W",), note=NOTE)
    assert message.endswith("returned None but expected 1 gradient (dW). " + NOTE)
    message = failure(checks.check_loss_gradient, lambda Z, Y: 0.5, (SOFTMAX_Z, SOFTMAX_Y), wrt="Z",
                      reference_loss=losses.softmax_cross_entropy, note=NOTE)
    assert message.endswith("expected a tuple (cost, dZ). " + NOTE)


def test_note_is_not_added_to_the_students_own_exception():
    """Does an exception raised by the student's code keep its own message, without the note?"""
    def broken(z):
        raise ValueError("shapes (2,) and (3,) not aligned")

    with pytest.raises(ValueError) as info:
        checks.compare_to_reference(broken, sigmoid, [(np.zeros(2),)], note=NOTE)
    assert str(info.value) == "shapes (2,) and (3,) not aligned"
    assert all(NOTE not in note for note in info.value.__notes__)


# --------------------------------------------------------------------------------------------
# passed


@pytest.mark.parametrize("points, line", [(1, "sigmoid: all checks passed (1 point)"),
                                          (2, "sigmoid: all checks passed (2 points)"),
                                          (0.5, "sigmoid: all checks passed (0.5 points)")])
def test_passed_prints_one_line(capsys, points, line):
    """Does passed() print one line with the right singular or plural?"""
    checks.passed("sigmoid", points)
    assert capsys.readouterr().out == line + "\n"


def test_drawing_from_a_generator_argument_is_not_a_mutation():
    """Is a function that draws from the Generator it is given not reported as changing its input?"""
    def noisy(x, rng):
        return x + rng.standard_normal(x.shape) * 0

    checks.compare_to_reference(noisy, noisy, [(np.ones(3), np.random.default_rng(0))], name="noisy")


def test_nan_inputs_are_named_as_the_source_of_a_nan_result():
    """When a case's inputs hold NaN (missing labels), does a NaN loss get 'mask them out', not 'clip the log'?"""
    def loss(Y_hat, Y):
        labelled = ~np.isnan(Y)
        return float(-np.sum(np.log(np.where(Y[labelled] == 1, Y_hat[labelled], 1 - Y_hat[labelled]))) / Y.shape[1])

    def unmasked(Y_hat, Y):
        return float(-np.sum(Y * np.log(Y_hat) + (1 - Y) * np.log(1 - Y_hat)) / Y.shape[1])

    Y_hat, Y = np.array([[0.9, 0.2, 0.6]]), np.array([[1.0, np.nan, 0.0]])
    message = failure(checks.compare_to_reference, unmasked, loss, [(Y_hat, Y)], name="loss")
    assert "some inputs are NaN (missing values): mask them out" in message and "np.clip" not in message
    checks.compare_to_reference(loss, loss, [(Y_hat, Y)], name="loss")  # the masked loss passes
    with np.errstate(invalid="ignore", divide="ignore"):
        message = failure(checks.compare_to_reference, lambda a: float(np.log(a - 1.0)), lambda a: 0.0, [(0.5,)], name="f")
    assert "mask them out" not in message and "log of 0" in message
