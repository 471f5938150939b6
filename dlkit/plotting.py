"""Plotting for the notebooks: cost curves, decision boundaries, image grids and confusion matrices (matplotlib).

Every function draws into the Axes it is given (or a new figure) and returns it; none calls
``plt.show()``, so notebooks show the figure and tests inspect what was drawn.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dlkit.validation import as_array, expect_shape

WRONG_COLOR = "tab:red"
POINT_CMAP = "coolwarm"


def plot_costs(costs, *, label: str | None = None, learning_rate: float | None = None,
               ax: Axes | None = None, every: int = 1) -> Axes:
    """Plot a cost history as one line; call again on the same ``ax`` to compare runs.

    Parameters
    ----------
    costs : array_like of shape (k,)
        Costs recorded every ``every`` epochs (or iterations).
    label : str, optional
        Legend entry for this line.
    learning_rate : float, optional
        Shown in the title.
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    every : int
        Spacing of the records, so the x axis counts epochs: point ``i`` is at ``i * every``.

    Returns
    -------
    ax : matplotlib Axes
    """
    costs = as_array("costs", costs, ndim=1)
    ax = _new_axes((5, 3.5)) if ax is None else ax
    ax.plot(np.arange(len(costs)) * every, costs, label=label)
    ax.set_xlabel("epoch" if every == 1 else f"epoch (recorded every {every})")
    ax.set_ylabel("cost")
    if learning_rate is not None:
        ax.set_title(f"learning rate = {learning_rate:g}")
    if label is not None:
        ax.legend()
    return ax


def _new_axes(figsize: tuple[float, float]) -> Axes:
    """One Axes in a new figure whose layout keeps the labels and title inside it."""
    return plt.subplots(figsize=figsize, layout="constrained")[1]


def _grid(X: np.ndarray, steps: int, margin: float = 0.5):
    """A ``steps`` x ``steps`` grid covering the points of ``X`` (2, m) plus a margin."""
    lows, highs = X.min(axis=1) - margin, X.max(axis=1) + margin  # (2,), (2,)
    xx, yy = np.meshgrid(np.linspace(lows[0], highs[0], steps), np.linspace(lows[1], highs[1], steps))
    return xx, yy


def plot_decision_boundary(predict: Callable[[np.ndarray], np.ndarray], X, Y, *, ax: Axes | None = None,
                           title: str | None = None, steps: int = 200) -> Axes:
    """Colour the plane by a classifier's predictions and draw the labelled points on top.

    Parameters
    ----------
    predict : callable
        Maps points of shape (2, k) to labels of shape (k,) or (1, k); called once on the grid.
    X : ndarray of shape (2, m)
        The points.
    Y : ndarray of shape (1, m) or (m,)
        Their labels (colours of the dots).
    ax : matplotlib Axes, optional
    title : str, optional
    steps : int
        Grid resolution along each axis.

    Returns
    -------
    ax : matplotlib Axes
        Holds one filled contour set (the regions) and one scatter collection (the points).
    """
    X = as_array("X", X, ndim=2)
    expect_shape("X", X, (2, None))
    labels = np.ravel(Y)
    if labels.size != X.shape[1]:
        raise ValueError(f"Y has {labels.size} labels but X has {X.shape[1]} points (shape {X.shape})")
    xx, yy = _grid(X, steps)
    points = np.stack([xx.ravel(), yy.ravel()])  # (2, steps*steps)
    regions = np.reshape(np.asarray(predict(points)), xx.shape)  # (steps, steps)
    ax = _new_axes((5, 4)) if ax is None else ax
    vmin, vmax = min(labels.min(), regions.min()), max(labels.max(), regions.max())
    levels = np.arange(np.floor(vmin), np.ceil(vmax) + 2) - 0.5  # one band per integer label
    ax.contourf(xx, yy, regions, levels=levels, cmap=POINT_CMAP, alpha=0.35, vmin=vmin, vmax=vmax)
    ax.scatter(X[0], X[1], c=labels, cmap=POINT_CMAP, vmin=vmin, vmax=vmax, s=14, edgecolors="k", linewidths=0.3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title is not None:
        ax.set_title(title)
    return ax


def _name(label, class_names: Sequence[str] | None) -> str:
    return str(label) if class_names is None else str(class_names[int(label)])


def _image_title(i: int, labels, predictions, class_names) -> tuple[str, bool]:
    """The title of image ``i`` and whether it is misclassified."""
    if predictions is None:
        return ("" if labels is None else _name(labels[i], class_names)), False
    guess = _name(predictions[i], class_names)
    if labels is None:
        return f"pred: {guess}", False
    wrong = labels[i] != predictions[i]
    return (f"pred: {guess}\ntrue: {_name(labels[i], class_names)}" if wrong else guess), bool(wrong)


def show_images(images, labels=None, *, predictions=None, class_names: Sequence[str] | None = None,
                n_cols: int = 8, ax=None) -> Figure:
    """Show images in a grid, titled by label (and prediction); misclassified ones framed in red.

    Parameters
    ----------
    images : ndarray of shape (k, n_H, n_W) or (k, n_H, n_W, 3)
        Grey or RGB images with values in [0, 1].
    labels : array_like of shape (k,) or (1, k), optional
        True labels, shown as titles.
    predictions : array_like of shape (k,) or (1, k), optional
        Predicted labels; where they differ from ``labels`` the title shows both, in red.
    class_names : sequence of str, optional
        Name of each label (``class_names[label]``).
    n_cols : int
        Images per row.
    ax : array of matplotlib Axes, optional
        At least ``k`` Axes to draw into (e.g. ``plt.subplots(2, 4)[1]``); a new figure by default.
        Axes beyond ``k`` are hidden.

    Returns
    -------
    fig : matplotlib Figure
    """
    images = as_array("images", images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (k, n_H, n_W) or (k, n_H, n_W, 3), got shape {images.shape}")
    k = len(images)
    labels = None if labels is None else np.ravel(labels)
    predictions = None if predictions is None else np.ravel(predictions)
    for name, values in (("labels", labels), ("predictions", predictions)):
        if values is not None and values.size != k:
            raise ValueError(f"{name} has {values.size} entries but there are {k} images")
    axes = _image_axes(k, n_cols, ax)
    for i, axis in enumerate(axes):
        axis.set_xticks([])
        axis.set_yticks([])
        if i >= k:
            axis.set_visible(False)
            continue
        axis.imshow(images[i], cmap="gray" if images.ndim == 3 else None, vmin=0, vmax=1)
        title, wrong = _image_title(i, labels, predictions, class_names)
        axis.set_title(title, fontsize=8, color=WRONG_COLOR if wrong else "black")
        if wrong:
            for spine in axis.spines.values():
                spine.set(color=WRONG_COLOR, linewidth=2.5)
    return axes[0].figure


def _image_axes(k: int, n_cols: int, ax) -> list[Axes]:
    """The Axes to draw ``k`` images into: the caller's, or a new grid (:func:`image_grid`)."""
    if ax is None:
        return list(image_grid(k, n_cols).ravel())
    axes = list(np.ravel(ax))
    if len(axes) < k:
        raise ValueError(f"ax holds {len(axes)} Axes but there are {k} images")
    return axes


def image_grid(k: int, n_cols: int = 8, *, min_width: float = 0.0, title_height: float = 0.0) -> np.ndarray:
    """A new figure with a grid of Axes for ``k`` images, ``n_cols`` to a row (fewer if ``k`` is smaller).

    The figure's layout engine ("compressed") places each image's title above it and a figure
    title (``fig.suptitle``) above the first row, so none overlaps another.

    Parameters
    ----------
    k : int
        Number of images, at least 1.
    n_cols : int
        Images per row.
    min_width : float
        Smallest figure width in inches (room for a long figure title over few images).
    title_height : float
        Inches added above the grid for a figure title.

    Returns
    -------
    axes : ndarray of matplotlib Axes, shape (n_rows, n_cols)
    """
    if k < 1 or n_cols < 1:
        raise ValueError(f"need at least one image and one column, got k={k!r}, n_cols={n_cols!r}")
    n_cols = min(n_cols, k)
    n_rows = -(-k // n_cols)  # ceil(k / n_cols)
    figsize = (max(1.3 * n_cols, min_width), 1.55 * n_rows + title_height)
    return plt.subplots(n_rows, n_cols, figsize=figsize, squeeze=False, layout="compressed")[1]


def plot_misclassified(images, y_true, y_pred, class_names: Sequence[str], max_images: int = 16) -> Figure:
    """Show the first ``max_images`` images whose prediction is wrong, titled with both labels.

    Parameters
    ----------
    images : ndarray of shape (m, n_H, n_W) or (m, n_H, n_W, 3)
    y_true, y_pred : array_like of shape (m,) or (1, m)
    class_names : sequence of str
    max_images : int
        At most this many images are shown, up to 8 to a row.

    Returns
    -------
    fig : matplotlib Figure
        One image per shown mistake (a figure saying so when there is none), under a figure title
        such as "12 of 359 misclassified". Its layout engine keeps that title clear of the image
        titles whatever the number of rows (so ``fig.subplots_adjust`` is neither needed nor applied).
    """
    if isinstance(max_images, bool) or not isinstance(max_images, (int, np.integer)) or max_images < 1:
        raise ValueError(f"max_images must be a positive integer, got {max_images!r}")
    y_true, y_pred = np.ravel(y_true), np.ravel(y_pred)
    if y_true.shape != y_pred.shape or y_true.size != len(images):
        raise ValueError(f"y_true ({y_true.size}), y_pred ({y_pred.size}) and images ({len(images)}) "
                         "must hold the same number of examples")
    wrong = np.flatnonzero(y_true != y_pred)
    if wrong.size == 0:
        fig, axis = plt.subplots(figsize=(4, 1), layout="constrained")
        axis.axis("off")
        axis.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return fig
    shown = wrong[:max_images]
    title = f"{wrong.size} of {y_true.size} misclassified"
    if shown.size < wrong.size:
        title += f", first {shown.size} shown"
    axes = image_grid(shown.size, 8, min_width=0.09 * len(title) + 0.4, title_height=0.3)
    fig = show_images(np.asarray(images)[shown], y_true[shown], predictions=y_pred[shown],
                      class_names=class_names, ax=axes)
    fig.suptitle(title, fontsize=11)
    return fig


def plot_confusion_matrix(cm, class_names: Sequence[str], ax: Axes | None = None, normalize: bool = False) -> Axes:
    """Draw a confusion matrix as a heat map with the count (or fraction) written in each cell.

    Parameters
    ----------
    cm : array_like of shape (K, K)
        ``cm[i, j]`` counts the examples of true class ``i`` predicted as class ``j``
        (as :func:`dlkit.metrics.confusion_matrix` returns it).
    class_names : sequence of str
        ``K`` names, indexed by label; they label the rows ("true") and columns ("predicted").
    ax : matplotlib Axes, optional
        Where to draw; a new figure by default.
    normalize : bool
        Divide each row by its total, so a cell shows the fraction of class ``i`` predicted as
        ``j`` (the diagonal is each class's recall); rows without examples stay 0.

    Returns
    -------
    ax : matplotlib Axes
        Holds one image (the colours) and ``K * K`` texts (the values, zeros in grey), rows = true
        classes.
    """
    cm = as_array("cm", cm, ndim=2)
    K = cm.shape[0]
    expect_shape("cm", cm, (K, K))
    if len(class_names) != K:
        raise ValueError(f"class_names has {len(class_names)} names but cm has shape {cm.shape}")
    values = _row_fractions(cm) if normalize else cm
    side = max(3.2, 0.45 * K + 1.3)
    ax = _new_axes((side + 0.3, side)) if ax is None else ax
    ax.imshow(values, cmap="Blues", vmin=0, vmax=max(float(values.max()), 1e-12))
    for (i, j), value in np.ndenumerate(values):
        text = "0" if value == 0 else f"{value:.2f}" if normalize else f"{value:g}"
        color = "0.65" if value == 0 else "white" if value > values.max() / 2 else "black"
        ax.text(j, i, text, ha="center", va="center", fontsize=8 if K <= 10 else 6, color=color)
    rotation = 45 if K > 4 and max(len(str(name)) for name in class_names) > 3 else 0
    ax.set_xticks(range(K), [str(name) for name in class_names], rotation=rotation,
                  ha="right" if rotation else "center")
    ax.set_yticks(range(K), [str(name) for name in class_names])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    return ax


def _row_fractions(cm: np.ndarray) -> np.ndarray:
    """Each row of ``cm`` (K, K) divided by its sum; an empty row stays zeros."""
    totals = cm.sum(axis=1, keepdims=True)  # (K, 1)
    return np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)
