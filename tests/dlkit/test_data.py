"""Tests of dlkit.data: shapes, dtypes, ranges, class balance and reproducible splits of every loader, offline."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dlkit import data


def assert_same(a, b):
    """Two tuples of arrays (or other values) are equal entry by entry."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def rows_as_set(images):
    """Each image as bytes, so two stacks can be compared as sets of images."""
    return {image.tobytes() for image in images}


# ---------------------------------------------------------------------------------------------- 2-D toy sets

TOY_LOADERS = [
    pytest.param(data.load_planar_flower, 400, marks=pytest.mark.lesson04, id="flower"),
    pytest.param(data.load_moons, 300, marks=pytest.mark.lesson09, id="moons"),
    pytest.param(data.load_circles, 300, marks=pytest.mark.lesson06, id="circles"),
]


@pytest.mark.parametrize("loader, m", TOY_LOADERS)
def test_toy_sets_have_columns_of_points_and_balanced_binary_labels(loader, m):
    """Are X (2, m) float64 and finite, Y (1, m) int64 in {0, 1}, half of each class?"""
    X, Y = loader()
    assert X.shape == (2, m) and Y.shape == (1, m)
    assert X.dtype == np.float64 and Y.dtype == np.int64
    assert np.all(np.isfinite(X))
    assert set(np.unique(Y)) == {0, 1}
    assert int(Y.sum()) == m // 2


@pytest.mark.parametrize("loader, m", TOY_LOADERS)
def test_toy_sets_are_reproducible_by_seed(loader, m):
    """Does one seed give the same points twice, another seed other points, and a Generator work too?"""
    assert_same(loader(seed=5), loader(seed=5))
    assert not np.array_equal(loader(seed=5)[0], loader(seed=6)[0])
    assert_same(loader(seed=np.random.default_rng(2)), loader(seed=np.random.default_rng(2)))


@pytest.mark.parametrize("loader, m", TOY_LOADERS)
def test_toy_sets_take_the_number_of_points(loader, m):
    """Does m=11 give 11 points, 5 or 6 of class 1?"""
    X, Y = loader(m=11)
    assert X.shape == (2, 11) and Y.shape == (1, 11)
    assert int(Y.sum()) in (5, 6)


@pytest.mark.lesson04
def test_flower_classes_alternate_between_petals():
    """Is the flower not linearly separable: does each class sit on every other petal, all around the centre?"""
    X, Y = data.load_planar_flower(m=2000, noise=0.0)
    angle = np.arctan2(X[0], X[1]) % (2 * np.pi)  # the loader puts angle 0 on the x2 axis
    petal = (angle // (2 * np.pi / 8)).astype(int)  # (m,) petal 0..7
    for p in range(8):
        labels = Y[0, petal == p]
        assert labels.size > 0 and np.all(labels == p % 2), p


@pytest.mark.lesson04
def test_flower_rejects_an_odd_number_of_petals():
    """Is an odd petal count refused with a ValueError?"""
    with pytest.raises(ValueError, match="n_petals must be an even number"):
        data.load_planar_flower(n_petals=5)


@pytest.mark.lesson09
def test_a_bad_seed_is_a_value_error():
    """Does a seed that is neither an int nor a Generator raise a ValueError naming it?"""
    with pytest.raises(ValueError, match="seed must be an int"):
        data.load_moons(seed="three")


# ---------------------------------------------------------------------------------------------- image sets

@pytest.fixture(scope="module")
def faces():
    return data.load_faces()


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.mark.lesson05
def test_faces_shapes_dtypes_ranges_and_names(faces):
    """Are the faces 150 + 50 grey 25x25 images in [0, 1] with labels (1, m) and two class names?"""
    train_x, train_y, test_x, test_y, classes = faces
    assert train_x.shape == (150, 25, 25) and test_x.shape == (50, 25, 25)
    assert train_y.shape == (1, 150) and test_y.shape == (1, 50)
    assert train_x.dtype == test_x.dtype == np.float64
    assert train_y.dtype == test_y.dtype == np.int64
    assert 0.0 <= min(train_x.min(), test_x.min()) and max(train_x.max(), test_x.max()) <= 1.0
    assert classes == ("non-face", "face")


@pytest.mark.lesson05
def test_faces_split_is_stratified_and_disjoint(faces):
    """Does each part hold as many faces as non-faces, with no image in both parts?"""
    train_x, train_y, test_x, test_y, _ = faces
    assert int(train_y.sum()) == 75 and int(test_y.sum()) == 25
    assert not rows_as_set(train_x) & rows_as_set(test_x)
    assert len(rows_as_set(train_x) | rows_as_set(test_x)) == 200


@pytest.mark.lesson05
def test_faces_labels_follow_the_images(faces):
    """Are the images labelled 1 exactly the first 100 of scikit-image's lfw_subset (its faces; the rest are not)?"""
    from skimage.data import lfw_subset

    train_x, train_y, test_x, test_y, _ = faces
    labelled_face = rows_as_set(train_x[train_y[0] == 1]) | rows_as_set(test_x[test_y[0] == 1])
    assert labelled_face == rows_as_set(lfw_subset()[:100])


@pytest.mark.lesson10
def test_digits_shapes_dtypes_ranges_and_names(digits):
    """Are the digits 1438 + 359 images 8x8 in [0, 1] reaching both ends, labels (m,) in 0..9?"""
    train_x, train_y, test_x, test_y, classes = digits
    assert train_x.shape == (1438, 8, 8) and test_x.shape == (359, 8, 8)
    assert train_y.shape == (1438,) and test_y.shape == (359,)
    assert train_x.dtype == np.float64 and train_y.dtype == test_y.dtype == np.int64
    assert train_x.min() == 0.0 and train_x.max() == 1.0 and 0.0 <= test_x.min() and test_x.max() <= 1.0
    assert set(np.unique(train_y)) == set(np.unique(test_y)) == set(range(10))
    assert classes == tuple(str(d) for d in range(10))


@pytest.mark.lesson10
def test_digits_split_keeps_each_class_in_proportion(digits):
    """Does the test part hold about 20% of every digit, and are the parts disjoint?"""
    train_x, train_y, test_x, test_y, _ = digits
    total = np.bincount(train_y, minlength=10) + np.bincount(test_y, minlength=10)
    assert total.sum() == 1797 and total.min() >= 170  # about 180 of each digit
    np.testing.assert_array_equal(np.bincount(test_y, minlength=10), np.round(0.2 * total).astype(int))
    assert len(rows_as_set(train_x) | rows_as_set(test_x)) == 1797  # all distinct images, none in both parts


@pytest.mark.parametrize("loader", [pytest.param(data.load_faces, marks=pytest.mark.lesson05),
                                    pytest.param(data.load_digits, marks=pytest.mark.lesson10)])
def test_image_splits_are_reproducible_by_seed(loader):
    """Does one seed give the same split and order twice, and another seed a different one?"""
    first, again, other = loader(seed=3), loader(seed=3), loader(seed=4)
    assert_same(first, again)
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("loader", [data.load_faces, data.load_digits])
@pytest.mark.parametrize("test_size", [0.0, 1.0, -0.2, 1.5])
def test_test_size_must_be_a_fraction(loader, test_size):
    """Is a test_size outside (0, 1) refused with a ValueError?"""
    with pytest.raises(ValueError, match=r"test_size must be a fraction in \(0, 1\)"):
        loader(test_size=test_size)


# ---------------------------------------------------------------------------------------------- shaping helpers

@pytest.mark.lesson05
def test_flatten_images_puts_each_image_in_a_column():
    """Is column i of flatten_images image i read row by row, for grey and colour stacks?"""
    images = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    X = data.flatten_images(images)
    assert X.shape == (12, 2)
    np.testing.assert_array_equal(X[:, 1], images[1].ravel())
    assert data.flatten_images(np.zeros((5, 4, 4, 3))).shape == (48, 5)
    with pytest.raises(ValueError, match=r"images must have shape \(m, n_H, n_W\[, n_C\]\)"):
        data.flatten_images(np.zeros(3))


@pytest.mark.lesson10
def test_one_hot_columns():
    """Does one_hot put a single 1 in row labels[i] of column i, for (m,) and (1, m) labels and none at all?"""
    labels = np.array([3, 0, 2, 3])
    Y = data.one_hot(labels, 4)
    assert Y.shape == (4, 4) and Y.dtype == np.float64
    np.testing.assert_array_equal(Y.sum(axis=0), np.ones(4))
    np.testing.assert_array_equal(np.argmax(Y, axis=0), labels)
    np.testing.assert_array_equal(data.one_hot(labels.reshape(1, -1), 4), Y)
    assert data.one_hot([], 3).shape == (3, 0)


@pytest.mark.lesson10
@pytest.mark.parametrize("labels, n_classes, message", [
    (np.array([0, 4]), 4, r"labels must be integers in 0..3"),
    (np.array([-1, 0]), 2, r"labels must be integers in 0..1"),
    (np.array([0.0, 1.0]), 2, r"got dtype float64"),
    (np.zeros((2, 3), dtype=int), 3, r"labels must have shape \(m,\) or \(1, m\)"),
    (np.array([0, 1]), 0, r"n_classes must be a positive integer"),
])
def test_one_hot_rejects_bad_labels(labels, n_classes, message):
    """Are labels out of range, non-integer or of the wrong shape, and a bad class count, refused?"""
    with pytest.raises(ValueError, match=message):
        data.one_hot(labels, n_classes)


# ---------------------------------------------------------------------------------------------- offline

OFFLINE_SCRIPT = textwrap.dedent("""
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network access attempted while loading data")

    socket.socket.connect = socket.socket.connect_ex = refuse
    socket.create_connection = socket.getaddrinfo = refuse

    from dlkit import data

    sizes = [data.load_planar_flower()[0].shape[1], data.load_moons()[0].shape[1], data.load_circles()[0].shape[1],
             data.load_faces()[0].shape[0], data.load_digits()[0].shape[0]]
    print(sizes)
""")


def test_every_loader_works_without_a_network(tmp_path):
    """In a fresh process whose sockets refuse to connect, and with an empty home and cache, does every loader load?"""
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "SCIKIT_LEARN_DATA": str(tmp_path / "sklearn"), "SKIMAGE_DATADIR": str(tmp_path / "skimage")}
    result = subprocess.run([sys.executable, "-c", OFFLINE_SCRIPT], capture_output=True, text=True, env=env,
                            timeout=120, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[400, 300, 300, 150, 1438]"
