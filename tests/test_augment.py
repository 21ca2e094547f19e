"""nnlib.augment against independent references: scipy.ndimage (installed with scikit-learn),
np.roll and np.rot90, and the statistics of the random draws."""

import functools
import re

import numpy as np
import pytest

from nnlib.augment import (
    affine_images,
    predict_proba_shifted,
    random_affine,
    random_flips,
    random_shifts,
    shift_images,
)

ndimage = pytest.importorskip("scipy.ndimage")

RNG = np.random.default_rng(7)
IMAGES = RNG.random((6, 28, 28))
CENTRE = 13.5


def rolled_with_zeros(image, down, right):
    """np.roll, then zero the rows and columns that wrapped around."""
    out = np.roll(image, (down, right), axis=(0, 1))
    if down > 0:
        out[:down] = 0
    elif down < 0:
        out[down:] = 0
    if right > 0:
        out[:, :right] = 0
    elif right < 0:
        out[:, right:] = 0
    return out


def test_integer_shifts_equal_roll_with_zero_fill_and_scipy_shift():
    shifts = np.array([[1, -2], [0, 0], [3, 1], [-1, -1], [2, 0], [-27, 5]])
    moved = shift_images(IMAGES, shifts)
    for image, result, (down, right) in zip(IMAGES, moved, shifts):
        np.testing.assert_array_equal(result, rolled_with_zeros(image, down, right))
        np.testing.assert_allclose(result, ndimage.shift(image, (down, right), order=0,
                                                         mode="constant"), atol=1e-12)


def test_shapes_and_dtypes_are_kept():
    flat = IMAGES.reshape(6, 784).astype(np.float32)
    rng = np.random.default_rng(0)
    for function in (random_shifts, random_affine, random_flips):
        for images in (flat, IMAGES, IMAGES.astype(np.float32)):
            result = function(images, rng)
            assert result.shape == images.shape and result.dtype == images.dtype


def test_affine_matches_scipy_affine_transform():
    rotations = RNG.uniform(-30, 30, 6)
    scales = RNG.uniform(0.8, 1.2, 6)
    shifts = RNG.uniform(-3, 3, (6, 2))
    result = affine_images(IMAGES, rotations, scales, shifts)
    for image, out, angle, scale, shift in zip(IMAGES, result, np.deg2rad(rotations), scales,
                                               shifts):
        # scipy reads output pixel o from matrix @ o + offset, as affine_images' docstring says
        matrix = np.array([[np.cos(angle), np.sin(angle)],
                           [-np.sin(angle), np.cos(angle)]]) / scale
        offset = CENTRE - matrix @ (CENTRE + shift)
        expected = ndimage.affine_transform(image, matrix, offset=offset, order=1,
                                            mode="grid-constant", cval=0.0)
        np.testing.assert_allclose(out, expected, atol=1e-10)


def test_identity_and_quarter_turn():
    np.testing.assert_allclose(affine_images(IMAGES, 0.0, 1.0, 0.0), IMAGES, atol=1e-12)
    np.testing.assert_allclose(affine_images(IMAGES, 90.0, 1.0, 0.0),
                               np.rot90(IMAGES, axes=(1, 2)), atol=1e-12)
    # a whole-pixel translation is the integer shift
    np.testing.assert_allclose(affine_images(IMAGES, 0.0, 1.0, [[2.0, -1.0]] * 6),
                               shift_images(IMAGES, np.array([[2, -1]] * 6)), atol=1e-12)


def test_small_transforms_keep_the_ink_of_a_centred_digit():
    digit = np.zeros((1, 28, 28))
    digit[0, 8:20, 11:17] = 1.0
    rng = np.random.default_rng(1)
    many = np.repeat(digit, 200, axis=0)
    shifted = random_shifts(many, rng, max_shift=2)
    np.testing.assert_allclose(shifted.sum(axis=(1, 2)), digit.sum())
    turned = random_affine(many, rng, max_rotation=15, max_scale=0.0, max_shift=2.0)
    np.testing.assert_allclose(turned.sum(axis=(1, 2)), digit.sum(), rtol=0.02)
    scaled = affine_images(digit, 0.0, 1.1, 0.0)   # area grows with the square of the scale
    assert scaled.sum() == pytest.approx(digit.sum() * 1.1 ** 2, rel=0.05)


def test_random_shifts_draw_every_shift_in_range_and_follow_the_seed():
    dot = np.zeros((4000, 28, 28))
    dot[:, 14, 14] = 1.0
    moved = random_shifts(dot, np.random.default_rng(3), max_shift=1)
    rows, cols = np.nonzero(moved.sum(axis=0))
    assert set(rows) == {13, 14, 15} and set(cols) == {13, 14, 15}
    counts = moved.sum(axis=0)[13:16, 13:16]
    assert counts.min() > 4000 / 9 * 0.8           # uniform over the 9 shifts
    again = random_shifts(dot, np.random.default_rng(3), max_shift=1)
    np.testing.assert_array_equal(moved, again)
    assert not np.array_equal(moved, random_shifts(dot, np.random.default_rng(4)))


def test_random_affine_stays_within_its_limits():
    dot = np.zeros((500, 28, 28))
    dot[:, 14, 14] = 1.0
    moved = random_affine(dot, np.random.default_rng(5), max_rotation=0.0, max_scale=0.0,
                          max_shift=2.0)
    rows, cols = np.arange(28)[:, None], np.arange(28)[None, :]
    centre_row = (moved * rows).sum(axis=(1, 2))
    centre_col = (moved * cols).sum(axis=(1, 2))
    assert np.all(np.abs(centre_row - 14) <= 2 + 1e-9) and np.all(np.abs(centre_col - 14) <= 2 + 1e-9)
    assert centre_row.std() > 0.8                  # uniform on [-2, 2] has std 1.15
    np.testing.assert_array_equal(moved, random_affine(dot, np.random.default_rng(5), 0.0, 0.0))


def test_flips_mirror_about_half_of_the_images():
    images = RNG.random((1000, 28, 28))
    flipped = random_flips(images, np.random.default_rng(2))
    mirrored = np.all(flipped == images[:, :, ::-1], axis=(1, 2))
    kept = np.all(flipped == images, axis=(1, 2))
    assert np.all(mirrored ^ kept) and 430 < mirrored.sum() < 570
    assert random_flips(images, np.random.default_rng(2), probability=0.0) is not images
    np.testing.assert_array_equal(random_flips(images, np.random.default_rng(2), 0.0), images)
    np.testing.assert_array_equal(random_flips(images, np.random.default_rng(2), 1.0),
                                  np.flip(images, axis=2))


def test_usable_as_fit_augment():
    augment = functools.partial(random_shifts, max_shift=1)
    batch = IMAGES.reshape(6, 784).astype(np.float32)
    assert augment(batch, np.random.default_rng(0)).shape == (6, 784)


@pytest.mark.parametrize("call, message", [
    (lambda: random_shifts(IMAGES, 0), "np.random.Generator"),
    (lambda: random_shifts(IMAGES, np.random.default_rng(), max_shift=1.5), "max_shift"),
    (lambda: random_shifts(IMAGES, np.random.default_rng(), max_shift=-1), "max_shift"),
    (lambda: random_shifts(IMAGES.tolist(), np.random.default_rng()), "NumPy array"),
    (lambda: random_shifts((IMAGES * 255).astype(np.uint8), np.random.default_rng()), "floats"),
    (lambda: random_shifts(IMAGES[:, :20], np.random.default_rng()), r"\(N, 784\)"),
    (lambda: random_affine(IMAGES, np.random.default_rng(), max_scale=2.0), "max_scale"),
    (lambda: random_affine(IMAGES, np.random.default_rng(), max_rotation=float("nan")),
     "max_rotation"),
    (lambda: affine_images(IMAGES, [1.0, 2.0], 1.0, 0.0), "rotation_degrees"),
    (lambda: affine_images(IMAGES, 0.0, 0.0, 0.0), "scales must be positive"),
    (lambda: shift_images(IMAGES, np.zeros((6, 2))), "integers"),
    (lambda: random_flips(IMAGES, np.random.default_rng(), probability=2), "probability"),
])
def test_bad_arguments_get_clear_errors(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


# --- test-time augmentation ---------------------------------------------------------------------

class _PixelSoftmax:
    """A stand-in network whose probabilities depend on where the ink is: softmax of 10 fixed
    linear scores of the pixels, computed here without nnlib."""

    def __init__(self):
        self.weights = np.random.default_rng(3).normal(size=(784, 10))
        self.seen = []

    def predict_proba(self, rows):
        self.seen.append(rows.shape)
        scores = rows @ self.weights
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)


def test_shifted_prediction_is_the_mean_over_the_image_and_its_four_neighbours():
    network = _PixelSoftmax()
    expected = np.mean([network.predict_proba(np.stack([rolled_with_zeros(image, down, right)
                                                         for image in IMAGES]).reshape(6, 784))
                        for down, right in [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]], axis=0)
    for images in (IMAGES, IMAGES.reshape(6, 784)):
        result = predict_proba_shifted(network, images)
        np.testing.assert_allclose(result, expected, atol=1e-12)
        np.testing.assert_allclose(result.sum(axis=1), 1.0, atol=1e-12)
    assert set(network.seen) == {(6, 784)}    # every copy goes in as (N, 784) rows
    single = predict_proba_shifted(network, IMAGES, shifts=[(0, 0)])
    np.testing.assert_allclose(single, network.predict_proba(IMAGES.reshape(6, 784)), atol=1e-12)


def test_shifted_prediction_with_an_nnlib_network_leaves_the_images_alone():
    from nnlib import Dense, Sequential
    from nnlib.losses import SoftmaxCrossEntropy
    network = Sequential([Dense(784, 10, rng=np.random.default_rng(0))],
                         loss=SoftmaxCrossEntropy())
    images = IMAGES.reshape(6, 784).astype(np.float32)
    before = images.copy()
    shifted = predict_proba_shifted(network, images, shifts=[(2, -1), (0, 3)])
    by_hand = (network.predict_proba(shift_images(images, np.array([[2, -1]] * 6)))
               + network.predict_proba(shift_images(images, np.array([[0, 3]] * 6)))) / 2
    np.testing.assert_allclose(shifted, by_hand, rtol=1e-6)
    np.testing.assert_array_equal(images, before)


@pytest.mark.parametrize("shifts, words", [
    ([], "non-empty"), ([(0.5, 0)], "whole-pixel"), ([(0, 0, 1)], "(down, right)"),
    ([(0, 0), (1,)], "pairs"), ([(True, False)], "whole-pixel"),
])
def test_shifted_prediction_refuses_bad_shifts(shifts, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        predict_proba_shifted(_PixelSoftmax(), IMAGES, shifts=shifts)


def test_shifted_prediction_refuses_non_finite_images_and_non_networks():
    images = IMAGES.copy()
    images[4, 0, 0] = np.nan            # moved out of the frame by a shift up or left
    with pytest.raises(ValueError, match=r"NaN or infinite pixels .*\[4\]"):
        predict_proba_shifted(_PixelSoftmax(), images, shifts=[(-1, 0), (0, -1)])
    with pytest.raises(TypeError, match="predict_proba method"):
        predict_proba_shifted(lambda rows: rows, IMAGES)
    with pytest.raises(ValueError, match=r"\(N, 784\) or \(N, 28, 28\)"):
        predict_proba_shifted(_PixelSoftmax(), IMAGES[:, :27])
