"""A network as a list of layers: forward, loss, backward, parameters for the optimizers, training, summary.

:class:`Sequential` chains :mod:`dlkit.layers` objects (and the residual blocks of
:mod:`dlkit.residual`) and ends with a loss::

    model = Sequential([Conv2D(1, 8, 3, pad="same"), ReLU(), MaxPool2D(2), Flatten(), Dense(128, 10)])
    cost = model.loss(X, Y)                        # forward in training mode, then the loss
    model.backward()                               # every layer's gradients
    model.set_parameters(optimizer.step(model.parameters(), model.gradients()))

The input ``X`` is in the layout of the first layer: images ``(m, n_H, n_W, n_C)`` or columns
``(n_x, m)``; the logits that reach the loss are columns ``(K, m)``. Labels ``Y`` are integer
classes ``(m,)`` or one-hot columns ``(K, m)``.

:func:`small_cnn` and :func:`small_resnet` build the networks of the CNN and ResNet lessons.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from dlkit.layers import (AvgPool2D, BatchNorm2D, Conv2D, Dense, Flatten, Layer, MaxPool2D, ReLU,
                          SoftmaxCrossEntropy)
from dlkit.metrics import accuracy
from dlkit.residual import ConvolutionalBlock, IdentityBlock
from dlkit.validation import as_array, as_generator


# ----------------------------------------------------------------------------------------------
# Examples along the right axis
# ----------------------------------------------------------------------------------------------

def example_axis(array: np.ndarray) -> int:
    """Axis that indexes the examples: 0 for images (m, n_H, n_W, n_C) and labels (m,), 1 for columns (n, m)."""
    if array.ndim in (1, 4):
        return 0
    if array.ndim == 2:
        return 1
    raise ValueError(f"expected images (m, n_H, n_W, n_C), columns (n, m) or labels (m,), got shape {array.shape}")


def n_examples(array: np.ndarray) -> int:
    """Number of examples ``m`` in ``array`` (see :func:`example_axis`)."""
    return array.shape[example_axis(array)]


def take_examples(array: np.ndarray, index) -> np.ndarray:
    """The examples ``index`` of ``array``, along its example axis."""
    return np.take(array, index, axis=example_axis(array))


def labels_of(Y) -> np.ndarray:
    """Integer classes (m,) from labels (m,), (1, m) or one-hot columns (K, m)."""
    Y = np.asarray(Y)
    if Y.ndim == 2 and Y.shape[0] > 1:
        return np.argmax(Y, axis=0)  # (K, m) one-hot -> (m,)
    return Y.reshape(-1)


# ----------------------------------------------------------------------------------------------
# Sequential
# ----------------------------------------------------------------------------------------------

def _name_layers(layers: Sequence[Layer]) -> None:
    """Number the layers that kept their default name (``conv`` -> ``conv1``, ``conv2``...); reject duplicates."""
    counts: Counter[str] = Counter()
    for layer in layers:
        if not isinstance(layer, Layer):
            raise ValueError(f"every layer must be a dlkit.layers.Layer, got {type(layer).__name__}")
        if layer.name == layer.kind:
            counts[layer.kind] += 1
            layer.name = f"{layer.kind}{counts[layer.kind]}"
    names = [layer.name for layer in layers]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"layer names must be unique; repeated: {duplicates}")


class Sequential:
    """Layers applied one after the other, then a loss.

    Parameters
    ----------
    layers : sequence of dlkit.layers.Layer
        Layers left with their default name are numbered by kind (``conv1``, ``bn1``,
        ``conv2``...), which makes every parameter name unique (``"W_conv1"``).
    loss : SoftmaxCrossEntropy, optional
        Default: a new :class:`dlkit.layers.SoftmaxCrossEntropy`.
    """

    def __init__(self, layers: Sequence[Layer], loss: SoftmaxCrossEntropy | None = None):
        self.layers = list(layers)
        _name_layers(self.layers)
        self.loss_function = SoftmaxCrossEntropy() if loss is None else loss

    # -- passes -------------------------------------------------------------------------------
    def forward(self, X, training: bool = True) -> np.ndarray:
        """The output of the last layer (the logits, (K, m)); every layer keeps its cache."""
        out = X
        for layer in self.layers:
            out = layer.forward(out, training)
        return out

    def loss(self, X, Y, training: bool = True) -> float:
        """Forward pass then the cost of its output against labels ``Y`` ((m,) classes or (K, m) one-hot)."""
        return self.loss_function.forward(self.forward(X, training), Y)

    def backward(self) -> np.ndarray:
        """Back propagation from the last :meth:`loss`; returns the gradient of the cost with respect to ``X``."""
        dout = self.loss_function.backward()
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    # -- parameters ---------------------------------------------------------------------------
    def parameters(self) -> dict[str, np.ndarray]:
        """Every layer's parameters in one dict, ``{"W_conv1": ..., "b_conv1": ..., ...}``."""
        return {key: value for layer in self.layers for key, value in layer.params.items()}

    def gradients(self) -> dict[str, np.ndarray]:
        """Gradients of the last :meth:`backward`, ``{"dW_conv1": ..., ...}`` (the optimizers' convention)."""
        return {key: value for layer in self.layers for key, value in layer.grads.items()}

    def set_parameters(self, parameters: dict[str, np.ndarray]) -> None:
        """Give each layer its new parameters, e.g. ``optimizer.step(model.parameters(), model.gradients())``."""
        for layer in self.layers:
            layer.set_params(parameters)

    def count_parameters(self) -> int:
        """Number of learned numbers in the network (batch norm's running statistics are not learned)."""
        return sum(layer.count_parameters() for layer in self.layers)

    # -- use ----------------------------------------------------------------------------------
    def scores(self, X, batch_size: int = 256) -> np.ndarray:
        """Logits (K, m) in test mode, computed ``batch_size`` examples at a time."""
        X = as_array("X", X)
        m = n_examples(X)
        parts = [self.forward(take_examples(X, np.arange(k, min(k + batch_size, m))), training=False)
                 for k in range(0, m, batch_size)]
        return np.concatenate(parts, axis=1)  # (K, m)

    def predict(self, X, batch_size: int = 256) -> np.ndarray:
        """Predicted classes (m,): the largest logit of each example, in test mode."""
        return np.argmax(self.scores(X, batch_size), axis=0)

    def fit(self, X, Y, optimizer, epochs: int = 5, batch_size: int = 64, seed=0, progress: bool = True,
            validation_data: tuple | None = None) -> dict[str, list[float]]:
        """Mini-batch training: shuffle, then per batch ``loss``, ``backward`` and an optimizer step.

        Parameters
        ----------
        X : ndarray
            Inputs in the first layer's layout, (m, n_H, n_W, n_C) or (n_x, m).
        Y : ndarray
            Labels, (m,) classes or (K, m) one-hot.
        optimizer : dlkit.optimizers.GradientDescent
            Any object with ``step(parameters, grads) -> parameters`` (e.g. ``Adam(0.01)``).
        epochs, batch_size : int
        seed : int or numpy.random.Generator
            Shuffles the examples at each epoch.
        progress : bool
            Show a tqdm progress bar over the epochs.
        validation_data : (X_val, Y_val), optional
            Evaluated in test mode after each epoch.

        Returns
        -------
        history : dict of str to list of float
            ``"loss"`` and ``"accuracy"`` (training, per epoch, from the training-mode passes),
            ``"batch_loss"`` (per step), ``"epoch_time"`` (seconds of training per epoch) and, with
            ``validation_data``, ``"val_accuracy"``.
        """
        X, Y = as_array("X", X), np.asarray(Y)
        if n_examples(X) != n_examples(Y):
            raise ValueError(f"X has {n_examples(X)} examples (shape {X.shape}) but Y has {n_examples(Y)} "
                             f"(shape {Y.shape})")
        rng = as_generator(seed)
        history: dict[str, list[float]] = {"loss": [], "accuracy": [], "batch_loss": [], "epoch_time": []}
        if validation_data is not None:
            history["val_accuracy"] = []
        bar = tqdm(range(epochs), desc="epochs", disable=not progress)
        for _ in bar:
            self._train_epoch(X, Y, optimizer, batch_size, rng, history)
            if validation_data is not None:
                history["val_accuracy"].append(accuracy(labels_of(validation_data[1]), self.predict(validation_data[0])))
            bar.set_postfix({key: round(values[-1], 4) for key, values in history.items()
                             if key in ("loss", "accuracy", "val_accuracy")})
        return history

    def _train_epoch(self, X, Y, optimizer, batch_size, rng, history) -> None:
        """One pass over the shuffled examples; appends to ``history``."""
        start, m = time.perf_counter(), n_examples(X)
        order = rng.permutation(m)
        total_loss, correct = 0.0, 0
        for k in range(0, m, batch_size):
            batch = order[k:k + batch_size]
            Y_batch = take_examples(Y, batch)
            logits = self.forward(take_examples(X, batch), training=True)  # (K, size)
            cost = self.loss_function.forward(logits, Y_batch)
            self.backward()
            self.set_parameters(optimizer.step(self.parameters(), self.gradients()))
            history["batch_loss"].append(cost)
            total_loss += cost * len(batch)
            correct += int(np.sum(np.argmax(logits, axis=0) == labels_of(Y_batch)))
        history["epoch_time"].append(time.perf_counter() - start)
        history["loss"].append(total_loss / m)
        history["accuracy"].append(correct / m)

    # -- description --------------------------------------------------------------------------
    def output_shapes(self, input_shape: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Shape of one example after each layer, from one example's ``input_shape`` ((n_H, n_W, n_C) or (n_x,))."""
        shapes, shape = [], tuple(input_shape)
        for layer in self.layers:
            shape = layer.output_shape(shape)
            shapes.append(shape)
        return shapes

    def summary(self, input_shape: tuple[int, ...]) -> None:
        """Print each layer's name, type, output shape and parameter count, then the total.

        ``input_shape`` is one example's shape: ``(n_H, n_W, n_C)`` for images, ``(n_x,)`` for
        columns. Shapes print with ``m`` for the examples, in the layer's layout.
        """
        rows = [("layer", "type", "output shape", "parameters")]
        for layer, shape in zip(self.layers, self.output_shapes(input_shape)):
            rows.append((layer.name, repr(layer), _batch_shape(shape), f"{layer.count_parameters():,}"))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = ["  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
                 for row in rows]
        rule = "-" * len(lines[0])
        print("\n".join([lines[0], rule, *lines[1:], rule, f"total parameters: {self.count_parameters():,}"]))

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {layer!r}" for layer in self.layers)
        return f"Sequential([\n{inner}\n], loss={self.loss_function!r})"


def _batch_shape(shape: tuple[int, ...]) -> str:
    """``(8, 8, 16)`` -> ``"(m, 8, 8, 16)"``; ``(10,)`` -> ``"(10, m)"``."""
    if len(shape) == 1:
        return f"({shape[0]}, m)"
    return "(m, " + ", ".join(str(n) for n in shape) + ")"


# ----------------------------------------------------------------------------------------------
# Networks of the CNN lessons
# ----------------------------------------------------------------------------------------------

def small_cnn(input_shape: tuple[int, int, int] = (8, 8, 1), n_classes: int = 10, filters: Sequence[int] = (16, 32),
              f: int = 3, seed=0) -> Sequential:
    """(CONV "same" -> BN -> RELU -> MAXPOOL 2x2) per entry of ``filters``, then FLATTEN -> DENSE -> softmax.

    Parameters
    ----------
    input_shape : (n_H, n_W, n_C)
        One image; the default fits the 8x8 digits.
    n_classes : int
    filters : sequence of int
        Channels of each conv stage; each stage halves the height and width.
    f : int
        Filter size (odd).
    seed : int or numpy.random.Generator

    >>> model = small_cnn()
    >>> model.output_shapes((8, 8, 1))[-2:], model.count_parameters()
    ([(128,), (10,)], 6186)
    """
    rng = as_generator(seed)
    n_H, n_W, n_C = input_shape
    layers: list[Layer] = []
    for n_C_next in filters:
        layers += [Conv2D(n_C, n_C_next, f, pad="same", seed=rng), BatchNorm2D(n_C_next), ReLU(), MaxPool2D(2)]
        n_H, n_W, n_C = n_H // 2, n_W // 2, n_C_next
    layers += [Flatten(), Dense(n_H * n_W * n_C, n_classes, seed=rng)]
    return Sequential(layers)


def small_resnet(input_shape: tuple[int, int, int] = (8, 8, 1), n_classes: int = 10, width: int = 16,
                 stages: int = 3, identity_blocks: int = 1, f: int = 3, seed=0) -> Sequential:
    """A small ResNet: a stem, residual stages, global average pooling and a dense softmax layer.

    * stem: CONV f x f "same" (``width`` channels) -> BN -> RELU;
    * stage ``k`` (k = 0, 1, ...), ``c = width * 2**k`` channels: a convolutional block with
      filters ``(c/2, c/2, c)`` and stride 1 for the first stage, 2 after (halving the size),
      then ``identity_blocks`` identity blocks with the same filters;
    * AVGPOOL over the whole map -> FLATTEN -> DENSE (``n_classes``).

    >>> model = small_resnet(stages=2)
    >>> model.output_shapes((8, 8, 1))[-3:]
    [(1, 1, 32), (32,), (10,)]
    """
    rng = as_generator(seed)
    n_H, _, n_C = input_shape
    layers: list[Layer] = [Conv2D(n_C, width, f, pad="same", seed=rng), BatchNorm2D(width), ReLU()]
    n_C = width
    for k in range(stages):
        c, s = width * 2 ** k, 1 if k == 0 else 2
        bottleneck = (max(c // 2, 1), max(c // 2, 1), c)
        layers.append(ConvolutionalBlock(n_C, f, bottleneck, s=s, seed=rng))
        layers += [IdentityBlock(c, f, bottleneck, seed=rng) for _ in range(identity_blocks)]
        n_H, n_C = (n_H - 1) // s + 1, c
    layers += [AvgPool2D(n_H), Flatten(), Dense(n_C, n_classes, seed=rng)]
    return Sequential(layers)
