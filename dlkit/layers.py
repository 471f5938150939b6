"""Layer objects that compose into networks: conv, pooling, batch norm, ReLU, flatten, dense, and the loss.

Every layer wraps the forward/backward functions of one dlkit module and keeps what they pass
between each other, so that a network is a list of layers::

    out = layer.forward(x, training=True)   # stores the cache
    dx = layer.backward(dout)               # stores the parameter gradients in layer.grads

``dout`` is the gradient of the cost ``J`` (the mean over the mini-batch) with respect to ``out``;
each ``backward`` applies the chain rule and nothing else, so ``1/m`` enters once, in the loss.

Two layouts meet in a CNN (the notes' conventions):

* conv, pooling and spatial batch norm layers take channels-last images, one example per
  leading index: ``(m, n_H, n_W, n_C)``;
* dense layers keep examples in columns: ``(n, m)``.

:class:`Flatten` is the bridge: ``(m, n_H, n_W, n_C) -> (n_H*n_W*n_C, m)``, column ``i`` being
image ``i`` read row by row, channels fastest (as :func:`dlkit.data.flatten_images`).
:class:`ReLU` takes either layout.

Parameters live in ``layer.params`` under names that end with the layer's ``name``
(``"W_conv1"``, ``"gamma_bn1"``, ...) and their gradients in ``layer.grads`` under the same
names with a ``"d"`` in front (``"dW_conv1"``), the convention of :mod:`dlkit.optimizers`.
:class:`dlkit.model.Sequential` names its layers ``conv1``, ``conv2``, ``bn1``, ... so that the
names are unique in a network.
"""
from __future__ import annotations

import numpy as np

from dlkit.activations import relu, relu_backward
from dlkit.batchnorm import (RunningStats, batchnorm_backward, batchnorm_forward, spatial_batchnorm_backward,
                             spatial_batchnorm_forward)
from dlkit.conv import conv_backward, conv_forward, conv_padding, output_size
from dlkit.data import one_hot
from dlkit.dense import linear_backward, linear_forward
from dlkit.initialization import initialize_parameters
from dlkit.losses import softmax_cross_entropy
from dlkit.pooling import pool_backward, pool_forward
from dlkit.validation import as_array, as_generator, expect_shape


def initialize_conv(f: int, n_C_prev: int, n_C: int, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """He-initialized filters and zero biases of a conv layer.

    Parameters
    ----------
    f : int
        Filter size.
    n_C_prev, n_C : int
        Input and output channels.
    seed : int or numpy.random.Generator

    Returns
    -------
    W : ndarray of shape (f, f, n_C_prev, n_C)
        ``normal(0, 1) * sqrt(2 / (f*f*n_C_prev))``: each output sums ``f*f*n_C_prev`` inputs.
    b : ndarray of shape (1, 1, 1, n_C)
        Zeros.

    >>> W, b = initialize_conv(3, 2, 4, seed=0)
    >>> W.shape, b.shape
    ((3, 3, 2, 4), (1, 1, 1, 4))
    """
    for name, value in (("f", f), ("n_C_prev", n_C_prev), ("n_C", n_C)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    fan_in = f * f * n_C_prev
    W = as_generator(seed).standard_normal((f, f, n_C_prev, n_C)) * np.sqrt(2.0 / fan_in)
    return W, np.zeros((1, 1, 1, n_C))


# ----------------------------------------------------------------------------------------------
# The base class
# ----------------------------------------------------------------------------------------------

class Layer:
    """A step of a network: ``forward`` stores a cache that ``backward`` uses.

    Subclasses keep their parameters in ``self._params`` under short names (``"W"``, ``"b"``);
    :attr:`params` and :attr:`grads` show them under names made unique by the layer's ``name``.

    Attributes
    ----------
    kind : str
        The prefix :class:`dlkit.model.Sequential` numbers to name a layer (``"conv"`` -> ``"conv1"``).
    name : str
    cache : object or None
        What the last ``forward`` stored for ``backward``.
    """

    kind = "layer"

    def __init__(self, name: str | None = None):
        self.name = self.kind if name is None else name
        self.cache = None
        self._params: dict[str, np.ndarray] = {}
        self._grads: dict[str, np.ndarray] = {}

    # -- parameters ---------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, np.ndarray]:
        """The parameters, ``{"W_conv1": W, ...}`` (a new dict; set them with :meth:`set_params`)."""
        return {f"{key}_{self.name}": value for key, value in self._params.items()}

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """Gradients of the last ``backward``, ``{"dW_conv1": dW, ...}``; empty before it."""
        return {f"d{key}_{self.name}": value for key, value in self._grads.items()}

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Take new values for this layer's parameters from ``params`` (other keys are ignored)."""
        for key, old in self._params.items():
            full = f"{key}_{self.name}"
            if full not in params:
                raise ValueError(f"no value for parameter {full!r} of layer {self.name!r}")
            value = as_array(full, params[full])
            expect_shape(full, value, old.shape)
            self._params[key] = value

    def count_parameters(self) -> int:
        """Number of learned numbers in the layer."""
        return int(sum(value.size for value in self._params.values()))

    # -- passes -------------------------------------------------------------------------------
    def forward(self, x, training: bool = True) -> np.ndarray:
        """Output of the layer for ``x``; stores the cache. ``training`` matters for batch norm."""
        raise NotImplementedError

    def backward(self, dout) -> np.ndarray:
        """Gradient with respect to the input of the last ``forward``; stores :attr:`grads`."""
        raise NotImplementedError

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one example's output: ``(n_H, n_W, n_C)`` for images, ``(n,)`` for columns."""
        return tuple(input_shape)

    def _last_cache(self):
        """The cache of the last ``forward``, or ``RuntimeError`` when there was none."""
        if self.cache is None:
            raise RuntimeError(f"{self.name}.backward called before forward")
        return self.cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"

    def describe(self) -> str:
        """Hyperparameters in a few words, for :meth:`dlkit.model.Sequential.summary`."""
        return ""


def check_image_shape(layer: Layer, input_shape, n_C: int | None = None) -> tuple[int, int, int]:
    """``input_shape`` as ``(n_H, n_W, n_C)``, or ``ValueError`` naming the layer."""
    if len(input_shape) != 3 or (n_C is not None and input_shape[2] != n_C):
        wanted = "(n_H, n_W, n_C)" if n_C is None else f"(n_H, n_W, {n_C})"
        raise ValueError(f"{layer.name} takes images of shape {wanted}, got examples of shape {tuple(input_shape)}")
    return tuple(int(n) for n in input_shape)


# ----------------------------------------------------------------------------------------------
# Convolution and pooling (channels last)
# ----------------------------------------------------------------------------------------------

class Conv2D(Layer):
    """Convolution layer: :func:`dlkit.conv.conv_forward` with its own filters and biases.

    Parameters
    ----------
    n_C_prev, n_C : int
        Input and output channels.
    f : int
        Filter size.
    stride : int
    pad : int or "same"
        ``"same"`` (odd ``f``) keeps ``n_H`` and ``n_W`` when ``stride`` is 1.
    seed : int or numpy.random.Generator
        For the He initialization (:func:`initialize_conv`).
    name : str, optional
    implementation : {"fast", "reference"}
        Passed to :func:`dlkit.conv.conv_forward` and :func:`dlkit.conv.conv_backward`.

    Input ``(m, n_H_prev, n_W_prev, n_C_prev)``, output ``(m, n_H, n_W, n_C)`` with
    ``n_H = floor((n_H_prev + 2p - f) / s) + 1``. Parameters: ``W`` (f, f, n_C_prev, n_C) and
    ``b`` (1, 1, 1, n_C), so ``(f*f*n_C_prev + 1) * n_C`` numbers.
    """

    kind = "conv"

    def __init__(self, n_C_prev: int, n_C: int, f: int, stride: int = 1, pad: int | str = 0, seed=0,
                 name: str | None = None, implementation: str = "fast"):
        super().__init__(name)
        self.hparameters = {"stride": stride, "pad": pad}
        self.stride, self.pad = conv_padding(self.hparameters, f)  # validates; pad="same" resolved
        self.f, self.n_C_prev, self.n_C = f, n_C_prev, n_C
        self.implementation = implementation
        W, b = initialize_conv(f, n_C_prev, n_C, seed)
        self._params = {"W": W, "b": b}

    def forward(self, x, training: bool = True) -> np.ndarray:
        Z, self.cache = conv_forward(x, self._params["W"], self._params["b"], self.hparameters, self.implementation)
        return Z

    def backward(self, dout) -> np.ndarray:
        dA_prev, dW, db = conv_backward(dout, self._last_cache(), self.implementation)
        self._grads = {"W": dW, "b": db}
        return dA_prev

    def output_shape(self, input_shape):
        n_H_prev, n_W_prev, _ = check_image_shape(self, input_shape, self.n_C_prev)
        return (output_size(n_H_prev, self.f, self.stride, self.pad),
                output_size(n_W_prev, self.f, self.stride, self.pad), self.n_C)

    def describe(self) -> str:
        return f"{self.n_C_prev}->{self.n_C}, f={self.f}, stride={self.stride}, pad={self.hparameters['pad']!r}"


class _Pool2D(Layer):
    """Pooling layer over ``f x f`` windows (:func:`dlkit.pooling.pool_forward`); no parameters."""

    mode = "max"

    def __init__(self, f: int, stride: int | None = None, name: str | None = None):
        super().__init__(name)
        self.f, self.stride = f, f if stride is None else stride
        self.hparameters = {"f": self.f, "stride": self.stride}

    def forward(self, x, training: bool = True) -> np.ndarray:
        A, self.cache = pool_forward(x, self.hparameters, mode=self.mode)
        return A

    def backward(self, dout) -> np.ndarray:
        return pool_backward(dout, self._last_cache(), mode=self.mode)

    def output_shape(self, input_shape):
        n_H_prev, n_W_prev, n_C = check_image_shape(self, input_shape)
        return (output_size(n_H_prev, self.f, self.stride, 0), output_size(n_W_prev, self.f, self.stride, 0), n_C)

    def describe(self) -> str:
        return f"f={self.f}, stride={self.stride}"


class MaxPool2D(_Pool2D):
    """Max pooling: ``(m, n_H_prev, n_W_prev, n_C) -> (m, n_H, n_W, n_C)``, ``n_H = floor((n_H_prev - f) / s) + 1``.

    ``stride`` defaults to ``f`` (windows side by side).
    """

    kind = "maxpool"
    mode = "max"


class AvgPool2D(_Pool2D):
    """Average pooling; shapes as :class:`MaxPool2D`. ``AvgPool2D(n_H)`` on ``n_H x n_H`` maps is global average pooling."""

    kind = "avgpool"
    mode = "average"


# ----------------------------------------------------------------------------------------------
# Batch norm
# ----------------------------------------------------------------------------------------------

class _BatchNorm(Layer):
    """Shared by both batch-norm layers: ``gamma``, ``beta`` and the running statistics."""

    kind = "bn"

    def __init__(self, n: int, momentum: float, eps: float, param_shape: tuple[int, ...], name: str | None):
        super().__init__(name)
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"the number of units/channels must be a positive integer, got {n!r}")
        self.n, self.momentum, self.eps = int(n), momentum, eps
        self._params = {"gamma": np.ones(param_shape), "beta": np.zeros(param_shape)}
        self.running = RunningStats.initial(self.n)

    def _normalize(self, forward, x, training):
        """Run ``forward`` in train or test mode; keep the running statistics it returns in train mode."""
        mode = "train" if training else "test"
        out, self.cache, running = forward(x, self._params["gamma"], self._params["beta"], self.running, mode,
                                           self.momentum, self.eps)
        if training:
            self.running = running
        return out

    def describe(self) -> str:
        return f"{self.n}, momentum={self.momentum}"


class BatchNorm2D(_BatchNorm):
    """Spatial batch norm (:func:`dlkit.batchnorm.spatial_batchnorm_forward`), one ``gamma``/``beta`` per channel.

    Input and output ``(m, n_H, n_W, n_C)``; ``gamma`` and ``beta`` of shape (1, 1, 1, n_C), so
    ``2 n_C`` parameters. ``forward(x, training=True)`` normalizes with the batch's statistics
    and updates ``running`` (each (n_C, 1)); ``training=False`` normalizes with ``running``.
    """

    def __init__(self, n_C: int, momentum: float = 0.9, eps: float = 1e-5, name: str | None = None):
        super().__init__(n_C, momentum, eps, (1, 1, 1, n_C), name)

    def forward(self, x, training: bool = True) -> np.ndarray:
        return self._normalize(spatial_batchnorm_forward, x, training)

    def backward(self, dout) -> np.ndarray:
        dA, dgamma, dbeta = spatial_batchnorm_backward(dout, self._last_cache())
        self._grads = {"gamma": dgamma, "beta": dbeta}
        return dA

    def output_shape(self, input_shape):
        return check_image_shape(self, input_shape, self.n)


class BatchNorm1D(_BatchNorm):
    """Batch norm of a dense layer (:func:`dlkit.batchnorm.batchnorm_forward`): input and output ``(n, m)``.

    ``gamma`` and ``beta`` of shape (n, 1); otherwise as :class:`BatchNorm2D`.
    """

    def __init__(self, n: int, momentum: float = 0.9, eps: float = 1e-5, name: str | None = None):
        super().__init__(n, momentum, eps, (n, 1), name)

    def forward(self, x, training: bool = True) -> np.ndarray:
        return self._normalize(batchnorm_forward, x, training)

    def backward(self, dout) -> np.ndarray:
        dZ, dgamma, dbeta = batchnorm_backward(dout, self._last_cache())
        self._grads = {"gamma": dgamma, "beta": dbeta}
        return dZ

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.n,):
            raise ValueError(f"{self.name} takes columns of {self.n} units, got examples of shape {tuple(input_shape)}")
        return (self.n,)


# ----------------------------------------------------------------------------------------------
# Activation, flatten, dense
# ----------------------------------------------------------------------------------------------

class ReLU(Layer):
    """``max(0, x)`` entry by entry, in either layout; no parameters."""

    kind = "relu"

    def forward(self, x, training: bool = True) -> np.ndarray:
        self.cache = as_array("x", x)
        return relu(self.cache)

    def backward(self, dout) -> np.ndarray:
        return relu_backward(dout, self._last_cache())


class Flatten(Layer):
    """From images to columns: ``(m, n_H, n_W, n_C) -> (n_H*n_W*n_C, m)``.

    Column ``i`` of the output is image ``i`` read row by row with the channels fastest, so
    entry ``(h*n_W + w)*n_C + c`` is pixel ``(h, w)`` of channel ``c``. ``backward`` undoes it:
    ``(n_H*n_W*n_C, m) -> (m, n_H, n_W, n_C)``.
    """

    kind = "flatten"

    def forward(self, x, training: bool = True) -> np.ndarray:
        x = as_array("x", x, ndim=4)
        self.cache = x.shape
        return x.reshape(x.shape[0], -1).T  # (m, n_H*n_W*n_C) -> (n_H*n_W*n_C, m)

    def backward(self, dout) -> np.ndarray:
        shape = self._last_cache()
        dout = as_array("dout", dout)
        expect_shape("dout", dout, (int(np.prod(shape[1:])), shape[0]))
        return dout.T.reshape(shape)  # (n, m) -> (m, n) -> (m, n_H, n_W, n_C)

    def output_shape(self, input_shape):
        n_H, n_W, n_C = check_image_shape(self, input_shape)
        return (n_H * n_W * n_C,)


class Dense(Layer):
    """Fully connected layer ``Z = W x + b`` on columns (:func:`dlkit.dense.linear_forward`).

    Parameters
    ----------
    n_in, n_out : int
        Units in and out: input ``(n_in, m)``, output ``(n_out, m)``.
    seed : int or numpy.random.Generator
        For the He initialization of ``W`` (n_out, n_in); ``b`` (n_out, 1) starts at zero.
        ``(n_in + 1) * n_out`` parameters.
    name : str, optional
    """

    kind = "dense"

    def __init__(self, n_in: int, n_out: int, seed=0, name: str | None = None):
        super().__init__(name)
        self.n_in, self.n_out = n_in, n_out
        initial = initialize_parameters([n_in, n_out], method="he", seed=seed)
        self._params = {"W": initial["W1"], "b": initial["b1"]}

    def forward(self, x, training: bool = True) -> np.ndarray:
        Z, self.cache = linear_forward(x, self._params["W"], self._params["b"])
        return Z

    def backward(self, dout) -> np.ndarray:
        dout = as_array("dout", dout, ndim=2)
        m = dout.shape[1]
        # linear_backward takes each example's derivative (m * dout here) and divides dW, db by m.
        dA_prev, dW, db = linear_backward(m * dout, self._last_cache())
        self._grads = {"W": dW, "b": db}
        return dA_prev / m

    def output_shape(self, input_shape):
        if tuple(input_shape) != (self.n_in,):
            raise ValueError(f"{self.name} takes columns of {self.n_in} units, got examples of shape {tuple(input_shape)}")
        return (self.n_out,)

    def describe(self) -> str:
        return f"{self.n_in}->{self.n_out}"


# ----------------------------------------------------------------------------------------------
# Loss
# ----------------------------------------------------------------------------------------------

class SoftmaxCrossEntropy:
    """Softmax of the logits and the categorical cross-entropy, as one step (:func:`dlkit.losses.softmax_cross_entropy`).

    ``forward(Z, Y) -> cost`` with logits ``Z`` of shape (K, m) and labels ``Y`` either one-hot
    (K, m) or integer classes of shape (m,) or (1, m); ``backward() -> dZ`` of shape (K, m), the
    gradient of the mean cost (``(softmax(Z) - Y) / m``).
    """

    def __init__(self):
        self.cache = None

    @staticmethod
    def one_hot_labels(Y, n_classes: int) -> np.ndarray:
        """``Y`` as one-hot columns (K, m): integer labels (m,) or (1, m) are encoded, (K, m) kept."""
        Y = np.asarray(Y)
        if Y.ndim == 2 and Y.shape[0] == n_classes and n_classes > 1:
            return Y.astype(np.float64, copy=False)
        return one_hot(Y, n_classes)

    def forward(self, Z, Y) -> float:
        Z = as_array("Z", Z, ndim=2)
        cost, self.cache = softmax_cross_entropy(Z, self.one_hot_labels(Y, Z.shape[0]))
        return cost

    def backward(self) -> np.ndarray:
        if self.cache is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward")
        return self.cache

    def __repr__(self) -> str:
        return "SoftmaxCrossEntropy()"
