"""Residual blocks of a ResNet: the identity block and the convolutional block, forward and backward.

Both blocks have a main path of three conv -> batch norm steps (ReLU after the first two)::

    Z1 = BN1(conv(X,  W1, 1x1, stride s))      A1 = relu(Z1)       (m, n_H, n_W, F1)
    Z2 = BN2(conv(A1, W2, f x f, "same"))      A2 = relu(Z2)       (m, n_H, n_W, F2)
    Z3 = BN3(conv(A2, W3, 1x1))                                    (m, n_H, n_W, F3)
    A  = relu(Z3 + shortcut)

The **identity block** adds ``X`` itself (so ``F3 = n_C_prev`` and ``s = 1``). The
**convolutional block** resizes the shortcut with a 1x1 conv of stride ``s`` and a batch norm,
``shortcut = BN_shortcut(conv(X, W_shortcut, 1x1, stride s))``, for when the main path changes
the number of channels or the size.

Back propagation through the addition sends the same gradient ``dZ = relu_backward(dA, Z)``
down both paths, and the gradient of ``X`` is the sum of what comes back along each.

Parameters dicts use the keys ``"W1", "b1", "gamma1", "beta1"`` ... ``"beta3"`` and, for the
convolutional block, ``"W_shortcut", "b_shortcut", "gamma_shortcut", "beta_shortcut"``; the
running statistics of the batch norms are a dict ``{"bn1": RunningStats, ..., "bn_shortcut": ...}``.
Because batch norm subtracts the batch mean, the conv biases have no effect in train mode and
their gradients are zero.

:class:`IdentityBlock` and :class:`ConvolutionalBlock` are the same code as layer objects for
:class:`dlkit.model.Sequential`.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlkit.activations import relu, relu_backward
from dlkit.batchnorm import BatchNormCache, RunningStats, spatial_batchnorm_backward, spatial_batchnorm_forward
from dlkit.conv import ConvCache, conv_backward, conv_forward, output_size
from dlkit.layers import Layer, check_image_shape, initialize_conv
from dlkit.validation import as_array, as_generator

MAIN_PATH = ("1", "2", "3")
SHORTCUT = "_shortcut"
STEP_PARAMETERS = ("W", "b", "gamma", "beta")


# ----------------------------------------------------------------------------------------------
# One step: convolution then batch norm
# ----------------------------------------------------------------------------------------------

class ConvBNCache(NamedTuple):
    """What :func:`conv_bn_backward` needs: the caches of the convolution and of the batch norm."""

    conv: ConvCache
    bn: BatchNormCache


def conv_bn_forward(A_prev, W, b, gamma, beta, hparameters, running: RunningStats | None = None,
                    mode: str = "train", momentum: float = 0.9, eps: float = 1e-5):
    """A convolution followed by spatial batch norm.

    Parameters
    ----------
    A_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    W : ndarray of shape (f, f, n_C_prev, n_C)
    b, gamma, beta : ndarray of shape (1, 1, 1, n_C)
    hparameters : dict
        ``{"stride": s, "pad": p}`` of the convolution.
    running, mode, momentum, eps
        As in :func:`dlkit.batchnorm.spatial_batchnorm_forward`.

    Returns
    -------
    Z : ndarray of shape (m, n_H, n_W, n_C)
    cache : ConvBNCache
    running : RunningStats
        Each (n_C, 1), updated in train mode.
    """
    Z_conv, conv_cache = conv_forward(A_prev, W, b, hparameters)
    Z, bn_cache, running = spatial_batchnorm_forward(Z_conv, gamma, beta, running, mode, momentum, eps)
    return Z, ConvBNCache(conv_cache, bn_cache), running


def conv_bn_backward(dZ, cache: ConvBNCache):
    """Gradients of :func:`conv_bn_forward`.

    Returns
    -------
    dA_prev : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    dW : ndarray of shape (f, f, n_C_prev, n_C)
    db, dgamma, dbeta : ndarray of shape (1, 1, 1, n_C)
    """
    dZ_conv, dgamma, dbeta = spatial_batchnorm_backward(dZ, cache.bn)
    dA_prev, dW, db = conv_backward(dZ_conv, cache.conv)
    return dA_prev, dW, db, dgamma, dbeta


# ----------------------------------------------------------------------------------------------
# Parameters
# ----------------------------------------------------------------------------------------------

def _step_keys(suffix: str) -> list[str]:
    return [name + suffix for name in STEP_PARAMETERS]


def _check_filters(filters) -> tuple[int, int, int]:
    filters = tuple(filters)
    if len(filters) != 3 or any(isinstance(F, bool) or not isinstance(F, (int, np.integer)) or F < 1 for F in filters):
        raise ValueError(f"filters must be three positive integers (F1, F2, F3), got {filters!r}")
    return filters


def _initialize_steps(steps, seed) -> dict[str, np.ndarray]:
    """He-initialized ``W``, zero ``b``, unit ``gamma`` and zero ``beta`` for each ``(suffix, f, n_C_prev, n_C)``."""
    rng = as_generator(seed)
    parameters = {}
    for suffix, f, n_C_prev, n_C in steps:
        W, b = initialize_conv(f, n_C_prev, n_C, rng)
        parameters.update(zip(_step_keys(suffix), (W, b, np.ones_like(b), np.zeros_like(b))))
    return parameters


def initialize_identity_block(n_C_prev: int, f: int, filters, seed=0) -> dict[str, np.ndarray]:
    """Parameters of an identity block.

    Parameters
    ----------
    n_C_prev : int
        Channels of the input, which must equal ``F3``.
    f : int
        Size of the middle filters (odd, "same" padding).
    filters : (F1, F2, F3)
        Channels after each of the three steps.
    seed : int or numpy.random.Generator

    Returns
    -------
    parameters : dict of str to ndarray
        ``W1`` (1, 1, n_C_prev, F1), ``W2`` (f, f, F1, F2), ``W3`` (1, 1, F2, F3); ``b``,
        ``gamma``, ``beta`` of each step (1, 1, 1, F).

    >>> p = initialize_identity_block(8, 3, (4, 4, 8))
    >>> p["W2"].shape, p["gamma3"].shape, len(p)
    ((3, 3, 4, 4), (1, 1, 1, 8), 12)
    """
    F1, F2, F3 = _check_filters(filters)
    if F3 != n_C_prev:
        raise ValueError(f"an identity block adds its input to its output: F3 must equal n_C_prev={n_C_prev}, "
                         f"got filters {tuple(filters)}")
    return _initialize_steps([("1", 1, n_C_prev, F1), ("2", f, F1, F2), ("3", 1, F2, F3)], seed)


def initialize_convolutional_block(n_C_prev: int, f: int, filters, seed=0) -> dict[str, np.ndarray]:
    """Parameters of a convolutional block: those of the main path plus ``W_shortcut`` (1, 1, n_C_prev, F3) and its ``b``, ``gamma``, ``beta``.

    >>> p = initialize_convolutional_block(3, 3, (4, 4, 8))
    >>> p["W1"].shape, p["W_shortcut"].shape, len(p)
    ((1, 1, 3, 4), (1, 1, 3, 8), 16)
    """
    F1, F2, F3 = _check_filters(filters)
    return _initialize_steps([("1", 1, n_C_prev, F1), ("2", f, F1, F2), ("3", 1, F2, F3),
                              (SHORTCUT, 1, n_C_prev, F3)], seed)


def _step(parameters, suffix: str) -> list[np.ndarray]:
    """``[W, b, gamma, beta]`` of one step, or ``ValueError`` naming the missing keys."""
    missing = [key for key in _step_keys(suffix) if key not in parameters]
    if missing:
        raise ValueError(f"parameters has no {missing}; it has {sorted(parameters)}")
    return [as_array(key, parameters[key]) for key in _step_keys(suffix)]


def _step_grads(suffix: str, grads) -> dict[str, np.ndarray]:
    """``{"dW1": dW, "db1": db, "dgamma1": dgamma, "dbeta1": dbeta}`` for ``suffix = "1"``."""
    return {"d" + key: grad for key, grad in zip(_step_keys(suffix), grads)}


# ----------------------------------------------------------------------------------------------
# The main path, shared by both blocks
# ----------------------------------------------------------------------------------------------

class MainPathCache(NamedTuple):
    """What the backward pass of the main path needs.

    step1, step2, step3 : ConvBNCache
    Z1, Z2 : ndarray
        Inputs of the two inner ReLUs, (m, n_H, n_W, F1) and (m, n_H, n_W, F2).
    """

    step1: ConvBNCache
    Z1: np.ndarray
    step2: ConvBNCache
    Z2: np.ndarray
    step3: ConvBNCache


def _main_path_forward(X, parameters, stride: int, running: dict, bn: dict):
    """``Z3`` of the main path, its cache and the three updated running statistics."""
    Z1, step1, running1 = conv_bn_forward(X, *_step(parameters, "1"), {"stride": stride, "pad": 0},
                                          running.get("bn1"), **bn)
    A1 = relu(Z1)
    Z2, step2, running2 = conv_bn_forward(A1, *_step(parameters, "2"), {"stride": 1, "pad": "same"},
                                          running.get("bn2"), **bn)
    A2 = relu(Z2)
    Z3, step3, running3 = conv_bn_forward(A2, *_step(parameters, "3"), {"stride": 1, "pad": 0},
                                          running.get("bn3"), **bn)
    new_running = {"bn1": running1, "bn2": running2, "bn3": running3}
    return Z3, MainPathCache(step1, Z1, step2, Z2, step3), new_running


def _main_path_backward(dZ3, cache: MainPathCache):
    """``dX`` along the main path and the gradients of its twelve parameters."""
    dA2, *grads3 = conv_bn_backward(dZ3, cache.step3)
    dA1, *grads2 = conv_bn_backward(relu_backward(dA2, cache.Z2), cache.step2)
    dX, *grads1 = conv_bn_backward(relu_backward(dA1, cache.Z1), cache.step1)
    return dX, {**_step_grads("1", grads1), **_step_grads("2", grads2), **_step_grads("3", grads3)}


def _batchnorm_options(mode, running, momentum, eps):
    """The running statistics as a dict and the batch-norm keyword arguments."""
    running = {} if running is None else dict(running)
    return running, {"mode": mode, "momentum": momentum, "eps": eps}


# ----------------------------------------------------------------------------------------------
# Identity block
# ----------------------------------------------------------------------------------------------

class IdentityBlockCache(NamedTuple):
    """What :func:`identity_block_backward` needs.

    main : MainPathCache
    Z : ndarray of shape (m, n_H, n_W, n_C)
        ``Z3 + X``, the input of the final ReLU.
    """

    main: MainPathCache
    Z: np.ndarray


def identity_block_forward(X, parameters, mode: str = "train", running: dict | None = None,
                           momentum: float = 0.9, eps: float = 1e-5):
    """Forward pass of the identity block: ``A = relu(main_path(X) + X)``.

    Parameters
    ----------
    X : ndarray of shape (m, n_H, n_W, n_C)
    parameters : dict of str to ndarray
        ``W1`` (1, 1, n_C, F1), ``W2`` (f, f, F1, F2), ``W3`` (1, 1, F2, n_C), and ``b``,
        ``gamma``, ``beta`` of each step, (1, 1, 1, F) (see :func:`initialize_identity_block`).
    mode : {"train", "test"}
        Batch norm with the batch's statistics (train) or the running ones (test).
    running : dict or None
        ``{"bn1": RunningStats, "bn2": ..., "bn3": ...}``; required in test mode, ``None`` in
        train mode starts from mean 0 and variance 1.
    momentum, eps : float
        Of the batch norms.

    Returns
    -------
    A : ndarray of shape (m, n_H, n_W, n_C)
    cache : IdentityBlockCache
    running : dict
        The running statistics after this pass (unchanged in test mode).

    >>> X = np.random.default_rng(0).standard_normal((2, 4, 4, 8))
    >>> A, cache, running = identity_block_forward(X, initialize_identity_block(8, 3, (2, 2, 8)))
    >>> A.shape, sorted(running), bool(A.min() >= 0)
    ((2, 4, 4, 8), ['bn1', 'bn2', 'bn3'], True)
    """
    X = as_array("X", X, ndim=4)
    running, bn = _batchnorm_options(mode, running, momentum, eps)
    W3 = _step(parameters, "3")[0]
    if W3.shape[-1] != X.shape[-1]:
        raise ValueError(f"W3 has shape {W3.shape} but X has {X.shape[-1]} channels (shape {X.shape}); an identity "
                         f"block adds X to its output, so W3 must be (1, 1, F2, {X.shape[-1]})")
    Z3, main, new_running = _main_path_forward(X, parameters, 1, running, bn)
    Z = Z3 + X  # (m, n_H, n_W, n_C): the shortcut
    return relu(Z), IdentityBlockCache(main, Z), new_running


def identity_block_backward(dA, cache: IdentityBlockCache):
    """Backward pass of the identity block.

    Parameters
    ----------
    dA : ndarray of shape (m, n_H, n_W, n_C)
        Gradient of the cost with respect to the block's output.
    cache : IdentityBlockCache

    Returns
    -------
    dX : ndarray of shape (m, n_H, n_W, n_C)
        Main path's gradient plus ``dZ``, the gradient that the shortcut carries unchanged.
    grads : dict of str to ndarray
        ``"dW1", "db1", "dgamma1", "dbeta1"``, ... ``"dbeta3"``, shaped like the parameters.
    """
    dA = as_array("dA", dA, ndim=4)
    dZ = relu_backward(dA, cache.Z)  # (m, n_H, n_W, n_C), into both paths
    dX_main, grads = _main_path_backward(dZ, cache.main)
    return dX_main + dZ, grads


# ----------------------------------------------------------------------------------------------
# Convolutional block
# ----------------------------------------------------------------------------------------------

class ConvolutionalBlockCache(NamedTuple):
    """What :func:`convolutional_block_backward` needs.

    main : MainPathCache
    shortcut : ConvBNCache
    Z : ndarray of shape (m, n_H, n_W, F3)
        ``Z3 + shortcut``, the input of the final ReLU.
    """

    main: MainPathCache
    shortcut: ConvBNCache
    Z: np.ndarray


def convolutional_block_forward(X, parameters, s: int = 2, mode: str = "train", running: dict | None = None,
                                momentum: float = 0.9, eps: float = 1e-5):
    """Forward pass of the convolutional block: ``A = relu(main_path(X) + BN(conv1x1_s(X)))``.

    Parameters
    ----------
    X : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
    parameters : dict of str to ndarray
        As for :func:`identity_block_forward` (any ``F3``) plus ``W_shortcut`` (1, 1, n_C_prev, F3),
        ``b_shortcut``, ``gamma_shortcut``, ``beta_shortcut`` (1, 1, 1, F3)
        (see :func:`initialize_convolutional_block`).
    s : int
        Stride of the first 1x1 conv of the main path and of the shortcut's conv.
    mode, running, momentum, eps
        As in :func:`identity_block_forward`; ``running`` also has ``"bn_shortcut"``.

    Returns
    -------
    A : ndarray of shape (m, n_H, n_W, F3)
        ``n_H = floor((n_H_prev - 1) / s) + 1``, likewise ``n_W``.
    cache : ConvolutionalBlockCache
    running : dict

    >>> X = np.random.default_rng(0).standard_normal((2, 5, 5, 3))
    >>> A, _, _ = convolutional_block_forward(X, initialize_convolutional_block(3, 3, (2, 2, 8)), s=2)
    >>> A.shape
    (2, 3, 3, 8)
    """
    X = as_array("X", X, ndim=4)
    running, bn = _batchnorm_options(mode, running, momentum, eps)
    Z3, main, new_running = _main_path_forward(X, parameters, s, running, bn)
    Z_shortcut, shortcut, new_running["bn_shortcut"] = conv_bn_forward(
        X, *_step(parameters, SHORTCUT), {"stride": s, "pad": 0}, running.get("bn_shortcut"), **bn)
    Z = Z3 + Z_shortcut  # (m, n_H, n_W, F3)
    return relu(Z), ConvolutionalBlockCache(main, shortcut, Z), new_running


def convolutional_block_backward(dA, cache: ConvolutionalBlockCache):
    """Backward pass of the convolutional block.

    Parameters
    ----------
    dA : ndarray of shape (m, n_H, n_W, F3)
    cache : ConvolutionalBlockCache

    Returns
    -------
    dX : ndarray of shape (m, n_H_prev, n_W_prev, n_C_prev)
        Sum of the gradients back along the main path and along the shortcut.
    grads : dict of str to ndarray
        ``"dW1"`` ... ``"dbeta3"`` and ``"dW_shortcut", "db_shortcut", "dgamma_shortcut", "dbeta_shortcut"``.
    """
    dA = as_array("dA", dA, ndim=4)
    dZ = relu_backward(dA, cache.Z)  # (m, n_H, n_W, F3), into both paths
    dX_main, grads = _main_path_backward(dZ, cache.main)
    dX_shortcut, *grads_shortcut = conv_bn_backward(dZ, cache.shortcut)
    return dX_main + dX_shortcut, {**grads, **_step_grads(SHORTCUT, grads_shortcut)}


# ----------------------------------------------------------------------------------------------
# Layer objects
# ----------------------------------------------------------------------------------------------

class _ResidualBlock(Layer):
    """Parameters, running statistics and train/test mode shared by both block layers."""

    kind = "res"

    def __init__(self, parameters: dict, momentum: float, eps: float, name: str | None):
        super().__init__(name)
        self._params = parameters
        self.momentum, self.eps = momentum, eps
        suffixes = [suffix for suffix in (*MAIN_PATH, SHORTCUT) if "gamma" + suffix in parameters]
        self.running = {"bn" + suffix: RunningStats.initial(parameters["gamma" + suffix].shape[-1])
                        for suffix in suffixes}

    def _run(self, forward, x, training, **kwargs):
        mode = "train" if training else "test"
        out, self.cache, running = forward(x, self._params, mode=mode, running=self.running,
                                           momentum=self.momentum, eps=self.eps, **kwargs)
        if training:
            self.running = running
        return out

    def _keep_grads(self, dx, grads):
        self._grads = {key[1:]: grad for key, grad in grads.items()}  # "dW1" -> "W1"
        return dx


class IdentityBlock(_ResidualBlock):
    """:func:`identity_block_forward` as a layer: input and output ``(m, n_H, n_W, n_C)``.

    Parameters
    ----------
    n_C : int
        Channels in and out (``F3``).
    f : int
        Middle filter size (odd).
    filters : (F1, F2, F3)
        With ``F3 = n_C``.
    seed, momentum, eps, name
        Initialization and batch norm options.

    ``n_C*F1 + f*f*F1*F2 + F2*F3`` weights, plus ``3*F`` numbers (b, gamma, beta) per step.
    """

    def __init__(self, n_C: int, f: int, filters, seed=0, momentum: float = 0.9, eps: float = 1e-5,
                 name: str | None = None):
        super().__init__(initialize_identity_block(n_C, f, filters, seed), momentum, eps, name)
        self.n_C, self.f, self.filters = n_C, f, tuple(filters)

    def forward(self, x, training: bool = True) -> np.ndarray:
        return self._run(identity_block_forward, x, training)

    def backward(self, dout) -> np.ndarray:
        return self._keep_grads(*identity_block_backward(dout, self._last_cache()))

    def output_shape(self, input_shape):
        return check_image_shape(self, input_shape, self.n_C)

    def describe(self) -> str:
        return f"f={self.f}, filters={self.filters}"


class ConvolutionalBlock(_ResidualBlock):
    """:func:`convolutional_block_forward` as a layer: ``(m, n_H_prev, n_W_prev, n_C_prev) -> (m, n_H, n_W, F3)``.

    Parameters
    ----------
    n_C_prev : int
    f : int
    filters : (F1, F2, F3)
    s : int
        Stride of the block (2 halves the height and width).
    seed, momentum, eps, name
        As in :class:`IdentityBlock`.
    """

    def __init__(self, n_C_prev: int, f: int, filters, s: int = 2, seed=0, momentum: float = 0.9,
                 eps: float = 1e-5, name: str | None = None):
        super().__init__(initialize_convolutional_block(n_C_prev, f, filters, seed), momentum, eps, name)
        self.n_C_prev, self.f, self.filters, self.s = n_C_prev, f, tuple(filters), s

    def forward(self, x, training: bool = True) -> np.ndarray:
        return self._run(convolutional_block_forward, x, training, s=self.s)

    def backward(self, dout) -> np.ndarray:
        return self._keep_grads(*convolutional_block_backward(dout, self._last_cache()))

    def output_shape(self, input_shape):
        n_H_prev, n_W_prev, _ = check_image_shape(self, input_shape, self.n_C_prev)
        return (output_size(n_H_prev, 1, self.s, 0), output_size(n_W_prev, 1, self.s, 0), self.filters[2])

    def describe(self) -> str:
        return f"f={self.f}, filters={self.filters}, s={self.s}"
