"""Draw a digit and watch a trained network read it (lesson 04b).

    preprocess   to_mnist: crop to the ink, scale the longer side to 20 px, centre on the mass
    reader       DigitReader: a network's probabilities, hidden activations, a unit switched off
    pad          DrawPad: the drawing pad widget (anywidget; its JavaScript and CSS ship here)
    fallback     predict_image: the same reading as a static figure, for viewers without widgets

    from nnlib.drawpad import DrawPad, to_mnist, predict_image
    pad = DrawPad(network, test_images=X_test, test_labels=y_test)
"""

from nnlib.drawpad.fallback import predict_image, read_image
from nnlib.drawpad.pad import DrawPad
from nnlib.drawpad.preprocess import (
    EmptyDrawingError,
    MnistStages,
    digit_on_canvas,
    mnist_stages,
    render_strokes,
    to_mnist,
)
from nnlib.drawpad.reader import DigitReader, Reading

__all__ = ["DigitReader", "DrawPad", "EmptyDrawingError", "MnistStages", "Reading",
           "digit_on_canvas", "mnist_stages", "predict_image", "read_image", "render_strokes",
           "to_mnist"]
