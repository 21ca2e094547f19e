"""nnlib.drawpad, Python side: MNIST-style preprocessing, the network reader, the pad, the fallback.

References: MNIST itself (centre of mass, bounding box and ink mass of its digits, measured
here), area averaging by brute force and Pillow's BOX filter, scipy's centre of mass; a network trained on
MNIST must read MNIST test digits that were enlarged onto the pad and pushed back through
``to_mnist`` about as well as the originals. The browser side is tests/test_browser_drawpad.py.
"""

import importlib.resources
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from nnlib import Dense, MLPClassifier, ReLU, Sequential
from nnlib.activations import softmax
from nnlib.data import load_mnist
from nnlib.drawpad import (
    DigitReader,
    DrawPad,
    EmptyDrawingError,
    mnist_stages,
    predict_image,
    read_image,
    render_strokes,
    to_mnist,
)
from nnlib.drawpad.pad import ink_to_png, png_to_ink
from nnlib.drawpad.preprocess import scale_longer_side
from nnlib.losses import SoftmaxCrossEntropy
from nnlib.optimizers import Adam

# Strokes in canvas pixels (x right, y down) on a 280-pixel pad, deliberately off-centre.
ONE = [[(100, 40), (80, 235)]]        # slanted a little, as people write it
SEVEN = [[(40, 50), (190, 50), (110, 250)]]
ZERO = [[(150 + 55 * np.sin(t), 140 - 95 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 60)]]
STROKES = {1: ONE, 7: SEVEN, 0: ZERO}


# --- references measured on MNIST ---------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist():
    X_train, y_train = load_mnist("train")
    X_test, y_test = load_mnist("test")
    return X_train, y_train, X_test, y_test


def bounding_box_size(image):
    rows = np.flatnonzero(image.any(axis=1))
    columns = np.flatnonzero(image.any(axis=0))
    return rows[-1] - rows[0] + 1, columns[-1] - columns[0] + 1


@pytest.fixture(scope="module")
def mnist_shapes(mnist):
    """Per digit: 2nd-98th percentiles of ink mass, height and width in MNIST's training set."""
    X_train, y_train = mnist[:2]
    ranges = {}
    for digit in STROKES:
        images = X_train[y_train == digit][:2000].reshape(-1, 28, 28)
        sizes = np.array([bounding_box_size(image > 0) for image in images])
        measures = np.column_stack([images.sum(axis=(1, 2)), sizes])
        ranges[digit] = np.percentile(measures, [2, 98], axis=0)
    return ranges


@pytest.fixture(scope="module")
def network(mnist):
    """784-128-64-10 trained for 4 epochs (a few seconds with one BLAS thread): about 97 %."""
    X_train, y_train = mnist[:2]
    rng = np.random.default_rng(0)
    net = Sequential([Dense(784, 128, rng=rng), ReLU(), Dense(128, 64, rng=rng), ReLU(),
                      Dense(64, 10, rng=rng)], loss=SoftmaxCrossEntropy())
    net.fit(X_train, y_train, epochs=4, batch_size=128, optimizer=Adam(2e-3), rng=rng, verbose=0)
    return net


# --- to_mnist -------------------------------------------------------------------------------------

def test_mnist_centres_its_digits_at_pixel_14(mnist):
    """The reference to_mnist follows: MNIST's centre of mass is (14, 14) within half a pixel."""
    images = mnist[0][:5000].reshape(-1, 28, 28)
    centres = np.array([ndimage.center_of_mass(image) for image in images])
    assert np.allclose(centres.mean(axis=0), 14.0, atol=0.05)
    assert np.all(np.abs(centres - 14.0) <= 0.55)


@pytest.mark.parametrize("digit", sorted(STROKES))
def test_drawn_strokes_land_centred_with_mnist_like_mass_and_box(digit, mnist_shapes):
    drawing = render_strokes(STROKES[digit], size=280, brush=24)
    image = to_mnist(drawing)
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0 and image.max() > 0.9
    height, width = bounding_box_size(image > 0)
    assert max(height, width) == 20                    # the longer side, as in MNIST
    assert np.allclose(ndimage.center_of_mass(image), 14.0, atol=0.5)
    (mass_low, height_low, width_low), (mass_high, height_high, width_high) = mnist_shapes[digit]
    assert mass_low <= image.sum() <= mass_high
    assert height_low <= height <= height_high and width_low <= width <= width_high


def test_the_stages_crop_scale_and_paste():
    drawing = render_strokes(SEVEN, size=280, brush=24)
    stages = mnist_stages(drawing)
    top, bottom, left, right = stages.box
    inked_rows = np.flatnonzero((drawing > 0.05).any(axis=1))
    assert (top, bottom - 1) == (inked_rows[0], inked_rows[-1])
    assert stages.cropped.shape == (bottom - top, right - left)
    assert max(stages.scaled.shape) == 20
    aspect = stages.cropped.shape[1] / stages.cropped.shape[0]
    assert abs(stages.scaled.shape[1] / stages.scaled.shape[0] - aspect) < 1 / 20
    # the scaled digit sits unchanged in the frame, where ``shift`` says
    row, column = stages.shift
    frame = stages.final[row:row + stages.scaled.shape[0], column:column + stages.scaled.shape[1]]
    np.testing.assert_array_equal(frame, stages.scaled)
    assert stages.final.sum() == pytest.approx(stages.scaled.sum(), rel=1e-6)


def area_average_by_brute_force(image, shape):
    """Exact area averaging: split every pixel into n_out x n_out equal parts (np.repeat),
    then average blocks of n_in x n_in parts."""
    (rows_in, columns_in), (rows_out, columns_out) = image.shape, shape
    fine = np.repeat(np.repeat(image.astype(np.float64), rows_out, axis=0), columns_out, axis=1)
    return fine.reshape(rows_out, rows_in, columns_out, columns_in).mean(axis=(1, 3))


@pytest.mark.parametrize("shape", [(222, 23), (222, 170), (97, 210), (7, 13), (20, 9)])
def test_scaling_is_exact_area_averaging(shape):
    image = np.random.default_rng(1).random(shape).astype(np.float32)
    ours = scale_longer_side(image, 20)
    assert max(ours.shape) == 20
    assert ours.shape[0] / ours.shape[1] == pytest.approx(shape[0] / shape[1], rel=0.25)
    np.testing.assert_allclose(ours, area_average_by_brute_force(image, ours.shape), atol=1e-5)
    assert ours.mean() == pytest.approx(image.mean(), rel=1e-4)   # ink is averaged, not lost


def test_scaling_by_a_whole_factor_matches_pillows_box_filter():
    image = np.random.default_rng(2).random((200, 120)).astype(np.float32)
    pillow = Image.fromarray(image).resize((12, 20), Image.Resampling.BOX)
    np.testing.assert_allclose(scale_longer_side(image, 20), np.asarray(pillow), atol=1e-5)


def test_where_and_how_large_the_digit_is_drawn_does_not_matter():
    drawing = render_strokes(SEVEN, size=280, brush=24)
    moved = np.roll(drawing, (10, 60), axis=(0, 1))     # the ink stays on the pad
    np.testing.assert_array_equal(to_mnist(moved), to_mnist(drawing))
    doubled = np.kron(drawing, np.ones((2, 2), dtype=np.float32))  # the same, on a 560 pad
    np.testing.assert_allclose(to_mnist(doubled), to_mnist(drawing), atol=1e-5)


def test_bytes_floats_and_booleans_are_read_alike():
    drawing = render_strokes(ONE, size=280, brush=24)
    as_bytes = np.round(drawing * 255).astype(np.uint8)
    np.testing.assert_allclose(to_mnist(as_bytes), to_mnist(as_bytes / 255.0), atol=1e-6)
    np.testing.assert_allclose(to_mnist(as_bytes.astype(float)), to_mnist(as_bytes), atol=1e-6)
    assert to_mnist(drawing > 0.5).max() == pytest.approx(1.0)
    np.testing.assert_array_equal(to_mnist((drawing > 0.5).astype(np.uint8)),   # 0/1 integers
                                  to_mnist(drawing > 0.5))


@pytest.mark.parametrize("canvas", [np.zeros((280, 280)), np.zeros((28, 28), dtype=np.uint8)])
def test_an_empty_canvas_asks_for_a_digit(canvas):
    with pytest.raises(EmptyDrawingError, match="draw a digit first"):
        to_mnist(canvas)


def test_a_single_dot_is_not_a_digit():
    with pytest.raises(EmptyDrawingError, match="draw a digit first"):
        to_mnist(render_strokes([[(140, 140)]], size=280, brush=20))


def test_dark_ink_on_white_paper_is_refused_not_guessed():
    paper = 1.0 - render_strokes(ONE, size=280)
    with pytest.raises(ValueError, match="dark ink on a light background"):
        to_mnist(paper)


@pytest.mark.parametrize("bad, message", [(np.zeros((2, 28, 28)), "2-D"),
                                          (np.full((28, 28), 300.0), "0..255"),
                                          (np.full((28, 28), np.nan), "NaN")])
def test_what_cannot_be_a_drawing_is_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        to_mnist(bad)


def enlarge_like_a_drawing(digit, rng, size=280):
    """An MNIST digit as if drawn on the pad: enlarged (Pillow, bicubic) to 0.6-1.0 of the pad,
    strokes thickened, placed off-centre."""
    side = int(rng.uniform(0.6, 1.0) * size)
    big = Image.fromarray(digit.reshape(28, 28)).resize((side, side), Image.Resampling.BICUBIC)
    big = ndimage.grey_dilation(np.clip(np.asarray(big), 0, 1), size=(7, 7))
    canvas = np.zeros((size, size), dtype=np.float32)
    top, left = rng.integers(0, size - side + 1, size=2)
    canvas[top:top + side, left:left + side] = big
    return canvas


def test_enlarged_mnist_digits_pushed_back_are_read_as_well(mnist, network):
    X_test, y_test = mnist[2:]
    rng = np.random.default_rng(3)
    chosen = rng.choice(len(X_test), size=600, replace=False)
    redrawn = np.stack([to_mnist(enlarge_like_a_drawing(X_test[i], rng)).ravel()
                        for i in chosen])
    accuracy = np.mean(network.predict(redrawn) == y_test[chosen])
    original_accuracy = np.mean(network.predict(X_test[chosen]) == y_test[chosen])
    print(f"accuracy: originals {original_accuracy:.1%}, enlarged and back {accuracy:.1%}")
    assert accuracy >= 0.95


# --- DigitReader ----------------------------------------------------------------------------------

def small_network(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential([Dense(784, 16, rng=rng), ReLU(), Dense(16, 8, rng=rng), ReLU(),
                       Dense(8, 10, rng=rng)], loss=SoftmaxCrossEntropy())


def by_hand(net, image, temperature=1.0, off=None):
    """The forward pass written out with NumPy, optionally with hidden unit (layer, j) at 0."""
    (W1, b1), (W2, b2), (W3, b3) = [(layer.params["W"].astype(float), layer.params["b"])
                                    for layer in net.layers if layer.params]
    h1 = np.maximum(image.reshape(784) @ W1 + b1, 0)
    if off and off[0] == 0:
        h1[off[1]] = 0
    h2 = np.maximum(h1 @ W2 + b2, 0)
    if off and off[0] == 1:
        h2[off[1]] = 0
    z = h2 @ W3 + b3
    return softmax(z / temperature), [h1, h2]


def test_reader_gives_the_networks_probabilities_and_hidden_layers():
    net = small_network()
    image = to_mnist(render_strokes(SEVEN))
    reading = DigitReader(net).read(image)
    np.testing.assert_allclose(reading.probabilities, net.predict_proba(image.reshape(1, -1))[0],
                               rtol=1e-5)
    _, hidden = by_hand(net, image)
    assert [len(layer) for layer in reading.hidden] == [16, 8]
    for ours, reference in zip(reading.hidden, hidden):
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("temperature, off", [(0.5, None), (3.0, None), (1.0, (0, 3)),
                                               (2.0, (1, 5))])
def test_temperature_and_a_switched_off_unit(temperature, off):
    net = small_network()
    image = to_mnist(render_strokes(ZERO))
    reading = DigitReader(net).read(image, temperature=temperature, switched_off=off)
    expected, _ = by_hand(net, image, temperature, off)
    np.testing.assert_allclose(reading.probabilities, expected, rtol=1e-4, atol=1e-6)


def test_incoming_weights_are_the_units_column():
    net = small_network()
    reader = DigitReader(net)
    np.testing.assert_array_equal(reader.incoming_weights(0, 3), net.layers[0].params["W"][:, 3])
    np.testing.assert_array_equal(reader.incoming_weights(1, 7), net.layers[2].params["W"][:, 7])
    with pytest.raises(ValueError, match="hidden layers have"):
        reader.incoming_weights(1, 8)


def test_reader_refuses_networks_that_do_not_read_digits():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="784 inputs to 10"):
        DigitReader(Sequential([Dense(2, 10, rng=rng)]))
    with pytest.raises(TypeError, match="nnlib network"):
        DigitReader("mnist_mlp.npz")


def test_reader_accepts_a_fitted_mlp_classifier():
    rng = np.random.default_rng(0)
    X, y = rng.random((50, 784)).astype(np.float32), np.arange(50) % 10
    classifier = MLPClassifier(hidden_layer_sizes=(12,), epochs=1, random_state=0).fit(X, y)
    reading = DigitReader(classifier).read(X[0])
    np.testing.assert_allclose(reading.probabilities, classifier.predict_proba(X[:1])[0],
                               rtol=1e-5)


# --- DrawPad, as the browser drives it --------------------------------------------------------

def stroke_by_stroke(pad, strokes):
    """What the browser does: after each stroke, send the whole canvas as a PNG."""
    for count in range(1, len(strokes) + 1):
        pad.drawing = ink_to_png(render_strokes(strokes[:count], size=pad.size, brush=pad.brush))


def test_png_round_trip_keeps_the_ink_to_one_byte():
    ink = render_strokes(ZERO)
    np.testing.assert_allclose(png_to_ink(ink_to_png(ink)), ink, atol=0.5 / 255)


def test_pad_reads_each_stroke_as_it_arrives():
    net = small_network()
    pad = DrawPad(net)
    assert pad.prediction == -1 and pad.message == "Draw a digit first."
    stroke_by_stroke(pad, SEVEN[0:1] + [[(20, 270), (30, 275)]])
    expected, _ = by_hand(net, to_mnist(pad.image))
    assert pad.prediction == int(np.argmax(expected))
    np.testing.assert_allclose(pad.probabilities, expected, atol=1e-4)
    assert [len(layer) for layer in pad.hidden] == pad.hidden_sizes == [16, 8]
    assert len(pad.preview) == 784
    np.testing.assert_allclose(pad.preview, pad.mnist_image.ravel(), atol=1e-4)


def test_pad_shows_draw_a_digit_first_for_an_empty_or_cleared_canvas():
    pad = DrawPad(small_network())
    stroke_by_stroke(pad, ONE)
    assert pad.prediction >= 0
    pad.drawing = ink_to_png(render_strokes([[(140, 140)]], brush=10))   # a dot: too little
    assert pad.prediction == -1 and "draw a digit first" in pad.message
    assert pad.probabilities == [] and pad.hidden == [] and pad.mnist_image is None
    pad.drawing = ""                                                      # "Clear"
    assert pad.prediction == -1 and pad.message == "Draw a digit first."


def test_pad_inspector_selects_a_unit_and_switches_it_off():
    net = small_network()
    pad = DrawPad(net)
    stroke_by_stroke(pad, ZERO)
    image = to_mnist(pad.image)
    pad.selected_unit = [0, 3]
    assert pad.unit["shape"] == [28, 28]
    np.testing.assert_allclose(pad.unit["weights"], net.layers[0].params["W"][:, 3], atol=1e-5)
    assert pad.unit["value"] == pytest.approx(by_hand(net, image)[1][0][3], abs=1e-3)
    assert pad.probabilities_unit_off == []
    pad.unit_switched_off = True
    np.testing.assert_allclose(pad.probabilities_unit_off, by_hand(net, image, off=(0, 3))[0],
                               atol=1e-4)
    pad.temperature = 2.5
    np.testing.assert_allclose(pad.probabilities, by_hand(net, image, 2.5)[0], atol=1e-4)
    pad.selected_unit = [1, 5]
    assert pad.unit["shape"] == [1, 16]
    np.testing.assert_allclose(pad.probabilities_unit_off,
                               by_hand(net, image, 2.5, off=(1, 5))[0], atol=1e-4)


def test_pad_shows_test_digits_with_their_labels(mnist, network):
    X_test, y_test = mnist[2:]
    pad = DrawPad(network, test_images=X_test[:50], test_labels=y_test[:50])
    correct = 0
    for request in range(1, 11):
        pad.test_digit_requests = request                 # the button in the browser
        assert pad.test_label in y_test[:50]
        correct += pad.prediction == pad.test_label
    assert correct >= 9


def test_pad_without_a_network_only_draws():
    pad = DrawPad()
    stroke_by_stroke(pad, ONE)
    assert pad.prediction == -1 and "No network" in pad.message
    assert pad.mnist_image.shape == (28, 28)


def test_pad_ships_its_browser_code_and_fetches_nothing():
    files = importlib.resources.files("nnlib.drawpad")
    javascript = files.joinpath("drawpad.js").read_text(encoding="utf-8")
    css = files.joinpath("drawpad.css").read_text(encoding="utf-8")
    assert DrawPad._esm == javascript and DrawPad._css == css
    assert "export default" in javascript
    for code in (javascript, css):
        assert not re.search(r"https?:|\bimport\s|@import|url\(", code)
    for event in ("pointerdown", "pointermove", "pointerup"):
        assert event in javascript
    # once per stroke: the drawing is sent when a stroke ends, never while the pointer moves
    move_handler = javascript.split('"pointermove"')[1].split("});")[0]
    assert "send()" not in move_handler and "save_changes" not in move_handler


# --- the static fallback ------------------------------------------------------------------------

def bar_heights(fig):
    return np.array([bar.get_height() for bar in fig.axes[2].patches])


def test_predict_image_from_a_png_scan_and_from_an_array(tmp_path):
    net = small_network()
    ink = render_strokes(SEVEN)
    scan = tmp_path / "seven.png"          # dark ink on white paper, as a scanner gives it
    Image.fromarray(np.round(255 * (1 - ink)).astype(np.uint8)).save(scan)
    expected = net.predict_proba(to_mnist(ink).reshape(1, -1))[0]
    for source in (scan, str(scan), ink):
        fig = predict_image(source, net)
        assert len(fig.axes) == 3
        np.testing.assert_allclose(bar_heights(fig), expected, atol=1e-3)
        plt.close(fig)


def test_predict_image_reads_a_transparent_png_as_the_pad_saves_it(tmp_path):
    ink = render_strokes(ZERO)
    path = tmp_path / "zero.png"
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[..., 3] = np.round(255 * ink)
    Image.fromarray(rgba).save(path)
    np.testing.assert_allclose(read_image(path), ink, atol=0.5 / 255)


def test_predict_image_asks_for_a_digit_on_an_empty_image(tmp_path):
    path = tmp_path / "blank.png"
    Image.new("L", (200, 200), color=255).save(path)
    with pytest.raises(EmptyDrawingError, match="draw a digit first"):
        predict_image(path, small_network())
