"""The gradient checker itself: against closed forms, and it must catch a wrong backward pass."""

import numpy as np
import pytest

from nnlib import Dense, ReLU, Sequential, Tanh, gradcheck
from nnlib.gradcheck import GradientReport, numerical_gradient, relative_error
from nnlib.losses import SoftmaxCrossEntropy


def test_numerical_gradient_matches_closed_forms():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, size=(3, 4))
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v ** 3), x), 3 * x ** 2,
                               rtol=1e-8)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(np.sin(v)), x), np.cos(x),
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.log(np.sum(np.exp(v))), x),
                               np.exp(x) / np.exp(x).sum(), rtol=1e-7)


def test_central_differences_are_exact_for_quadratics():
    x = np.array([1.0, -2.0, 3.0])
    grad = numerical_gradient(lambda v: v @ v, x, eps=1e-3)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-9)


def test_numerical_gradient_restores_its_input_exactly():
    x = np.random.default_rng(1).normal(size=(4, 3))
    before = x.copy()
    numerical_gradient(lambda v: np.sum(v ** 2), x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_at_chosen_indices_only():
    x = np.arange(6.0).reshape(2, 3)
    grad = numerical_gradient(lambda v: np.sum(v ** 2), x, indices=[(0, 1), (1, 2)])
    expected = np.zeros_like(x)
    expected[0, 1], expected[1, 2] = 2.0, 10.0
    np.testing.assert_allclose(grad, expected, atol=1e-8)


def test_relative_error_formula():
    assert relative_error(1.0, 1.0) == 0.0
    assert relative_error(1.0, 2.0) == pytest.approx(1 / 3)
    assert relative_error([1.0, 10.0], [1.0, 11.0]) == pytest.approx(1 / 21)
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(0.0, 1e-10) == pytest.approx(1e-2)  # the 1e-8 floor


class DenseWithScaledGradient(Dense):
    """A Dense layer whose weight gradient comes out 1% too large: a subtle bug."""

    def backward(self, grad_output, input_grad=True):
        grad_input = super().backward(grad_output, input_grad)
        self.grads["W"] *= 1.01  # a 1% mistake
        return grad_input


def test_a_wrong_backward_pass_is_caught_and_named():
    rng = np.random.default_rng(2)
    network = Sequential([Dense(4, 5, rng=rng, dtype=np.float64), Tanh(),
                          DenseWithScaledGradient(5, 3, rng=rng, dtype=np.float64)],
                         loss=SoftmaxCrossEntropy())
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    report = gradcheck.check_gradients(network, X, y)
    assert not report.passed()
    assert report.worst == "2.W"
    assert report.errors["2.W"] == pytest.approx(0.01 / 2.01, rel=1e-4)
    assert report.errors["0.W"] < 1e-7 and report.errors["2.b"] < 1e-7
    text = str(report)
    assert "FAILED" in text and "worst: 2.W" in text and "expect < 1e-7" in text


def test_check_leaves_the_network_untouched_and_reports_per_parameter():
    rng = np.random.default_rng(4)
    network = Sequential([Dense(6, 8, rng=rng), ReLU(), Dense(8, 3, rng=rng)],
                         loss=SoftmaxCrossEntropy())
    before = {name: value.copy() for name, value in network.parameters().items()}
    X = rng.uniform(0.5, 1.5, size=(5, 6)).astype(np.float32)
    report = gradcheck.check_gradients(network, X, rng.integers(0, 3, size=5))
    assert isinstance(report, GradientReport)
    assert set(report.errors) == {"0.W", "0.b", "2.W", "2.b"}
    assert report.passed(), str(report)
    for name, value in network.parameters().items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, before[name])
    assert "PASSED" in str(report)


def test_sparse_checks_k_entries_of_large_parameters():
    rng = np.random.default_rng(5)
    network = Sequential([Dense(30, 20, rng=rng), Tanh(), Dense(20, 4, rng=rng)],
                         loss=SoftmaxCrossEntropy())
    X, y = rng.normal(size=(4, 30)), rng.integers(0, 4, size=4)
    report = gradcheck.check_gradients(network, X, y, sparse=10, rng=rng)
    assert report.checked == {"0.W": 10, "0.b": 10, "2.W": 10, "2.b": 4}
    assert report.sizes["0.W"] == 600
    assert report.passed(1e-6), str(report)


def test_wrong_objects_are_explained():
    with pytest.raises(TypeError, match="network, a layer or a loss"):
        gradcheck.check_gradients(lambda x: x, np.ones((2, 2)))
    with pytest.raises(ValueError, match="needs a network with a loss"):
        gradcheck.check_gradients(Sequential([Dense(2, 2)]), np.ones((2, 2)), [0, 1])
