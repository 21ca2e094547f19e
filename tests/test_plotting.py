"""The course's pictures draw what they claim: checked against the data they were given."""

import matplotlib

matplotlib.use("Agg")  # draw off-screen, without a display

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.colors import to_hex
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

from nnlib import plotting


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def rng():
    return np.random.default_rng(20240601)


def images_in(fig):
    return [image for ax in fig.axes for image in ax.get_images()]


def bar_heights(ax):
    return np.array([patch.get_height() for patch in ax.patches])


def heatmap_values(ax):
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    return np.asarray(mesh.get_array()).reshape(mesh.get_coordinates().shape[0] - 1, -1)


# --- digits and probabilities -----------------------------------------------------------------

def test_plot_digits_draws_one_tile_per_image_and_titles_them(rng):
    images = rng.random((13, 784))
    labels = rng.integers(0, 10, 13)
    predictions = labels.copy()
    predictions[[2, 7]] = (labels[[2, 7]] + 1) % 10

    fig = plotting.plot_digits(images, labels=labels, predictions=predictions, ncols=5)

    assert isinstance(fig, Figure)
    assert len(fig.axes) == 15  # 3 rows of 5; the last two cells stay empty
    tiles = images_in(fig)
    assert len(tiles) == 13
    np.testing.assert_array_equal(tiles[4].get_array(), images[4].reshape(28, 28))
    titles = [ax.title for ax in fig.axes[:13]]
    assert titles[2].get_text() == f"{predictions[2]} ({labels[2]})"
    wrong = {i for i, title in enumerate(titles) if to_hex(title.get_color()) == plotting.WRONG}
    assert wrong == {2, 7}


def test_plot_digits_accepts_square_images_and_class_names(rng):
    images = rng.random((3, 28, 28))
    names = ["cat", "dog", "bird"]
    fig = plotting.plot_digits(images, labels=[2, 0, 1], class_names=names)
    assert [ax.get_title() for ax in fig.axes] == ["bird", "cat", "dog"]
    np.testing.assert_array_equal(images_in(fig)[0].get_array(), images[0])


def test_plot_digits_explains_bad_shapes(rng):
    with pytest.raises(ValueError, match="not a square number"):
        plotting.plot_digits(rng.random((4, 780)))
    with pytest.raises(ValueError, match="labels has 3 entries but there are 4 images"):
        plotting.plot_digits(rng.random((4, 784)), labels=[1, 2, 3])


def test_probability_bars_have_the_probabilities_as_heights(rng):
    probabilities = rng.dirichlet(np.ones(10))
    fig = plotting.plot_probability_bars(probabilities)
    (ax,) = fig.axes
    np.testing.assert_allclose(bar_heights(ax), probabilities)
    predicted = int(probabilities.argmax())
    assert to_hex(ax.patches[predicted].get_facecolor()) == plotting.BLUE
    others = [to_hex(p.get_facecolor()) for i, p in enumerate(ax.patches) if i != predicted]
    assert set(others) == {plotting.NEUTRAL}


def test_probability_bars_show_a_wrong_prediction_and_mark_the_true_class():
    probabilities = np.array([0.1, 0.7, 0.2])
    fig, ax = plt.subplots()
    returned = plotting.plot_probability_bars(probabilities, class_names=["a", "b", "c"],
                                              true_label=2, ax=ax)
    assert returned is fig
    assert to_hex(ax.patches[1].get_facecolor()) == plotting.WRONG
    assert ax.patches[2].get_linewidth() > 0 and to_hex(ax.patches[2].get_edgecolor()) == "#000000"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert "true" in [t.get_text() for t in ax.texts]


def test_probability_bars_reject_a_batch(rng):
    with pytest.raises(ValueError, match="pick a row"):
        plotting.plot_probability_bars(rng.dirichlet(np.ones(10), size=4))


def test_digit_with_probabilities_shows_the_image_beside_the_bars(rng):
    image = rng.random(784)
    probabilities = rng.dirichlet(np.ones(10))
    fig = plotting.plot_digit_with_probabilities(image, probabilities, true_label=3)
    ax_image, ax_bars = fig.axes
    np.testing.assert_array_equal(ax_image.get_images()[0].get_array(), image.reshape(28, 28))
    np.testing.assert_allclose(bar_heights(ax_bars), probabilities)


# --- curves -----------------------------------------------------------------------------------

class FakeHistory:
    def __init__(self):
        self.loss = [1.0, 0.6, 0.4]
        self.val_loss = [1.1, 0.7, 0.5]
        self.accuracy = [0.5, 0.7, 0.8]
        self.val_accuracy = [0.45, 0.75, 0.7]


def test_training_curves_draw_training_and_validation_from_an_object():
    history = FakeHistory()
    fig = plotting.plot_training_curves(history)
    ax_loss, ax_accuracy = fig.axes
    loss_lines = {line.get_label(): line for line in ax_loss.get_lines()}
    np.testing.assert_allclose(loss_lines["training"].get_ydata(), history.loss)
    np.testing.assert_allclose(loss_lines["validation"].get_ydata(), history.val_loss)
    np.testing.assert_array_equal(loss_lines["training"].get_xdata(), [1, 2, 3])
    accuracy_lines = {line.get_label(): line for line in ax_accuracy.get_lines()}
    np.testing.assert_allclose(accuracy_lines["validation"].get_ydata(), history.val_accuracy)
    best = accuracy_lines["best validation (epoch 2)"]
    assert (best.get_xdata()[0], best.get_ydata()[0]) == (2, 0.75)


def test_training_curves_accept_a_dict_with_missing_metrics():
    fig = plotting.plot_training_curves({"loss": [0.9, 0.5], "accuracy": []})
    ax_loss, ax_accuracy = fig.axes
    assert [line.get_label() for line in ax_loss.get_lines()] == ["training"]
    assert ax_accuracy.get_lines() == []
    assert "no accuracy recorded" in [t.get_text() for t in ax_accuracy.texts]


def test_training_curves_explain_what_a_history_is():
    with pytest.raises(TypeError, match="loss"):
        plotting.plot_training_curves([0.9, 0.5])


def test_plot_curves_overlays_named_curves_of_any_length():
    curves = {"SGD": [1.0, 0.8, 0.7, 0.65], "Adam": [1.0, 0.3]}
    fig = plotting.plot_curves(curves, ylabel="training loss", logy=True)
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"SGD", "Adam"}
    np.testing.assert_allclose(lines["Adam"].get_ydata(), curves["Adam"])
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "training loss"


# --- decision boundaries and hidden units -----------------------------------------------------

def two_blobs(rng):
    X = np.concatenate([rng.normal(-1, 0.5, (30, 2)), rng.normal(1, 0.5, (30, 2))])
    y = np.repeat([0, 1], 30)
    return X, y


def probability_of_class_1(points):
    """sigmoid(x1 - 0.5 x2 - 0.2): exactly 0.5 on the line x1 = 0.5 x2 + 0.2."""
    return 1 / (1 + np.exp(-(points[:, 0] - 0.5 * points[:, 1] - 0.2)))


def filled_contour(ax):
    return next(c for c in ax.collections if isinstance(c, ContourSet) and c.filled)


def test_decision_boundary_contour_covers_the_data_and_draws_each_class(rng):
    X, y = two_blobs(rng)
    padding = 0.5
    fig = plotting.plot_decision_boundary(lambda p: (p.sum(axis=1) > 0).astype(int), X, y,
                                          resolution=50, padding=padding, title="blobs")
    ax = fig.axes[0]
    vertices = np.concatenate([path.vertices for path in filled_contour(ax).get_paths()
                               if len(path.vertices)])
    np.testing.assert_allclose(vertices.min(axis=0), X.min(axis=0) - padding)
    np.testing.assert_allclose(vertices.max(axis=0), X.max(axis=0) + padding)
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(s.get_offsets()) for s in scatters] == [30, 30]
    assert ax.get_title() == "blobs"


@pytest.mark.parametrize("output", ["probability", "column", "two_columns"])
def test_decision_boundary_draws_the_half_probability_line_where_it_is(rng, output):
    X, y = two_blobs(rng)

    def predict(points):
        p = probability_of_class_1(points)
        return {"probability": p, "column": p[:, None],
                "two_columns": np.column_stack([1 - p, p])}[output]

    fig = plotting.plot_decision_boundary(predict, X, y, resolution=60)
    ax = fig.axes[0]
    if output == "two_columns":  # argmax: class regions, no probability line
        assert filled_contour(ax).levels.tolist() == [-0.5, 0.5, 1.5]
        return
    (line,) = [c for c in ax.collections if isinstance(c, ContourSet) and not c.filled]
    vertices = np.concatenate([path.vertices for path in line.get_paths()])
    # on the grid (spacing ~0.1) the contour interpolates linearly: close, not exact
    np.testing.assert_allclose(vertices[:, 0], 0.5 * vertices[:, 1] + 0.2, atol=1e-3)
    assert np.ptp(vertices[:, 1]) > 3  # the line crosses the whole picture


def test_decision_boundary_rejects_outputs_that_are_not_predictions(rng):
    X, y = two_blobs(rng)
    with pytest.raises(ValueError, match="neither class ids nor probabilities"):
        plotting.plot_decision_boundary(lambda p: p[:, 0] * 3.3, X, y, resolution=10)
    with pytest.raises(ValueError, match="returned shape"):
        plotting.plot_decision_boundary(lambda p: p[:5, 0], X, y, resolution=10)


def test_hidden_unit_lines_lie_on_w_dot_x_plus_b_equals_zero():
    W = np.array([[1.0, 0.0, 2.0, 1.0],
                  [1.0, 1.0, -1.0, 1.0]])
    b = np.array([-1.0, -0.5, 0.3, 100.0])  # the last line is far outside the window
    fig, ax = plt.subplots()
    assert plotting.plot_hidden_unit_lines(W, b, ax=ax, xlim=(-1, 2), ylim=(-1, 2)) is fig
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["unit 1", "unit 2", "unit 3"]
    for unit, line in enumerate(lines):
        points = np.column_stack([line.get_xdata(), line.get_ydata()])
        np.testing.assert_allclose(points @ W[:, unit] + b[unit], 0, atol=1e-12)
        assert np.all((points >= -1 - 1e-9) & (points <= 2 + 1e-9))
        assert np.linalg.norm(points[1] - points[0]) > 1  # crosses the window, not a dot
    assert ax.get_xlim() == (-1, 2)


def test_hidden_unit_lines_spot_transposed_weights():
    with pytest.raises(ValueError, match=r"Did you pass W\.T\?"):
        plotting.plot_hidden_unit_lines(np.ones((3, 2)), np.zeros(3), xlim=(0, 1), ylim=(0, 1))


# --- confusion matrix -------------------------------------------------------------------------

def test_confusion_matrix_matches_scikit_learn(rng):
    y_true = rng.integers(0, 6, 500)
    y_pred = np.where(rng.random(500) < 0.7, y_true, rng.integers(0, 6, 500))
    np.testing.assert_array_equal(plotting.confusion_matrix(y_true, y_pred),
                                  sklearn_confusion_matrix(y_true, y_pred))


def test_confusion_matrix_keeps_absent_classes_and_reads_one_hot(rng):
    y_true = rng.integers(0, 3, 50)  # classes 3 and 4 never occur
    y_pred = rng.integers(0, 3, 50)
    one_hot = np.eye(5)[y_true]
    counts = plotting.confusion_matrix(one_hot, y_pred, n_classes=5)
    np.testing.assert_array_equal(counts, sklearn_confusion_matrix(y_true, y_pred,
                                                                   labels=range(5)))
    assert counts.dtype.kind == "i"


def test_confusion_matrix_explains_bad_input():
    with pytest.raises(ValueError, match="same examples"):
        plotting.confusion_matrix([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="does not fit n_classes=2"):
        plotting.confusion_matrix([0, 1, 2], [0, 1, 1], n_classes=2)
    with pytest.raises(ValueError, match="whole-number"):
        plotting.confusion_matrix([0.5, 1.0], [0, 1])


def test_plot_confusion_matrix_shows_the_counts(rng):
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.8, y_true, rng.integers(0, 4, 200))
    expected = sklearn_confusion_matrix(y_true, y_pred)
    fig = plotting.plot_confusion_matrix(y_true, y_pred, class_names=["w", "x", "y", "z"])
    ax = fig.axes[0]
    np.testing.assert_array_equal(heatmap_values(ax), expected)
    annotations = {t.get_text() for t in ax.texts}
    assert {str(count) for count in expected[expected > 0]} <= annotations
    assert [t.get_text() for t in ax.get_yticklabels()] == ["w", "x", "y", "z"]


def test_plot_confusion_matrix_normalises_each_true_class(rng):
    y_true = rng.integers(0, 3, 90)
    y_pred = rng.integers(0, 3, 90)
    fig = plotting.plot_confusion_matrix(y_true, y_pred, normalize=True)
    values = heatmap_values(fig.axes[0])
    expected = sklearn_confusion_matrix(y_true, y_pred, normalize="true")
    np.testing.assert_allclose(values, expected)
    np.testing.assert_allclose(values.sum(axis=1), 1)


# --- weights, activations, functions ----------------------------------------------------------

def test_weight_tiles_show_each_column_on_a_symmetric_scale(rng):
    W = rng.normal(size=(784, 20)) + 0.3
    fig = plotting.plot_weight_tiles(W, ncols=8)
    tiles = images_in(fig)
    assert len(tiles) == 20
    np.testing.assert_array_equal(tiles[7].get_array(), W[:, 7].reshape(28, 28))
    low, high = tiles[0].get_clim()
    assert low == -high == -np.abs(W).max()


def test_weight_tiles_spot_transposed_weights(rng):
    with pytest.raises(ValueError, match=r"Did you pass W\.T\?"):
        plotting.plot_weight_tiles(rng.normal(size=(10, 784)))


def test_activation_histograms_one_panel_per_layer_with_mean_and_std(rng):
    activations = {f"layer {k}": np.tanh(rng.normal(0, k, size=(100, 32))) for k in (1, 2, 3)}
    fig = plotting.plot_activation_histograms(activations, bins=20)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    for ax, (name, values) in zip(visible, activations.items()):
        assert bar_heights(ax).sum() == values.size
        assert len(ax.patches) == 20
        assert ax.get_title() == f"{name}\nmean {values.mean():.2f}, std {values.std():.2f}" \
            .replace("mean -0.00", "mean 0.00")
    assert len({ax.get_xlim() for ax in visible}) == 1  # one range to compare the layers


def test_function_and_derivative_draws_both_curves():
    z = np.linspace(-3, 3, 301)
    fig = plotting.plot_function_and_derivative(np.tanh, lambda x: 1 - np.tanh(x) ** 2, x=z,
                                                name="tanh")
    function, derivative = [line for line in fig.axes[0].get_lines()
                            if line.get_label().startswith("tanh")]
    np.testing.assert_allclose(function.get_ydata(), np.tanh(z))
    # the dashed curve is the slope of the solid one (central differences)
    slope = np.gradient(function.get_ydata(), z)
    np.testing.assert_allclose(derivative.get_ydata()[1:-1], slope[1:-1], atol=1e-3)


def test_heatmap_holds_the_matrix_and_centres_a_diverging_scale():
    s = np.array([0.1, 0.2, 0.7])
    jacobian = np.diag(s) - np.outer(s, s)
    fig = plotting.plot_heatmap(jacobian, labels=["a", "b", "c"], title="softmax Jacobian")
    ax = fig.axes[0]
    np.testing.assert_allclose(heatmap_values(ax), jacobian)
    mesh = next(c for c in ax.collections if isinstance(c, QuadMesh))
    low, high = mesh.get_clim()
    assert low == -high
    assert len(ax.texts) == 9 and not any(t.get_text().startswith("-0.00") for t in ax.texts)
    assert ax.get_title() == "softmax Jacobian"


def test_heatmap_explains_labels_that_do_not_fit():
    with pytest.raises(ValueError, match="labels do not fit a 2x3 matrix"):
        plotting.plot_heatmap(np.ones((2, 3)), labels=["a", "b", "c"])


def test_class_balance_bars_are_the_class_counts(rng):
    y = rng.integers(0, 4, 300)
    fig = plotting.plot_class_balance(y, class_names=["a", "b", "c", "d", "never seen"])
    ax = fig.axes[0]
    classes, counts = np.unique(y, return_counts=True)
    np.testing.assert_array_equal(bar_heights(ax)[classes], counts)
    assert bar_heights(ax)[4] == 0 and len(ax.patches) == 5


def test_drawing_into_a_given_axes_creates_no_new_figure(rng):
    fig, axes = plt.subplots(1, 3)
    before = plt.get_fignums()
    assert plotting.plot_class_balance([0, 1, 1], ax=axes[0]) is fig
    assert plotting.plot_curves({"a": [1, 2]}, ax=axes[1]) is fig
    assert plotting.plot_heatmap(np.eye(2), ax=axes[2]) is fig
    assert plt.get_fignums() == before


# --- one legible style ---------------------------------------------------------------------------

def _figure_cases(rng):
    """One typical call of every figure function, as lessons make them: name -> Figure."""
    images = rng.random((20, 784))
    labels = rng.integers(0, 10, size=20)
    fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    history = {"loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.6, 0.5],
               "accuracy": [0.7, 0.8, 0.85], "val_accuracy": [0.65, 0.78, 0.8]}
    X2 = rng.normal(size=(40, 2))
    return {
        "plot_digits": lambda: plotting.plot_digits(images, labels=labels, predictions=labels[::-1],
                                                    class_names=fashion, ncols=10),
        "plot_probability_bars": lambda: plotting.plot_probability_bars(
            rng.dirichlet(np.ones(10)), true_label=3),
        "plot_digit_with_probabilities": lambda: plotting.plot_digit_with_probabilities(
            images[0], rng.dirichlet(np.ones(10)), true_label=3),
        "plot_training_curves": lambda: plotting.plot_training_curves(history),
        "plot_curves": lambda: plotting.plot_curves(
            {name: rng.random(50) for name in ("SGD", "Momentum", "Adam")}, xlabel="step"),
        "plot_decision_boundary": lambda: plotting.plot_decision_boundary(
            lambda p: (p.sum(axis=1) > 0).astype(int), X2, (X2.sum(axis=1) > 0).astype(int),
            resolution=40),
        "plot_hidden_unit_lines": lambda: plotting.plot_hidden_unit_lines(
            rng.normal(size=(2, 3)), rng.normal(size=3), xlim=(-1, 2), ylim=(-1, 2)),
        "plot_confusion_matrix": lambda: plotting.plot_confusion_matrix(
            rng.integers(0, 10, 300), rng.integers(0, 10, 300), class_names=fashion),
        "plot_weight_tiles": lambda: plotting.plot_weight_tiles(rng.normal(size=(784, 32))),
        "plot_activation_histograms": lambda: plotting.plot_activation_histograms(
            {f"layer {k}": rng.normal(size=(100, 16)) for k in range(1, 6)}),
        "plot_function_and_derivative": lambda: plotting.plot_function_and_derivative(
            np.tanh, lambda x: 1 - np.tanh(x) ** 2),
        "plot_heatmap": lambda: plotting.plot_heatmap(rng.random((4, 4)),
                                                      labels=list("abcd"), title="J"),
        "plot_class_balance": lambda: plotting.plot_class_balance(
            rng.integers(0, 10, 500), class_names=fashion),
    }


def test_every_figure_function_is_checked_for_legibility(rng):
    functions = {name for name in dir(plotting) if name.startswith("plot_")}
    assert functions == set(_figure_cases(rng))


@pytest.mark.parametrize("name", sorted(_figure_cases(np.random.default_rng(0))))
def test_no_text_is_smaller_than_9_points_as_shown(name, rng):
    fig = _figure_cases(rng)[name]()
    sizes = plotting.shown_font_sizes(fig)
    assert sizes, "the figure has text (titles, labels, ticks)"
    assert min(sizes) >= plotting.MIN_FONT_SIZE - 1e-9, (
        f"{name}: text of {min(sizes):.1f} pt as shown (figure {fig.get_size_inches()} in)")


def test_shown_font_sizes_account_for_a_figure_scaled_to_the_page():
    fig, ax = plt.subplots(figsize=(2 * plotting.MAX_SHOWN_WIDTH, 3))
    ax.set_title("wide", fontsize=12)
    ax.set_xticks([])
    ax.set_yticks([])
    assert plotting.shown_font_sizes(fig) == [pytest.approx(6.0)]


def test_legends_sit_beside_or_below_the_data_not_on_it(rng):
    cases = _figure_cases(rng)
    for name in ("plot_curves", "plot_class_balance", "plot_training_curves"):
        fig = cases[name]()
        fig.canvas.draw()
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is None:
                continue
            box = legend.get_window_extent()
            axes_box = ax.get_window_extent()
            overlap_x = min(box.x1, axes_box.x1) - max(box.x0, axes_box.x0)
            overlap_y = min(box.y1, axes_box.y1) - max(box.y0, axes_box.y0)
            assert overlap_x <= 1 or overlap_y <= 1, f"{name}: the legend lies inside the axes"


def test_plot_curves_ticks_whole_steps():
    fig = plotting.plot_curves({"a": [3.0, 2.0, 1.5]}, xlabel="epoch")
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)
