"""Tests of autograde.mistakes: each known mistake recognised from a real wrong implementation."""
import numpy as np
import pytest

from autograde import mistakes
from autograde.mistakes import hint_for

RNG = np.random.default_rng(7)
X = RNG.standard_normal((3, 5))  # (n_x, m)
Y = (RNG.random((1, 5)) > 0.5).astype(float)  # (1, m)
W = RNG.standard_normal((1, 3))
M = X.shape[1]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def cross_entropy(A, Y):
    return -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))


A = sigmoid(W @ X)  # (1, m)
DZ = RNG.standard_normal((4, 5))  # (n, m)


def recurrence(x, a0):
    """a<t> = tanh(a<t-1> + x<t>) for x of shape (n, T); returns all a<t>, shape (n, T)."""
    a, out = a0, np.zeros_like(x)
    for t in range(x.shape[1]):
        a = np.tanh(a + x[:, t])
        out[:, t] = a
    return out


def recurrence_stores_previous(x, a0):
    a, out = a0, np.zeros_like(x)
    for t in range(x.shape[1]):
        out[:, t] = a  # wrong: stores a<t-1>
        a = np.tanh(a + x[:, t])
    return out


def ewa(gradients, beta):
    """Bias-corrected exponentially weighted average after len(gradients) steps."""
    v = np.zeros_like(gradients[0])
    for g in gradients:
        v = beta * v + (1 - beta) * g
    return v / (1 - beta ** len(gradients))


def ewa_uncorrected(gradients, beta):
    v = np.zeros_like(gradients[0])
    for g in gradients:
        v = beta * v + (1 - beta) * g
    return v


def corrected_second_moment(gradients, beta2, step=lambda t: t):
    """Adam's s_corrected after len(gradients) updates, t counted from 1; ``step`` maps t to the exponent used."""
    s = np.zeros_like(gradients[0])
    for g in gradients:
        s = beta2 * s + (1 - beta2) * g**2
    return s / (1 - beta2 ** step(len(gradients)))


def batchnorm_train(Z, gamma, beta, previous, momentum=0.9, ddof=0, swapped=False):
    """Batch norm in train mode: out (n, m) and the updated running (mean, var), each (n, 1)."""
    mu, var = Z.mean(axis=1, keepdims=True), Z.var(axis=1, ddof=ddof, keepdims=True)  # (n, 1)
    out = gamma * (Z - mu) / np.sqrt(var + 1e-5) + beta  # (n, m)
    keep = 1 - momentum if swapped else momentum
    return out, (keep * previous[0] + (1 - keep) * mu, keep * previous[1] + (1 - keep) * var)


def zero_pad(images, pad):
    return np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


IMAGES = RNG.standard_normal((2, 4, 4, 3))  # (m, n_H, n_W, n_C)
BN_Z = RNG.normal(2.0, 3.0, size=(3, 6))  # (n, m)
BN_GAMMA, BN_BETA = RNG.normal(1.0, 0.5, size=(3, 1)), RNG.normal(0.0, 1.0, size=(3, 1))
BN_RUNNING = (RNG.normal(size=(3, 1)), RNG.uniform(0.5, 2.0, size=(3, 1)))  # (mean, var) before the update
BN_RIGHT = batchnorm_train(BN_Z, BN_GAMMA, BN_BETA, BN_RUNNING)
BN_UNBIASED = batchnorm_train(BN_Z, BN_GAMMA, BN_BETA, BN_RUNNING, ddof=1)
BN_SWAPPED = batchnorm_train(BN_Z, BN_GAMMA, BN_BETA, BN_RUNNING, swapped=True)
DROP_MASK = RNG.random((4, 5)) < 0.8
GRADS = [RNG.standard_normal((2, 3)) for _ in range(3)]
SQUARE_A, SQUARE_DZ = RNG.standard_normal((4, 6)), RNG.standard_normal((4, 6))
Z = RNG.standard_normal((3, 4))
BIG = np.array([1000.0, 999.0, 998.0])
Y_RANK1 = Y.reshape(-1)  # (m,)
A_EDGE = np.array([[1.0, 0.2, 0.0]])
Y_EDGE = np.array([[1.0, 0.0, 0.0]])


def softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


with np.errstate(all="ignore"):  # the wrong implementations below overflow and take log(0) on purpose
    NAIVE_COST = -np.mean(Y_EDGE * np.log(A_EDGE) + (1 - Y_EDGE) * np.log(1 - A_EDGE))  # nan: 0 * log(0)
    NAIVE_LOGSUMEXP = np.log(np.sum(np.exp(BIG)))  # inf: exp(1000) overflows
    S_CORRECTED_BY_ZERO = corrected_second_moment(GRADS[:1], 0.999, lambda t: t - 1)  # inf: 1 - beta2**0 = 0


def multi_task_loss(Y_hat, Y, mask=True):
    """Logistic loss summed over tasks and labelled entries, over m; Y holds NaN where a label is missing."""
    labelled = ~np.isnan(Y) if mask else np.ones(Y.shape, dtype=bool)
    y, y_hat = Y[labelled], Y_hat[labelled]
    return -np.sum(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat)) / Y.shape[1]


MT_Y_HAT = np.array([[0.9, 0.2, 0.6], [0.3, 0.7, 0.5]])
MT_Y = np.array([[1.0, 0.0, np.nan], [0.0, np.nan, 1.0]])


def gradient_check_n(J, theta, epsilon=1e-7, alias=False):
    """Central differences of J at theta, one entry at a time; ``alias`` forgets to copy theta for theta_plus."""
    theta = theta.copy()
    gradapprox = np.zeros_like(theta)
    for i in range(theta.size):
        theta_plus = theta if alias else theta.copy()  # the wrong version bumps theta itself
        theta_plus[i] += epsilon
        j_plus = J(theta_plus)
        theta_minus = theta.copy()
        theta_minus[i] -= epsilon
        gradapprox[i] = (j_plus - J(theta_minus)) / (2 * epsilon)
    return gradapprox


THETA = RNG.standard_normal(6)
CUBE = lambda theta: float(np.sum(theta**3) + np.sum(theta[:3] * theta[3:]))  # noqa: E731


def linear_db(dZ, axis):
    """db of a dense layer: the mean of dZ (n, m) over the examples, summed over ``axis``."""
    return np.sum(dZ, axis=axis, keepdims=True) / dZ.shape[1]


def forward_layers(X, weights, stop_early=False):
    """A_L of a stack of tanh layers; the wrong version's loop is range(1, L) and stops one layer early."""
    A = X
    for W in weights[:-1] if stop_early else weights:
        A = np.tanh(W @ A)
    return A


LAYER_WEIGHTS = [RNG.standard_normal((4, 3)), RNG.standard_normal((3, 4)), RNG.standard_normal((1, 3))]


def safe_cross_entropy(A, Y):
    return -np.mean(np.where(Y == 1, np.log(np.where(Y == 1, A, 1.0)), np.log(np.where(Y == 0, 1 - A, 1.0))))


# (hint, wrong result, expected result, context, words the hint must contain)
WRONG_IMPLEMENTATIONS = [
    (mistakes.non_finite, NAIVE_COST, safe_cross_entropy(A_EDGE, Y_EDGE), None, "log of 0"),
    (mistakes.non_finite, NAIVE_LOGSUMEXP, BIG.max() + np.log(np.sum(np.exp(BIG - BIG.max()))), None, "overflow"),
    (mistakes.non_finite, multi_task_loss(MT_Y_HAT, MT_Y, mask=False), multi_task_loss(MT_Y_HAT, MT_Y),
     {"inputs_have_nan": True}, "some inputs are NaN (missing values): mask them out"),
    (mistakes.not_reduced, -(Y * np.log(A) + (1 - Y) * np.log(1 - A)), cross_entropy(A, Y), None,
     "forget to sum (or average)"),
    (mistakes.over_reduced, np.sum(DZ) / M, np.sum(DZ, axis=1, keepdims=True) / M, None, "without axis"),
    (mistakes.keepdims_missing, np.sum(DZ, axis=1) / M, np.sum(DZ, axis=1, keepdims=True) / M, None,
     "keepdims=True"),
    (mistakes.keepdims_missing, np.sum(DZ, axis=1, keepdims=True), np.sum(DZ, axis=1), None, "extra axis"),
    (mistakes.transposed, (A - Y) @ X.T / M, X @ (A - Y).T / M, None, "transpose of the expected array"),
    (mistakes.transposed, IMAGES.reshape(-1, 2), IMAGES.reshape(2, -1), None, "the shape given to reshape"),
    (mistakes.transposed, np.sum(SQUARE_DZ[:, :4], axis=0, keepdims=True), np.sum(SQUARE_DZ[:, :4], axis=1, keepdims=True),
     None, "axis=1, keepdims=True"),
    (mistakes.wrong_axis, np.sum(DZ, axis=0, keepdims=True) / M, np.sum(DZ, axis=1, keepdims=True) / M, None,
     "over axis 0 instead of axis 1"),
    (mistakes.wrong_axis, linear_db(DZ[:1], axis=0), linear_db(DZ[:1], axis=1), None,
     "over axis 1 is missing: was it taken over axis 0 instead"),
    (mistakes.broadcast_accident, A - Y.reshape(-1, 1), A - Y, None, "broadcast"),
    (mistakes.broadcast_accident, Y_RANK1 - A.T, Y_RANK1 - A.ravel(), None, "rank-1"),
    (mistakes.padding_not_applied, IMAGES, zero_pad(IMAGES, 2), {"pad": 2}, "padding applied"),
    (mistakes.padding_not_applied, zero_pad(IMAGES, 1), IMAGES, None, "padding still there"),
    (mistakes.all_zeros, np.zeros_like(IMAGES), IMAGES, None, "initial value"),
    (mistakes.all_zeros, A - sigmoid(W @ X), A - Y, None, "is a term missing"),
    (mistakes.transposed_square, SQUARE_DZ @ SQUARE_A.T, SQUARE_A @ SQUARE_DZ.T, None, "transpose of the expected matrix"),
    (mistakes.inverted_mask, np.random.default_rng(5).random((4, 5)) > 0.6, np.random.default_rng(5).random((4, 5)) < 0.6,
     {"keep_prob": 0.6}, "rng.random(shape) < keep_prob"),
    (mistakes.inverted_mask, (A >= 0.5).astype(float), (A < 0.5).astype(float), None, "the wrong way round"),
    (mistakes.one_minus, 1 / (1 + np.exp(W @ X)), sigmoid(W @ X), None, "sign of the exponent"),
    (mistakes.divided_by_m, -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)), cross_entropy(A, Y), {"m": M},
     "did you divide by m?"),
    (mistakes.divided_by_m, X @ (A - Y).T / M / M, X @ (A - Y).T / M, {"m": M}, "times too small"),
    (mistakes.divided_by_m, np.mean(np.abs(Y - A)), np.sum(np.abs(Y - A)), {"m": M}, "the mean instead of the sum"),
    (mistakes.dropout_not_rescaled, DZ * DROP_MASK, DZ * DROP_MASK / 0.8, {"keep_prob": 0.8},
     "divides by keep_prob"),
    (mistakes.dropout_not_rescaled, DZ * DROP_MASK / 0.8 / 0.8, DZ * DROP_MASK / 0.8, {"keep_prob": 0.8}, "twice"),
    (mistakes.missing_bias_correction, ewa_uncorrected(GRADS, 0.9), ewa(GRADS, 0.9), {"beta": 0.9, "t": 3},
     "divide by (1 - beta**t)"),
    (mistakes.missing_bias_correction, ewa_uncorrected(GRADS, 0.9) * (1 - 0.9**3), ewa(GRADS, 0.9),
     {"beta1": 0.9, "t": 3}, "should divide"),
    (mistakes.bias_correction_step_off, corrected_second_moment(GRADS[:1], 0.999, lambda t: t + 1),
     corrected_second_moment(GRADS[:1], 0.999), {"beta1": 0.9, "beta2": 0.999, "t": 1}, "1 - beta2**(t + 1)"),
    (mistakes.bias_correction_step_off, corrected_second_moment(GRADS, 0.9, lambda t: t - 1),
     corrected_second_moment(GRADS, 0.9), {"beta1": 0.9, "t": 3}, "1 - beta1**(t - 1) instead of 1 - beta1**t"),
    (mistakes.bias_correction_by_zero, S_CORRECTED_BY_ZERO, corrected_second_moment(GRADS[:1], 0.999),
     {"beta2": 0.999, "t": 1}, "It is 0 at the first step"),
    (mistakes.momentum_swapped, BN_SWAPPED[1][0], BN_RIGHT[1][0], {"momentum": 0.9, "previous": BN_RUNNING},
     "weights swapped"),
    (mistakes.momentum_swapped, BN_SWAPPED[1][1], BN_RIGHT[1][1],
     {"momentum": 0.9, "batch": {"mean": BN_Z.mean(axis=1, keepdims=True), "var": BN_Z.var(axis=1, keepdims=True)}},
     "momentum * running + (1 - momentum) * batch"),
    (mistakes.variance_by_m_minus_one, BN_Z.var(axis=1, ddof=1, keepdims=True), BN_Z.var(axis=1, keepdims=True),
     {"m": 6}, "divided by m - 1 = 5 instead of m = 6"),
    (mistakes.variance_by_m_minus_one, BN_Z.std(axis=1, ddof=1), BN_Z.std(axis=1), {"m": 6}, "ddof=1"),
    (mistakes.variance_by_m_minus_one, BN_UNBIASED[1][1], BN_RIGHT[1][1], {"m": 6, "momentum": 0.9, "previous": BN_RUNNING},
     "variance looks divided by m - 1"),
    (mistakes.variance_by_m_minus_one, BN_UNBIASED[0], BN_RIGHT[0], {"m": 6}, "normalized with a variance divided by m - 1"),
    (mistakes.variance_by_m_minus_one, batchnorm_train(BN_Z, 1.0, 0.0, BN_RUNNING, ddof=1)[0],
     batchnorm_train(BN_Z, 1.0, 0.0, BN_RUNNING)[0], {"m": 6}, "normalized"),
    (mistakes.sign_flipped, np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A)), cross_entropy(A, Y), None,
     "sign is flipped"),
    (mistakes.factor_two, 0.7 / M * np.sum(W**2), 0.7 / (2 * M) * np.sum(W**2), {"factor_two": True},
     "twice too large"),
    (mistakes.factor_two, 0.7 / (2 * M) * W, 0.7 / M * W, None, "half"),
    (mistakes.factor_two, gradient_check_n(CUBE, THETA, alias=True), gradient_check_n(CUBE, THETA), None,
     "a factor 2 missing or counted twice, or one of two terms lost"),
    (mistakes.constant_factor, (X @ (A - Y).T / M) * 0.01, X @ (A - Y).T / M, None, "0.01 times"),
    (mistakes.normalized_wrong_axis, softmax(Z, axis=0), softmax(Z, axis=1), None, "along axis 0 instead of axis 1"),
    (mistakes.normalized_wrong_axis, Z / np.linalg.norm(Z, axis=0, keepdims=True),
     Z / np.linalg.norm(Z, axis=1, keepdims=True), None, "norm 1"),
    (mistakes.shifted_by_one, recurrence_stores_previous(Z, np.zeros(3)), recurrence(Z, np.zeros(3)), None,
     "off by one"),
    (mistakes.foreseen_formula, Z * (1 - Z), sigmoid(Z) * (1 - sigmoid(Z)),
     {"wrong_formulas": [("tanh's slope", "no", 1 - np.tanh(Z) ** 2),
                         ("z * (1 - z)", "apply the formula to s = sigmoid(z).", Z * (1 - Z))]},
     "this is z * (1 - z): apply the formula to s = sigmoid(z)."),
]


@pytest.mark.parametrize("hint, got, expected, context, words", WRONG_IMPLEMENTATIONS,
                         ids=[f"{case[0].__name__}-{i}" for i, case in enumerate(WRONG_IMPLEMENTATIONS)])
def test_hint_recognises_wrong_implementation(hint, got, expected, context, words):
    """Does hint_for name this known mistake, and is it the hint written for it that answers?"""
    text = hint_for(got, expected, context)
    assert text is not None and words in text
    evidence = mistakes.Evidence(np.asarray(got, float), np.asarray(expected, float), context or {}, True)
    with np.errstate(all="ignore"):
        assert hint(evidence) == text


def test_every_hint_is_exercised_and_explained():
    """Is every hint in HINTS tested above with a wrong implementation, and does it say why it exists?"""
    tested = {case[0] for case in WRONG_IMPLEMENTATIONS}
    assert [hint.__name__ for hint in mistakes.HINTS if hint not in tested] == []
    assert all(hint.__doc__ for hint in mistakes.HINTS)


CORRECT_ANSWERS = [
    (sigmoid((W @ X).astype(np.float32)), sigmoid(W @ X)),
    (X @ (A - Y).T / M, np.einsum("im,jm->ij", X, A - Y) / M),
    (np.float32(cross_entropy(A, Y)), cross_entropy(A, Y)),
    (softmax(Z, axis=1), np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)),
    (recurrence(Z, np.zeros(3)), recurrence(Z, np.zeros(3)).copy()),
    (zero_pad(IMAGES, 2), np.pad(IMAGES, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=0.0)),
    (ewa(GRADS, 0.9), ewa(GRADS, 0.9) + 1e-12),
    (corrected_second_moment(GRADS, 0.9, lambda t: t + 0.0), corrected_second_moment(GRADS, 0.9)),
]


@pytest.mark.parametrize("got, expected", CORRECT_ANSWERS)
def test_correct_answer_gets_no_hint(got, expected):
    """Does a correct answer (up to float round-off) get no hint, even with context given?"""
    context = {"m": M, "keep_prob": 0.8, "beta": 0.9, "t": 3, "pad": 2}
    assert hint_for(got, expected, context) is None


def test_specific_factor_wins_over_generic_factor():
    """Is a result m times too large explained as a missing 1/m rather than as 'some factor'?"""
    assert hint_for(np.ones(3) * 5, np.ones(3), {"m": 5}) == "the result is m = 5 times too large: did you divide by m?"
    assert "5 times the expected" in hint_for(np.ones(3) * 5, np.ones(3))


def test_step_off_by_one_is_not_called_a_factor_two():
    """At t = 1 with beta2 = 0.999, is 1 - beta2**(t + 1) named as such rather than as 'half the expected one'?"""
    got, expected = corrected_second_moment(GRADS[:1], 0.999, lambda t: t + 1), corrected_second_moment(GRADS[:1], 0.999)
    assert "half the expected" in hint_for(got, expected)  # without the context, it is all one can tell
    assert "1 - beta2**(t + 1) instead of 1 - beta2**t" in hint_for(got, expected, {"beta2": 0.999, "t": 1})


def test_step_off_by_one_needs_a_visible_difference():
    """At a large t, where 1 - beta**(t + 1) and 1 - beta**t agree to hint precision, is no step blamed?"""
    expected = corrected_second_moment(GRADS, 0.9)
    got = expected * (1 + 1e-5)  # some other small error
    assert hint_for(got, expected, {"beta": 0.9, "t": 200}) is None


def test_running_average_hints_need_their_context():
    """Is a swapped momentum named only with momentum and the value before (or the batch statistic) in the context?"""
    got, expected = BN_SWAPPED[1][0], BN_RIGHT[1][0]
    assert "swapped" not in (hint_for(got, expected, {"momentum": 0.9}) or "")
    assert "swapped" not in (hint_for(got, expected, {"previous": BN_RUNNING}) or "")
    assert "swapped" in hint_for(got, expected, {"momentum": 0.9, "previous": BN_RUNNING[0]})
    half = batchnorm_train(BN_Z, BN_GAMMA, BN_BETA, BN_RUNNING, momentum=0.5)
    assert hint_for(half[1][0] + 0.1, half[1][0], {"momentum": 0.5, "previous": BN_RUNNING}) is None


def test_correct_batchnorm_gets_no_variance_or_momentum_hint():
    """Do a correct batch norm's outputs get no hint with m, momentum and previous all given?"""
    context = {"m": 6, "momentum": 0.9, "previous": BN_RUNNING, "batch": (BN_Z.mean(axis=1, keepdims=True),)}
    again = batchnorm_train(BN_Z.astype(np.float32), BN_GAMMA, BN_BETA, BN_RUNNING)
    for got, expected in [(again[0], BN_RIGHT[0]), (again[1][0], BN_RIGHT[1][0]), (again[1][1], BN_RIGHT[1][1])]:
        assert hint_for(got, expected, context) is None


def test_normalized_values_need_the_right_m():
    """Is a batch norm output with ddof=1 explained only when m is the number of examples normalized over?"""
    assert "m - 1" in hint_for(BN_UNBIASED[0], BN_RIGHT[0], {"m": 6})
    assert hint_for(BN_UNBIASED[0], BN_RIGHT[0], {"m": 3}) is None
    assert hint_for(BN_UNBIASED[0], BN_RIGHT[0]) is None


def test_zero_where_zero_is_nearly_right_gets_no_zeros_hint():
    """When the expected values are zero up to round-off, is an exact zero not blamed on a missing term or fill?"""
    centred = X - X.mean(axis=1, keepdims=True)  # (n_x, m)
    expected = centred.sum(axis=1, keepdims=True)  # about 1e-16: zero up to round-off
    assert np.any(expected) and np.max(np.abs(expected)) < 1e-12
    assert hint_for(np.zeros_like(expected), expected) is None
    assert "is a term missing" in hint_for(np.zeros((3, 1)), expected + 1e-3)
    assert "all entries are zero" not in (hint_for(np.full((3, 1), 1e-300), np.ones((3, 1))) or "")  # tiny is not zero


def test_a_signed_result_off_by_m_over_m_minus_one_is_no_variance():
    """At m = 5, is a gradient 1.25 times too large (dropout without keep_prob, say) not called a variance over m - 1?"""
    text = hint_for(DZ * DROP_MASK / 0.8, DZ * DROP_MASK, {"m": 5})
    assert "m - 1" not in text and "1.25 times" in text
    assert "m - 1" in hint_for(BN_Z.var(axis=1) * 5 / 4, BN_Z.var(axis=1), {"m": 5})


def test_hidden_numbers_when_not_revealing():
    """With reveal=False, does the generic factor hint keep the kind of mistake but drop the factor?"""
    text = hint_for(np.array([1.0, 2.0]) * 3.7, np.array([1.0, 2.0]), reveal=False)
    assert "constant multiple" in text and "3.7" not in text


def test_unknown_mistake_and_non_numeric_values_get_no_hint():
    """Is None returned for an unrecognisable wrong answer and for values that are not numbers?"""
    assert hint_for(np.array([1.0, -3.0, 2.0]), np.array([0.5, 0.25, 4.0])) is None
    assert hint_for("relu", "sigmoid") is None
    assert hint_for({"a": 1}, {"a": 2}) is None


def test_constant_along_axis_is_not_called_a_shift():
    """Is a result that is constant along an axis not mistaken for an off-by-one shift?"""
    expected = np.tile(np.arange(4.0), (3, 1))  # constant along axis 0
    got = expected + np.array([[0.0], [0.0], [1.0]])
    assert hint_for(got, expected) is None or "shifted" not in hint_for(got, expected)


def test_no_generic_guess_for_single_numbers_or_non_probabilities():
    """Is a wrong number not 'explained' as some factor, and 1 - x suggested only for values in [0, 1]?"""
    assert hint_for(0.25, 1.05) is None
    assert hint_for(np.array([-2.0, 3.0]), np.array([3.0, -2.0])) is None
    assert "1 - expected" in hint_for(np.array([0.8, 0.3]), np.array([0.2, 0.7]))


def test_bigger_shape_not_from_broadcasting_gets_no_broadcast_hint():
    """Is (3, 4) for (1, 4), from a layer loop that stops one layer early, not blamed on broadcasting?"""
    X4 = RNG.standard_normal((3, 4))
    got, expected = forward_layers(X4, LAYER_WEIGHTS, stop_early=True), forward_layers(X4, LAYER_WEIGHTS)
    assert got.shape == (3, 4) and expected.shape == (1, 4)
    assert hint_for(got, expected) is None
    assert "broadcast" in hint_for(A - Y.reshape(-1, 1), A - Y)  # (m, m) for (1, m) still is


def test_nan_from_inputs_is_not_blamed_on_log_or_exp():
    """With NaN inputs, does an unmasked loss get 'mask them out' rather than 'clip / subtract the max'?"""
    got, expected = multi_task_loss(MT_Y_HAT, MT_Y, mask=False), multi_task_loss(MT_Y_HAT, MT_Y)
    text = hint_for(got, expected, {"inputs_have_nan": True})
    assert "mask them out" in text and "clip" not in text.lower() and "maximum" not in text
    assert hint_for(expected, multi_task_loss(MT_Y_HAT, MT_Y), {"inputs_have_nan": True}) is None


def test_half_is_worded_neutrally_unless_told_why():
    """Does 'half the expected one' leave out x**2 by default, and name the reason given in the context?"""
    got, expected = gradient_check_n(CUBE, THETA, alias=True), gradient_check_n(CUBE, THETA)
    assert "x**2" not in hint_for(got, expected)
    assert "derivative of x**2" in hint_for(got, expected, {"factor_two": "the derivative of x**2 is 2 * x"})
    assert hint_for(gradient_check_n(CUBE, THETA), expected, {"factor_two": True}) is None


def test_sum_over_axis_zero_with_one_row_is_a_wrong_axis():
    """With n = 1, is db summed over axis 0, shape (1, m) for (1, 1), called a wrong axis before 'forgot to sum'?"""
    got, expected = linear_db(DZ[:1], axis=0), linear_db(DZ[:1], axis=1)
    assert got.shape == (1, 5) and expected.shape == (1, 1)
    assert "instead" in hint_for(got, expected) and "axis=1, keepdims=True" in hint_for(got, expected)
    assert hint_for(linear_db(DZ[:1], axis=1).copy(), expected, {"m": M}) is None
    assert "forget to sum" in hint_for(np.ones(5), np.float64(2.0))  # a rank-1 result for a scalar still is


def inverse_time_decay(learning_rate0, epoch, decay_rate, off_by_one=False):
    return learning_rate0 / (1 + decay_rate * (epoch - 1 if off_by_one else epoch))


def test_factor_hints_on_a_single_number_need_the_context():
    """Is a single number twice too large by coincidence (decay at epoch 1) not called 'twice', unless told?"""
    got, expected = inverse_time_decay(0.2, 1, 1.0, off_by_one=True), inverse_time_decay(0.2, 1, 1.0)
    assert hint_for(got, expected) is None
    assert hint_for(got, expected, {"m": 5}) is None
    assert "twice" in hint_for(got, expected, {"factor_two": True})
    assert "m = 2 times too large" in hint_for(got, expected, {"m": 2})  # a ratio equal to the given m still speaks
    assert hint_for(expected, inverse_time_decay(0.2, 1, 1.0), {"factor_two": True, "m": 2}) is None


def test_correct_mask_gets_no_mask_hint():
    """Does a right dropout mask (bool against float 0/1) get no hint, and a mask merely different no 'flipped'?"""
    mask = np.random.default_rng(5).random((4, 5)) < 0.6
    assert hint_for(mask, mask.astype(float), {"keep_prob": 0.6}) is None
    assert "flipped" not in (hint_for(np.random.default_rng(6).random((4, 5)) < 0.6, mask) or "")


def test_inverted_predictions_are_not_told_about_dropout():
    """Does a flipped 0/1 prediction (no keep_prob in the context) get the comparison hint without dropout advice?"""
    hint = mistakes.inverted_mask(mistakes.Evidence(np.array([1.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0]), {}, True))
    assert hint is not None and "wrong way round" in hint and "dropout" not in hint


def test_foreseen_formula_ignores_malformed_entries_and_lookalikes():
    """A wrong_formulas entry that is not a (what, advice, value) triple, or whose value equals the
    expected result, never produces a hint."""
    expected = sigmoid(Z) * (1 - sigmoid(Z))
    context = {"wrong_formulas": ["z * (1 - z)", ("same", "no", expected), ("text", "no", "not numbers")]}
    assert mistakes.foreseen_formula(mistakes.Evidence(Z * (1 - Z), expected, context, True)) is None
    assert mistakes.foreseen_formula(mistakes.Evidence(Z * (1 - Z), expected, {"wrong_formulas": 3}, True)) is None
