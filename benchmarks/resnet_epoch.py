"""One training epoch of the course's small ResNet in dlkit and in PyTorch (if installed), timed.

The network is ``dlkit.model.small_resnet()`` (a conv stem, three stages of a convolutional
block and an identity block, widths 16/32/64, global average pooling, a dense softmax layer)
on the 1,438 training digits (8x8x1), mini-batches of 64, Adam with learning rate 0.01. The
PyTorch network is built layer for layer the same (NCHW, 2 threads). One warm-up step runs
first on each side (Numba kernels loaded, allocators warmed) and is not timed. Prints seconds
per epoch, the ratio dlkit/PyTorch, and the training loss before and after as a sanity check.

Run with ``python -m benchmarks.resnet_epoch`` (``--dtype float32`` or ``float64``, ``--epochs``).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.conv_kernels import load_torch
from dlkit.data import load_digits
from dlkit.model import small_resnet
from dlkit.optimizers import Adam

BATCH_SIZE = 64
LEARNING_RATE = 0.01
WIDTH, STAGES = 16, 3


def digits(dtype):
    """Training digits as images ``(m, 8, 8, 1)`` of ``dtype`` and integer labels ``(m,)``."""
    train_x, train_y, *_ = load_digits(seed=0)
    return train_x[..., None].astype(dtype), train_y


def batches(m: int, seed: int = 0) -> list[np.ndarray]:
    """The same shuffled mini-batch indices for both frameworks."""
    order = np.random.default_rng(seed).permutation(m)
    return [order[k:k + BATCH_SIZE] for k in range(0, m, BATCH_SIZE)]


# ---------------------------------------------------------------- dlkit

def dlkit_epoch(X, Y, epochs: int) -> tuple[float, float, float]:
    """Seconds per epoch, loss before, loss after, for dlkit's small ResNet."""
    model = small_resnet(X.shape[1:], 10, width=WIDTH, stages=STAGES, seed=0)
    model.set_parameters({key: value.astype(X.dtype) for key, value in model.parameters().items()})
    optimizer = Adam(LEARNING_RATE)

    def step(index):
        cost = model.loss(X[index], Y[index])
        model.backward()
        model.set_parameters(optimizer.step(model.parameters(), model.gradients()))
        return cost

    before = model.loss(X, Y, training=False)
    step(np.arange(BATCH_SIZE))  # warm-up, not timed
    start = time.perf_counter()
    for epoch in range(epochs):
        for index in batches(len(X), epoch):
            step(index)
    seconds = (time.perf_counter() - start) / epochs
    return seconds, float(before), float(model.loss(X, Y, training=False))


# ---------------------------------------------------------------- PyTorch

def torch_resnet(torch, dtype):
    """The same architecture in PyTorch: stem, (convolutional block, identity block) x 3, pool, dense."""
    nn = torch.nn

    def conv_bn(n_in, n_out, f, stride=1):
        return [nn.Conv2d(n_in, n_out, f, stride=stride, padding=(f - 1) // 2), nn.BatchNorm2d(n_out, momentum=0.1)]

    class Block(nn.Module):
        def __init__(self, n_in, filters, stride, shortcut):
            super().__init__()
            F1, F2, F3 = filters
            self.main = nn.Sequential(*conv_bn(n_in, F1, 1, stride), nn.ReLU(), *conv_bn(F1, F2, 3), nn.ReLU(),
                                      *conv_bn(F2, F3, 1))
            self.shortcut = nn.Sequential(*conv_bn(n_in, F3, 1, stride)) if shortcut else nn.Identity()

        def forward(self, x):
            return torch.relu(self.main(x) + self.shortcut(x))

    layers, n_C, size = [*conv_bn(1, WIDTH, 3), nn.ReLU()], WIDTH, 8
    for k in range(STAGES):
        c, s = WIDTH * 2 ** k, 1 if k == 0 else 2
        bottleneck = (max(c // 2, 1), max(c // 2, 1), c)
        layers += [Block(n_C, bottleneck, s, shortcut=True), Block(c, bottleneck, 1, shortcut=False)]
        n_C, size = c, (size - 1) // s + 1
    layers += [nn.AvgPool2d(size), nn.Flatten(), nn.Linear(n_C, 10)]
    return nn.Sequential(*layers).to(dtype)


def torch_epoch(torch, X, Y, epochs: int) -> tuple[float, float, float]:
    """Seconds per epoch, loss before, loss after, for the PyTorch twin."""
    dtype = torch.float32 if X.dtype == np.float32 else torch.float64
    torch.manual_seed(0)
    model = torch_resnet(torch, dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    x_all = torch.from_numpy(X).permute(0, 3, 1, 2).contiguous()  # (m, 1, 8, 8)
    y_all = torch.from_numpy(Y)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(index):
        optimizer.zero_grad()
        loss = loss_fn(model(x_all[index]), y_all[index])
        loss.backward()
        optimizer.step()

    def full_loss():
        model.eval()
        with torch.no_grad():
            value = float(loss_fn(model(x_all), y_all))
        model.train()
        return value

    before = full_loss()
    step(torch.arange(BATCH_SIZE))  # warm-up, not timed
    start = time.perf_counter()
    for epoch in range(epochs):
        for index in batches(len(X), epoch):
            step(torch.from_numpy(index))
    seconds = (time.perf_counter() - start) / epochs
    return seconds, before, full_loss()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.resnet_epoch", description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("float32", "float64"), action="append", help="default: both")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    torch = load_torch()
    print(f"\nOne epoch of small_resnet (width {WIDTH}, {STAGES} stages) on 1,438 8x8 digits, batches of "
          f"{BATCH_SIZE}, Adam")
    results = {}
    for dtype in args.dtype or ("float32", "float64"):
        X, Y = digits(dtype)
        seconds, before, after = dlkit_epoch(X, Y, args.epochs)
        line = f"  {dtype}: dlkit {seconds:6.2f} s/epoch (loss {before:.2f} -> {after:.2f})"
        results[dtype] = {"dlkit": seconds}
        if torch is not None:
            t_seconds, t_before, t_after = torch_epoch(torch, X, Y, args.epochs)
            results[dtype]["PyTorch"] = t_seconds
            line += (f"; PyTorch {t_seconds:6.2f} s/epoch (loss {t_before:.2f} -> {t_after:.2f}); "
                     f"dlkit/PyTorch {seconds / t_seconds:.2f}")
        print(line)
    return results


if __name__ == "__main__":
    main()
