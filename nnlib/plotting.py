"""The course's pictures: digits, probabilities, curves, decision boundaries and weights.

Every function takes plain NumPy data and **returns the matplotlib Figure** it drew on; none of
them calls ``plt.show()``. Most also accept ``ax=`` to draw into an Axes you already have (for
example one panel of your own ``plt.subplots``); they then return ``ax.figure``.

In a notebook the figure appears below the cell by itself. If the call is the cell's *last*
line, Jupyter shows the returned figure a second time as the cell's value: end the line with
``;`` or assign the result (``fig = plot_digits(...)``) to see it once.

All pictures share one calm style: the colour-blind-safe palette of seaborn ("colorblind",
based on Okabe & Ito), light horizontal grid lines, no top and right frame, labelled axes, no
text smaller than ``MIN_FONT_SIZE`` (9 pt) at the size the figure is shown, and legends beside
or below the data, never over it. Importing this module sets that style (``COURSE_STYLE``) for
every figure, the lessons' own included; ``use_course_style()`` sets it again.
"""

import math
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.colors import LinearSegmentedColormap, ListedColormap
from matplotlib.ticker import MaxNLocator, PercentFormatter

# The seaborn "colorblind" palette: distinguishable with every common colour-vision deficiency.
PALETTE = sns.color_palette("colorblind", 10).as_hex()
BLUE, ORANGE, GREEN, VERMILION = PALETTE[0], PALETTE[1], PALETTE[2], PALETTE[3]
WRONG = VERMILION          # a wrong prediction
NEUTRAL = "#c8c8c8"        # bars and shapes that are not the point of the picture
INK = "#333333"            # text and reference lines
GRID = "#e6e6e6"
# For overlaid curves: the palette reordered so that neighbours differ most (orange, vermilion
# and brown side by side are hard to tell apart), with a line style each as a second cue.
CURVE_COLORS = [PALETTE[i] for i in (0, 3, 2, 4, 1, 9, 7, 6, 5, 8)]
CURVE_STYLES = ["-", "--", "-.", ":"]

# No text below 9 pt. A notebook shows a figure at most about MAX_SHOWN_WIDTH inches wide and
# scales a wider one down, so a wide figure needs its text larger in proportion.
MIN_FONT_SIZE = 9
MAX_SHOWN_WIDTH = 10.0
COURSE_STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "figure.titlesize": 12,
    "axes.prop_cycle": plt.cycler(color=CURVE_COLORS),
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def use_course_style():
    """Set the course's figure style (``COURSE_STYLE``) in matplotlib's rcParams."""
    plt.rcParams.update(COURSE_STYLE)


def shown_font_sizes(fig):
    """The size in points of every visible text of ``fig`` as a notebook shows it.

    A figure wider than ``MAX_SHOWN_WIDTH`` inches is scaled down to that width, and its text
    with it. Used by the tests to keep every figure legible.
    """
    fig.canvas.draw()
    scale = min(1.0, MAX_SHOWN_WIDTH / fig.get_size_inches()[0])
    return [text.get_fontsize() * scale for text in fig.findobj(plt.Text)
            if text.get_visible() and text.get_text().strip()
            and (text.axes is None or text.axes.get_visible())]


use_course_style()


# --- shared helpers --------------------------------------------------------------------------

def _tidy(ax, grid="y"):
    """Apply the course style to one Axes: no top/right frame, a light grid behind the data."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#888888")
    ax.tick_params(colors=INK, labelsize=9)
    ax.set_axisbelow(True)
    ax.grid(False)
    if grid:
        ax.grid(True, axis=grid, color=GRID, linewidth=0.8)


def _figure_and_axes(ax, figsize):
    """Return (figure, ax): the given Axes' figure, or a new single-panel figure."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _class_name(class_id, class_names):
    """The display name of a class id: its entry in class_names, or the id itself."""
    class_id = int(class_id)
    return str(class_names[class_id]) if class_names is not None else str(class_id)


def _check_class_names(class_names, n_classes, what="classes"):
    """Raise a clear error when class_names is too short for the n_classes to show."""
    if class_names is not None and len(class_names) < n_classes:
        raise ValueError(f"class_names has {len(class_names)} names but there are {n_classes} "
                         f"{what}; pass one name per class (or class_names=None).")


def _slant_long_names(ax, names):
    """Slant the x tick labels when class names are words, so that they do not overlap."""
    if max(len(name) for name in names) > 3:
        ax.tick_params(axis="x", labelrotation=40)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")


def _format_number(value, fmt):
    """format(value, fmt), without the confusing "-0.00" that tiny negative numbers give."""
    text = format(value, fmt)
    return text[1:] if text.startswith("-") and float(text.rstrip("%")) == 0 else text


def _class_colors(n_classes):
    """One palette colour per class (the palette repeats after 10 classes)."""
    return [PALETTE[k % len(PALETTE)] for k in range(n_classes)]


def _as_labels(y, name):
    """Return class ids as a 1-D int array; (N, C) one-hot or probability rows become argmax."""
    y = np.asarray(y)
    if y.ndim == 2:
        y = y.argmax(axis=1)
    if y.ndim != 1:
        raise ValueError(f"{name} must be (N,) class ids or (N, C) one-hot/probabilities; "
                         f"got shape {y.shape}.")
    if np.issubdtype(y.dtype, np.floating) and np.any(np.mod(y, 1) != 0):
        raise ValueError(f"{name} must hold whole-number class ids; got values such as "
                         f"{y[np.mod(y, 1) != 0][0]!r}. Use probabilities.argmax(axis=1).")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"{name} holds a negative class id ({y.min()}); class ids start at 0.")
    return y


def _square_side(n_pixels, shape):
    """The side of a square image with n_pixels pixels, or a clear error."""
    side = math.isqrt(n_pixels)
    if side * side != n_pixels:
        raise ValueError(f"cannot show images of shape {shape} as square pictures: "
                         f"{n_pixels} pixels is not a square number. Pass (N, 784) or "
                         f"(N, 28, 28) arrays.")
    return side


def _as_image_batch(images):
    """Return images as an (N, side, side) array; accepts (N, side*side) or (N, side, side)."""
    images = np.asarray(images)
    if images.ndim == 2:
        side = _square_side(images.shape[1], images.shape)
        return images.reshape(len(images), side, side)
    if images.ndim == 3:
        return images
    raise ValueError(f"images must be (N, 784) or (N, 28, 28); got shape {images.shape}. "
                     f"For a single image x use x[None].")


def _as_image(image):
    """Return one image as a (side, side) array; accepts (side*side,), (side, side) or (1, ...)."""
    image = np.asarray(image)
    if image.ndim >= 2 and image.shape[0] == 1 and image.size == np.prod(image.shape[1:]):
        image = image[0]
    if image.ndim == 1:
        side = _square_side(image.size, image.shape)
        return image.reshape(side, side)
    if image.ndim == 2:
        return image
    raise ValueError(f"image must be (784,) or (28, 28); got shape {image.shape}.")


# --- digits and probabilities -----------------------------------------------------------------

def plot_digits(images, labels=None, predictions=None, ncols=10, class_names=None, ax_size=1.2):
    """Show images in a grid, each titled with its label or "prediction (true label)".

    Args:
        images: (N, 784) or (N, 28, 28) pixel values (any scale; shown dark on light).
        labels: optional (N,) true class ids.
        predictions: optional (N,) predicted class ids. With labels, titles read
            "pred (true)" and wrong predictions are drawn in red.
        ncols: images per row.
        class_names: optional names to show instead of class ids (e.g. Fashion-MNIST's).
        ax_size: size of one tile in inches.

    Returns:
        The Figure, with one Axes per grid cell (unused cells are hidden).
    """
    images = _as_image_batch(images)
    n_images = len(images)
    if n_images == 0:
        raise ValueError("plot_digits got no images; pass at least one.")
    labels = None if labels is None else _as_labels(labels, "labels")
    predictions = None if predictions is None else _as_labels(predictions, "predictions")
    for name, ids in (("labels", labels), ("predictions", predictions)):
        if ids is not None and len(ids) != n_images:
            raise ValueError(f"{name} has {len(ids)} entries but there are {n_images} images; "
                             f"pass one per image.")
        if ids is not None:
            _check_class_names(class_names, ids.max() + 1)

    ncols = max(1, min(ncols, n_images))
    nrows = math.ceil(n_images / ncols)
    ax_size = min(ax_size, (MAX_SHOWN_WIDTH - 0.1) / ncols)  # wider would be shown scaled down
    has_titles = labels is not None or predictions is not None
    # names like "Ankle boot (Sneaker)" are too wide for one tile: put the true one below
    two_line_titles = class_names is not None and labels is not None and predictions is not None
    title_height = 0.0 if not has_titles else 0.45 if two_line_titles else 0.3
    fig_height = nrows * (ax_size + title_height) + 0.1
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(ncols * ax_size + 0.1, fig_height))
    fig.subplots_adjust(left=0.05 / (ncols * ax_size), right=1 - 0.05 / (ncols * ax_size),
                        bottom=0.05 / fig_height, top=1 - (title_height + 0.05) / fig_height,
                        wspace=0.06, hspace=(title_height + 0.04) / ax_size)

    low, high = float(images.min()), float(images.max())
    for index, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if index >= n_images:
            continue
        ax.imshow(images[index], cmap="gray_r", vmin=low, vmax=high, interpolation="nearest")
        title, color = _digit_title(index, labels, predictions, class_names,
                                    separator="\n" if two_line_titles else " ")
        if title:
            ax.set_title(title, fontsize=MIN_FONT_SIZE, color=color,
                         fontweight="bold" if color == WRONG else "normal", pad=3)
    return fig


def _digit_title(index, labels, predictions, class_names, separator=" "):
    """The title and its colour for image `index` in plot_digits: "pred (true)" or one id."""
    if predictions is None and labels is None:
        return "", INK
    if predictions is None:
        return _class_name(labels[index], class_names), INK
    predicted = _class_name(predictions[index], class_names)
    if labels is None:
        return predicted, INK
    true = _class_name(labels[index], class_names)
    color = WRONG if predictions[index] != labels[index] else INK
    return f"{predicted}{separator}({true})", color


def plot_probability_bars(probabilities, class_names=None, true_label=None, ax=None):
    """Bar chart of one example's class probabilities; the predicted class stands out.

    The predicted (most probable) class is blue, or red when it differs from true_label; the
    true class is outlined in black and marked "true".

    Args:
        probabilities: (C,) probabilities (e.g. one row of softmax output), summing to 1.
        class_names: optional (C,) names for the x axis.
        true_label: optional true class id.
        ax: optional Axes to draw into.

    Returns:
        The Figure; the Axes holds C bars whose heights are the probabilities.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    if probabilities.ndim == 2 and probabilities.shape[0] == 1:
        probabilities = probabilities[0]
    if probabilities.ndim != 1:
        raise ValueError(f"probabilities must be one example's (C,) vector; got shape "
                         f"{probabilities.shape}. For a batch, pick a row: probabilities[i].")
    n_classes = len(probabilities)
    _check_class_names(class_names, n_classes)
    if true_label is not None and not 0 <= int(true_label) < n_classes:
        raise ValueError(f"true_label {true_label} is not a class id in 0..{n_classes - 1}.")

    fig, ax = _figure_and_axes(ax, figsize=(max(4.0, 0.45 * n_classes + 1.5), 3.2))
    predicted = int(probabilities.argmax())
    wrong = true_label is not None and predicted != int(true_label)
    colors = [NEUTRAL] * n_classes
    colors[predicted] = WRONG if wrong else BLUE
    bars = ax.bar(np.arange(n_classes), probabilities, color=colors, width=0.7)
    if true_label is not None:
        true_bar = bars[int(true_label)]
        true_bar.set_edgecolor("black")
        true_bar.set_linewidth(1.5)
        ax.annotate("true", (true_bar.get_x() + true_bar.get_width() / 2, true_bar.get_height()),
                    xytext=(0, 3), textcoords="offset points", ha="center", va="bottom",
                    fontsize=MIN_FONT_SIZE, color=INK)

    names = [_class_name(k, class_names) for k in range(n_classes)]
    ax.set_xticks(np.arange(n_classes), names)
    _slant_long_names(ax, names)
    ax.set_ylim(0, 1.08)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_ylabel("probability")
    ax.set_xlabel("class")
    ax.set_title(f"predicted: {names[predicted]} ({probabilities[predicted]:.0%})",
                 color=WRONG if wrong else INK)
    _tidy(ax)
    return fig


def plot_digit_with_probabilities(image, probabilities, true_label=None, class_names=None,
                                  axes=None):
    """One digit beside the bar chart of the network's class probabilities for it.

    Args:
        image: (784,) or (28, 28) pixel values.
        probabilities: (C,) class probabilities for this image.
        true_label: optional true class id.
        class_names: optional (C,) class names.
        axes: optional pair (ax_image, ax_bars) to draw into.

    Returns:
        The Figure with two Axes: the image, then the bars.
    """
    image = _as_image(image)
    if axes is None:
        axes = plt.subplots(1, 2, figsize=(7.5, 3.2), layout="constrained",
                            gridspec_kw={"width_ratios": (1, 2.2)})[1]
    ax_image, ax_bars = axes
    ax_image.imshow(image, cmap="gray_r", interpolation="nearest")
    ax_image.set_axis_off()
    if true_label is not None:
        ax_image.set_title(f"true: {_class_name(true_label, class_names)}")
    plot_probability_bars(probabilities, class_names=class_names, true_label=true_label,
                          ax=ax_bars)
    return ax_image.figure


# --- training curves --------------------------------------------------------------------------

HISTORY_KEYS = ("loss", "val_loss", "accuracy", "val_accuracy")


def _history_series(history, key):
    """One recorded metric of a history (dict or object with list attributes) as an array."""
    values = history.get(key, ()) if isinstance(history, Mapping) else getattr(history, key, ())
    return np.asarray(values if values is not None else (), dtype=float)


def plot_training_curves(history):
    """Loss and accuracy per epoch, training beside validation, in two panels.

    Args:
        history: what ``Sequential.fit`` returns (an object with list attributes ``loss``,
            ``val_loss``, ``accuracy``, ``val_accuracy``) or a dict with those keys. Any of
            them may be missing or empty. Accuracies are fractions in [0, 1].

    Returns:
        The Figure with two Axes: loss (left) and accuracy (right). The best validation
        accuracy is marked with a dot.
    """
    has_any = (isinstance(history, Mapping) and any(key in history for key in HISTORY_KEYS)) or \
        (not isinstance(history, Mapping) and any(hasattr(history, key) for key in HISTORY_KEYS))
    if not has_any:
        raise TypeError(f"history must be a dict or an object (like the History that "
                        f"Sequential.fit returns) with some of {', '.join(HISTORY_KEYS)}; "
                        f"got {type(history).__name__}.")
    fig, (ax_loss, ax_accuracy) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    for ax, metric in ((ax_loss, "loss"), (ax_accuracy, "accuracy")):
        train = _history_series(history, metric)
        validation = _history_series(history, f"val_{metric}")
        _plot_train_and_validation(ax, metric, train, validation)
    return fig


def _plot_train_and_validation(ax, metric, train, validation, empty_message=None):
    """Draw one panel of plot_training_curves (also used by widgets.TrainingMonitor)."""
    _tidy(ax, grid="both")
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(metric.capitalize())
    if len(train) == 0 and len(validation) == 0:
        ax.text(0.5, 0.5, empty_message or f"no {metric} recorded", transform=ax.transAxes, ha="center",
                va="center", color="#888888")
        ax.set_xticks([])
        ax.set_yticks([])
        return
    for values, label, color in ((train, "training", BLUE), (validation, "validation", ORANGE)):
        if len(values):
            epochs = np.arange(1, len(values) + 1)
            ax.plot(epochs, values, color=color, label=label, linewidth=2,
                    marker="o" if len(values) <= 30 else None, markersize=4)
    if len(validation):
        best = int(validation.argmax() if metric == "accuracy" else validation.argmin())
        ax.plot(best + 1, validation[best], "o", markersize=9, markerfacecolor="none",
                markeredgecolor=INK, label=f"best validation (epoch {best + 1})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if metric == "accuracy":
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    # below the panel, always in the same place: over the curves it would hide them, and a
    # "best" position would jump from corner to corner while a live monitor redraws
    ax.legend(frameon=False, fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)


def plot_curves(curves, xlabel="epoch", ylabel="loss", ax=None, logy=False):
    """Overlay several named curves, e.g. the loss of each optimizer (lesson 05).

    Args:
        curves: dict name -> (T,) sequence of values; curves may have different lengths.
            Point t is drawn at x = t + 1 (the first epoch is epoch 1).
        xlabel, ylabel: axis labels.
        ax: optional Axes to draw into.
        logy: use a logarithmic y axis (values must then be positive).

    Returns:
        The Figure; its Axes holds one line per curve, labelled with its name.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty dict of name -> sequence of values, "
                         "e.g. {'SGD': sgd_losses, 'Adam': adam_losses}.")
    fig, ax = _figure_and_axes(ax, figsize=(6.5, 4))
    for index, (name, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        if values.ndim != 1:
            raise ValueError(f"curve {name!r} must be a 1-D sequence; got shape {values.shape}.")
        ax.plot(np.arange(1, len(values) + 1), values, label=str(name), linewidth=2,
                color=CURVE_COLORS[index % len(CURVE_COLORS)],
                linestyle=CURVE_STYLES[index // 2 % len(CURVE_STYLES)])
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10], integer=True))
    # below the data, never on it; long names one per row, short ones side by side
    longest = max(len(str(name)) for name in curves)
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16),
              ncol=1 if longest > 24 else min(len(curves), 3))
    _tidy(ax, grid="both")
    return fig


# --- 2-D pictures: decision boundaries and hidden units -----------------------------------------

def _interpret_predictions(output, n_points):
    """Turn predict's output on the grid into (values, kind), kind "class" or "probability".

    (M,) integers -> class ids; (M,) fractions in [0, 1] or (M, 1) -> probability of class 1;
    (M, C) with C >= 2 -> class ids by argmax.
    """
    output = np.asarray(output)
    if output.ndim == 2 and output.shape[1] == 1:
        output = output[:, 0]
    elif output.ndim == 2:
        output = output.argmax(axis=1)
    if output.ndim != 1 or len(output) != n_points:
        raise ValueError(f"predict must map (M, 2) points to (M,) class ids, (M,) or (M, 1) "
                         f"probabilities of class 1, or (M, C) probabilities; for M = "
                         f"{n_points} it returned shape {np.shape(output)}.")
    is_whole = np.issubdtype(output.dtype, np.integer) or np.issubdtype(output.dtype, np.bool_) \
        or np.all(np.mod(output, 1) == 0)
    if is_whole:
        return output.astype(np.int64), "class"
    if output.min() < 0 or output.max() > 1:
        raise ValueError("predict returned numbers that are neither class ids nor "
                         "probabilities in [0, 1]; apply sigmoid/softmax first.")
    return output.astype(float), "probability"


def plot_decision_boundary(predict, X, y, ax=None, resolution=200, padding=0.5, title=None):
    """Colour the plane by what a classifier predicts there, and draw the data on top.

    Args:
        predict: function mapping (M, 2) points to (M,) class ids, (M,) or (M, 1)
            probabilities of class 1, or (M, C) class probabilities.
        X: (N, 2) points.
        y: (N,) class ids (or (N, C) one-hot).
        ax: optional Axes to draw into.
        resolution: grid points per axis (resolution**2 calls' worth of predictions).
        padding: margin around the data, in data units.
        title: optional title.

    Returns:
        The Figure. The Axes holds the filled contour (classes, or the probability with its
        0.5 line) covering the data range plus padding, and one scatter per class.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must be (N, 2) points in the plane; got shape {X.shape}.")
    y = _as_labels(y, "y")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} points but y has {len(y)} labels.")

    x_grid = np.linspace(X[:, 0].min() - padding, X[:, 0].max() + padding, resolution)
    y_grid = np.linspace(X[:, 1].min() - padding, X[:, 1].max() + padding, resolution)
    xx, yy = np.meshgrid(x_grid, y_grid)
    values, kind = _interpret_predictions(predict(np.column_stack([xx.ravel(), yy.ravel()])),
                                          xx.size)
    values = values.reshape(xx.shape)

    n_classes = int(max(y.max(initial=0), values.max() if kind == "class" else 1)) + 1
    colors = _class_colors(n_classes)
    fig, ax = _figure_and_axes(ax, figsize=(5.5, 4.5))
    if kind == "class":
        ax.contourf(xx, yy, values, levels=np.arange(n_classes + 1) - 0.5,
                    cmap=ListedColormap(colors), alpha=0.25)
    else:
        two_sided = LinearSegmentedColormap.from_list("class0_to_class1",
                                                      [colors[0], "#ffffff", colors[1]])
        filled = ax.contourf(xx, yy, values, levels=np.linspace(0, 1, 11), cmap=two_sided,
                             alpha=0.45)
        ax.contour(xx, yy, values, levels=[0.5], colors=INK, linewidths=1.2, linestyles="--")
        fig.colorbar(filled, ax=ax, label="P(class 1)", ticks=[0, 0.5, 1])
    for class_id in np.unique(y):
        in_class = y == class_id
        ax.scatter(X[in_class, 0], X[in_class, 1], s=36, color=colors[class_id],
                   edgecolor="white", linewidth=0.8, label=f"class {class_id}", zorder=3)
    ax.set_xlim(x_grid[0], x_grid[-1])
    ax.set_ylim(y_grid[0], y_grid[-1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.legend(frameon=True, framealpha=0.85, edgecolor="none", fontsize=9, loc="best")
    _tidy(ax, grid=None)
    if title:
        ax.set_title(title)
    return fig


def _line_in_box(weights, bias, xlim, ylim):
    """End points of the line w1*x + w2*y + b = 0 inside the box, or None if it misses it."""
    w1, w2 = weights
    points = []
    if w2 != 0:
        points += [(x, -(w1 * x + bias) / w2) for x in xlim]
    if w1 != 0:
        points += [(-(w2 * y + bias) / w1, y) for y in ylim]
    tolerance = 1e-9 * (abs(xlim[1] - xlim[0]) + abs(ylim[1] - ylim[0]))
    inside = [(x, y) for x, y in points
              if min(xlim) - tolerance <= x <= max(xlim) + tolerance
              and min(ylim) - tolerance <= y <= max(ylim) + tolerance]
    if len(inside) < 2:
        return None
    # the two points farthest apart (corners can appear twice)
    pairs = [(a, b) for i, a in enumerate(inside) for b in inside[i + 1:]]
    return max(pairs, key=lambda pair: np.hypot(pair[0][0] - pair[1][0], pair[0][1] - pair[1][1]))


def plot_hidden_unit_lines(W, b, ax=None, xlim=None, ylim=None):
    """Draw, for each hidden unit j, the line W[0, j] x1 + W[1, j] x2 + b[j] = 0 (lesson 03).

    On one side of its line a unit's pre-activation is positive, on the other negative; the
    small arrow points to the positive side (along the weight vector). Lines that miss the
    window are left out.

    Args:
        W: (2, H) weights of the first Dense layer.
        b: (H,) its biases.
        ax: optional Axes, e.g. the one plot_decision_boundary drew on.
        xlim, ylim: the window (defaults: the Axes' current limits).

    Returns:
        The Figure; one line per hidden unit that crosses the window, labelled "unit j".
    """
    W = np.asarray(W, dtype=float)
    b = np.asarray(b, dtype=float).reshape(-1)
    if W.ndim != 2 or W.shape[0] != 2:
        raise ValueError(f"W must be (2, H), the weights from 2 inputs to H hidden units; got "
                         f"shape {W.shape}." + (" Did you pass W.T?" if W.ndim == 2
                                                 and W.shape[1] == 2 else ""))
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have one bias per hidden unit, shape ({W.shape[1]},); "
                         f"got {b.shape}.")
    fig, ax = _figure_and_axes(ax, figsize=(5, 4.5))
    xlim = tuple(xlim) if xlim is not None else ax.get_xlim()
    ylim = tuple(ylim) if ylim is not None else ax.get_ylim()
    arrow_length = 0.08 * np.hypot(xlim[1] - xlim[0], ylim[1] - ylim[0])
    for unit in range(W.shape[1]):
        ends = _line_in_box(W[:, unit], b[unit], xlim, ylim)
        if ends is None:
            continue
        color = PALETTE[(unit + 2) % len(PALETTE)]  # skip the two colours of classes 0 and 1
        (x0, y0), (x1, y1) = ends
        ax.plot([x0, x1], [y0, y1], color=color, linewidth=2, label=f"unit {unit + 1}")
        middle = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        direction = W[:, unit] / np.linalg.norm(W[:, unit])
        ax.annotate("", xy=middle + arrow_length * direction, xytext=middle,
                    arrowprops={"arrowstyle": "->", "color": color, "linewidth": 1.5})
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    ax.legend(frameon=True, framealpha=0.85, edgecolor="none", fontsize=9)
    return fig


# --- confusion matrix -------------------------------------------------------------------------

def confusion_matrix(y_true, y_pred, n_classes=None):
    """Count how often each true class was predicted as each class.

    counts[i, j] = number of examples whose true class is i and predicted class is j, so the
    diagonal holds the correct predictions and each row sums to the size of that class.

    Args:
        y_true: (N,) true class ids (or (N, C) one-hot).
        y_pred: (N,) predicted class ids (or (N, C) probabilities: argmax is taken).
        n_classes: number of classes C (default: the largest id seen + 1).

    Returns:
        (C, C) int64 array, rows = true class, columns = predicted class.
    """
    y_true = _as_labels(y_true, "y_true")
    y_pred = _as_labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}; "
                         f"they must describe the same examples.")
    largest = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)))
    if n_classes is None:
        n_classes = largest + 1
    elif largest >= n_classes:
        raise ValueError(f"class id {largest} does not fit n_classes={n_classes}; ids must be "
                         f"in 0..{n_classes - 1}.")
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)  # add.at counts repeated (i, j) pairs correctly
    return counts


def plot_confusion_matrix(y_true, y_pred, class_names=None, normalize=False, ax=None):
    """Annotated heatmap of the confusion matrix (rows: true class, columns: predicted).

    Args:
        y_true, y_pred: (N,) class ids, as for confusion_matrix.
        class_names: optional (C,) names for the axes.
        normalize: if True, show each row as fractions of its true class (the diagonal is then
            the per-class recall); otherwise raw counts.
        ax: optional Axes to draw into.

    Returns:
        The Figure; the heatmap's values are the (normalised) confusion matrix. Zero cells are
        left unlabelled so that the mistakes stand out.
    """
    n_classes = len(class_names) if class_names is not None else None
    counts = confusion_matrix(y_true, y_pred, n_classes=n_classes)
    n_classes = len(counts)
    if normalize:
        row_totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)
        text = np.where(counts > 0, np.char.mod("%.0f%%", 100 * values), "")
        text[(counts > 0) & (values < 0.005)] = "<1%"
    else:
        values = counts
        text = np.where(counts > 0, counts.astype(str), "")

    size = 0.55 * n_classes + 2
    fig, ax = _figure_and_axes(ax, figsize=(size + 1, size))
    names = [_class_name(k, class_names) for k in range(n_classes)]
    sns.heatmap(values, ax=ax, annot=text, fmt="", cmap="Blues", square=True,
                linewidths=0.5, linecolor="white", xticklabels=names, yticklabels=names,
                vmin=0, vmax=1 if normalize else None, annot_kws={"fontsize": MIN_FONT_SIZE},
                cbar_kws={"label": "fraction of the true class" if normalize else "examples",
                          "shrink": 0.8})
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.tick_params(axis="y", labelrotation=0)
    _slant_long_names(ax, names)
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    ax.set_title(f"Confusion matrix ({counts.sum()} examples, accuracy {accuracy:.1%})")
    return fig


# --- weights, activations, functions ----------------------------------------------------------

def plot_weight_tiles(W, ncols=16, image_shape=(28, 28), ax_size=0.8):
    """Show each hidden unit's incoming weights as an image: what pattern excites the unit.

    Red pixels have positive weights (ink there raises the unit's input), blue negative. All
    tiles share one colour scale, symmetric around 0.

    Args:
        W: (784, H) weights of the first Dense layer (one column per hidden unit).
        ncols: tiles per row.
        image_shape: the shape of one input image, (28, 28) for MNIST.
        ax_size: size of one tile in inches.

    Returns:
        The Figure with one image per hidden unit and a shared colour bar.
    """
    W = np.asarray(W, dtype=float)
    n_pixels = int(np.prod(image_shape))
    if W.ndim != 2 or W.shape[0] != n_pixels:
        hint = " Did you pass W.T?" if W.ndim == 2 and W.shape[1] == n_pixels else ""
        raise ValueError(f"W must be ({n_pixels}, H), one column per hidden unit for "
                         f"{image_shape} images; got shape {W.shape}.{hint}")
    n_units = W.shape[1]
    ncols = max(1, min(ncols, n_units))
    nrows = math.ceil(n_units / ncols)
    height, width = image_shape
    gap = 2  # pixels of white between tiles
    ax_size = min(ax_size, (MAX_SHOWN_WIDTH - 1.0) / ncols)  # wider would be shown scaled down
    fig, ax = plt.subplots(figsize=(ncols * ax_size + 1.0, nrows * ax_size + 0.5),
                           layout="constrained")
    # All tiles go into one Axes, each placed by its extent: far quicker to lay out and draw
    # than one Axes per hidden unit.
    limit = float(np.abs(W).max()) or 1.0
    image = None
    for unit in range(n_units):
        row, col = divmod(unit, ncols)
        left, top = col * (width + gap), row * (height + gap)
        image = ax.imshow(W[:, unit].reshape(image_shape), cmap="RdBu_r", vmin=-limit,
                          vmax=limit, interpolation="nearest",
                          extent=(left, left + width, top + height, top))
    ax.set_xlim(-gap / 2, ncols * (width + gap) - gap / 2)
    ax.set_ylim(nrows * (height + gap) - gap / 2, -gap / 2)
    ax.set_axis_off()
    fig.colorbar(image, ax=ax, label="weight", shrink=0.9, aspect=15)
    fig.suptitle(f"Weights into {n_units} hidden units", fontsize=11)
    return fig


def plot_activation_histograms(activations, bins=50):
    """One histogram per layer of its activations, titled with their mean and std (lesson 05).

    Shows at a glance whether a weight initialisation keeps the signal alive: activations that
    collapse to 0 or pile up at +-1 in deep layers mean gradients will vanish.

    Args:
        activations: dict layer name -> array of activations (any shape; all values used).
        bins: number of histogram bins (shared edges across layers).

    Returns:
        The Figure with one Axes per layer (all with the same x range), up to 5 per row.
    """
    if not isinstance(activations, Mapping) or not activations:
        raise ValueError("activations must be a non-empty dict of layer name -> array, "
                         "e.g. {'layer 1': a1, 'layer 2': a2}.")
    arrays = {name: np.asarray(values, dtype=float).ravel() for name, values in
              activations.items()}
    everything = np.concatenate(list(arrays.values()))
    if everything.size == 0 or not np.all(np.isfinite(everything)):
        raise ValueError("the activations must be non-empty and finite (no nan or inf); "
                         "check the forward pass for overflow.")
    low, high = everything.min(), everything.max()
    edges = np.linspace(low, high if high > low else low + 1, bins + 1)

    n_layers = len(arrays)
    ncols = min(n_layers, 5)
    nrows = math.ceil(n_layers / ncols)
    panel_width = min(2.6, (MAX_SHOWN_WIDTH - 0.4) / ncols)  # the figure fits the page
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, layout="constrained",
                             figsize=(panel_width * ncols + 0.4, 2.4 * nrows + 0.3))
    for ax, (name, values) in zip(axes.flat, arrays.items()):
        ax.hist(values, bins=edges, color=BLUE, alpha=0.85)
        ax.set_title(f"{name}\nmean {_format_number(values.mean(), '.2f')}, "
                     f"std {_format_number(values.std(), '.2f')}", fontsize=10)
        ax.set_xlim(edges[0], edges[-1])  # the same range in every panel, to compare them
        ax.set_xlabel("activation")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        _tidy(ax)
    for ax in axes[:, 0]:
        ax.set_ylabel("count")
    for ax in list(axes.flat)[n_layers:]:
        ax.set_visible(False)
    return fig


def plot_function_and_derivative(f, df, x=None, name="sigmoid", ax=None):
    """Draw an activation function and its derivative on the same axes (lesson 02).

    Args:
        f: the function, vectorised: (M,) -> (M,).
        df: its derivative, taking the same input z: (M,) -> (M,).
        x: (M,) points to evaluate at (default: 601 points on [-6, 6]).
        name: the function's name for the legend and title.
        ax: optional Axes to draw into.

    Returns:
        The Figure; its Axes holds two lines: f (solid) and df (dashed).
    """
    z = np.linspace(-6, 6, 601) if x is None else np.asarray(x, dtype=float)
    fig, ax = _figure_and_axes(ax, figsize=(5.5, 3.8))
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.axvline(0, color="#999999", linewidth=0.8)
    ax.plot(z, f(z), color=BLUE, linewidth=2.2, label=f"{name}(z)")
    ax.plot(z, df(z), color=ORANGE, linewidth=2.2, linestyle="--", label=f"{name}'(z)")
    ax.set_xlabel("z (pre-activation)")
    ax.set_ylabel("value")
    ax.set_title(f"{name} and its derivative")
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)  # below
    _tidy(ax, grid="both")
    return fig


def plot_heatmap(matrix, labels=None, title=None, ax=None, cmap=None, annotate=True, fmt=".2f"):
    """Annotated heatmap of a small matrix, e.g. the softmax Jacobian (lesson 02).

    Args:
        matrix: (R, K) values.
        labels: optional names for the rows and columns (for a square matrix), or a pair
            (row_labels, column_labels).
        title: optional title.
        ax: optional Axes to draw into.
        cmap: colormap name; default: diverging red-blue centred on 0 when the matrix has both
            signs, else sequential blues.
        annotate: write each value in its cell (format fmt).

    Returns:
        The Figure; the heatmap's cell values are the matrix.
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D; got shape {matrix.shape}.")
    n_rows, n_cols = matrix.shape
    if labels is None:
        row_labels = col_labels = "auto"
    elif len(labels) == 2 and all(hasattr(part, "__len__") and not isinstance(part, str)
                                  for part in labels):
        row_labels, col_labels = labels
    else:
        row_labels = col_labels = list(labels)
    if row_labels != "auto" and (len(row_labels) != n_rows or len(col_labels) != n_cols):
        raise ValueError(f"labels do not fit a {n_rows}x{n_cols} matrix: pass {n_rows} names "
                         f"(square matrix) or a pair (row_labels, column_labels).")

    # symmetric limits put 0 at the white middle of the diverging map
    two_signs = matrix.min() < 0 < matrix.max()
    limit = float(np.abs(matrix).max()) or 1.0
    fig, ax = _figure_and_axes(ax, figsize=(0.6 * n_cols + 2.2, 0.55 * n_rows + 1.2))
    text = np.vectorize(lambda value: _format_number(value, fmt))(matrix) if annotate else False
    sns.heatmap(matrix, ax=ax, annot=text, fmt="", square=True,
                cmap=cmap or ("RdBu_r" if two_signs else "Blues"),
                vmin=-limit if two_signs else None, vmax=limit if two_signs else None,
                linewidths=0.5, linecolor="white",
                xticklabels=col_labels, yticklabels=row_labels, annot_kws={"fontsize": 9},
                cbar_kws={"shrink": 0.8})
    ax.tick_params(axis="y", labelrotation=0)
    if title:
        ax.set_title(title)
    return fig


def plot_class_balance(y, class_names=None, ax=None):
    """Bar chart of how many examples each class has, with the equal share marked.

    Args:
        y: (N,) class ids (or (N, C) one-hot).
        class_names: optional (C,) names; classes with no example still get a (zero) bar.
        ax: optional Axes to draw into.

    Returns:
        The Figure; its Axes holds one bar per class, heights = counts.
    """
    y = _as_labels(y, "y")
    if len(y) == 0:
        raise ValueError("y is empty; pass the labels of at least one example.")
    n_classes = max(int(y.max()) + 1, len(class_names) if class_names is not None else 0)
    _check_class_names(class_names, n_classes)
    counts = np.bincount(y, minlength=n_classes)
    names = [_class_name(k, class_names) for k in range(n_classes)]

    fig, ax = _figure_and_axes(ax, figsize=(max(4.5, 0.55 * n_classes + 1.5), 3.5))
    bars = ax.bar(np.arange(n_classes), counts, color=BLUE, width=0.7)
    ax.bar_label(bars, labels=[f"{count:,}" for count in counts], fontsize=MIN_FONT_SIZE, padding=2,
                 color=INK, bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3})
    ax.axhline(len(y) / n_classes, color=INK, linestyle="--", linewidth=1, zorder=1.5,
               label=f"equal share ({len(y) / n_classes:,.0f})")
    ax.set_xticks(np.arange(n_classes), names)
    _slant_long_names(ax, names)
    ax.set_xlabel("class")
    ax.set_ylabel("number of examples")
    ax.set_title(f"{len(y):,} examples in {n_classes} classes")
    ax.set_ylim(0, counts.max() * 1.15)
    ax.legend(frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=9)  # above
    _tidy(ax)
    return fig
