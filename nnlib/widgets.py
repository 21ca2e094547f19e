"""Interactive explorers for the lessons, and a live training monitor.

Each explorer is an ipywidgets box: make it the last expression of a cell to show it. Move a
control and the picture or text below updates. Every explorer keeps its own state and exposes
its controls as attributes, plus an ``update()`` method that redraws from the controls' values.

Pictures are drawn on a matplotlib Figure owned by the widget (not by pyplot, so nothing leaks
into the notebook's other cells) and shown as a PNG inside an ``ipywidgets.Image``; a redraw
replaces that image in place.

    shape_explorer()           lesson 01: which array shapes combine under *, +, @, dot, outer
    softmax_explorer()         lesson 02: logits and temperature -> softmax probabilities
    activation_explorer()      lesson 02: each activation function beside its derivative
    epoch_player(draw, ...)    lesson 03: step or play through snapshots taken during training
    digit_explorer(...)        lesson 04: the network's probabilities for each test digit
    TrainingMonitor()          lesson 04: progress bar and live loss/accuracy curves during fit
"""

import html
import io
import time

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from nnlib import activations, plotting
from nnlib.network import Callback

SCREEN_DPI = 100   # size on screen: one inch of figure = 100 CSS pixels
RENDER_SCALE = 1.5  # rendered finer than that, to stay sharp on high-density screens


class FigureView:
    """A matplotlib Figure shown in an ipywidgets.Image; ``show()`` re-renders it in place."""

    def __init__(self, figsize):
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.image = widgets.Image(format="png", width=str(int(figsize[0] * SCREEN_DPI)))

    def show(self):
        """Render the figure to PNG and put it in the image widget."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=SCREEN_DPI * RENDER_SCALE)
        self.image.value = buffer.getvalue()


def _redraw_on_change(controls, callback):
    """Call callback() whenever the value of any of the controls changes."""
    for control in controls:
        control.observe(lambda change: callback(), names="value")


def _fmt_shape(array):
    return str(tuple(array.shape))


# --- lesson 01: shapes ------------------------------------------------------------------------

SHAPE_OPERATIONS = {
    "A * B   (elementwise)": ("A * B", lambda a, b: a * b),
    "A + B   (elementwise, broadcasting)": ("A + B", lambda a, b: a + b),
    "A @ B   (matrix product)": ("A @ B", lambda a, b: a @ b),
    "np.dot(A, B)": ("np.dot(A, B)", np.dot),
    "np.outer(A, B)": ("np.outer(A, B)", np.outer),
}
_ROW_CHOICES = [("none (1-D)", 0)] + [(str(n), n) for n in range(1, 5)]
_COLUMN_CHOICES = [(str(n), n) for n in range(1, 5)]


class ShapeExplorer(widgets.VBox):
    """Pick the shapes of A and B and an operation; NumPy itself says whether it works.

    Controls: ``a_rows``, ``a_cols``, ``b_rows``, ``b_cols`` (rows "none" makes a 1-D array of
    length cols) and ``operation``. After ``update()``: ``result_shape`` (a tuple, or None when
    NumPy refused), ``error`` (NumPy's message, or None) and the ``result_label`` shown.
    """

    def __init__(self, a_shape=(2, 3), b_shape=(3, 4), operation="A @ B   (matrix product)"):
        self.a_rows, self.a_cols = self._shape_controls(a_shape)
        self.b_rows, self.b_cols = self._shape_controls(b_shape)
        self.operation = widgets.Dropdown(options=list(SHAPE_OPERATIONS), value=operation,
                                          description="operation",
                                          layout=widgets.Layout(width="340px"))
        self.result_label = widgets.HTML()
        self.result_shape = None
        self.error = None
        shapes = widgets.HBox([
            widgets.VBox([widgets.HTML("<b>A</b>"), self.a_rows, self.a_cols]),
            widgets.VBox([widgets.HTML("<b>B</b>"), self.b_rows, self.b_cols]),
        ])
        super().__init__([shapes, self.operation, self.result_label])
        _redraw_on_change([self.a_rows, self.a_cols, self.b_rows, self.b_cols, self.operation],
                          self.update)
        self.update()

    @staticmethod
    def _shape_controls(shape):
        rows, cols = (0, shape[0]) if len(shape) == 1 else shape
        style = {"description_width": "40px"}
        layout = widgets.Layout(width="170px")
        return (widgets.Dropdown(options=_ROW_CHOICES, value=rows, description="rows",
                                 style=style, layout=layout),
                widgets.Dropdown(options=_COLUMN_CHOICES, value=cols, description="cols",
                                 style=style, layout=layout))

    @staticmethod
    def _make_array(rows, cols, start):
        """Numbers start, start+1, ... in the chosen shape, so that results can be followed."""
        shape = (cols,) if rows == 0 else (rows, cols)
        return np.arange(start, start + int(np.prod(shape))).reshape(shape)

    def update(self):
        """Run the chosen operation on arrays of the chosen shapes and show what happened."""
        A = self._make_array(self.a_rows.value, self.a_cols.value, start=1)
        B = self._make_array(self.b_rows.value, self.b_cols.value, start=10)
        code, operation = SHAPE_OPERATIONS[self.operation.value]
        try:
            result = np.asarray(operation(A, B))
        except ValueError as error:  # NumPy signals incompatible shapes with ValueError
            self.result_shape, self.error = None, f"{type(error).__name__}: {error}"
            verdict = (f'<span style="color:{plotting.WRONG}"><b>&#10007; {html.escape(code)} '
                       f'fails.</b></span> NumPy says:<br><code>{html.escape(self.error)}</code>')
            panels = [("A", A), ("B", B)]
        else:
            self.result_shape, self.error = result.shape, None
            verdict = (f'<span style="color:{plotting.BLUE}"><b>&#10003; {html.escape(code)} '
                       f'works:</b></span> result shape <code>{_fmt_shape(result)}</code>')
            panels = [("A", A), ("B", B), (code, result)]
        shapes = f"<code>A.shape = {_fmt_shape(A)}</code>, <code>B.shape = {_fmt_shape(B)}</code>"
        arrays = "".join(
            f'<div style="margin-right:2em"><b>{html.escape(name)}</b>'
            f'<pre style="margin:0.2em 0">{html.escape(np.array2string(value))}</pre></div>'
            for name, value in panels)
        self.result_label.value = (f"{shapes}<br>{verdict}"
                                   f'<div style="display:flex;margin-top:0.5em">{arrays}</div>')


def shape_explorer():
    """Lesson 01: try *, +, @, np.dot and np.outer on arrays of shapes you choose."""
    return ShapeExplorer()


# --- lesson 02: softmax and activations -------------------------------------------------------

class SoftmaxExplorer(widgets.VBox):
    """One slider per logit and a temperature slider; bars show softmax(logits / T).

    Controls: ``logit_sliders`` (one per class), ``temperature_slider`` (log scale, 0.1..10);
    ``sliders`` lists them all. After ``update()``: ``probabilities`` (C,) and ``result_label``.
    """

    def __init__(self, logits=(2.0, 4.0, 6.0, 8.0), class_names=None):
        logits = np.asarray(logits, dtype=float)
        if logits.ndim != 1 or len(logits) < 2:
            raise ValueError(f"logits must be a sequence of at least 2 numbers (one per class); "
                             f"got shape {logits.shape}.")
        if class_names is not None and len(class_names) != len(logits):
            raise ValueError(f"class_names has {len(class_names)} names for {len(logits)} "
                             f"logits; pass one name per logit.")
        self.class_names = class_names
        self.logit_sliders = [
            widgets.FloatSlider(value=value, min=-10, max=10, step=0.1,
                                description=f"z[{k}]" if class_names is None
                                else str(class_names[k]), continuous_update=True)
            for k, value in enumerate(logits)]
        self.temperature_slider = widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1,
                                                         step=0.02, description="T",
                                                         readout_format=".2f")
        self.sliders = [*self.logit_sliders, self.temperature_slider]
        self.result_label = widgets.HTML()
        self.view = FigureView(figsize=(max(4.5, 0.6 * len(logits) + 2.5), 3.2))
        self.probabilities = None
        controls = widgets.VBox([*self.logit_sliders, widgets.HTML("<hr style='margin:2px'>"),
                                 self.temperature_slider])
        super().__init__([widgets.HBox([controls, self.view.image]), self.result_label])
        _redraw_on_change(self.sliders, self.update)
        self.update()

    @property
    def logits(self):
        """The current logits, (C,)."""
        return np.array([slider.value for slider in self.logit_sliders])

    def update(self):
        """Recompute softmax(logits / T) and redraw the bars."""
        temperature = self.temperature_slider.value
        self.probabilities = activations.softmax(self.logits / temperature)
        ax = self.view.figure.gca()
        ax.clear()
        plotting.plot_probability_bars(self.probabilities, class_names=self.class_names, ax=ax)
        ax.bar_label(ax.containers[0], labels=[f"{p:.0%}" for p in self.probabilities],
                     fontsize=8, padding=2)
        ax.set_title(f"softmax(z / T) with T = {temperature:.2f}")
        self.view.show()
        values = ", ".join(f"{p:.3f}" for p in self.probabilities)
        self.result_label.value = (f"<code>p = [{values}]</code> &nbsp; (sum "
                                   f"{self.probabilities.sum():.3f}). Small T sharpens the "
                                   f"distribution, large T flattens it.")


def softmax_explorer(logits=(2.0, 4.0, 6.0, 8.0), class_names=None):
    """Lesson 02: move the logits and the temperature T; watch softmax(logits / T)."""
    return SoftmaxExplorer(logits=logits, class_names=class_names)


ACTIVATION_FORMULAS = {
    "sigmoid": r"$\sigma(z) = \frac{1}{1 + e^{-z}}, \quad \sigma'(z) = \sigma(z)\,(1 - \sigma(z))$",
    "tanh": r"$\tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}, \quad \tanh'(z) = 1 - \tanh^2(z)$",
    "relu": r"$\mathrm{relu}(z) = \max(0, z), \quad \mathrm{relu}'(z) = 1$ if $z > 0$ else $0$",
    "leaky_relu": r"$\mathrm{leaky\_relu}(z) = z$ if $z > 0$ else $\alpha z, \quad$"
                  r"derivative $1$ or $\alpha$",
}


class ActivationExplorer(widgets.VBox):
    """Choose an activation; see it with its derivative, and its formula.

    Controls: ``activation`` (dropdown) and ``alpha_slider`` (the slope of leaky_relu for z < 0,
    enabled only for it). ``view.figure`` holds the drawn curves.
    """

    def __init__(self, activation="sigmoid"):
        self.activation = widgets.Dropdown(options=list(ACTIVATION_FORMULAS), value=activation,
                                           description="activation")
        self.alpha_slider = widgets.FloatSlider(value=0.1, min=0.01, max=0.5, step=0.01,
                                                description="alpha")
        self.formula = widgets.HTMLMath()
        self.view = FigureView(figsize=(5.5, 3.6))
        super().__init__([widgets.HBox([self.activation, self.alpha_slider]), self.formula,
                          self.view.image])
        _redraw_on_change([self.activation, self.alpha_slider], self.update)
        self.update()

    def functions(self):
        """The chosen (function, derivative) pair, both taking the pre-activation z."""
        name = self.activation.value
        if name == "leaky_relu":
            alpha = self.alpha_slider.value
            return (lambda z: activations.leaky_relu(z, alpha=alpha),
                    lambda z: activations.leaky_relu_derivative(z, alpha=alpha))
        return getattr(activations, name), getattr(activations, f"{name}_derivative")

    def update(self):
        """Redraw the chosen function and its derivative."""
        name = self.activation.value
        self.alpha_slider.disabled = name != "leaky_relu"
        self.formula.value = ACTIVATION_FORMULAS[name]
        function, derivative = self.functions()
        ax = self.view.figure.gca()
        ax.clear()
        plotting.plot_function_and_derivative(function, derivative, name=name, ax=ax)
        self.view.show()


def activation_explorer():
    """Lesson 02: sigmoid, tanh, relu and leaky_relu, each beside its derivative."""
    return ActivationExplorer()


# --- lesson 03: replaying training ------------------------------------------------------------

class EpochPlayer(widgets.VBox):
    """Step (slider) or play (Play button) through epochs; ``draw(ax, epoch)`` draws each frame.

    Controls: ``slider`` (a SelectionSlider over the epochs) and ``play`` (linked to it in the
    browser). ``show_epoch(epoch)`` moves to an epoch; ``update()`` redraws the current one.
    """

    def __init__(self, draw, epochs, figsize=(5, 4)):
        if not callable(draw):
            raise TypeError("draw must be a function draw(ax, epoch) that draws one frame.")
        self.epochs = list(epochs)
        if not self.epochs:
            raise ValueError("epochs is empty; pass the epochs you have snapshots for, "
                             "e.g. [0, 10, 100, 1000].")
        self.draw = draw
        self.slider = widgets.SelectionSlider(options=self.epochs, value=self.epochs[0],
                                              description="epoch", continuous_update=True,
                                              layout=widgets.Layout(width="420px"))
        self.play = widgets.Play(min=0, max=len(self.epochs) - 1, step=1, interval=400,
                                 description="play")
        # the Play button advances the slider's position in the browser, without Python
        self._link = widgets.jslink((self.play, "value"), (self.slider, "index"))
        self.view = FigureView(figsize=figsize)
        super().__init__([widgets.HBox([self.play, self.slider]), self.view.image])
        _redraw_on_change([self.slider], self.update)
        self.update()

    def show_epoch(self, epoch):
        """Move the slider to this epoch (one of the epochs given) and draw it."""
        if epoch not in self.epochs:
            raise ValueError(f"epoch {epoch} has no snapshot; choose one of {self.epochs}.")
        self.slider.value = epoch

    def update(self):
        """Draw the frame of the slider's epoch on a fresh Axes."""
        self.view.figure.clear()  # also removes colour bars a frame may have added
        ax = self.view.figure.add_subplot()
        self.draw(ax, self.slider.value)
        self.view.show()


def epoch_player(draw, epochs, figsize=(5, 4)):
    """Lesson 03: a slider and a Play button over epochs; draw(ax, epoch) draws each frame."""
    return EpochPlayer(draw, epochs, figsize=figsize)


# --- lesson 04: digits and training -----------------------------------------------------------

class DigitExplorer(widgets.VBox):
    """Browse examples with the network's class probabilities; optionally only its mistakes.

    Controls: ``slider`` (position among the shown examples) and ``mistakes_only`` (checkbox).
    ``indices`` are the example numbers the slider runs over; ``index`` is the one shown.
    """

    def __init__(self, images, probabilities, labels, class_names=None):
        self.images = np.asarray(images)
        self.probabilities = np.asarray(probabilities, dtype=float)
        self.labels = np.asarray(labels).astype(int).reshape(-1)
        n = len(self.images)
        if self.probabilities.ndim != 2 or len(self.probabilities) != n or len(self.labels) != n:
            raise ValueError(f"need one probability row and one label per image: got "
                             f"{n} images, probabilities of shape {self.probabilities.shape} "
                             f"(expected ({n}, C)) and {len(self.labels)} labels.")
        self.class_names = class_names
        self.predictions = self.probabilities.argmax(axis=1)
        self.mistakes = np.flatnonzero(self.predictions != self.labels)
        self.indices = np.arange(n)
        self.slider = widgets.IntSlider(value=0, min=0, max=n - 1, description="example",
                                        continuous_update=True,
                                        layout=widgets.Layout(width="420px"))
        self.mistakes_only = widgets.Checkbox(value=False, indent=False,
                                              description=f"only mistakes ({len(self.mistakes)})",
                                              disabled=len(self.mistakes) == 0)
        self.result_label = widgets.HTML()
        self.view = FigureView(figsize=(7.5, 3.2))
        self._image_ax, self._bars_ax = self.view.figure.subplots(
            1, 2, gridspec_kw={"width_ratios": (1, 2.2)})
        super().__init__([widgets.HBox([self.slider, self.mistakes_only]), self.result_label,
                          self.view.image])
        self.mistakes_only.observe(lambda change: self._choose_examples(), names="value")
        _redraw_on_change([self.slider], self.update)
        self.update()

    @property
    def index(self):
        """The example number shown now."""
        return int(self.indices[self.slider.value])

    def _choose_examples(self):
        self.indices = self.mistakes if self.mistakes_only.value else np.arange(len(self.images))
        with self.slider.hold_trait_notifications():
            self.slider.value = 0
            self.slider.max = len(self.indices) - 1
        self.update()

    def update(self):
        """Show the current example and its probabilities."""
        index = self.index
        for ax in (self._image_ax, self._bars_ax):
            ax.clear()
        plotting.plot_digit_with_probabilities(
            self.images[index], self.probabilities[index], true_label=self.labels[index],
            class_names=self.class_names, axes=(self._image_ax, self._bars_ax))
        self.view.show()
        true = plotting._class_name(self.labels[index], self.class_names)
        predicted = plotting._class_name(self.predictions[index], self.class_names)
        verdict = "correct" if true == predicted else \
            f'<span style="color:{plotting.WRONG}"><b>wrong</b></span>'
        self.result_label.value = (f"example #{index}: true <b>{html.escape(true)}</b>, "
                                   f"predicted <b>{html.escape(predicted)}</b> ({verdict})")


def digit_explorer(images, probabilities, labels, class_names=None):
    """Lesson 04: slide through examples, each with the network's class probabilities.

    images (N, 784) or (N, 28, 28); probabilities (N, C); labels (N,) true class ids.
    """
    return DigitExplorer(images, probabilities, labels, class_names=class_names)


def _in_jupyter_kernel():
    """True when running inside a Jupyter (IPython) kernel, where widgets can be shown."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _format_metric(name, value):
    return f"{name} {value:.1%}" if name.endswith("accuracy") else f"{name} {value:.4f}"


class TrainingMonitor(Callback):
    """Watch ``Sequential.fit`` as it trains: ``fit(..., verbose=0, callbacks=[monitor])``.

    In Jupyter it shows a progress bar ("epoch k/n, loss ...") and the curves of the chosen
    metrics, training and validation, redrawn in place after every epoch. Elsewhere (a script,
    a terminal) it prints one line per epoch instead. (``verbose=0`` turns off fit's own
    progress bar, which would repeat the same news.)

    Args:
        metrics: the curves to draw, any of "loss" and "accuracy" (one panel each).
        figsize: size of the curves' figure in inches.
        mode: "auto" (widgets in a Jupyter kernel, text elsewhere), "widget" or "text".
        print_fn: where text mode writes its lines (default: print).
    """

    MODES = ("auto", "widget", "text")

    def __init__(self, metrics=("loss", "accuracy"), figsize=None, mode="auto", print_fn=print):
        unknown = [m for m in metrics if m not in ("loss", "accuracy")]
        if unknown or not metrics:
            raise ValueError(f"metrics must be a non-empty selection of 'loss' and 'accuracy'; "
                             f"got {metrics!r}.")
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}; got {mode!r}.")
        self.metrics = tuple(metrics)
        self.figsize = figsize or (4.6 * len(self.metrics), 3.4)
        self.mode = mode
        self.print_fn = print_fn
        self.total_epochs = 0
        self.widget = None
        self.progress = None
        self.status = None
        self.view = None
        self._last_batch_report = 0.0

    @property
    def uses_widgets(self):
        """Whether this run shows widgets (True) or prints text lines (False)."""
        return self.mode == "widget" or (self.mode == "auto" and _in_jupyter_kernel())

    def on_train_begin(self, network, epochs):
        self.total_epochs = int(epochs)
        if not self.uses_widgets:
            return
        from IPython.display import display

        self.progress = widgets.IntProgress(value=0, min=0, max=max(self.total_epochs, 1),
                                            description="epoch", bar_style="info")
        self.status = widgets.HTML(f"epoch 0/{self.total_epochs}")
        self.view = FigureView(figsize=self.figsize)
        self.widget = widgets.VBox([widgets.HBox([self.progress, self.status]),
                                    self.view.image])
        self._draw_curves(history=None)
        display(self.widget)

    def on_batch_end(self, batch_index, loss):
        # a widget message per batch would flood the browser: at most two updates a second
        now = time.monotonic()
        if self.status is None or not self.uses_widgets or now - self._last_batch_report < 0.5:
            return
        self._last_batch_report = now
        done = self.progress.value
        self.status.value = f"epoch {done + 1}/{self.total_epochs}, batch loss {loss:.4f}"

    def on_epoch_end(self, epoch, history):
        line = self._epoch_summary(epoch, history)
        if not self.uses_widgets:
            self.print_fn(line)
            return
        self.progress.value = epoch + 1
        self.status.value = html.escape(line)
        self._draw_curves(history)

    def on_train_end(self, history):
        reason = getattr(history, "stopped_reason", None)
        if not self.uses_widgets:
            return  # fit itself prints why it stopped early
        if self.progress is not None:
            self.progress.bar_style = "warning" if reason else "success"
        if reason and self.status is not None:
            self.status.value += f" &mdash; {html.escape(reason)}"

    def _epoch_summary(self, epoch, history):
        """One line: "epoch 3/10: loss 0.2345, accuracy 93.1%, val_loss ..., (1.2 s)"."""
        parts = []
        for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
            values = getattr(history, name, None) or []
            if len(values) > epoch:
                parts.append(_format_metric(name, values[epoch]))
        seconds = getattr(history, "seconds", None) or []
        timing = f" ({seconds[epoch]:.1f} s)" if len(seconds) > epoch else ""
        width = len(str(self.total_epochs))
        return f"epoch {epoch + 1:>{width}}/{self.total_epochs}: {', '.join(parts)}{timing}"

    def _draw_curves(self, history):
        figure = self.view.figure
        figure.clear()
        for index, metric in enumerate(self.metrics):
            ax = figure.add_subplot(1, len(self.metrics), index + 1)
            train = getattr(history, metric, None) or []
            validation = getattr(history, f"val_{metric}", None) or []
            plotting._plot_train_and_validation(ax, metric, np.asarray(train, dtype=float),
                                                np.asarray(validation, dtype=float),
                                                empty_message="waiting for the first epoch")
            if self.total_epochs:
                ax.set_xlim(0.5, self.total_epochs + 0.5)
        self.view.show()
