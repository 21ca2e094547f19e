"""DrawPad: draw a digit in JupyterLab and watch a trained network read it (lesson 04b).

The pad is an anywidget: its JavaScript and CSS (``drawpad.js``, ``drawpad.css``, next to this
file) are sent to the browser by the kernel, so nothing is fetched from the internet. The
browser side only draws and displays; every number is computed here, in Python:

    browser                                   Python (this file)
    -------                                   ------------------
    the canvas, pointer events (mouse,        to_mnist, the network's forward pass,
    pen, touch), brush, clear, undo           the hidden activations, a unit switched off
        -- after each stroke: the canvas as a PNG ("drawing") -->
        <-- prediction, probabilities, activations, 28 x 28 preview --

    pad = DrawPad(network, test_images=X_test, test_labels=y_test)
    pad                                       # the last line of a cell shows it
    pad.prediction, pad.probabilities         # what the pad shows, readable from Python
"""

import base64
import io
from pathlib import Path

import anywidget
import numpy as np
import traitlets
from PIL import Image

from nnlib.drawpad.preprocess import EmptyDrawingError, digit_on_canvas, mnist_stages
from nnlib.drawpad.reader import DigitReader

_HERE = Path(__file__).parent
_PNG_PREFIX = "data:image/png;base64,"
DRAW_FIRST = "Draw a digit first."


def ink_to_png(ink):
    """(H, W) ink in [0, 1] -> a PNG data URL whose alpha channel is the ink (as the pad sends)."""
    ink = np.clip(np.asarray(ink, dtype=np.float64), 0.0, 1.0)
    alpha = np.round(ink * 255).astype(np.uint8)
    rgba = np.zeros(ink.shape + (4,), dtype=np.uint8)
    rgba[..., :3] = (26, 32, 44)      # the pad's ink colour; only the alpha channel counts
    rgba[..., 3] = alpha
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="PNG")        # (H, W, 4) uint8: RGBA
    return _PNG_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_to_ink(data_url):
    """A PNG data URL from the pad -> (H, W) float32 ink in [0, 1] (its alpha channel)."""
    if not data_url.startswith(_PNG_PREFIX):
        raise ValueError("The pad's drawing must be a PNG data URL (data:image/png;base64,...).")
    with Image.open(io.BytesIO(base64.b64decode(data_url[len(_PNG_PREFIX):]))) as image:
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
    return alpha.astype(np.float32) / 255.0


class DrawPad(anywidget.AnyWidget):
    """A square drawing pad that shows what a digit classifier makes of the drawing.

    Args:
        network: a trained nnlib classifier from 784 pixels to 10 digits (a ``Sequential``, e.g.
            from ``nnlib.io.load``, or a fitted ``MLPClassifier``); None to draw only.
        test_images: optional (N, 784) or (N, 28, 28) MNIST images for "show a test digit".
        test_labels: optional (N,) their labels, shown beside the digit.
        size: the canvas side in pixels; brush: the initial line width in pixels.
        seed: for the order in which test digits are shown.

    After every stroke the pad updates ``prediction`` (-1 when there is nothing to read),
    ``probabilities``, ``hidden`` (activations per hidden layer) and ``preview`` (the 28 x 28
    input, row by row). Click a hidden unit to see its incoming weights (``unit``); tick
    "switch it off" to see the probabilities without it (``probabilities_unit_off``).
    """

    _esm = (_HERE / "drawpad.js").read_text(encoding="utf-8")
    _css = (_HERE / "drawpad.css").read_text(encoding="utf-8")

    # browser -> Python
    drawing = traitlets.Unicode("").tag(sync=True)           # PNG data URL, "" when empty
    brush = traitlets.Float(24.0).tag(sync=True)
    temperature = traitlets.Float(1.0).tag(sync=True)
    selected_unit = traitlets.List(traitlets.Int(), []).tag(sync=True)   # [layer, unit] or []
    unit_switched_off = traitlets.Bool(False).tag(sync=True)
    test_digit_requests = traitlets.Int(0).tag(sync=True)
    # Python -> browser
    size = traitlets.Int(280).tag(sync=True)
    has_network = traitlets.Bool(False).tag(sync=True)
    has_test_digits = traitlets.Bool(False).tag(sync=True)
    message = traitlets.Unicode(DRAW_FIRST).tag(sync=True)
    prediction = traitlets.Int(-1).tag(sync=True)
    probabilities = traitlets.List(traitlets.Float(), []).tag(sync=True)
    probabilities_unit_off = traitlets.List(traitlets.Float(), []).tag(sync=True)
    hidden = traitlets.List([]).tag(sync=True)               # one list of floats per layer
    hidden_sizes = traitlets.List(traitlets.Int(), []).tag(sync=True)
    unit = traitlets.Dict({}).tag(sync=True)                 # the selected unit's details
    preview = traitlets.List(traitlets.Float(), []).tag(sync=True)   # 784 values, or []
    test_label = traitlets.Int(-1).tag(sync=True)            # label of the test digit shown

    def __init__(self, network=None, *, test_images=None, test_labels=None, size=280,
                 brush=24.0, seed=0):
        super().__init__(size=int(size), brush=float(brush))
        self.reader = None if network is None else DigitReader(network)
        self.has_network = self.reader is not None
        self.hidden_sizes = self.reader.hidden_sizes if self.reader else []
        self._test_images, self._test_labels = _check_test_digits(test_images, test_labels)
        self.has_test_digits = self._test_images is not None
        self._test_order = (np.random.default_rng(seed).permutation(len(self._test_images))
                            if self.has_test_digits else None)
        self._test_digits_shown = 0
        self._stages = None
        self.observe(self._on_drawing, names="drawing")
        self.observe(self._on_reading_settings,
                     names=["temperature", "selected_unit", "unit_switched_off"])
        self.observe(self._on_test_digit_request, names="test_digit_requests")

    # --- what Python can read -------------------------------------------------------------------

    @property
    def image(self):
        """The current drawing as (size, size) float32 ink in [0, 1]."""
        if not self.drawing:
            return np.zeros((self.size, self.size), dtype=np.float32)
        return png_to_ink(self.drawing)

    @property
    def stages(self):
        """``mnist_stages`` of the current drawing, or None while it is (nearly) empty."""
        return self._stages

    @property
    def mnist_image(self):
        """The network's input: (28, 28) float32, or None while the drawing is (nearly) empty."""
        return None if self._stages is None else self._stages.final

    # --- what Python can do ---------------------------------------------------------------------

    def draw(self, image):
        """Replace the drawing by an (H, W) ink image in [0, 1] (resized to the pad's size)."""
        ink = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
        if ink.ndim != 2:
            raise ValueError(f"draw expects one (H, W) image, got shape {ink.shape}.")
        if ink.shape != (self.size, self.size):
            picture = Image.fromarray(np.round(ink * 255).astype(np.uint8))
            resized = picture.resize((self.size, self.size), Image.Resampling.BILINEAR)
            ink = np.asarray(resized) / 255.0
        self.test_label = -1
        self.drawing = ink_to_png(ink)

    def clear(self):
        self.test_label = -1
        self.drawing = ""

    def show_test_digit(self):
        """Put the next test digit on the pad, enlarged as if drawn there."""
        if not self.has_test_digits:
            raise ValueError("This pad has no test digits: create it with "
                             "DrawPad(network, test_images=X_test, test_labels=y_test).")
        index = self._test_order[self._test_digits_shown % len(self._test_order)]
        self._test_digits_shown += 1
        self.drawing = ink_to_png(digit_on_canvas(self._test_images[index], self.size))
        self.test_label = -1 if self._test_labels is None else int(self._test_labels[index])

    # --- reacting to the browser ----------------------------------------------------------------

    def _on_drawing(self, change):
        try:
            self._stages = mnist_stages(self.image)
        except EmptyDrawingError as empty:
            self._stages = None
            self._show_nothing(str(empty) if self.drawing else DRAW_FIRST)
            return
        self.preview = [round(float(value), 4) for value in self._stages.final.ravel()]
        self._update_reading()

    def _on_reading_settings(self, change):
        if self._stages is not None:
            self._update_reading()
        else:
            self._update_unit(None)

    def _on_test_digit_request(self, change):
        if self.has_test_digits:
            self.show_test_digit()

    def _show_nothing(self, message):
        with self.hold_sync():
            self.message = message
            self.prediction = -1
            self.probabilities = []
            self.probabilities_unit_off = []
            self.hidden = []
            self.preview = []
            self._update_unit(None)

    def _update_reading(self):
        if self.reader is None:
            self.message = "No network to read the digit: pass one, DrawPad(network)."
            return
        unit = self._valid_selected_unit()
        reading = self.reader.read(self._stages.final, temperature=self.temperature)
        with self.hold_sync():
            self.message = ""
            self.prediction = reading.digit
            self.probabilities = _rounded(reading.probabilities)
            self.hidden = [_rounded(layer) for layer in reading.hidden]
            if unit is not None and self.unit_switched_off:
                without = self.reader.read(self._stages.final, temperature=self.temperature,
                                           switched_off=unit)
                self.probabilities_unit_off = _rounded(without.probabilities)
            else:
                self.probabilities_unit_off = []
            self._update_unit(reading)

    def _valid_selected_unit(self):
        if self.reader is None or len(self.selected_unit) != 2:
            return None
        layer, unit = self.selected_unit
        sizes = self.reader.hidden_sizes
        return (layer, unit) if 0 <= layer < len(sizes) and 0 <= unit < sizes[layer] else None

    def _update_unit(self, reading):
        unit = self._valid_selected_unit()
        if unit is None:
            self.unit = {}
            return
        layer, index = unit
        weights = self.reader.incoming_weights(layer, index)
        self.unit = {
            "layer": layer, "index": index,
            "value": None if reading is None else round(float(reading.hidden[layer][index]), 4),
            "weights": _rounded(weights),
            "shape": [28, 28] if layer == 0 else [1, len(weights)],
            "scale": float(np.abs(weights).max()) or 1.0,
        }


def _rounded(values):
    return [round(float(value), 5) for value in np.ravel(values)]


def _check_test_digits(images, labels):
    if images is None:
        if labels is not None:
            raise ValueError("test_labels without test_images: pass both, or neither.")
        return None, None
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (2, 3) or images[0].size != 784 or len(images) == 0:
        raise ValueError(f"test_images must be (N, 784) or (N, 28, 28) MNIST images, got shape "
                         f"{images.shape}.")
    images = images.reshape(len(images), 28, 28)
    if images.max() > 1:
        raise ValueError("test_images must be scaled into [0, 1], as load_mnist returns them.")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(f"test_labels must be ({len(images)},), got {labels.shape}.")
    return images, labels
