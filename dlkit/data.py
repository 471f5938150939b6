"""Datasets for the notebooks, all generated or bundled locally so they load without a network.

Conventions: 2-D toy sets come as ``X`` of shape (2, m) and labels ``Y`` of shape (1, m) (examples
in columns, like dense layers); image sets come as ``images`` of shape (m, n_H, n_W) with values in
[0, 1]; labels are integer arrays. Every loader is deterministic for a given ``seed``.

==================  ==============================================  ===============================
loader              what                                            shapes
==================  ==============================================  ===============================
load_planar_flower  two classes on alternating petals of a flower   X (2, m), Y (1, m)
load_moons          two interleaved half circles (scikit-learn)     X (2, m), Y (1, m)
load_circles        a circle inside a circle (scikit-learn)         X (2, m), Y (1, m)
load_faces          faces vs. non-faces, 25x25 grey (scikit-image)  (m, 25, 25), (1, m)
load_digits         handwritten digits 0-9, 8x8 (scikit-learn)      (m, 8, 8), (m,)
==================  ==============================================  ===============================
"""
from __future__ import annotations

import numpy as np

from dlkit.validation import as_array, as_generator


# ----------------------------------------------------------------------------------------------
# 2-D toy sets for decision boundaries
# ----------------------------------------------------------------------------------------------

def load_planar_flower(m: int = 400, seed=1, n_petals: int = 8, radius: float = 4.0,
                       noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """A flower whose petals alternate between class 0 and class 1: not linearly separable.

    Each point picks a petal of its class (even petals for 0, odd for 1) and a position ``u``
    across it; its angle is ``(petal + u) * 2 pi / n_petals`` and its distance from the centre
    ``radius * sin(pi u)`` times a uniform fill, so petals are widest in the middle. Gaussian
    noise of scale ``noise`` (in angle and radius) blurs the edges.

    Parameters
    ----------
    m : int
        Number of points, about half of each class.
    seed : int or numpy.random.Generator
    n_petals : int
        An even number of petals.
    radius : float
        Length of a petal.
    noise : float
        Blur of the petal edges.

    Returns
    -------
    X : ndarray of shape (2, m), float64
        Coordinates (x1 in row 0, x2 in row 1), examples in shuffled order.
    Y : ndarray of shape (1, m), int64
        Class 0 or 1.

    >>> X, Y = load_planar_flower()
    >>> X.shape, Y.shape, int(Y.sum())
    ((2, 400), (1, 400), 200)
    """
    if n_petals < 2 or n_petals % 2:
        raise ValueError(f"n_petals must be an even number >= 2, got {n_petals!r}")
    rng = as_generator(seed)
    labels = np.arange(m) % 2  # (m,) alternating 0, 1
    petal = 2 * rng.integers(0, n_petals // 2, size=m) + labels  # (m,) even petals class 0, odd class 1
    u = rng.uniform(0.0, 1.0, size=m)
    angle = (petal + u) * 2 * np.pi / n_petals + noise * rng.standard_normal(m)
    r = radius * np.sin(np.pi * u) * np.sqrt(rng.uniform(0.1, 1.0, size=m)) + noise * rng.standard_normal(m)
    order = rng.permutation(m)
    X = np.stack([r * np.sin(angle), r * np.cos(angle)])[:, order]  # (2, m)
    return X, labels[order].reshape(1, m)


def _as_columns(points: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's (m, 2) points and (m,) labels -> (2, m) and (1, m)."""
    return points.T.copy(), labels.reshape(1, -1).astype(np.int64)


def _sklearn_seed(seed) -> int | None:
    """scikit-learn's ``random_state`` for a dlkit seed: the int itself, or an int drawn from a Generator."""
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        return None if seed is None else int(seed)
    return int(as_generator(seed).integers(0, 2**32))  # ValueError unless a Generator


def load_moons(m: int = 300, noise: float = 0.2, seed=3) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (``sklearn.datasets.make_moons``), ``m // 2`` points of class 0.

    ``seed`` is an int or a ``numpy.random.Generator`` (which gives scikit-learn a seed drawn from it).

    Returns
    -------
    X : ndarray of shape (2, m), float64
    Y : ndarray of shape (1, m), int64 in {0, 1}

    >>> [a.shape for a in load_moons(m=10)]
    [(2, 10), (1, 10)]
    """
    from sklearn.datasets import make_moons

    return _as_columns(*make_moons(n_samples=m, noise=noise, random_state=_sklearn_seed(seed)))


def load_circles(m: int = 300, noise: float = 0.05, factor: float = 0.5, seed=1) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (class 1) inside a large one (class 0) (``sklearn.datasets.make_circles``).

    ``factor`` is the ratio of the inner radius to the outer one (1); ``seed`` as in :func:`load_moons`.

    Returns
    -------
    X : ndarray of shape (2, m), float64
    Y : ndarray of shape (1, m), int64 in {0, 1}
    """
    from sklearn.datasets import make_circles

    return _as_columns(*make_circles(n_samples=m, noise=noise, factor=factor, random_state=_sklearn_seed(seed)))


# ----------------------------------------------------------------------------------------------
# Image sets
# ----------------------------------------------------------------------------------------------

def _stratified_split(labels: np.ndarray, test_fraction: float, seed) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)`` with each class split in the same proportion, each part shuffled."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_fraction!r}")
    rng = as_generator(seed)
    train, test = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(test_fraction * len(members)))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def load_faces(seed=0, test_size: float = 0.25):
    """Faces vs. non-faces: 100 + 100 grey 25x25 crops shipped with scikit-image (``lfw_subset``).

    A binary image task small enough to train in seconds. The split is stratified: with the
    default ``test_size`` 75 + 75 images train and 25 + 25 test.

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Fixes the split and the order.
    test_size : float
        Fraction of each class held out.

    Returns
    -------
    train_x : ndarray of shape (m_train, 25, 25), float64 in [0, 1]
    train_y : ndarray of shape (1, m_train), int64; 1 = face, 0 = non-face
    test_x : ndarray of shape (m_test, 25, 25), float64 in [0, 1]
    test_y : ndarray of shape (1, m_test), int64
    classes : tuple of str
        ``("non-face", "face")``, indexed by label.

    >>> train_x, train_y, test_x, test_y, classes = load_faces()
    >>> train_x.shape, train_y.shape, test_x.shape, classes
    ((150, 25, 25), (1, 150), (50, 25, 25), ('non-face', 'face'))
    """
    from skimage.data import lfw_subset

    images = np.asarray(lfw_subset(), dtype=np.float64)  # (200, 25, 25): 100 faces then 100 non-faces
    labels = np.repeat(np.array([1, 0], dtype=np.int64), len(images) // 2)  # (200,)
    train, test = _stratified_split(labels, test_size, seed)
    return images[train], labels[train].reshape(1, -1), images[test], labels[test].reshape(1, -1), ("non-face", "face")


def load_digits(seed=0, test_size: float = 0.2):
    """Handwritten digits 0-9 as 8x8 grey images, bundled with scikit-learn (1,797 in all).

    Parameters
    ----------
    seed : int or numpy.random.Generator
        Fixes the stratified split and the order.
    test_size : float
        Fraction of each digit held out (default: 1,438 train, 359 test).

    Returns
    -------
    train_x : ndarray of shape (m_train, 8, 8), float64 in [0, 1]
    train_y : ndarray of shape (m_train,), int64 in 0..9
    test_x : ndarray of shape (m_test, 8, 8), float64 in [0, 1]
    test_y : ndarray of shape (m_test,), int64
    classes : tuple of str
        ``("0", "1", ..., "9")``, indexed by label.

    >>> train_x, train_y, test_x, test_y, classes = load_digits()
    >>> train_x.shape, train_y.shape, test_x.shape, float(train_x.max()), len(classes)
    ((1438, 8, 8), (1438,), (359, 8, 8), 1.0, 10)
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = bunch.images / 16.0  # (1797, 8, 8), grey levels 0..16 -> [0, 1]
    labels = bunch.target.astype(np.int64)  # (1797,)
    train, test = _stratified_split(labels, test_size, seed)
    return images[train], labels[train], images[test], labels[test], tuple(str(d) for d in range(10))


# ----------------------------------------------------------------------------------------------
# Shaping helpers
# ----------------------------------------------------------------------------------------------

def flatten_images(images) -> np.ndarray:
    """Turn a stack of images into dense-layer input, one example per column.

    Parameters
    ----------
    images : ndarray of shape (m, n_H, n_W) or (m, n_H, n_W, n_C)

    Returns
    -------
    X : ndarray of shape (n_x, m)
        ``n_x = n_H * n_W (* n_C)``; column ``i`` is image ``i`` read row by row.

    >>> flatten_images(np.zeros((5, 4, 3))).shape
    (12, 5)
    """
    images = as_array("images", images)
    if images.ndim < 2:
        raise ValueError(f"images must have shape (m, n_H, n_W[, n_C]), got shape {images.shape}")
    return images.reshape(images.shape[0], -1).T  # (m, n_x) -> (n_x, m)


def one_hot(labels, n_classes: int) -> np.ndarray:
    """One-hot columns: ``Y[k, i] = 1`` where ``labels[i] == k``.

    Parameters
    ----------
    labels : ndarray of shape (m,) or (1, m), ints in ``0 .. n_classes - 1``
    n_classes : int
        ``K``.

    Returns
    -------
    Y : ndarray of shape (K, m), float64

    >>> one_hot(np.array([2, 0]), 3)
    array([[0., 1.],
           [0., 0.],
           [1., 0.]])
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[0] == 1:
        labels = labels[0]  # (1, m) -> (m,)
    if labels.ndim != 1:
        raise ValueError(f"labels must have shape (m,) or (1, m), got shape {labels.shape}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
    if labels.size == 0:
        labels = labels.astype(np.int64)  # an empty list arrives as floats
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must be integers in 0..{n_classes - 1}, got dtype {labels.dtype} "
                         f"with values {labels.min()}..{labels.max()}")
    Y = np.zeros((n_classes, labels.size))  # (K, m)
    Y[labels, np.arange(labels.size)] = 1.0
    return Y
