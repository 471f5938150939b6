"""Tests of dlkit.plotting on the Agg backend: what each function draws (lines, images, texts, titles, labels)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from dlkit import plotting  # noqa: E402

DIGIT_NAMES = tuple(str(d) for d in range(10))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def image_axes(fig):
    """The visible Axes of ``fig`` that show an image."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.images]


def digits_stack(k, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (k, 8, 8))


# ---------------------------------------------------------------------------------------------- cost curves

def test_plot_costs_draws_one_line_per_call_against_epochs():
    """Is each call one line whose x values count epochs (spaced by every), labelled and titled?"""
    costs = np.array([0.7, 0.5, 0.4, 0.35])
    ax = plotting.plot_costs(costs, label="adam", learning_rate=0.01, every=10)
    plotting.plot_costs(costs / 2, label="momentum", ax=ax, every=10)
    assert len(ax.lines) == 2
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [0, 10, 20, 30])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), costs / 2)
    assert ax.get_xlabel() == "epoch (recorded every 10)" and ax.get_ylabel() == "cost"
    assert ax.get_title() == "learning rate = 0.01"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["adam", "momentum"]


def test_plot_costs_without_label_has_no_legend_and_rejects_a_matrix():
    """Is there no legend without a label, the x label plain "epoch", and a 2-D cost array refused?"""
    ax = plotting.plot_costs([1.0, 0.5])
    assert ax.get_legend() is None and ax.get_xlabel() == "epoch" and ax.get_title() == ""
    with pytest.raises(ValueError, match="costs must have 1 dimensions"):
        plotting.plot_costs(np.ones((2, 3)))


def test_new_figures_use_a_layout_that_keeps_labels_inside():
    """Do the figures plotting makes itself use a layout engine (so axis labels are not cut off)?"""
    fig = plotting.plot_costs([1.0, 0.5]).figure
    assert fig.get_layout_engine() is not None


# ---------------------------------------------------------------------------------------------- decision boundary

@pytest.mark.lesson03
def test_plot_decision_boundary_fills_the_regions_and_draws_every_point():
    """Is predict called once on a (2, steps^2) grid, the plane filled, and all m points drawn in their classes?"""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 30))
    Y = (X[0] > 0).astype(int).reshape(1, -1)
    calls = []

    def predict(points):
        calls.append(points.shape)
        return (points[0] > 0).astype(int).reshape(1, -1)

    ax = plotting.plot_decision_boundary(predict, X, Y, title="sign of x1", steps=50)
    assert calls == [(2, 2500)]
    contours = [c for c in ax.collections if isinstance(c, ContourSet)]
    points = [c for c in ax.collections if isinstance(c, PathCollection) and not isinstance(c, ContourSet)]
    assert len(contours) == 1 and len(points) == 1
    np.testing.assert_array_equal(points[0].get_offsets(), X.T)
    np.testing.assert_array_equal(points[0].get_array(), Y[0])
    assert ax.get_title() == "sign of x1" and ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"


@pytest.mark.lesson03
def test_plot_decision_boundary_checks_shapes():
    """Are points not in 2 rows, or labels of another count, refused with the shapes named?"""
    with pytest.raises(ValueError, match=r"X has shape \(3, 4\) but expected \(2, any\)"):
        plotting.plot_decision_boundary(lambda p: p[0] > 0, np.zeros((3, 4)), np.zeros((1, 4)))
    with pytest.raises(ValueError, match="Y has 5 labels but X has 4 points"):
        plotting.plot_decision_boundary(lambda p: p[0] > 0, np.zeros((2, 4)), np.zeros((1, 5)))


# ---------------------------------------------------------------------------------------------- image grids

@pytest.mark.lesson05
def test_show_images_draws_each_image_with_its_label_as_title():
    """With 10 images in rows of 4, are there 10 image Axes titled by class name, and the 2 spare ones hidden?"""
    fig = plotting.show_images(digits_stack(10), np.arange(10), class_names=DIGIT_NAMES, n_cols=4)
    shown = image_axes(fig)
    assert len(fig.axes) == 12 and len(shown) == 10
    assert [ax.get_title() for ax in shown] == list(DIGIT_NAMES)
    assert all(ax.images[0].get_cmap().name == "gray" for ax in shown)
    assert all(not ax.get_xticks().size and not ax.get_yticks().size for ax in shown)


@pytest.mark.lesson05
def test_show_images_marks_wrong_predictions_in_red():
    """Does a wrong prediction get a two-line red title (pred and true) and red frame, a right one a black name?"""
    labels, predictions = np.array([[1, 0, 1]]), np.array([[1, 1, 1]])
    fig = plotting.show_images(digits_stack(3), labels, predictions=predictions, class_names=("non-face", "face"))
    right, wrong, _ = image_axes(fig)
    assert right.get_title() == "face" and right.title.get_color() == "black"
    assert wrong.get_title() == "pred: face\ntrue: non-face"
    assert wrong.title.get_color() == plotting.WRONG_COLOR
    assert all(spine.get_edgecolor() == matplotlib.colors.to_rgba(plotting.WRONG_COLOR)
               for spine in wrong.spines.values())


@pytest.mark.lesson05
def test_show_images_draws_into_given_axes_and_colour_images():
    """Are given Axes used (extra ones hidden), and RGB images drawn without a grey colour map?"""
    fig, axes = plt.subplots(2, 3)
    rgb = np.random.default_rng(1).uniform(0, 1, (4, 5, 5, 3))
    assert plotting.show_images(rgb, ax=axes) is fig
    assert len(image_axes(fig)) == 4 and sum(not ax.get_visible() for ax in fig.axes) == 2
    assert image_axes(fig)[0].images[0].get_array().shape == (5, 5, 3)


@pytest.mark.lesson05
def test_show_images_checks_its_arguments():
    """Are a flat array, a wrong number of labels, and too few Axes refused?"""
    with pytest.raises(ValueError, match=r"images must have shape \(k, n_H, n_W\)"):
        plotting.show_images(np.zeros((3, 8)))
    with pytest.raises(ValueError, match="labels has 2 entries but there are 3 images"):
        plotting.show_images(digits_stack(3), [0, 1])
    with pytest.raises(ValueError, match="ax holds 2 Axes but there are 3 images"):
        plotting.show_images(digits_stack(3), ax=plt.subplots(1, 2)[1])


@pytest.mark.lesson05
def test_image_grid_has_rows_of_n_cols_and_room_for_a_title():
    """Does image_grid(10, 4) give 3 rows of 4 Axes, honour min_width and title_height, and refuse no images?"""
    axes = plotting.image_grid(10, 4)
    assert axes.shape == (3, 4) and axes[0, 0].figure.get_layout_engine() is not None
    fig = plotting.image_grid(1, 8, min_width=4.0, title_height=0.5)[0, 0].figure
    assert tuple(fig.get_size_inches()) == pytest.approx((4.0, 1.55 + 0.5))
    with pytest.raises(ValueError, match="need at least one image"):
        plotting.image_grid(0)


# ---------------------------------------------------------------------------------------------- misclassified

def _mistakes(n_wrong, m=60, seed=0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 10, m)
    y_pred = y_true.copy()
    wrong = rng.choice(m, n_wrong, replace=False)
    y_pred[wrong] = (y_pred[wrong] + 1) % 10
    return digits_stack(m, seed), y_true, y_pred


def _extent(fig, artist):
    return artist.get_window_extent(fig.canvas.get_renderer())


@pytest.mark.lesson10
@pytest.mark.parametrize("n_wrong, rows", [(1, 1), (2, 1), (12, 2)])
def test_plot_misclassified_title_stays_above_the_image_titles_and_inside_the_figure(n_wrong, rows):
    """Is the figure title above every image's two-line title, and within the figure's width and height?"""
    fig = plotting.plot_misclassified(*_mistakes(n_wrong), DIGIT_NAMES)
    fig.canvas.draw()
    shown = image_axes(fig)
    assert len(shown) == n_wrong and len({round(ax.get_position().y0, 6) for ax in shown}) == rows
    suptitle = _extent(fig, next(t for t in fig.findobj(Text) if t.get_text() == fig.get_suptitle()))
    highest_title = max(_extent(fig, ax.title).y1 for ax in shown)
    assert suptitle.y0 >= highest_title, (suptitle, highest_title)
    width, height = fig.canvas.get_width_height()
    assert 0 <= suptitle.x0 and suptitle.x1 <= width and suptitle.y1 <= height


@pytest.mark.lesson10
def test_plot_misclassified_shows_only_mistakes_and_counts_them():
    """With 20 mistakes in 60, are the first 16 shown with both labels, and the title counting all 20?"""
    images, y_true, y_pred = _mistakes(20)
    fig = plotting.plot_misclassified(images, y_true.reshape(1, -1), y_pred, DIGIT_NAMES)
    shown = image_axes(fig)
    first = np.flatnonzero(y_true != y_pred)[:16]
    assert len(shown) == 16
    assert fig.get_suptitle() == "20 of 60 misclassified, first 16 shown"
    assert [ax.get_title() for ax in shown] == [f"pred: {y_pred[i]}\ntrue: {y_true[i]}" for i in first]
    np.testing.assert_array_equal(shown[0].images[0].get_array(), images[first[0]])
    assert plotting.plot_misclassified(images, y_true, y_pred, DIGIT_NAMES, max_images=20).get_suptitle() == \
        "20 of 60 misclassified"


@pytest.mark.lesson10
def test_plot_misclassified_says_so_when_there_is_no_mistake():
    """Without mistakes, is there no image but a sentence saying so?"""
    images, y_true, _ = _mistakes(0)
    fig = plotting.plot_misclassified(images, y_true, y_true, DIGIT_NAMES)
    assert not image_axes(fig)
    assert [t.get_text() for t in fig.axes[0].texts] == ["no misclassified images"]


@pytest.mark.lesson10
def test_plot_misclassified_checks_its_arguments():
    """Are label arrays of different lengths and a max_images below 1 refused?"""
    images, y_true, y_pred = _mistakes(3)
    with pytest.raises(ValueError, match="must hold the same number of examples"):
        plotting.plot_misclassified(images, y_true[:-1], y_pred, DIGIT_NAMES)
    with pytest.raises(ValueError, match="max_images must be a positive integer"):
        plotting.plot_misclassified(images, y_true, y_pred, DIGIT_NAMES, max_images=0)


# ---------------------------------------------------------------------------------------------- confusion matrix

CM = np.array([[5, 1, 0], [2, 7, 0], [0, 0, 0]])


@pytest.mark.lesson10
def test_plot_confusion_matrix_writes_each_count_in_its_cell():
    """Is the matrix one image with the count of cell (i, j) written at column j, row i, and named axes?"""
    ax = plotting.plot_confusion_matrix(CM, ("cat", "dog", "bird"))
    assert len(ax.images) == 1
    np.testing.assert_array_equal(ax.images[0].get_array(), CM)
    written = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts}
    assert written == {(i, j): str(CM[i, j]) for i in range(3) for j in range(3)}
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "bird"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "bird"]


@pytest.mark.lesson10
def test_plot_confusion_matrix_colours_text_for_contrast():
    """Is the text white on the darkest cells, black on light ones, and grey for zeros?"""
    ax = plotting.plot_confusion_matrix(CM, ("a", "b", "c"))
    colour = {t.get_text(): t.get_color() for t in ax.texts}
    assert colour["7"] == "white" and colour["1"] == "black" and colour["0"] != "black"


@pytest.mark.lesson10
def test_plot_confusion_matrix_normalized_shows_row_fractions():
    """With normalize=True, does each row with examples sum to 1 (an empty row staying 0), written to 2 decimals?"""
    ax = plotting.plot_confusion_matrix(CM, ("a", "b", "c"), normalize=True)
    fractions = np.asarray(ax.images[0].get_array())
    np.testing.assert_allclose(fractions.sum(axis=1), [1.0, 1.0, 0.0])
    np.testing.assert_allclose(fractions[1], [2 / 9, 7 / 9, 0.0])
    assert {t.get_text() for t in ax.texts} == {"0.83", "0.17", "0.22", "0.78", "0"}


@pytest.mark.lesson10
def test_plot_confusion_matrix_draws_into_a_given_axes():
    """Does it draw into the Axes it is given and return it?"""
    fig, (left, right) = plt.subplots(1, 2)
    assert plotting.plot_confusion_matrix(CM, ("a", "b", "c"), ax=right) is right
    assert not left.images and len(right.images) == 1


@pytest.mark.lesson10
def test_plot_confusion_matrix_checks_shapes():
    """Are a non-square matrix and a wrong number of class names refused with the shapes named?"""
    with pytest.raises(ValueError, match=r"cm has shape \(2, 3\) but expected \(2, 2\)"):
        plotting.plot_confusion_matrix(np.zeros((2, 3)), ("a", "b"))
    with pytest.raises(ValueError, match=r"class_names has 2 names but cm has shape \(3, 3\)"):
        plotting.plot_confusion_matrix(CM, ("a", "b"))
