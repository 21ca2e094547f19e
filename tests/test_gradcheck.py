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


# --- hardening (issue 8) --------------------------------------------------------------------------

class DenseWithNaNBiasGradient(Dense):
    """A Dense layer whose bias gradient holds a NaN: a bug the check must not wave through."""

    def backward(self, grad_output, input_grad=True):
        grad_input = super().backward(grad_output, input_grad)
        self.grads["b"][0] = np.nan
        return grad_input


def test_a_nan_gradient_in_any_array_fails_the_check():
    # Python's max() skips a NaN that does not come first: 2.b is the last array checked.
    rng = np.random.default_rng(6)
    network = Sequential([Dense(4, 5, rng=rng, dtype=np.float64), Tanh(),
                          DenseWithNaNBiasGradient(5, 3, rng=rng, dtype=np.float64)],
                         loss=SoftmaxCrossEntropy())
    report = gradcheck.check_gradients(network, rng.normal(size=(6, 4)), rng.integers(0, 3, 6))
    assert not report.passed() and report.worst == "2.b" and report.max_error == np.inf
    assert "FAILED: a gradient holds NaN or inf" in str(report) and "PASSED" not in str(report)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_entry_is_a_failure_wherever_it_is(bad):
    report = GradientReport(eps=1e-6)
    report.add("first", np.ones(3), np.ones(3))
    report.add("second", np.array([1.0, bad, 1.0]), np.ones(3))
    report.add("third", np.ones(2), np.ones(2))
    assert not report.passed()
    assert report.worst == "second" and report.worst_index["second"] == (1,)
    assert relative_error([1.0, bad], [1.0, 1.0]) == np.inf


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.float32])
def test_numerical_gradient_refuses_arrays_it_cannot_nudge_accurately(dtype):
    # Today: [5e5, 1.5e6, 2.5e6] for an int array (the true gradient is [2, 4, 6]), zeros for
    # float16, a few percent off for float32.
    x = np.array([1, 2, 3], dtype=dtype)
    with pytest.raises(TypeError, match=r"needs a float64 array.*np\.asarray\(x, dtype=np\.float64\)"):
        numerical_gradient(lambda v: np.sum(v.astype(np.float64) ** 2), x)
    grad = numerical_gradient(lambda v: np.sum(v ** 2), np.asarray(x, dtype=np.float64))
    np.testing.assert_allclose(grad, [2.0, 4.0, 6.0], rtol=1e-8)


def test_numerical_gradient_refuses_a_low_precision_loss():
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="returned a float32 number.*Compute f in float64"):
        numerical_gradient(lambda v: np.sum(v.astype(np.float32) ** 2), x)


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.float32])
def test_check_gradients_computes_in_float64_whatever_the_input_dtype(dtype):
    rng = np.random.default_rng(7)
    layer = Dense(3, 2, rng=rng)  # float32 weights
    X = rng.integers(1, 4, size=(4, 3)).astype(dtype)
    report = gradcheck.check_gradients(layer, X)
    assert report.passed(1e-8), str(report)
    loss_report = gradcheck.check_gradients(SoftmaxCrossEntropy(), X, [0, 1, 2, 1])
    assert loss_report.passed(1e-7), str(loss_report)


def test_nothing_checked_is_never_passed():
    report = GradientReport(eps=1e-6)
    assert not report.passed() and "FAILED: nothing was checked" in str(report)
    network = Sequential([ReLU(), Tanh()], loss=SoftmaxCrossEntropy())
    with pytest.raises(ValueError, match=r"no parameters, so there is nothing to check.*"
                                         r"check_gradients\(layer, X\)"):
        gradcheck.check_gradients(network, np.ones((2, 3)), [0, 1])


@pytest.mark.parametrize("arguments, message", [
    ({"sparse": 0}, r"sparse \(the number of entries .* must be a positive integer, got 0"),
    ({"sparse": 2.5}, r"must be a positive integer, got 2\.5"),
    ({"eps": 0}, r"eps must be positive, a finite real number such as 1e-6; got 0"),
    ({"eps": -1e-6}, r"eps must be positive"),
    ({"rng": 3}, r"pass np\.random\.default_rng\(3\)"),
])
def test_bad_check_arguments_are_explained(arguments, message):
    rng = np.random.default_rng(8)
    network = Sequential([Dense(3, 4, rng=rng), Tanh(), Dense(4, 3, rng=rng)],
                         loss=SoftmaxCrossEntropy())
    with pytest.raises((ValueError, TypeError), match=message):
        gradcheck.check_gradients(network, rng.normal(size=(2, 3)), [0, 1], **arguments)


def test_numerical_gradient_refuses_eps_zero():
    with pytest.raises(ValueError, match="eps must be positive"):
        numerical_gradient(lambda v: float(np.sum(v)), np.ones(2), eps=0)


def test_the_check_copies_the_network_as_built_sharing_included():
    # Two Dense layers tied to one weight array: a nudge of that array moves both layers, while
    # backward reports each layer's share under its own name. Copied layer by layer (as before),
    # the arrays came apart and the check said PASSED on a network that fit cannot train.
    rng = np.random.default_rng(9)
    first, second = Dense(3, 3, rng=rng, dtype=np.float64), Dense(3, 3, rng=rng, dtype=np.float64)
    second.params["W"] = first.params["W"]
    network = Sequential([first, Tanh(), second], loss=SoftmaxCrossEntropy())
    report = gradcheck.check_gradients(network, rng.normal(size=(4, 3)), [0, 1, 2, 1])
    assert not report.passed() and report.worst in ("0.W", "2.W"), str(report)
    assert report.errors["0.b"] < 1e-7 and report.errors["2.b"] < 1e-7
    assert second.params["W"] is first.params["W"]  # the network itself is untouched
