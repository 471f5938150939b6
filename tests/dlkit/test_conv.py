"""Tests of dlkit.conv: padding, one step, the reference loops, the fast path, gradient checks."""
import numpy as np
import pytest

from dlkit import conv
from dlkit.gradcheck import numerical_gradient_array, rel_error

pytestmark = pytest.mark.lesson12

# (m, n_H_prev, n_W_prev, n_C_prev, n_C, f, stride, pad): strides 1-3, odd sizes, pad 0 and
# "same", a batch of one, one channel, 1x1 convolutions, padding as wide as the filter.
SHAPES = [
    (2, 5, 7, 3, 4, 3, 1, 1),
    (1, 6, 5, 1, 2, 3, 2, 0),
    (3, 7, 7, 2, 3, 2, 3, 2),
    (2, 9, 8, 3, 2, 5, 2, "same"),
    (1, 5, 5, 1, 1, 3, 1, "same"),
    (2, 5, 5, 3, 2, 1, 1, 0),
    (2, 7, 6, 3, 2, 1, 2, 0),
    (2, 4, 4, 2, 3, 1, 1, 1),
    (1, 4, 5, 2, 2, 3, 3, 3),
]
IDS = ["-".join(map(str, shape)) for shape in SHAPES]


def make_inputs(shape, dtype=np.float64, seed=0):
    m, n_H_prev, n_W_prev, n_C_prev, n_C, f, stride, pad = shape
    rng = np.random.default_rng(seed)
    A_prev = rng.standard_normal((m, n_H_prev, n_W_prev, n_C_prev)).astype(dtype)
    W = rng.standard_normal((f, f, n_C_prev, n_C)).astype(dtype)
    b = rng.standard_normal((1, 1, 1, n_C)).astype(dtype)
    return A_prev, W, b, {"stride": stride, "pad": pad}


def test_zero_pad_shape_and_border():
    """Does zero_pad add pad zeros around each image and keep the inside and the dtype?"""
    X = np.random.default_rng(1).standard_normal((2, 3, 4, 2)).astype(np.float32)
    X_pad = conv.zero_pad(X, 2)
    assert X_pad.shape == (2, 7, 8, 2) and X_pad.dtype == np.float32
    np.testing.assert_array_equal(X_pad[:, 2:-2, 2:-2, :], X)
    assert not X_pad[:, :2].any() and not X_pad[:, :, -2:].any()
    np.testing.assert_array_equal(conv.zero_pad(X, 0), X)


def test_zero_pad_rejects_negative_pad():
    """Is a negative pad refused with a message naming it?"""
    with pytest.raises(ValueError, match="pad"):
        conv.zero_pad(np.zeros((1, 2, 2, 1)), -1)


def test_conv_single_step_value():
    """Does conv_single_step compute sum(a_slice * W) + b as a Python float?"""
    rng = np.random.default_rng(2)
    a, W, b = rng.standard_normal((3, 3, 4)), rng.standard_normal((3, 3, 4)), rng.standard_normal((1, 1, 1))
    Z = conv.conv_single_step(a, W, b)
    assert isinstance(Z, float)
    assert Z == pytest.approx(float(np.sum(a * W) + b[0, 0, 0]), rel=1e-12)


def test_output_size_formula():
    """Does output_size follow floor((n + 2p - f) / s) + 1 on the course shapes?"""
    assert [conv.output_size(*args) for args in [(32, 3, 1, 1), (8, 3, 2, 1), (28, 5, 1, 0), (64, 7, 2, 3)]] == [32, 4, 24, 32]


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_forward_fast_equals_reference_float64(shape):
    """Does the fast forward pass equal the reference loops in float64 (relative error < 1e-10)?"""
    A_prev, W, b, hparameters = make_inputs(shape)
    Z_fast, _ = conv.conv_forward(A_prev, W, b, hparameters)
    Z_ref, _ = conv.conv_forward_reference(A_prev, W, b, hparameters)
    assert Z_fast.shape == Z_ref.shape and Z_fast.dtype == np.float64
    assert rel_error(Z_fast, Z_ref) < 1e-10


@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_backward_fast_equals_reference_float64(shape):
    """Do the fast dA_prev, dW and db equal the reference loops in float64?"""
    A_prev, W, b, hparameters = make_inputs(shape)
    Z, cache_fast = conv.conv_forward(A_prev, W, b, hparameters)
    _, cache_ref = conv.conv_forward_reference(A_prev, W, b, hparameters)
    dZ = np.random.default_rng(3).standard_normal(Z.shape)
    fast = conv.conv_backward(dZ, cache_fast)
    reference = conv.conv_backward_reference(dZ, cache_ref)
    for name, got, expected in zip(("dA_prev", "dW", "db"), fast, reference):
        assert got.shape == expected.shape, name
        assert rel_error(got, expected) < 1e-10, name


@pytest.mark.parametrize("shape", SHAPES[:5], ids=IDS[:5])
def test_fast_equals_reference_float32(shape):
    """In float32, do both passes stay float32 and agree with the reference to float32 precision?"""
    A_prev, W, b, hparameters = make_inputs(shape, np.float32)
    Z, cache = conv.conv_forward(A_prev, W, b, hparameters)
    Z_ref, cache_ref = conv.conv_forward_reference(A_prev, W, b, hparameters)
    assert Z.dtype == np.float32 and rel_error(Z, Z_ref) < 1e-5
    dZ = np.random.default_rng(4).standard_normal(Z.shape).astype(np.float32)
    for got, expected in zip(conv.conv_backward(dZ, cache), conv.conv_backward_reference(dZ, cache_ref)):
        assert got.dtype == np.float32 and rel_error(got, expected) < 1e-5


@pytest.mark.parametrize("implementation", ["fast", "reference"])
@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[2], SHAPES[3], SHAPES[6], SHAPES[8]],
                         ids=[IDS[0], IDS[2], IDS[3], IDS[6], IDS[8]])
def test_backward_matches_central_differences(shape, implementation):
    """Does conv_backward match central differences of sum(Z * dZ) for A_prev, W and b?"""
    A_prev, W, b, hparameters = make_inputs(shape, seed=5)
    Z, cache = conv.conv_forward(A_prev, W, b, hparameters, implementation=implementation)
    dZ = np.random.default_rng(6).standard_normal(Z.shape)
    dA_prev, dW, db = conv.conv_backward(dZ, cache, implementation=implementation)
    numeric = [
        numerical_gradient_array(lambda x: conv.conv_forward(x, W, b, hparameters)[0], A_prev, dZ),
        numerical_gradient_array(lambda x: conv.conv_forward(A_prev, x, b, hparameters)[0], W, dZ),
        numerical_gradient_array(lambda x: conv.conv_forward(A_prev, W, x, hparameters)[0], b, dZ),
    ]
    for name, analytic, approx in zip(("dA_prev", "dW", "db"), (dA_prev, dW, db), numeric):
        assert rel_error(analytic, approx) < 1e-7, f"{name}: relative error {rel_error(analytic, approx):.2e}"


def test_caches_work_across_implementations():
    """Can the reference backward use a fast cache and the fast backward a reference cache?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[0])
    Z, cache_fast = conv.conv_forward(A_prev, W, b, hparameters)
    _, cache_ref = conv.conv_forward_reference(A_prev, W, b, hparameters)
    dZ = np.ones_like(Z)
    for got, expected in zip(conv.conv_backward(dZ, cache_ref), conv.conv_backward_reference(dZ, cache_fast)):
        assert rel_error(got, expected) < 1e-10
    notes_cache = (A_prev, W, b, hparameters)  # the notes' plain tuple works too
    assert rel_error(conv.conv_backward(dZ, notes_cache)[1], conv.conv_backward(dZ, cache_fast)[1]) < 1e-10


def test_same_padding_keeps_size():
    """With pad="same" and stride 1, is the output as high and wide as the input?"""
    A_prev, W, b, hparameters = make_inputs((2, 6, 9, 2, 3, 5, 1, "same"))
    Z, _ = conv.conv_forward(A_prev, W, b, hparameters)
    assert Z.shape == (2, 6, 9, 3)


def test_one_by_one_convolution_is_a_channel_mix():
    """Is a 1x1 convolution a matrix product over channels at each (strided) pixel?"""
    A_prev, W, b, hparameters = make_inputs((2, 5, 6, 4, 3, 1, 2, 0))
    Z, _ = conv.conv_forward(A_prev, W, b, hparameters)
    expected = A_prev[:, ::2, ::2, :] @ W[0, 0] + b.reshape(3)
    assert Z.shape == (2, 3, 3, 3) and rel_error(Z, expected) < 1e-12


def test_integer_inputs_compute_in_float64():
    """Do integer inputs give float64 outputs, and float32 with float64 mixed give float64?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[0])
    Z, _ = conv.conv_forward(np.round(A_prev).astype(int), W, b, hparameters)
    assert Z.dtype == np.float64
    Z, _ = conv.conv_forward(A_prev.astype(np.float32), W, b, hparameters)
    assert Z.dtype == np.float64


@pytest.mark.parametrize("implementation", ["fast", "reference"])
def test_inputs_not_mutated(implementation):
    """Are A_prev, W, b and dZ left unchanged by both passes?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[0])
    copies = [x.copy() for x in (A_prev, W, b)]
    Z, cache = conv.conv_forward(A_prev, W, b, hparameters, implementation=implementation)
    dZ = np.ones_like(Z)
    conv.conv_backward(dZ, cache, implementation=implementation)
    for original, copy in zip((A_prev, W, b), copies):
        np.testing.assert_array_equal(original, copy)
    np.testing.assert_array_equal(dZ, 1.0)


@pytest.mark.parametrize("hparameters, message", [
    ({"stride": 1, "pad": 1, "f": 3}, "unknown: \\['f'\\]"),
    ({"stride": 1}, "missing: \\['pad'\\]"),
    ({"stride": 0, "pad": 0}, "stride"),
    ({"stride": 1, "pad": -1}, "pad"),
    ({"stride": 1, "pad": "valid"}, "pad"),
    ([1, 1], "dict"),
])
def test_bad_hparameters_rejected(hparameters, message):
    """Are unknown, missing or invalid hyperparameters refused with a message that names them?"""
    A_prev, W, b, _ = make_inputs(SHAPES[0])
    with pytest.raises(ValueError, match=message):
        conv.conv_forward(A_prev, W, b, hparameters)


def test_output_size_not_positive_rejected_with_formula():
    """Is a filter larger than the padded input refused with the output-size formula?"""
    A_prev, W, b, _ = make_inputs((1, 3, 3, 1, 1, 5, 1, 0))
    with pytest.raises(ValueError, match=r"floor\(\(n_H_prev \+ 2\*pad - f\) / stride\) \+ 1"):
        conv.conv_forward(A_prev, W, b, {"stride": 1, "pad": 0})


def test_channel_mismatch_rejected():
    """Is W with the wrong number of input channels refused, naming both shapes?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[0])
    with pytest.raises(ValueError, match=r"W has shape \(3, 3, 2, 4\) but A_prev has 3 channels"):
        conv.conv_forward(A_prev, W[:, :, :2], b, hparameters)


@pytest.mark.parametrize("change, message", [
    (lambda A, W, b: (A, W, b.reshape(-1)), "b has shape"),
    (lambda A, W, b: (A, W[:2], b), "square"),
    (lambda A, W, b: (A[0], W, b), "A_prev must have 4 dimensions"),
])
def test_bad_shapes_rejected(change, message):
    """Are a flat b, a non-square filter and a 3-d A_prev refused?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[0])
    with pytest.raises(ValueError, match=message):
        conv.conv_forward(*change(A_prev, W, b), hparameters)


def test_same_padding_needs_odd_filter():
    """Is pad="same" refused for an even filter size?"""
    A_prev, W, b, _ = make_inputs((1, 4, 4, 1, 1, 2, 1, 0))
    with pytest.raises(ValueError, match="odd"):
        conv.conv_forward(A_prev, W, b, {"stride": 1, "pad": "same"})


def test_backward_checks_dZ_shape():
    """Is a dZ of the wrong shape refused with the expected shape?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[0])
    Z, cache = conv.conv_forward(A_prev, W, b, hparameters)
    with pytest.raises(ValueError, match=r"dZ has shape .* but expected \(2, 5, 7, 4\)"):
        conv.conv_backward(Z[:, :-1], cache)


def test_unknown_implementation_rejected():
    """Is an implementation other than "fast" or "reference" refused?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[0])
    with pytest.raises(ValueError, match="implementation"):
        conv.conv_forward(A_prev, W, b, hparameters, implementation="torch")


@pytest.mark.parametrize("keep_cols", [True, False], ids=["cols-kept", "cols-rebuilt"])
@pytest.mark.parametrize("shape", [SHAPES[0], SHAPES[2], SHAPES[8]], ids=[IDS[0], IDS[2], IDS[8]])
def test_threaded_chunked_path_equals_reference(shape, keep_cols, monkeypatch):
    """Split over two threads, one example per chunk, with the forward pass's cols kept for the
    backward pass or gathered again, do both passes still equal the reference?"""
    from dlkit.kernels import conv as conv_kernels

    monkeypatch.setenv("DLKIT_NUM_THREADS", "2")
    monkeypatch.setattr(conv_kernels, "MIN_SPLIT_WORK", 0)
    monkeypatch.setattr(conv_kernels, "CHUNK_BYTES", 1)
    monkeypatch.setattr(conv_kernels, "KEEP_COLS_BYTES", 1 << 30 if keep_cols else 0)
    A_prev, W, b, hparameters = make_inputs((5,) + shape[1:], seed=7)
    Z, cache = conv.conv_forward(A_prev, W, b, hparameters)
    assert (cache.cols is not None) == keep_cols
    Z_ref, cache_ref = conv.conv_forward_reference(A_prev, W, b, hparameters)
    assert rel_error(Z, Z_ref) < 1e-10
    dZ = np.random.default_rng(8).standard_normal(Z.shape)
    for got, expected in zip(conv.conv_backward(dZ, cache), conv.conv_backward_reference(dZ, cache_ref)):
        assert rel_error(got, expected) < 1e-10


@pytest.mark.parametrize("f, stride, pad", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (4, 3, 1), (1, 1, 0)])
def test_transposed_conv_kernels_equal_dlkit_transposed_conv(f, stride, pad):
    """Do the conv kernels' transposed convolution and its gradients equal dlkit.transposed_conv?"""
    from dlkit import transposed_conv
    from dlkit.kernels import conv as conv_kernels

    rng = np.random.default_rng(11)
    A_prev, W, b = rng.standard_normal((2, 3, 4, 2)), rng.standard_normal((f, f, 2, 3)), rng.standard_normal((1, 1, 1, 3))
    Z_ref, cache = transposed_conv.conv_transpose_forward(A_prev, W, b, {"stride": stride, "pad": pad})
    Z = conv_kernels.conv_transpose_forward(A_prev, W, b, stride, pad)
    assert Z.shape == Z_ref.shape and rel_error(Z, Z_ref) < 1e-10
    dZ = rng.standard_normal(Z.shape)
    for got, expected in zip(conv_kernels.conv_transpose_backward(dZ, A_prev, W, stride, pad),
                             transposed_conv.conv_transpose_backward(dZ, cache)):
        assert got.shape == expected.shape and rel_error(got, expected) < 1e-10


def test_kept_cols_are_the_receptive_fields_and_only_kept_when_useful(monkeypatch):
    """Does the fast forward pass keep cols (one row per output pixel, the notes' a_slice_prev
    flattened) for small im2col convolutions, and neither for a 1x1 convolution nor above the
    size limit?"""
    from dlkit.kernels import conv as conv_kernels

    A_prev, W, b, hparameters = make_inputs(SHAPES[0])  # stride 1, pad 1, f = 3
    _, cache = conv.conv_forward(A_prev, W, b, hparameters)
    A_pad = conv.zero_pad(A_prev, 1)
    assert cache.cols.shape == (2 * 5 * 7, 3 * 3 * 3)
    np.testing.assert_array_equal(cache.cols[1 * 35 + 2 * 7 + 4], A_pad[1, 2:5, 4:7, :].ravel())
    A_prev, W, b, hparameters = make_inputs(SHAPES[5])  # 1x1, no padding: no im2col at all
    assert conv.conv_forward(A_prev, W, b, hparameters)[1].cols is None
    monkeypatch.setattr(conv_kernels, "KEEP_COLS_BYTES", 100)
    A_prev, W, b, hparameters = make_inputs(SHAPES[0])
    assert conv.conv_forward(A_prev, W, b, hparameters)[1].cols is None


def test_kept_float32_cols_unused_for_a_float64_gradient():
    """A float32 forward pass and a float64 dZ: is the backward pass float64 and still right?"""
    A_prev, W, b, hparameters = make_inputs(SHAPES[0], dtype=np.float32)
    Z, cache = conv.conv_forward(A_prev, W, b, hparameters)
    assert cache.cols.dtype == np.float32
    dZ = np.random.default_rng(4).standard_normal(Z.shape)
    _, cache_ref = conv.conv_forward_reference(A_prev.astype(np.float64), W.astype(np.float64),
                                               b.astype(np.float64), hparameters)
    for got, expected in zip(conv.conv_backward(dZ, cache), conv.conv_backward_reference(dZ, cache_ref)):
        assert got.dtype == np.float64
        assert rel_error(got, expected) < 1e-10
