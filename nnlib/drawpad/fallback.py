"""Reading a digit without the widget: from a PNG file or an array to a static figure.

Where widget JavaScript cannot run (a notebook rendered by nbconvert or on a code-hosting site,
an editor that blocks it), ``predict_image`` does what the pad does, in one call: the same
``to_mnist`` preparation, the same network, and the same bars, as a matplotlib figure.

    fig = predict_image("my_seven.png", network)
    fig = predict_image(drawing_array, network)
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from nnlib.drawpad.preprocess import mnist_stages
from nnlib.drawpad.reader import DigitReader
from nnlib.plotting import plot_probability_bars


def read_image(path_or_array):
    """An image file or an array -> (H, W) float32 ink in [0, 1], ink high.

    Arrays are taken as ink-high drawings (see ``to_mnist``). Files are read with Pillow: a
    picture with transparency gives its opacity as the ink (as the pad saves drawings); any
    other is turned grey, and inverted when its border is light, which is how scans and
    drawings on white paper look.
    """
    if not isinstance(path_or_array, (str, Path)):
        return path_or_array
    with Image.open(path_or_array) as picture:
        if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
            alpha = np.asarray(picture.convert("RGBA"))[..., 3]
            if alpha.min() < 255:
                return alpha.astype(np.float32) / 255.0
        grey = np.asarray(picture.convert("L")).astype(np.float32) / 255.0
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return 1.0 - grey if np.median(border) > 0.5 else grey


def predict_image(path_or_array, network, temperature=1.0):
    """Read a digit from a PNG file (or an array) with ``network``; returns a static Figure.

    The figure shows the image, the 28 x 28 network input that ``to_mnist`` made of it, and one
    bar per digit with the network's probability (softmax at ``temperature``). An empty or
    nearly empty image raises ``EmptyDrawingError`` ("draw a digit first") instead of a guess.
    """
    reader = DigitReader(network)
    stages = mnist_stages(read_image(path_or_array))
    reading = reader.read(stages.final, temperature=temperature)
    fig, (ax_image, ax_input, ax_bars) = plt.subplots(
        1, 3, figsize=(10, 3.3), layout="constrained", gridspec_kw={"width_ratios": (1, 1, 2.4)})
    ax_image.imshow(stages.drawing, cmap="gray_r", vmin=0, vmax=1)
    ax_image.set_title("your image")
    ax_input.imshow(stages.final, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax_input.set_title("network input, 28 × 28")
    for ax in (ax_image, ax_input):
        ax.set_xticks([])
        ax.set_yticks([])
    plot_probability_bars(reading.probabilities, ax=ax_bars)
    return fig
