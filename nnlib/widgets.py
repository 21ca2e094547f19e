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
    optimizer_explorer(...)    lesson 05: the path of an optimizer on a surface of two variables
"""

import html
import io
import time
from collections.abc import Callable
from typing import NamedTuple

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from nnlib import activations, optimizers, plotting
from nnlib.network import Callback

SCREEN_DPI = 100   # size on screen: one inch of figure = 100 CSS pixels
RENDER_SCALE = 1.5  # rendered finer than that, to stay sharp on high-density screens


class FigureView:
    """A matplotlib Figure shown in an ipywidgets.Image; ``show()`` re-renders it in place."""

    def __init__(self, figsize):
        self.figure = Figure(figsize=figsize, layout="constrained")
        # width and height both fixed: the space stays reserved while a new picture loads
        self.image = widgets.Image(format="png", width=str(round(figsize[0] * SCREEN_DPI)),
                                   height=str(round(figsize[1] * SCREEN_DPI)))

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

def _broadcast_conflict(a_shape, b_shape):
    """Why two shapes do not broadcast: the first lengths, from the right, that clash."""
    for a, b in zip(reversed(a_shape), reversed(b_shape)):
        if a != b and 1 not in (a, b):
            return f"no broadcast: {a} vs {b}, neither is 1"
    return None


def _inner_length_conflict(a_shape, b_shape):
    """Why a matrix product does not fit: A's last length is not B's first (or next-to-last)."""
    inner_a = a_shape[-1]
    inner_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if inner_a != inner_b:
        return f"inner lengths differ: {inner_a} vs {inner_b}"
    return None


class ShapeOperation(NamedTuple):
    """One operation of the shape explorer: its code, how to run it, and why it can fail."""

    code: str              # as written in Python, e.g. "A @ B"
    apply: Callable        # apply(A, B) -> the result (NumPy raises ValueError if shapes clash)
    why_it_fails: Callable  # why_it_fails(A.shape, B.shape) -> a short reason, or None


SHAPE_OPERATIONS = {
    "A * B   (elementwise)": ShapeOperation("A * B", lambda a, b: a * b, _broadcast_conflict),
    "A + B   (elementwise, broadcasting)": ShapeOperation("A + B", lambda a, b: a + b,
                                                          _broadcast_conflict),
    "A @ B   (matrix product)": ShapeOperation("A @ B", lambda a, b: a @ b,
                                               _inner_length_conflict),
    "np.dot(A, B)": ShapeOperation("np.dot(A, B)", np.dot, _inner_length_conflict),
    "np.outer(A, B)": ShapeOperation("np.outer(A, B)", np.outer, lambda a, b: None),
}
_ROW_CHOICES = [("none (1-D)", 0)] + [(str(n), n) for n in range(1, 5)]
_COLUMN_CHOICES = [(str(n), n) for n in range(1, 5)]


def try_shape_operation(operation, A, B):
    """Run one ShapeOperation on A and B; returns (result or None, NumPy's error or None)."""
    try:
        return np.asarray(operation.apply(A, B)), None
    except ValueError as error:  # NumPy signals incompatible shapes with ValueError
        return None, f"{type(error).__name__}: {error}"


class ShapeExplorer(widgets.VBox):
    """Pick the shapes of A and B and an operation; NumPy itself says whether it works.

    Controls: ``a_rows``, ``a_cols``, ``b_rows``, ``b_cols`` (rows "none" makes a 1-D array of
    length cols) and ``operation``. After ``update()``: ``result_shape`` (a tuple, or None when
    NumPy refused), ``error`` (NumPy's message, or None) and the ``result_label`` shown; and, for
    every operation of SHAPE_OPERATIONS on the same shapes, ``all_results``: code -> (result
    shape, None) when it works or (None, short reason) when it does not, shown in ``table``.
    """

    def __init__(self, a_shape=(2, 3), b_shape=(3, 4), operation="A @ B   (matrix product)"):
        self.a_rows, self.a_cols = self._shape_controls(a_shape)
        self.b_rows, self.b_cols = self._shape_controls(b_shape)
        self.operation = widgets.Dropdown(options=list(SHAPE_OPERATIONS), value=operation,
                                          description="operation",
                                          layout=widgets.Layout(width="340px"))
        self.result_label = widgets.HTML()
        self.table = widgets.HTML()
        self.result_shape = None
        self.error = None
        self.all_results = {}
        shapes = widgets.HBox([
            widgets.VBox([widgets.HTML("<b>A</b>"), self.a_rows, self.a_cols]),
            widgets.VBox([widgets.HTML("<b>B</b>"), self.b_rows, self.b_cols]),
        ])
        super().__init__([shapes, self.operation, self.result_label, self.table])
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
        """Run the chosen operation, and all the others, on arrays of the chosen shapes."""
        A = self._make_array(self.a_rows.value, self.a_cols.value, start=1)
        B = self._make_array(self.b_rows.value, self.b_cols.value, start=10)
        outcomes = {choice: try_shape_operation(operation, A, B)  # (result, error) each
                    for choice, operation in SHAPE_OPERATIONS.items()}
        self._show_chosen_operation(A, B, outcomes)
        self._show_all_operations(A, B, outcomes)

    def _show_chosen_operation(self, A, B, outcomes):
        """The verdict on the chosen operation, with A, B and the result printed out."""
        operation = SHAPE_OPERATIONS[self.operation.value]
        code = html.escape(operation.code)
        result, self.error = outcomes[self.operation.value]
        if result is None:
            self.result_shape = None
            verdict = (f'<span style="color:{plotting.WRONG}"><b>&#10007; {code} '
                       f'fails.</b></span> NumPy says:<br><code>{html.escape(self.error)}</code>')
            panels = [("A", A), ("B", B)]
        else:
            self.result_shape = result.shape
            verdict = (f'<span style="color:{plotting.BLUE}"><b>&#10003; {code} '
                       f'works:</b></span> result shape <code>{_fmt_shape(result)}</code>')
            panels = [("A", A), ("B", B), (operation.code, result)]
        shapes = f"<code>A.shape = {_fmt_shape(A)}</code>, <code>B.shape = {_fmt_shape(B)}</code>"
        arrays = "".join(
            f'<div style="margin-right:2em"><b>{html.escape(name)}</b>'
            f'<pre style="margin:0.2em 0">{html.escape(np.array2string(value))}</pre></div>'
            for name, value in panels)
        self.result_label.value = (f"{shapes}<br>{verdict}"
                                   f'<div style="display:flex;margin-top:0.5em">{arrays}</div>')

    def _show_all_operations(self, A, B, outcomes):
        """A table: every operation on these shapes, with its result shape or why it fails."""
        self.all_results = {}
        rows = []
        for choice, operation in SHAPE_OPERATIONS.items():
            result, error = outcomes[choice]
            if result is None:
                reason = operation.why_it_fails(A.shape, B.shape) or error.splitlines()[0]
                self.all_results[operation.code] = (None, reason)
                verdict = (f'<span style="color:{plotting.WRONG}">&#10007;</span> '
                           f'{html.escape(reason)}')
            else:
                self.all_results[operation.code] = (result.shape, None)
                verdict = (f'<span style="color:{plotting.BLUE}">&#10003;</span> '
                           f'<code>{_fmt_shape(result)}</code>')
            weight = "bold" if choice == self.operation.value else "normal"
            rows.append(f'<tr style="font-weight:{weight}">'
                        f'<td style="padding-right:1.5em"><code>{html.escape(operation.code)}'
                        f'</code></td><td>{verdict}</td></tr>')
        self.table.value = (f"<b>All operations on these shapes</b>"
                            f"<table><tr><th style='text-align:left'>operation</th>"
                            f"<th style='text-align:left'>result shape, or why not</th></tr>"
                            f"{''.join(rows)}</table>")


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
                     fontsize=plotting.MIN_FONT_SIZE, padding=2)
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

ACTIVATION_NAMES = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU",
                    "leaky_relu": "leaky ReLU"}  # what the menu shows


class ActivationExplorer(widgets.VBox):
    """Choose an activation; see it with its derivative, and its formula.

    Controls: ``activation`` (dropdown) and ``alpha_slider`` (the slope of leaky_relu for z < 0,
    enabled only for it). ``view.figure`` holds the drawn curves.
    """

    def __init__(self, activation="sigmoid"):
        self.activation = widgets.Dropdown(options=[(ACTIVATION_NAMES[name], name)
                                                    for name in ACTIVATION_FORMULAS],
                                           value=activation, description="activation")
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
        plotting.plot_function_and_derivative(function, derivative, name=ACTIVATION_NAMES[name],
                                              ax=ax)
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


class WidgetWithText:
    """A widget and a plain-text account of it, displayed together as one notebook output.

    An output stores one representation per mimetype, and every frontend shows the richest one it
    can render: JupyterLab and Notebook draw the live widget (the mimetype
    ``application/vnd.jupyter.widget-view+json``, which names the widget's model), while
    nbconvert, GitHub, a terminal or an editor without widget support show the ``text/plain``.
    """

    def __init__(self, widget, text=""):
        self.widget = widget
        self.text = text

    def _repr_mimebundle_(self, include=None, exclude=None):
        """{mimetype: data} for IPython's display(): the widget's own bundle, our text/plain."""
        bundle = {}
        widget_bundle = getattr(self.widget, "_repr_mimebundle_", None)  # None once closed
        if callable(widget_bundle):
            bundle.update(widget_bundle(include=include, exclude=exclude) or {})
        bundle["text/plain"] = self.text  # instead of the widget's "VBox(children=...)"
        return bundle

    def __repr__(self):
        return self.text


class TrainingMonitor(Callback):
    """Watch ``Sequential.fit`` as it trains: ``fit(..., verbose=0, callbacks=[monitor])``.

    In Jupyter it shows a progress bar ("epoch k/n, loss ...") and the curves of the chosen
    metrics, training and validation, redrawn in place after every epoch. The same output also
    carries one text line per finished epoch, which is what a viewer without widgets (nbconvert,
    GitHub, an editor) shows instead. Elsewhere (a script, a terminal) the monitor prints those
    lines. (``verbose=0`` turns off fit's own progress bar, which would repeat the same news.)

    Args:
        metrics: the curves to draw, any of "loss" and "accuracy" (one panel each).
        figsize: size of the curves' figure in inches.
        mode: "auto" (widgets in a Jupyter kernel, text elsewhere), "widget" or "text".
        print_fn: where text mode writes its lines (default: print).

    After training, ``lines`` holds the epoch lines; in widget mode ``widget`` is the box shown
    and ``display_handle`` the handle of the output that holds it (None outside IPython).
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
        self.lines = []
        self.widget = None
        self.progress = None
        self.status = None
        self.view = None
        self.display_handle = None
        self._output = None
        self._last_batch_report = 0.0

    @property
    def uses_widgets(self):
        """Whether this run shows widgets (True) or prints text lines (False)."""
        return self.mode == "widget" or (self.mode == "auto" and _in_jupyter_kernel())

    def on_train_begin(self, network, epochs):
        self.total_epochs = int(epochs)
        self.lines = []
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
        self._output = WidgetWithText(self.widget, self._text())
        self.display_handle = display(self._output, display_id=True)

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
        self.lines.append(line)
        if not self.uses_widgets:
            self.print_fn(line)
            return
        self.progress.value = epoch + 1
        self.status.value = html.escape(line)
        self._draw_curves(history)
        self._update_text()

    def on_train_end(self, history):
        reason = getattr(history, "stopped_reason", None)
        if not self.uses_widgets:
            return  # fit itself prints why it stopped early
        if self.progress is not None:
            self.progress.bar_style = "warning" if reason else "success"
        if reason and self.status is not None:
            self.status.value += f" &mdash; {html.escape(reason)}"
        self._update_text(reason)

    def _text(self, reason=None):
        """The text a viewer without widgets shows: one line per finished epoch, then why
        training stopped early (if it did)."""
        lines = self.lines or [f"waiting for the first of {self.total_epochs} epochs"]
        return "\n".join(lines + ([reason] if reason else []))

    def _update_text(self, reason=None):
        """Re-publish the output with the current text (the widget itself is updated live)."""
        if self._output is None:
            return
        self._output.text = self._text(reason)
        if self.display_handle is not None:  # None where display() only prints (no IPython)
            self.display_handle.update(self._output)

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


# --- lesson 05: optimizers on a surface -------------------------------------------------------

class Surface(NamedTuple):
    """A function of two numbers for an optimizer to minimise, and the window to draw it in.

    function(x, y) gives the value and must work on arrays (it draws the contour lines);
    gradient(point) takes a point (2,) and returns the gradient there, (2,). Every path begins at
    ``start``; ``minimum`` is drawn as a star. ``log_levels`` spaces the contour lines
    logarithmically, for functions whose values span many powers of ten (like Rosenbrock's).
    """

    function: Callable
    gradient: Callable
    start: tuple
    xlim: tuple
    ylim: tuple
    minimum: tuple
    log_levels: bool = False


OPTIMIZER_CHOICES = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam")
_USES_MOMENTUM = ("Momentum", "Nesterov")


def _new_optimizer(name, learning_rate, momentum):
    """A fresh optimizer (one with memory must not be reused): name from OPTIMIZER_CHOICES."""
    if name in _USES_MOMENTUM:
        return optimizers.Momentum(learning_rate, momentum, nesterov=name == "Nesterov")
    return {"SGD": optimizers.SGD, "AdaGrad": optimizers.AdaGrad, "RMSProp": optimizers.RMSProp,
            "Adam": optimizers.Adam}[name](learning_rate)


def optimizer_path(optimizer, gradient, start, steps, escape=1e6):
    """Follow an nnlib optimizer from start for `steps` updates; returns the path (steps + 1, 2).

    A diverging path stops early, as soon as a coordinate is beyond +-escape (or not a number).
    """
    params = {"point": np.array(start, dtype=float)}
    path = [params["point"].copy()]
    for _ in range(steps):
        optimizer.step(params, {"point": np.asarray(gradient(params["point"]), dtype=float)})
        path.append(params["point"].copy())
        if not np.all(np.abs(params["point"]) <= escape):
            break
    return np.array(path)


class OptimizerExplorer(widgets.VBox):
    """Choose a surface, an optimizer, its learning rate and momentum; see the path it takes.

    Controls: ``surface`` and ``optimizer`` (dropdowns), ``learning_rate`` (log scale, 1e-4..10),
    ``momentum`` (enabled for Momentum and Nesterov only) and ``steps``. After ``update()``:
    ``path`` (steps + 1, 2), shorter if the optimizer ``diverged``; ``distance`` from its last
    point to the minimum; ``result_label``; ``view.figure`` holds the drawn path.
    """

    def __init__(self, surfaces, surface=None, optimizer="Momentum", learning_rate=0.03,
                 momentum=0.8, steps=60):
        self.surfaces = dict(surfaces)
        self._check_surfaces()
        if optimizer not in OPTIMIZER_CHOICES:
            raise ValueError(f"optimizer must be one of {OPTIMIZER_CHOICES}; got {optimizer!r}.")
        slider = {"continuous_update": False, "layout": widgets.Layout(width="360px")}
        self.surface = widgets.Dropdown(options=list(self.surfaces), description="function",
                                        value=next(iter(self.surfaces)) if surface is None
                                        else surface)
        self.optimizer = widgets.Dropdown(options=OPTIMIZER_CHOICES, value=optimizer,
                                          description="optimizer")
        self.learning_rate = widgets.FloatLogSlider(value=learning_rate, base=10, min=-4, max=1,
                                                    step=0.05, description="η",
                                                    readout_format=".3g", **slider)
        self.momentum = widgets.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01,
                                            description="momentum", **slider)
        self.steps = widgets.IntSlider(value=steps, min=10, max=2000, step=10,
                                       description="steps", **slider)
        self.result_label = widgets.HTML()
        self.view = FigureView(figsize=(5.5, 4.2))
        self.path, self.diverged, self.distance = None, False, None
        self._grids = {}  # surface name -> (xs, ys, values) on a grid, computed once
        controls = [self.surface, self.optimizer, self.learning_rate, self.momentum, self.steps]
        super().__init__([widgets.HBox([widgets.VBox(controls[:2]), widgets.VBox(controls[2:])]),
                          self.result_label, self.view.image])
        _redraw_on_change(controls, self.update)
        self.update()

    def _check_surfaces(self):
        if not self.surfaces:
            raise ValueError("surfaces is empty; pass a dict name -> Surface(...).")
        for name, surface in self.surfaces.items():
            if not isinstance(surface, Surface):
                raise TypeError(f"surfaces[{name!r}] is {surface!r}, not a Surface; build it as "
                                f"Surface(function, gradient, start=, xlim=, ylim=, minimum=).")

    def _grid(self, name):
        """The surface's values on a 300 x 300 grid over its window: (xs, ys, values)."""
        if name not in self._grids:
            surface = self.surfaces[name]
            xs, ys = np.meshgrid(np.linspace(*surface.xlim, 300), np.linspace(*surface.ylim, 300))
            self._grids[name] = xs, ys, surface.function(xs, ys)
        return self._grids[name]

    def update(self):
        """Run a fresh optimizer from the start point and draw its path."""
        surface = self.surfaces[self.surface.value]
        name, learning_rate = self.optimizer.value, self.learning_rate.value
        self.momentum.disabled = name not in _USES_MOMENTUM
        optimizer = _new_optimizer(name, learning_rate, self.momentum.value)
        self.path = optimizer_path(optimizer, surface.gradient, surface.start, self.steps.value)
        steps_taken = len(self.path) - 1
        self.diverged = steps_taken < self.steps.value
        self.distance = float(np.linalg.norm(self.path[-1] - np.asarray(surface.minimum)))
        if self.diverged:
            outcome = (f'<span style="color:{plotting.WRONG}"><b>diverged</b></span>: a '
                       f"coordinate passed a million after {steps_taken} steps; try a smaller η")
        else:
            x, y = self.path[-1]
            outcome = (f"after {steps_taken} steps it is at ({x:.3g}, {y:.3g}), "
                       f"{self.distance:.2g} from the minimum")
            if not (surface.xlim[0] <= x <= surface.xlim[1]
                    and surface.ylim[0] <= y <= surface.ylim[1]):
                outcome += ", outside the picture"
        label = f"{name}, η = {learning_rate:.3g}"
        if name in _USES_MOMENTUM:
            label += f", momentum {self.momentum.value:.2f}"
        self.result_label.value = f"<b>{html.escape(label)}</b>: {outcome}."
        self._draw(surface, label)

    def _draw(self, surface, label):
        ax = self.view.figure.gca()
        ax.clear()
        xs, ys, values = self._grid(self.surface.value)
        levels = (np.geomspace(max(values.min(), 1e-3), values.max(), 15) if surface.log_levels
                  else 12)
        ax.contour(xs, ys, values, levels=levels, colors=plotting.NEUTRAL, linewidths=0.7)
        ax.plot(self.path[:, 0], self.path[:, 1], "-o", color=plotting.BLUE, linewidth=1,
                markersize=2.5 if len(self.path) <= 200 else 1, label=label)
        ax.plot(*surface.start, "s", color=plotting.BLUE, markersize=6, label="start")
        ax.plot(*surface.minimum, "*", color=plotting.INK, markersize=12, label="minimum")
        ax.set_xlim(surface.xlim)
        ax.set_ylim(surface.ylim)
        ax.set_title(label, fontsize=10)
        self.view.show()


def optimizer_explorer(surfaces, surface=None, optimizer="Momentum", learning_rate=0.03,
                       momentum=0.8, steps=60):
    """Lesson 05: follow SGD, Momentum, Nesterov, AdaGrad, RMSProp or Adam on a 2-D surface.

    surfaces: dict name -> Surface(function, gradient, start=, xlim=, ylim=, minimum=), e.g.
    the lesson's valley and Rosenbrock's banana; the other arguments set the controls.
    """
    return OptimizerExplorer(surfaces, surface=surface, optimizer=optimizer,
                             learning_rate=learning_rate, momentum=momentum, steps=steps)
