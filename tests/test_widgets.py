"""The explorers react to their controls, and the training monitor reports every epoch."""

import html
import sys

import ipywidgets
import numpy as np
import pytest

from nnlib import widgets


def drawn_lines(view):
    """(x, y) data of every labelled line on the explorer's only Axes."""
    (ax,) = view.figure.axes
    return {line.get_label(): (line.get_xdata(), line.get_ydata()) for line in ax.get_lines()
            if not line.get_label().startswith("_")}


# --- shape_explorer ---------------------------------------------------------------------------

def set_shapes(explorer, a_shape, b_shape, operation):
    """Set both shapes ((cols,) for 1-D) and the operation, as a student would."""
    with explorer.hold_trait_notifications():
        for (rows, cols), shape in (((explorer.a_rows, explorer.a_cols), a_shape),
                                    ((explorer.b_rows, explorer.b_cols), b_shape)):
            rows.value, cols.value = (0, shape[0]) if len(shape) == 1 else shape
        explorer.operation.value = next(label for label in widgets.SHAPE_OPERATIONS
                                        if label.startswith(operation))


@pytest.mark.parametrize("a_shape, b_shape, operation, expected", [
    ((2, 3), (3, 4), "A @ B", (2, 4)),          # (n, k) @ (k, m) -> (n, m)
    ((2, 3), (3,), "A @ B", (2,)),              # matrix times vector
    ((3,), (3,), "np.dot", ()),                 # dot product of vectors: a number
    ((3,), (4,), "np.outer", (3, 4)),           # every pair
    ((2, 3), (3,), "A + B", (2, 3)),            # the row is broadcast over both rows
    ((2, 1), (1, 3), "A * B", (2, 3)),          # both stretched
])
def test_shape_explorer_reports_the_shape_of_a_legal_operation(a_shape, b_shape, operation,
                                                               expected):
    explorer = widgets.shape_explorer()
    set_shapes(explorer, a_shape, b_shape, operation)
    assert explorer.result_shape == expected
    assert explorer.error is None
    assert f"result shape <code>{expected}</code>" in explorer.result_label.value


def test_shape_explorer_starts_with_a_matrix_product_and_reacts_to_its_controls():
    explorer = widgets.shape_explorer()
    assert isinstance(explorer, ipywidgets.VBox)
    assert explorer.result_shape == (2, 4)  # the default (2, 3) @ (3, 4)
    explorer.b_cols.value = 1  # a single control change redraws by itself
    assert explorer.result_shape == (2, 1)


def test_shape_explorer_shows_numpys_own_error_message():
    with pytest.raises(ValueError) as numpy_says:
        np.ones((2, 3)) @ np.ones((2, 3))
    explorer = widgets.shape_explorer()
    set_shapes(explorer, (2, 3), (2, 3), "A @ B")
    assert explorer.result_shape is None
    assert explorer.error == f"ValueError: {numpy_says.value}"
    assert html.escape(str(numpy_says.value)) in explorer.result_label.value
    assert "fails" in explorer.result_label.value


# the table of every operation: each verdict must be NumPy's own
NUMPY_OPERATIONS = {"A * B": lambda a, b: a * b, "A + B": lambda a, b: a + b,
                    "A @ B": lambda a, b: a @ b, "np.dot(A, B)": np.dot,
                    "np.outer(A, B)": np.outer}


def numpy_result_shape(operation, a_shape, b_shape):
    """The shape NumPy gives, or None if NumPy refuses these shapes."""
    try:
        return np.shape(operation(np.ones(a_shape), np.ones(b_shape)))
    except ValueError:
        return None


@pytest.mark.parametrize("a_shape, b_shape", [
    ((2, 3), (3, 4)), ((2, 3), (2,)), ((3,), (3,)), ((4, 1), (1, 3)), ((2, 3), (2, 3)),
    ((1, 4), (4, 2)),
])
def test_shape_explorer_table_judges_every_operation_like_numpy(a_shape, b_shape):
    explorer = widgets.shape_explorer()
    set_shapes(explorer, a_shape, b_shape, "A @ B")
    assert list(explorer.all_results) == list(NUMPY_OPERATIONS)  # all of them, in menu order
    for code, operation in NUMPY_OPERATIONS.items():
        shape, reason = explorer.all_results[code]
        assert shape == numpy_result_shape(operation, a_shape, b_shape), code
        assert (reason is None) == (shape is not None), code
        row = explorer.table.value.split(f"<code>{html.escape(code)}</code>")[1].split("</tr>")[0]
        assert (f"<code>{shape}</code>" if shape is not None else html.escape(reason)) in row


def test_shape_explorer_table_gives_short_reasons_and_follows_the_controls():
    explorer = widgets.shape_explorer()
    set_shapes(explorer, (2, 3), (2,), "A + B")
    assert explorer.all_results == {
        "A * B": (None, "no broadcast: 3 vs 2, neither is 1"),
        "A + B": (None, "no broadcast: 3 vs 2, neither is 1"),
        "A @ B": (None, "inner lengths differ: 3 vs 2"),
        "np.dot(A, B)": (None, "inner lengths differ: 3 vs 2"),
        "np.outer(A, B)": ((6, 2), None),
    }
    assert "inner lengths differ: 3 vs 2" in explorer.table.value
    assert '<tr style="font-weight:bold"><td style="padding-right:1.5em"><code>A + B' \
        in explorer.table.value  # the chosen operation stands out
    explorer.a_cols.value = 2  # now (2, 2) and (2,): everything fits
    assert all(reason is None for _, reason in explorer.all_results.values())
    assert explorer.all_results["A @ B"] == ((2,), None)


# --- softmax_explorer -------------------------------------------------------------------------

def softmax_by_hand(logits, temperature):
    exponentials = np.exp(np.asarray(logits, dtype=float) / temperature)
    return exponentials / exponentials.sum()


def test_softmax_explorer_shows_softmax_of_logits_over_temperature():
    explorer = widgets.softmax_explorer(logits=(1.0, 2.0, 3.0))
    np.testing.assert_allclose(explorer.probabilities, softmax_by_hand([1, 2, 3], 1.0))
    first_picture = explorer.view.image.value

    explorer.logit_sliders[0].value = 4.0
    explorer.temperature_slider.value = 2.5
    expected = softmax_by_hand([4, 2, 3], 2.5)
    np.testing.assert_allclose(explorer.probabilities, expected, rtol=1e-12)
    assert explorer.probabilities.sum() == pytest.approx(1.0)
    bars = explorer.view.figure.axes[0].patches
    np.testing.assert_allclose([bar.get_height() for bar in bars], expected)
    assert explorer.view.image.value != first_picture
    assert f"{expected[0]:.3f}" in explorer.result_label.value


def test_softmax_temperature_slider_is_logarithmic_from_a_tenth_to_ten():
    explorer = widgets.softmax_explorer()
    slider = explorer.temperature_slider
    assert isinstance(slider, ipywidgets.FloatLogSlider)
    assert (slider.base ** slider.min, slider.base ** slider.max) == pytest.approx((0.1, 10))
    slider.value = 0.1  # cold: nearly all the probability on the largest logit
    assert explorer.probabilities[3] > 0.99


def test_softmax_explorer_checks_its_class_names():
    with pytest.raises(ValueError, match="one name per logit"):
        widgets.softmax_explorer(logits=(1.0, 2.0), class_names=["a", "b", "c"])


# --- activation_explorer ----------------------------------------------------------------------

REFERENCE_ACTIVATIONS = {  # written out here, independently of nnlib.activations
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)),
                lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
}


@pytest.mark.parametrize("name", sorted(REFERENCE_ACTIVATIONS))
def test_activation_explorer_draws_the_function_and_its_derivative(name):
    explorer = widgets.activation_explorer()
    explorer.activation.value = name
    lines = drawn_lines(explorer.view)
    shown = widgets.ACTIVATION_NAMES[name]          # "ReLU", not the code name "relu"
    z, values = lines[f"{shown}(z)"]
    _, slopes = lines[f"{shown}'(z)"]
    function, derivative = REFERENCE_ACTIVATIONS[name]
    np.testing.assert_allclose(values, function(z), atol=1e-12)
    np.testing.assert_allclose(slopes, derivative(z), atol=1e-12)
    assert explorer.alpha_slider.disabled


def test_activation_explorer_leaky_relu_follows_the_alpha_slider():
    explorer = widgets.activation_explorer()
    explorer.activation.value = "leaky_relu"
    assert not explorer.alpha_slider.disabled
    explorer.alpha_slider.value = 0.3
    z, slopes = drawn_lines(explorer.view)["leaky ReLU'(z)"]
    np.testing.assert_allclose(slopes[z < 0], 0.3)
    np.testing.assert_allclose(slopes[z > 0], 1.0)
    assert r"\alpha" in explorer.formula.value


def test_activation_explorer_menu_shows_readable_names():
    explorer = widgets.activation_explorer()
    assert [label for label, _ in explorer.activation.options] == ["sigmoid", "tanh", "ReLU",
                                                                  "leaky ReLU"]


# --- epoch_player -----------------------------------------------------------------------------

def test_epoch_player_draws_the_chosen_epoch_on_a_fresh_axes():
    calls = []

    def draw(ax, epoch):
        calls.append(epoch)
        image = ax.imshow(np.full((2, 2), epoch))
        ax.figure.colorbar(image, ax=ax)  # adds an Axes: a fresh frame must not keep it
        ax.set_title(f"epoch {epoch}")

    player = widgets.epoch_player(draw, epochs=[0, 10, 100])
    assert calls == [0]
    first_picture = player.view.image.value

    player.show_epoch(100)
    assert calls == [0, 100]
    assert len(player.view.figure.axes) == 2  # the frame's Axes and its colour bar, no more
    assert player.view.figure.axes[0].get_title() == "epoch 100"
    assert player.view.image.value != first_picture
    assert (player.play.min, player.play.max) == (0, 2)  # Play steps through the 3 positions

    player.slider.value = 10
    assert calls[-1] == 10


def test_epoch_player_explains_its_mistakes():
    player = widgets.epoch_player(lambda ax, epoch: None, epochs=[1, 2])
    with pytest.raises(ValueError, match=r"epoch 5 has no snapshot; choose one of \[1, 2\]"):
        player.show_epoch(5)
    with pytest.raises(ValueError, match="epochs is empty"):
        widgets.epoch_player(lambda ax, epoch: None, epochs=[])
    with pytest.raises(TypeError, match="draw"):
        widgets.epoch_player("not a function", epochs=[1])


# --- digit_explorer ---------------------------------------------------------------------------

def test_digit_explorer_shows_each_example_and_can_keep_only_the_mistakes():
    rng = np.random.default_rng(7)
    images = rng.random((12, 784))
    probabilities = rng.dirichlet(np.ones(10), size=12)
    labels = probabilities.argmax(axis=1)
    labels[[3, 8]] = (labels[[3, 8]] + 1) % 10  # two mistakes

    explorer = widgets.digit_explorer(images, probabilities, labels)
    explorer.slider.value = 5
    ax_image, ax_bars = explorer.view.figure.axes
    np.testing.assert_array_equal(ax_image.get_images()[0].get_array(),
                                  images[5].reshape(28, 28))
    np.testing.assert_allclose([bar.get_height() for bar in ax_bars.patches], probabilities[5])

    explorer.mistakes_only.value = True
    assert explorer.indices.tolist() == [3, 8]
    assert (explorer.slider.max, explorer.index) == (1, 3)
    explorer.slider.value = 1
    assert explorer.index == 8
    assert "example #8" in explorer.result_label.value and "wrong" in explorer.result_label.value


def test_digit_explorer_checks_the_lengths():
    with pytest.raises(ValueError, match="one probability row and one label per image"):
        widgets.digit_explorer(np.zeros((3, 784)), np.full((2, 10), 0.1), [1, 2, 3])


# --- TrainingMonitor --------------------------------------------------------------------------

class FakeHistory:
    """What fit's History holds, filled one epoch at a time."""

    def __init__(self):
        self.loss, self.accuracy, self.val_loss, self.val_accuracy, self.seconds = \
            [], [], [], [], []
        self.stopped_reason = None

    def add_epoch(self, loss, accuracy, val_loss, val_accuracy, seconds=0.5):
        self.loss.append(loss)
        self.accuracy.append(accuracy)
        self.val_loss.append(val_loss)
        self.val_accuracy.append(val_accuracy)
        self.seconds.append(seconds)


EPOCHS = [(0.9, 0.70, 1.0, 0.68), (0.5, 0.85, 0.6, 0.83), (0.3, 0.91, 0.45, 0.88)]


def run_monitor(monitor):
    history = FakeHistory()
    monitor.on_train_begin(network=None, epochs=len(EPOCHS))
    for epoch, numbers in enumerate(EPOCHS):
        for batch in range(3):
            monitor.on_batch_end(3 * epoch + batch, numbers[0])
        history.add_epoch(*numbers)
        monitor.on_epoch_end(epoch, history)
    monitor.on_train_end(history)
    return history


EPOCH_LINES = [
    "epoch 1/3: loss 0.9000, accuracy 70.0%, val_loss 1.0000, val_accuracy 68.0% (0.5 s)",
    "epoch 2/3: loss 0.5000, accuracy 85.0%, val_loss 0.6000, val_accuracy 83.0% (0.5 s)",
    "epoch 3/3: loss 0.3000, accuracy 91.0%, val_loss 0.4500, val_accuracy 88.0% (0.5 s)",
]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def published(tmp_path, monkeypatch):
    """A real IPython shell, without kernel or frontend; yields the list display() publishes to.

    Each item is a dict with "data" (mimetype -> content), "transient" (holding the display_id)
    and "update" (True for an update of an earlier output), as a kernel would send them.
    """
    from IPython.core.displaypub import CapturingDisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))  # the shell's profile, kept out of $HOME
    for hook in ("displayhook", "excepthook"):  # restored afterwards: the shell replaces them
        monkeypatch.setattr(sys, hook, getattr(sys, hook))
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    shell.display_pub = CapturingDisplayPublisher()
    yield shell.display_pub.outputs
    InteractiveShell.clear_instance()


def test_training_monitor_prints_one_line_per_epoch_without_a_kernel(capsys, published):
    monitor = widgets.TrainingMonitor()  # mode "auto": an IPython shell, but no Jupyter kernel
    assert not monitor.uses_widgets
    run_monitor(monitor)
    assert capsys.readouterr().out.splitlines() == EPOCH_LINES
    assert monitor.lines == EPOCH_LINES
    assert published == []  # nothing displayed, no widget created
    assert monitor.widget is None


def test_training_monitor_output_carries_the_widget_and_the_epoch_lines_as_text(published):
    monitor = widgets.TrainingMonitor(mode="widget")
    run_monitor(monitor)
    first, *updates = published
    assert first["update"] is False
    display_id = first["transient"]["display_id"]
    assert len(updates) == len(EPOCHS) + 1  # after every epoch, and once more at the end
    for output in published:  # one output, always showing the monitor's box...
        assert output["transient"]["display_id"] == display_id
        assert output["data"][WIDGET_VIEW]["model_id"] == monitor.widget.model_id
    assert all(update["update"] for update in updates)
    # ... and, for viewers without widgets, the lines a script would print: one more per epoch
    assert "epoch" in first["data"]["text/plain"] and "VBox" not in first["data"]["text/plain"]
    for epoch, update in enumerate(updates[:len(EPOCHS)]):
        assert update["data"]["text/plain"].splitlines() == EPOCH_LINES[:epoch + 1]
    assert updates[-1]["data"]["text/plain"].splitlines() == EPOCH_LINES
    assert monitor.display_handle.display_id == display_id


def test_training_monitor_uses_widgets_in_a_kernel_and_reports_an_early_stop(published,
                                                                            monkeypatch):
    monkeypatch.setattr(widgets, "_in_jupyter_kernel", lambda: True)
    monitor = widgets.TrainingMonitor()  # mode "auto"
    assert monitor.uses_widgets
    history = FakeHistory()
    monitor.on_train_begin(network=None, epochs=3)
    history.add_epoch(*EPOCHS[0])
    monitor.on_epoch_end(0, history)
    history.stopped_reason = "Stopped by a callback after epoch 1."
    monitor.on_train_end(history)
    assert published[-1]["data"]["text/plain"].splitlines() == [
        EPOCH_LINES[0], "Stopped by a callback after epoch 1."]
    assert WIDGET_VIEW in published[-1]["data"]
    assert monitor.progress.bar_style == "warning"
    assert "Stopped by a callback" in monitor.status.value


def test_widget_with_text_falls_back_to_the_text_alone_once_the_widget_is_closed():
    box = ipywidgets.VBox()
    output = widgets.WidgetWithText(box, "epoch 1/1: loss 0.1000")
    bundle = output._repr_mimebundle_()
    assert bundle == {"text/plain": "epoch 1/1: loss 0.1000",
                      WIDGET_VIEW: {"version_major": 2, "version_minor": 0,
                                    "model_id": box.model_id}}
    box.close()
    assert output._repr_mimebundle_() == {"text/plain": "epoch 1/1: loss 0.1000"}


def test_training_monitor_widgets_update_in_place_every_epoch(capsys):
    monitor = widgets.TrainingMonitor(mode="widget")
    history = FakeHistory()
    monitor.on_train_begin(network=None, epochs=3)
    image = monitor.view.image
    pictures = [image.value]
    for epoch, numbers in enumerate(EPOCHS):
        history.add_epoch(*numbers)
        monitor.on_epoch_end(epoch, history)
        assert monitor.progress.value == epoch + 1
        assert f"epoch {epoch + 1}/3" in monitor.status.value
        pictures.append(image.value)
    monitor.on_train_end(history)

    assert monitor.view.image is image  # one image redrawn, not a new one per epoch
    assert len(set(pictures)) == len(pictures)
    assert monitor.progress.bar_style == "success"
    ax_loss, ax_accuracy = monitor.view.figure.axes
    loss_lines = {line.get_label(): line.get_ydata() for line in ax_loss.get_lines()}
    np.testing.assert_allclose(loss_lines["training"], [numbers[0] for numbers in EPOCHS])
    accuracy_lines = {line.get_label(): line.get_ydata() for line in ax_accuracy.get_lines()}
    np.testing.assert_allclose(accuracy_lines["validation"], [numbers[3] for numbers in EPOCHS])
    assert isinstance(monitor.widget, ipywidgets.VBox)
    capsys.readouterr()  # outside a kernel, display() prints the widget's text form


def test_training_monitor_follows_a_real_fit(capsys):
    from nnlib import Dense, ReLU, Sequential
    from nnlib.losses import SoftmaxCrossEntropy

    rng = np.random.default_rng(3)
    X = rng.normal(size=(64, 2))
    y = (X[:, 0] > 0).astype(int)
    network = Sequential([Dense(2, 8, rng=rng), ReLU(), Dense(8, 2, rng=rng)],
                         loss=SoftmaxCrossEntropy())
    history = network.fit(X, y, epochs=4, batch_size=16, rng=rng, verbose=0,
                          callbacks=[widgets.TrainingMonitor(mode="text")])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"epoch {k}/4" for k in range(1, 5)]
    assert f"loss {history.loss[-1]:.4f}" in lines[-1]


def test_training_monitor_rejects_unknown_settings():
    with pytest.raises(ValueError, match="'loss' and 'accuracy'"):
        widgets.TrainingMonitor(metrics=("f1",))
    with pytest.raises(ValueError, match="mode must be one of"):
        widgets.TrainingMonitor(mode="tqdm")


# --- optimizer_explorer -----------------------------------------------------------------------

KAPPA = 40.0


def valley_gradient(point):
    return np.array([point[0], KAPPA * point[1]])


VALLEY = widgets.Surface(lambda x, y: 0.5 * (x ** 2 + KAPPA * y ** 2), valley_gradient,
                         start=(-8.0, 1.5), xlim=(-9, 2), ylim=(-2.6, 2.6), minimum=(0, 0))
BOWL = widgets.Surface(lambda x, y: x ** 2 + y ** 2 + 1, lambda point: 2 * np.asarray(point),
                       start=(1.0, -2.0), xlim=(-3, 3), ylim=(-3, 3), minimum=(0, 0),
                       log_levels=True)


def test_optimizer_explorer_sgd_follows_the_closed_form_on_the_valley():
    explorer = widgets.optimizer_explorer({"valley": VALLEY}, optimizer="SGD",
                                          learning_rate=0.01, steps=40)
    steps = np.arange(41)
    assert explorer.path.shape == (41, 2)
    np.testing.assert_allclose(explorer.path[:, 0], (1 - 0.01) ** steps * -8.0)
    np.testing.assert_allclose(explorer.path[:, 1], (1 - 0.01 * KAPPA) ** steps * 1.5)
    assert not explorer.diverged
    assert explorer.distance == pytest.approx(np.linalg.norm(explorer.path[-1]))
    drawn = {line.get_label(): line for line in explorer.view.figure.axes[0].get_lines()}
    np.testing.assert_array_equal(drawn["SGD, η = 0.01"].get_xydata(), explorer.path)
    assert explorer.momentum.disabled  # SGD has no momentum


def test_optimizer_explorer_reacts_to_each_control():
    explorer = widgets.optimizer_explorer({"valley": VALLEY, "bowl": BOWL})
    assert explorer.optimizer.value == "Momentum" and not explorer.momentum.disabled
    momentum_path, picture = explorer.path, explorer.view.image.value
    explorer.momentum.value = 0.5
    assert not np.array_equal(explorer.path, momentum_path)
    explorer.optimizer.value = "Nesterov"
    nesterov_path = explorer.path
    explorer.optimizer.value = "Adam"  # Adam's first step: eta against the sign of the gradient
    assert explorer.momentum.disabled
    np.testing.assert_allclose(explorer.path[1] - explorer.path[0],
                               -0.03 * np.sign(valley_gradient(VALLEY.start)), rtol=1e-6)
    assert not np.array_equal(explorer.path, nesterov_path)
    explorer.steps.value = 100
    assert len(explorer.path) == 101
    explorer.surface.value = "bowl"
    np.testing.assert_array_equal(explorer.path[0], BOWL.start)
    assert explorer.view.figure.axes[0].get_xlim() == (-3, 3)
    assert explorer.view.image.value != picture
    assert "Adam, η = 0.03" in explorer.result_label.value


def test_optimizer_explorer_reports_divergence():
    explorer = widgets.optimizer_explorer({"valley": VALLEY}, optimizer="SGD",
                                          learning_rate=0.052, steps=2000)  # above 2 / 40
    assert explorer.diverged
    assert len(explorer.path) < 2001
    assert np.abs(explorer.path[-1]).max() > 1e6
    assert "diverged" in explorer.result_label.value
    explorer.steps.value = 60  # not yet beyond a million, but already off the chart
    assert not explorer.diverged
    assert "outside the picture" in explorer.result_label.value
    explorer.steps.value = 2000
    explorer.learning_rate.value = 0.045  # below the limit: it converges
    assert not explorer.diverged and explorer.distance < 1e-3


def test_optimizer_explorer_lets_errors_through():
    # interactive() would print this error inside the widget; here it reaches the caller
    def gradient_of_wrong_shape(point):
        return np.zeros(3)

    broken = VALLEY._replace(gradient=gradient_of_wrong_shape)
    with pytest.raises(ValueError, match=r"Gradient 'point' has shape \(3,\)"):
        widgets.optimizer_explorer({"broken": broken})
    explorer = widgets.optimizer_explorer({"valley": VALLEY, "broken": broken})
    with pytest.raises(ValueError, match=r"Gradient 'point' has shape \(3,\)"):
        explorer.surface.value = "broken"  # a control change raises too


def test_optimizer_explorer_explains_its_mistakes():
    with pytest.raises(ValueError, match="surfaces is empty"):
        widgets.optimizer_explorer({})
    with pytest.raises(TypeError, match=r"surfaces\['valley'\] is .* not a Surface"):
        widgets.optimizer_explorer({"valley": (VALLEY.function, VALLEY.gradient)})
    with pytest.raises(ValueError, match="optimizer must be one of"):
        widgets.optimizer_explorer({"valley": VALLEY}, optimizer="LBFGS")
