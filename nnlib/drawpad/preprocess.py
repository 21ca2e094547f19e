"""From a drawing to an MNIST-style 28 x 28 image (lesson 04b).

A network trained on MNIST has only ever seen digits prepared in one particular way, and it
reads a drawing well only if the drawing is prepared the same way. The MNIST authors took each
scanned digit and

1. cut it out: cropped it to the bounding box of its ink;
2. scaled it, keeping its aspect ratio, until the longer side measured 20 pixels, averaging
   the ink that falls into each new pixel (anti-aliasing: the edges turn grey);
3. pasted it into a 28 x 28 frame so that its centre of mass (the ink-weighted mean position)
   sits in the middle of the frame.

``to_mnist`` does exactly these three steps in NumPy; ``mnist_stages`` returns every
intermediate picture, which lesson 04b draws side by side. ``render_strokes`` turns stroke
coordinates into a drawing the way the pad's canvas does, so that drawings can be made in code.

    image = to_mnist(drawing)                 # (28, 28) float32 in [0, 1]
    network.predict_proba(image.reshape(1, -1))
"""

import itertools
from typing import NamedTuple

import numpy as np

MNIST_SIDE = 28     # the frame
DIGIT_BOX = 20      # the longer side of the digit inside the frame
MNIST_CENTRE = 14   # where MNIST puts the centre of mass (row and column)
INK_THRESHOLD = 0.05  # fainter pixels are paper, not ink, when finding the bounding box
MIN_EXTENT = 0.1    # ink spanning less than this share of the drawing's longer side: no digit


class EmptyDrawingError(ValueError):
    """The drawing has no ink, or too little to be a digit: draw a digit first."""


class MnistStages(NamedTuple):
    """Every picture along the way from a drawing to the network's input (see ``mnist_stages``).

    drawing    (H, W) float32 in [0, 1]: the input, ink high
    box        (top, bottom, left, right): the ink's bounding box, rows top..bottom-1
    cropped    the drawing cut to that box
    scaled     the crop with its longer side scaled to 20 px, (20, w) or (h, 20)
    centre     (row, column) centre of mass of ``scaled``, in its pixel coordinates
    shift      (rows, columns) where ``scaled``'s top-left pixel lands in the 28 x 28 frame
    final      (28, 28) float32 in [0, 1]: what the network reads
    """

    drawing: np.ndarray
    box: tuple
    cropped: np.ndarray
    scaled: np.ndarray
    centre: tuple
    shift: tuple
    final: np.ndarray


def to_mnist(image):
    """Prepare a drawing like MNIST's digits: crop, scale to 20 px, centre on the mass.

    Args:
        image: (H, W) array of any size, ink high on a 0 background: floats in [0, 1], or
            integers (or floats) in 0..255, or 0/1 integers or booleans.
    Returns:
        (28, 28) float32 array in [0, 1]; ``image.reshape(1, -1)`` is one network input.
    Raises:
        EmptyDrawingError: no ink, or ink spanning less than 10 % of the drawing's longer side.
        ValueError: not a 2-D image, values out of range, or dark ink on a light background.
    """
    return mnist_stages(image).final


def mnist_stages(image):
    """``to_mnist`` step by step; returns an ``MnistStages`` with every intermediate picture."""
    drawing = as_ink(image)
    box = ink_bounding_box(drawing)
    top, bottom, left, right = box
    cropped = drawing[top:bottom, left:right]
    scaled = scale_longer_side(cropped, DIGIT_BOX)
    centre = centre_of_mass(scaled)
    shift = _shift_to_centre(scaled.shape, centre)
    final = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    final[shift[0]:shift[0] + scaled.shape[0], shift[1]:shift[1] + scaled.shape[1]] = scaled
    return MnistStages(drawing, box, cropped, scaled, centre, shift, np.clip(final, 0.0, 1.0))


def as_ink(image):
    """The drawing as (H, W) float32 ink in [0, 1]; refuses what cannot be a drawing.

    Integers are read as 0..255 (uint8 pixels), or as 0/1 when 1 is their largest value;
    floats up to 1 as they are, floats up to 255 as 0..255.
    """
    array = np.asarray(image)
    if array.ndim != 2 or min(array.shape) < 1:
        raise ValueError(
            f"to_mnist expects one 2-D drawing (H, W), got shape {array.shape}. For a colour "
            f"image, convert it to grey first (e.g. image.mean(axis=2)); for a flat MNIST row, "
            f"use row.reshape(28, 28).")
    if array.dtype == bool:
        ink = array.astype(np.float32)
    elif np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating):
        ink = array.astype(np.float32)
        if not np.all(np.isfinite(ink)):
            raise ValueError("The drawing contains NaN or infinite values.")
        low, high = float(ink.min()), float(ink.max())
        if low < 0 or high > 255:
            raise ValueError(
                f"Pixel values must lie in [0, 1] or 0..255 (ink high); got {low:g} to {high:g}.")
        if high > 1:
            ink /= 255.0
    else:
        raise ValueError(f"The drawing must hold numbers, got dtype {array.dtype}.")
    _refuse_light_background(ink)
    return ink


def _refuse_light_background(ink):
    """MNIST is light ink on black; a scan is dark ink on white. Refuse the latter, never guess."""
    border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    if ink.size >= 16 and np.median(border) > 0.5:
        raise ValueError(
            "The drawing looks like dark ink on a light background (its border is mostly "
            "bright). to_mnist expects ink high on 0, as MNIST stores it: pass 1 - image "
            "(or 255 - image for bytes), or use predict_image, which inverts PNG scans itself.")


def ink_bounding_box(ink, threshold=INK_THRESHOLD, min_extent=MIN_EXTENT):
    """(top, bottom, left, right) of the pixels brighter than ``threshold`` (bottom, right
    exclusive); raises EmptyDrawingError if there are none or they span too little."""
    inked = ink > threshold
    rows = np.flatnonzero(inked.any(axis=1))
    columns = np.flatnonzero(inked.any(axis=0))
    if rows.size == 0:
        raise EmptyDrawingError("The drawing is empty: draw a digit first.")
    top, bottom = int(rows[0]), int(rows[-1]) + 1
    left, right = int(columns[0]), int(columns[-1]) + 1
    extent = max(bottom - top, right - left) / max(ink.shape)
    if extent < min_extent:
        raise EmptyDrawingError(
            f"The ink spans only {extent:.0%} of the drawing, too little to be a digit: draw a "
            f"digit first (across at least {min_extent:.0%} of the pad).")
    return top, bottom, left, right


def area_average_matrix(n_in, n_out):
    """(n_out, n_in) matrix that resamples a line of n_in pixels to n_out by area averaging.

    Output pixel i covers the stretch [i * n_in / n_out, (i + 1) * n_in / n_out) of the input;
    entry (i, j) is the share of that stretch which input pixel j covers. Each row sums to 1,
    so every output pixel is the mean of the ink under it: edges become grey, never jagged.
    """
    edges = np.arange(n_out + 1) * (n_in / n_out)          # output pixel borders, input units
    starts, ends = edges[:-1, None], edges[1:, None]
    pixels = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(ends, pixels + 1) - np.maximum(starts, pixels), 0, None)
    return overlap / (n_in / n_out)


def scale_longer_side(image, side=DIGIT_BOX):
    """Resize (h, w) so that its longer side is ``side``, keeping the aspect ratio.

    Area averaging along each axis: out = R @ image @ C.T with R, C from ``area_average_matrix``.
    """
    height, width = image.shape
    factor = side / max(height, width)
    new_height = max(1, round(height * factor))
    new_width = max(1, round(width * factor))
    rows = area_average_matrix(height, new_height)
    columns = area_average_matrix(width, new_width)
    return (rows @ image.astype(np.float64) @ columns.T).astype(np.float32)


def centre_of_mass(image):
    """(row, column): the ink-weighted mean of the pixel coordinates (pixel centres at 0, 1, ...)."""
    total = float(image.sum())
    rows = np.arange(image.shape[0]) @ image.sum(axis=1) / total
    columns = np.arange(image.shape[1]) @ image.sum(axis=0) / total
    return float(rows), float(columns)


def _shift_to_centre(shape, centre):
    """Top-left position of the digit in the frame that puts its centre of mass in the middle.

    MNIST's digits have their centre of mass at pixel (14, 14) of the frame, give or take half
    a pixel (measured on the training set: mean 14.0, spread 0.29, that of a whole-pixel shift).
    So we shift by the whole number of pixels that lands it nearest to 14. The shift never
    pushes ink out of the frame: a very lopsided digit stops at the border.
    """
    shift = []
    for size, position in zip(shape, centre):
        offset = int(np.floor(MNIST_CENTRE - position + 0.5))
        shift.append(int(np.clip(offset, 0, MNIST_SIDE - size)))
    return tuple(shift)


def render_strokes(strokes, size=280, brush=24.0):
    """Draw strokes on an empty (size, size) canvas as the pad does; returns float32 ink.

    strokes: a list of strokes, each a sequence of (x, y) points in canvas pixels (x to the
    right, y down, as on a screen). Every stroke is a line of width ``brush`` with round ends
    and joints; its edge is anti-aliased over one pixel, like the browser's canvas.
    """
    y, x = np.mgrid[0:size, 0:size] + 0.5        # pixel centres, canvas coordinates
    distance = np.full((size, size), np.inf)
    for stroke in strokes:
        points = np.asarray(stroke, dtype=float).reshape(-1, 2)
        if len(points) == 1:
            points = np.vstack([points, points])
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            distance = np.minimum(distance, _distance_to_segment(x, y, x0, y0, x1, y1))
    return np.clip(brush / 2 - distance + 0.5, 0.0, 1.0).astype(np.float32)


def _distance_to_segment(x, y, x0, y0, x1, y1):
    dx, dy = x1 - x0, y1 - y0
    length_squared = dx * dx + dy * dy
    if length_squared == 0:
        return np.hypot(x - x0, y - y0)
    t = np.clip(((x - x0) * dx + (y - y0) * dy) / length_squared, 0.0, 1.0)
    return np.hypot(x - (x0 + t * dx), y - (y0 + t * dy))


def digit_on_canvas(digit, size=280, scale=0.8, centre=(0.5, 0.5)):
    """Enlarge a 28 x 28 digit onto a (size, size) canvas, as if drawn there; float32 ink.

    The 28 x 28 frame is magnified to ``scale * size`` pixels by bilinear interpolation and
    placed with its middle at ``centre`` (fractions of the canvas, x then y), clipped at the
    canvas edges. The pad's "show a test digit" button draws MNIST digits this way.
    """
    digit = np.asarray(digit, dtype=np.float64).reshape(MNIST_SIDE, MNIST_SIDE)
    side = max(2, round(scale * size))
    # sample the digit at the centre of every enlarged pixel (in 28-pixel units)
    coordinates = (np.arange(side) + 0.5) * (MNIST_SIDE / side) - 0.5
    low = np.clip(np.floor(coordinates).astype(int), 0, MNIST_SIDE - 1)
    high = np.clip(low + 1, 0, MNIST_SIDE - 1)
    weight = np.clip(coordinates - low, 0.0, 1.0)
    rows = digit[low] * (1 - weight)[:, None] + digit[high] * weight[:, None]
    big = rows[:, low] * (1 - weight)[None, :] + rows[:, high] * weight[None, :]
    canvas = np.zeros((size, size), dtype=np.float32)
    top = round(centre[1] * size - side / 2)
    left = round(centre[0] * size - side / 2)
    target_rows = slice(max(top, 0), min(top + side, size))
    target_columns = slice(max(left, 0), min(left + side, size))
    canvas[target_rows, target_columns] = big[target_rows.start - top:target_rows.stop - top,
                                              target_columns.start - left:
                                              target_columns.stop - left]
    return np.clip(canvas, 0.0, 1.0)
