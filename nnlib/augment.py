"""Data augmentation: small random shifts and affine transforms of 28x28 images (lesson 07).

A network that has seen a digit only in the middle of the frame has to learn "a 3 one pixel to
the left" separately. Showing it every training image moved, turned or scaled a little, in a
new way in every epoch, teaches it that these changes do not change the label -- and it stops
memorising the exact pixels of the 60 000 training images.

Every function works on a whole batch at once (no loop over the images): images are (N, 784)
rows or (N, 28, 28) pictures of floats (pixel values in [0, 1], background 0), and the result
has the same shape and dtype. Pixels that come from outside the frame are 0 (background).

    shift_images(images, shifts)              move image n by shifts[n] = (down, right) whole pixels
    affine_images(images, rotation_degrees, scales, shifts)
                                              rotate, scale and move, with bilinear interpolation
    random_shifts(images, rng, max_shift=1)   shifts drawn from the Generator rng
    random_affine(images, rng, max_rotation=10.0, max_scale=0.1, max_shift=2.0)
    random_flips(images, rng, probability=0.5)   mirror left-right (clothes, not digits: a
                                              mirrored 2 is no digit, a mirrored shirt a shirt)
    predict_proba_shifted(network, images)    test-time augmentation: the probabilities
                                              averaged over the image and its 1-pixel moves

The random ones draw from an explicit ``np.random.Generator`` and nothing else, so a seeded run
is reproducible. To augment every training batch of ``fit``:

    net.fit(X, y, augment=functools.partial(random_shifts, max_shift=1), rng=rng)
"""

import numbers

import numpy as np

SIDE = 28  # MNIST and Fashion-MNIST images are SIDE x SIDE pixels
# The image itself and its four neighbours one pixel up, down, left and right.
NEIGHBOUR_SHIFTS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


# --- checks -------------------------------------------------------------------------------------

def _as_pictures(images, where):
    """(N, 28, 28) view of (N, 784) or (N, 28, 28) float images; plus the shape to return."""
    if not isinstance(images, np.ndarray):
        raise TypeError(
            f"{where}: images must be a NumPy array of shape (N, 784) or (N, 28, 28), got "
            f"{type(images).__name__}; convert it with np.asarray(images, dtype=np.float32)."
        )
    if images.dtype.kind != "f":
        raise TypeError(
            f"{where}: images must hold floats (pixel values in [0, 1]), got dtype "
            f"{images.dtype}; convert them with images.astype(np.float32) / 255."
        )
    if images.shape[1:] not in ((SIDE * SIDE,), (SIDE, SIDE)):
        raise ValueError(
            f"{where}: images must have shape (N, {SIDE * SIDE}) or (N, {SIDE}, {SIDE}), got "
            f"{images.shape}; a single image x goes in as x[None]."
        )
    return images.reshape(len(images), SIDE, SIDE), images.shape


def _per_image(name, values, count, where, columns=None):
    """values broadcast to (count,) or (count, columns) floats, checked finite."""
    shape = (count,) if columns is None else (count, columns)
    try:
        array = np.broadcast_to(np.asarray(values, dtype=np.float64), shape)
    except (ValueError, TypeError):
        raise ValueError(
            f"{where}: {name} must be a number or one value per image, shape {shape}; got "
            f"{np.shape(values)}."
        ) from None
    if not np.isfinite(array).all():
        raise ValueError(f"{where}: {name} must be finite numbers, got {values!r}.")
    return array


def _check_generator(rng, where):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{where}: rng must be a np.random.Generator, got {rng!r}; pass e.g. "
            f"np.random.default_rng(0) -- the same generator as fit's, so one seed fixes the run."
        )


def _check_limit(name, value, high, where, example, *, whole=False):
    kind = numbers.Integral if whole else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not 0 <= value <= high:
        raise ValueError(
            f"{where}: {name} must be a {'whole' if whole else 'real'} number from 0 to {high}, "
            f"e.g. {example}; got {value!r}."
        )
    return value


# --- deterministic transforms -------------------------------------------------------------------

def shift_images(images, shifts):
    """Move every image by whole pixels, filling with 0 what comes in from outside the frame.

    images: (N, 784) or (N, 28, 28) floats; shifts: (N, 2) integers (down, right), negative for
    up or left. Returns the same shape and dtype:

        out[n, r, c] = images[n, r - down_n, c - right_n]   (0 where that falls outside)

    i.e. ``np.roll`` by (down, right) with zeros instead of the wrapped-around pixels.
    """
    pictures, shape = _as_pictures(images, "shift_images")
    shifts = np.asarray(shifts)
    if shifts.shape != (len(pictures), 2) or shifts.dtype.kind not in "iu":
        raise ValueError(
            f"shift_images: shifts must be integers of shape ({len(pictures)}, 2), one (down, "
            f"right) pair per image; got {shifts.dtype} of shape {shifts.shape}."
        )
    moved = np.zeros_like(pictures)
    # One copy per distinct shift (at most (2 max_shift + 1)^2 of them), not one per image:
    # all images with shift (down, right) move together as one block of the batch.
    distinct, which = np.unique(shifts, axis=0, return_inverse=True)
    for group, (down, right) in enumerate(distinct.tolist()):
        if abs(down) >= SIDE or abs(right) >= SIDE:
            continue                                  # moved out of the frame: stays 0
        images_here = np.flatnonzero(which.ravel() == group)
        target = np.s_[max(down, 0):SIDE + min(down, 0), max(right, 0):SIDE + min(right, 0)]
        source = np.s_[max(-down, 0):SIDE + min(-down, 0), max(-right, 0):SIDE + min(-right, 0)]
        moved[images_here, target[0], target[1]] = pictures[images_here, source[0], source[1]]
    return moved.reshape(shape)


def affine_images(images, rotation_degrees, scales, shifts):
    """Rotate, scale and move every image about its centre, with bilinear interpolation.

    images: (N, 784) or (N, 28, 28) floats. Per image (a number applies to all):
    rotation_degrees (N,), counter-clockwise as the picture is shown; scales (N,), > 1 enlarges;
    shifts (N, 2), (down, right) in pixels, fractions allowed. Returns the same shape and dtype.

    Each output pixel p = (row, col) is read from the source point

        source = centre + R(angle) (p - centre - shift) / scale,   centre = (13.5, 13.5),
        R(angle) = [[cos, sin], [-sin, cos]]  in (row, col) coordinates (rows point down),

    by bilinear interpolation between the four pixels around it, counting pixels outside the
    frame as 0. A rotation by 90 degrees therefore equals ``np.rot90`` exactly.
    """
    pictures, shape = _as_pictures(images, "affine_images")
    count, dtype = len(pictures), pictures.dtype
    angles = np.deg2rad(_per_image("rotation_degrees", rotation_degrees, count, "affine_images"))
    scales = _per_image("scales", scales, count, "affine_images")
    shifts = _per_image("shifts", shifts, count, "affine_images", columns=2)
    if not (scales > 0).all():
        raise ValueError(f"affine_images: scales must be positive, got {scales.min()}.")
    cos = (np.cos(angles) / scales).astype(dtype)[:, None, None]
    sin = (np.sin(angles) / scales).astype(dtype)[:, None, None]
    centre = (SIDE - 1) / 2
    grid = np.arange(SIDE, dtype=dtype) - dtype.type(centre)
    down = grid[None, :, None] - shifts[:, 0, None, None].astype(dtype)    # (N, 28, 1)
    right = grid[None, None, :] - shifts[:, 1, None, None].astype(dtype)   # (N, 1, 28)
    source_rows = centre + cos * down + sin * right                        # (N, 28, 28)
    source_cols = centre - sin * down + cos * right
    return _bilinear(pictures, source_rows, source_cols).reshape(shape)


def _bilinear(pictures, rows, cols):
    """pictures (N, 28, 28) read at the real coordinates rows, cols (N, 28, 28); outside = 0.

    value = (1-fr)(1-fc) P[r0, c0] + (1-fr) fc P[r0, c0+1] + fr (1-fc) P[r0+1, c0] + fr fc P[r0+1, c0+1]
    with r0 = floor(row), fr = row - r0 (and the same for columns).
    """
    count = len(pictures)
    width = SIDE + 3
    # One row/column of zeros before the frame and two after: every corner read below is
    # inside the padded array, and coordinates further out are clipped to the zero border.
    padded = np.zeros((count, width, width), dtype=pictures.dtype)
    padded[:, 1:SIDE + 1, 1:SIDE + 1] = pictures
    # Coordinates in the padded array, from 0 (the zero border) to SIDE + 1.
    rows = np.clip(rows, -1, SIDE) + 1
    cols = np.clip(cols, -1, SIDE) + 1
    top, left = np.floor(rows), np.floor(cols)
    down_weight, right_weight = rows - top, cols - left
    # Index of the top-left corner in the flattened batch; computed in floats (exact for
    # whole numbers this small), converted once.
    start = np.arange(count, dtype=rows.dtype)[:, None, None] * (width * width)
    corner = (top * width + left + start).astype(np.intp)
    flat = padded.ravel()
    upper_left, upper_right = flat[corner], flat[corner + 1]
    lower_left, lower_right = flat[corner + width], flat[corner + width + 1]
    upper = upper_left + right_weight * (upper_right - upper_left)
    lower = lower_left + right_weight * (lower_right - lower_left)
    return upper + down_weight * (lower - upper)


# --- random augmentation ------------------------------------------------------------------------

def random_shifts(images, rng, max_shift=1):
    """Every image moved by its own random whole-pixel shift, up to max_shift in each direction.

    images (N, 784) or (N, 28, 28) floats; rng a ``np.random.Generator``; the shifts (down,
    right) are drawn uniformly from {-max_shift, ..., max_shift}. Returns the same shape and
    dtype (see ``shift_images``).
    """
    _check_generator(rng, "random_shifts")
    _check_limit("max_shift", max_shift, SIDE - 1, "random_shifts", "1 or 2", whole=True)
    pictures, _ = _as_pictures(images, "random_shifts")
    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(pictures), 2))
    return shift_images(images, shifts)


def random_affine(images, rng, max_rotation=10.0, max_scale=0.1, max_shift=2.0):
    """Every image rotated, scaled and moved by its own small random amounts (bilinear).

    Drawn uniformly and independently per image from the Generator rng:
    rotation in [-max_rotation, max_rotation] degrees, scale in [1 - max_scale, 1 + max_scale],
    shift (down, right) in [-max_shift, max_shift] pixels each. Returns the same shape and dtype
    as images (see ``affine_images``).
    """
    where = "random_affine"
    _check_generator(rng, where)
    _check_limit("max_rotation", max_rotation, 180, where, "10.0 (degrees)")
    _check_limit("max_scale", max_scale, 0.5, where, "0.1 (for 90 % .. 110 %)")
    _check_limit("max_shift", max_shift, SIDE / 2, where, "2.0 (pixels)")
    pictures, _ = _as_pictures(images, where)
    count = len(pictures)
    rotations = rng.uniform(-max_rotation, max_rotation, size=count)
    scales = rng.uniform(1 - max_scale, 1 + max_scale, size=count)
    shifts = rng.uniform(-max_shift, max_shift, size=(count, 2))
    return affine_images(images, rotations, scales, shifts)


def random_flips(images, rng, probability=0.5):
    """Every image mirrored left to right with the given probability, drawn from rng.

    For Fashion-MNIST, where a mirrored shoe is still a shoe; not for digits. images (N, 784)
    or (N, 28, 28) floats; returns a new array of the same shape and dtype.
    """
    _check_generator(rng, "random_flips")
    _check_limit("probability", probability, 1, "random_flips", "0.5")
    pictures, shape = _as_pictures(images, "random_flips")
    flipped = pictures.copy()
    chosen = np.flatnonzero(rng.random(len(pictures)) < probability)
    flipped[chosen] = pictures[chosen, :, ::-1]
    return flipped.reshape(shape)


# --- augmentation at test time ------------------------------------------------------------------

def predict_proba_shifted(network, images, shifts=NEIGHBOUR_SHIFTS):
    """Test-time augmentation: class probabilities averaged over shifted copies of each image.

    A network trained on shifted images has learnt that a digit moved by a pixel is the same
    digit, but its answer still wobbles a little with the exact position. Asking it about a few
    moved copies and averaging the answers smooths that wobble out:

        p(class | image) = (1 / S) sum_s  network.predict_proba(shift_images(image, s))

    over the S shifts (down, right) in ``shifts``; the default is the image and its four
    neighbours one pixel away. network: anything with ``predict_proba`` taking (N, 784) rows
    (a ``Sequential``); images: (N, 784) or (N, 28, 28). Returns (N, C): each row sums to 1, and
    ``.argmax(axis=1)`` gives the predicted classes. Costs S ordinary predictions.
    """
    if not callable(getattr(network, "predict_proba", None)):
        raise TypeError(
            f"predict_proba_shifted: network must have a predict_proba method (an nnlib "
            f"Sequential, e.g. nnlib.io.load(path)); got {type(network).__name__}."
        )
    pictures, _ = _as_pictures(images, "predict_proba_shifted")
    bad_rows = np.flatnonzero(~np.isfinite(pictures).all(axis=(1, 2)))
    if bad_rows.size:   # checked here: a shift could move a NaN out of the frame unnoticed
        raise ValueError(
            f"predict_proba_shifted: {bad_rows.size} images contain NaN or infinite pixels (the "
            f"first: {bad_rows[:5].tolist()}); fix or drop them before predicting."
        )
    try:
        moves = np.asarray(shifts)
    except ValueError:   # ragged, e.g. ((0, 0), (1,))
        moves = np.empty((0, 0))
    if moves.ndim != 2 or moves.shape[1] != 2 or len(moves) == 0 or moves.dtype.kind not in "iu":
        raise ValueError(
            f"predict_proba_shifted: shifts must be a non-empty list of whole-pixel (down, right) "
            f"pairs, e.g. ((0, 0), (1, 0), (-1, 0)); got {shifts!r}."
        )
    total = None
    for move in moves:        # one shifted copy of the batch at a time, to bound the memory
        moved = shift_images(pictures, np.tile(move, (len(pictures), 1)))
        probabilities = network.predict_proba(moved.reshape(len(pictures), SIDE * SIDE))
        total = probabilities if total is None else total + probabilities
    return total / len(moves)
