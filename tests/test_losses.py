"""Losses against scikit-learn and closed forms; gradients against finite differences."""

import numpy as np
import pytest
from scipy import special
from sklearn.metrics import log_loss, mean_squared_error

from nnlib import gradcheck
from nnlib.losses import (
    MSE,
    BinaryCrossEntropy,
    CrossEntropy,
    SoftmaxCrossEntropy,
    binary_cross_entropy,
    cross_entropy,
    loss_from_config,
    mse,
    softmax_cross_entropy,
)

RNG = np.random.default_rng(7)
N, C = 6, 4
LOGITS = RNG.normal(size=(N, C))
LABELS = np.array([0, 1, 2, 3, 1, 2])
ONE_HOT = np.eye(C)[LABELS]
PROBS = special.softmax(LOGITS, axis=1)


def test_softmax_cross_entropy_matches_sklearn_log_loss():
    expected = log_loss(LABELS, PROBS, labels=range(C))
    assert SoftmaxCrossEntropy().forward(LOGITS, LABELS) == pytest.approx(expected, rel=1e-12)
    assert SoftmaxCrossEntropy().forward(LOGITS, ONE_HOT) == pytest.approx(expected, rel=1e-12)
    assert softmax_cross_entropy(LOGITS, LABELS) == pytest.approx(expected, rel=1e-12)


def test_softmax_cross_entropy_gradient_is_p_minus_y_over_n():
    for labels in (LABELS, ONE_HOT):
        loss = SoftmaxCrossEntropy()
        loss.forward(LOGITS, labels)
        np.testing.assert_allclose(loss.backward(), (PROBS - ONE_HOT) / N, rtol=1e-12)


def test_label_smoothing_uses_the_smoothed_targets():
    smoothing = 0.1
    targets = (1 - smoothing) * ONE_HOT + smoothing / C
    expected = -np.mean(np.sum(targets * special.log_softmax(LOGITS, axis=1), axis=1))
    loss = SoftmaxCrossEntropy(label_smoothing=smoothing)
    assert loss.forward(LOGITS, LABELS) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), (PROBS - targets) / N, rtol=1e-12)
    with pytest.raises(ValueError, match="label_smoothing"):
        SoftmaxCrossEntropy(label_smoothing=1.5)


def test_cross_entropy_on_probabilities_matches_sklearn():
    expected = log_loss(LABELS, PROBS, labels=range(C))
    assert CrossEntropy().forward(PROBS, LABELS) == pytest.approx(expected, rel=1e-12)
    assert cross_entropy(PROBS, ONE_HOT) == pytest.approx(expected, rel=1e-12)


def test_binary_cross_entropy_matches_sklearn_for_both_label_shapes():
    p = RNG.uniform(0.05, 0.95, size=N)
    y = np.array([0, 1, 1, 0, 1, 0])
    expected = log_loss(y, p)
    assert BinaryCrossEntropy().forward(p, y) == pytest.approx(expected, rel=1e-12)
    assert BinaryCrossEntropy().forward(p[:, None], y[:, None]) == pytest.approx(expected, rel=1e-12)
    assert binary_cross_entropy(p[:, None], y) == pytest.approx(expected, rel=1e-12)
    loss = BinaryCrossEntropy()
    loss.forward(p, y)
    assert loss.backward().shape == p.shape


def test_mse_convention_is_half_the_sum_over_outputs_averaged_over_samples():
    target = RNG.normal(size=(N, C))
    # scikit-learn averages over all N * C entries; nnlib sums the C outputs and halves
    expected = 0.5 * C * mean_squared_error(target, LOGITS)
    assert MSE().forward(LOGITS, target) == pytest.approx(expected, rel=1e-12)
    assert mse(LOGITS, target) == pytest.approx(expected, rel=1e-12)
    loss = MSE()
    loss.forward(LOGITS, target)
    np.testing.assert_allclose(loss.backward(), (LOGITS - target) / N, rtol=1e-12)
    assert mse(LOGITS, LABELS) == pytest.approx(0.5 * C * mean_squared_error(ONE_HOT, LOGITS))


@pytest.mark.parametrize("loss, output, labels", [
    (SoftmaxCrossEntropy(), LOGITS, LABELS),
    (SoftmaxCrossEntropy(), LOGITS, ONE_HOT),
    (SoftmaxCrossEntropy(label_smoothing=0.2), LOGITS, LABELS),
    (CrossEntropy(), PROBS, LABELS),
    (BinaryCrossEntropy(), RNG.uniform(0.1, 0.9, size=(N, 1)), np.array([0, 1, 1, 0, 1, 0])),
    (BinaryCrossEntropy(), RNG.uniform(0.1, 0.9, size=N), np.array([1, 1, 0, 0, 1, 0])),
    (MSE(), LOGITS, RNG.normal(size=(N, C))),
    (MSE(), LOGITS[:, :1], RNG.normal(size=N)),
], ids=lambda value: type(value).__name__ if not isinstance(value, np.ndarray) else "")
def test_gradients_match_finite_differences(loss, output, labels):
    report = gradcheck.check_gradients(loss, output, labels)
    assert report.passed(1e-7), str(report)


def test_extreme_logits_give_finite_losses_and_gradients():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [5.0, 5.0, 5.0]])
    labels = np.array([0, 0, 2])
    for dtype in (np.float64, np.float32):
        loss = SoftmaxCrossEntropy()
        value = loss.forward(logits.astype(dtype), labels)
        assert value == pytest.approx((2e4 + np.log(3)) / 3, rel=1e-6)
        grad = loss.backward()
        assert grad.dtype == dtype and np.all(np.isfinite(grad))
    assert SoftmaxCrossEntropy().forward(np.zeros((2, 5)), [1, 4]) == pytest.approx(np.log(5))


def test_probabilities_of_exactly_zero_and_one_are_clipped_not_nan():
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    loss = CrossEntropy()
    assert loss.forward(probs, [0, 1]) == 0.0
    value = loss.forward(probs, [1, 1])  # first sample: probability 0 for the true class
    assert np.isfinite(value) and value == pytest.approx(-np.log(1e-7) / 2)
    assert np.all(np.isfinite(loss.backward()))
    bce = BinaryCrossEntropy()
    assert np.isfinite(bce.forward(np.array([0.0, 1.0]), [1, 0]))
    assert np.all(np.isfinite(bce.backward()))
    assert bce.forward(np.array([0.0, 1.0]), [0, 1]) == pytest.approx(0.0, abs=1e-6)


def test_predict_proba():
    np.testing.assert_allclose(SoftmaxCrossEntropy().predict_proba(LOGITS), PROBS, rtol=1e-12)
    np.testing.assert_array_equal(CrossEntropy().predict_proba(PROBS), PROBS)
    np.testing.assert_array_equal(BinaryCrossEntropy().predict_proba(PROBS[:, :1]), PROBS[:, :1])


@pytest.mark.parametrize("labels, message", [
    (np.array([0, 1, 2, 3, 4, 0]), "class ids must lie in 0..3"),
    (np.array([0.0, 1, 2, 3, 1, 2]), "integer class ids"),
    (np.array([0, 1, 2]), "6 rows"),
    (np.ones((N, C + 1)), r"one-hot targets \(N, 4\)"),
])
def test_bad_labels_are_explained(labels, message):
    with pytest.raises(ValueError, match=message):
        SoftmaxCrossEntropy().forward(LOGITS, labels)
    with pytest.raises(ValueError, match=message):
        CrossEntropy().forward(PROBS, labels)


def test_backward_before_forward_is_explained():
    with pytest.raises(RuntimeError, match="before forward"):
        SoftmaxCrossEntropy().backward()


def test_config_round_trip():
    loss = SoftmaxCrossEntropy(label_smoothing=0.05)
    rebuilt = loss_from_config(loss.get_config())
    assert isinstance(rebuilt, SoftmaxCrossEntropy) and rebuilt.label_smoothing == 0.05
    with pytest.raises(ValueError, match="known losses"):
        loss_from_config({"class_name": "Hinge"})


# --- hardening (issue 8) --------------------------------------------------------------------------

@pytest.mark.parametrize("output", [RNG.normal(size=(N, 1)), RNG.normal(size=N)],
                         ids=["(N, 1)", "(N,)"])
def test_softmax_cross_entropy_refuses_a_single_output_column(output):
    # Today: the softmax of one logit is 1, so the loss is exactly 0 and nothing is learned.
    with pytest.raises(ValueError, match=r"at least two output columns.*BinaryCrossEntropy"):
        SoftmaxCrossEntropy().forward(output, np.array([0, 1, 1, 0, 1, 0]))
    with pytest.raises(ValueError, match="at least two output columns"):
        SoftmaxCrossEntropy().predict_proba(output)


@pytest.mark.parametrize("loss, output, labels, remedy", [
    (CrossEntropy(), LOGITS, LABELS, r"Softmax\(\).*SoftmaxCrossEntropy\(\)"),
    (CrossEntropy(), PROBS + 1.0, LABELS, r"Softmax\(\)"),
    (BinaryCrossEntropy(), LOGITS[:, :1], np.array([0, 1, 1, 0, 1, 0]), r"Sigmoid\(\)"),
])
def test_probability_losses_refuse_values_outside_0_1(loss, output, labels, remedy):
    with pytest.raises(ValueError, match=r"expects probabilities in \[0, 1\].*logits.*" + remedy):
        loss.forward(output, labels)
    with pytest.raises(ValueError, match=r"expects probabilities in \[0, 1\]"):
        loss.predict_proba(output)


@pytest.mark.parametrize("labels", [np.array([0, 1, 2, 0, 1, 0]), np.array([0, -1, 1, 0, 1, 0]),
                                    np.array([0, 0.5, 1, 0, 1, 0])])
def test_binary_cross_entropy_refuses_labels_other_than_0_and_1(labels):
    # Today: labels 2 and -1 give a negative "loss".
    probabilities = RNG.uniform(0.1, 0.9, size=(N, 1))
    with pytest.raises(ValueError, match=r"expects labels 0 or 1, got \[-?[0-9.]+\]"):
        BinaryCrossEntropy().forward(probabilities, labels)


def test_negative_targets_are_refused():
    with pytest.raises(ValueError, match="target rows must be probabilities >= 0"):
        SoftmaxCrossEntropy().forward(LOGITS, ONE_HOT - 0.5)
    with pytest.raises(ValueError, match="target rows must be probabilities >= 0"):
        CrossEntropy().forward(PROBS, ONE_HOT - 0.5)


def test_softmax_cross_entropy_gradient_is_right_for_rows_scaled_by_sample_weights():
    # A row w * one_hot weighs that sample by w; the fused gradient is then p * w - w * y, not
    # p - w * y (which is what today's backward returns).
    weights = np.array([0.5, 2.0, 1.0, 3.0, 0.0, 1.5])
    targets = weights[:, None] * ONE_HOT
    loss = SoftmaxCrossEntropy()
    value = loss.forward(LOGITS, targets)
    per_sample = -np.log(PROBS[np.arange(N), LABELS])
    assert value == pytest.approx(np.sum(weights * per_sample) / N, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), weights[:, None] * (PROBS - ONE_HOT) / N,
                               rtol=1e-12, atol=1e-15)
    assert gradcheck.check_gradients(loss, LOGITS, targets).passed(1e-7)


# --- the fused sigmoid + binary cross-entropy on logits ------------------------------------------

BINARY_LOGITS = RNG.normal(scale=3.0, size=(8, 1))
BINARY_LABELS = np.array([0, 1, 1, 0, 1, 0, 0, 1])


def test_sigmoid_binary_cross_entropy_equals_sigmoid_then_sklearn_log_loss():
    from nnlib.losses import sigmoid_binary_cross_entropy

    probabilities = special.expit(BINARY_LOGITS[:, 0])
    expected = log_loss(BINARY_LABELS, probabilities, labels=[0, 1])
    assert sigmoid_binary_cross_entropy(BINARY_LOGITS, BINARY_LABELS) == pytest.approx(
        expected, rel=1e-12)
    assert sigmoid_binary_cross_entropy(BINARY_LOGITS[:, 0], BINARY_LABELS[:, None]) == (
        pytest.approx(expected, rel=1e-12))


def test_sigmoid_binary_cross_entropy_gradient_matches_finite_differences():
    from nnlib.losses import SigmoidBinaryCrossEntropy

    loss = SigmoidBinaryCrossEntropy()
    loss.forward(BINARY_LOGITS, BINARY_LABELS)
    analytic = loss.backward()
    numerical = gradcheck.numerical_gradient(
        lambda z: SigmoidBinaryCrossEntropy().forward(z, BINARY_LABELS), BINARY_LOGITS.copy())
    assert gradcheck.relative_error(analytic, numerical) < 1e-7
    np.testing.assert_allclose(analytic, (special.expit(BINARY_LOGITS) - BINARY_LABELS[:, None])
                               / len(BINARY_LABELS), rtol=1e-12)


def test_a_saturated_wrong_unit_keeps_its_gradient_only_when_fused():
    from nnlib.losses import SigmoidBinaryCrossEntropy

    z, y = np.array([[-1000.0], [800.0]]), np.array([1, 0])
    fused = SigmoidBinaryCrossEntropy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        assert fused.forward(z, y) == pytest.approx((1000.0 + 800.0) / 2, rel=1e-12)
        np.testing.assert_allclose(fused.backward(), [[-0.5], [0.5]], rtol=1e-12)
    clipped = BinaryCrossEntropy()  # through a Sigmoid layer: its derivative is 0 there
    clipped.forward(special.expit(z), y)
    through_sigmoid = clipped.backward() * special.expit(z) * (1 - special.expit(z))
    np.testing.assert_array_equal(through_sigmoid, 0.0)


def test_sigmoid_binary_cross_entropy_predicts_probabilities_and_round_trips():
    from nnlib.losses import SigmoidBinaryCrossEntropy

    loss = SigmoidBinaryCrossEntropy()
    np.testing.assert_allclose(loss.predict_proba(BINARY_LOGITS), special.expit(BINARY_LOGITS))
    rebuilt = loss_from_config(loss.get_config())
    assert type(rebuilt) is SigmoidBinaryCrossEntropy
    with pytest.raises(ValueError, match="labels 0 or 1"):
        loss.forward(BINARY_LOGITS, np.full(8, 2.0))
